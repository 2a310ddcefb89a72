"""The signature checks together: a run restricted to some periods gives exactly the findings of the full run at
those periods (the checks trim the panel to what those periods read); the `signatures` command end to end on the
embedded sample."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from signatures_support import check_run, truth_subject

REPO = Path(__file__).resolve().parents[1]
# the latest month; a tariff month with the months around it
PERIOD_SETS = [("2022-12",), ("2019-08", "2019-09", "2019-10")]


@pytest.mark.parametrize("name", ["invoice_export", "entrepot", "rush"])
@pytest.mark.parametrize("periods", PERIOD_SETS)
def test_period_restriction_changes_nothing_at_those_periods(name, periods):
    # n_tested counts the tests of the run (its denominator for tail probabilities), so it follows the periods
    full = check_run(name, 0).findings.drop(columns="n_tested")
    part = check_run(name, 0, periods=periods).findings.drop(columns="n_tested")
    expected = full.loc[full["period"].isin(periods)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part.reset_index(drop=True), expected, check_exact=False, rtol=1e-12)


def test_series_period_restriction_changes_nothing():
    # own history and peer read only the past; a level shift also compares the level_window periods after it
    full = check_run("series", 0, signals=("level_shift",)).findings.drop(columns="n_tested")
    for periods in PERIOD_SETS:
        part = check_run("series", 0, periods=periods, signals=("level_shift",)).findings.drop(columns="n_tested")
        expected = full.loc[full["period"].isin(periods)].reset_index(drop=True)
        pd.testing.assert_frame_equal(part.reset_index(drop=True), expected, check_exact=False, rtol=1e-12)
    latest = check_run("series", 0, periods=("2022-12",)).findings
    # the latest month has own-history and peer findings, never a level shift (that needs 12 months after it)
    assert len(latest) > 0 and set(latest["signal"]) <= {"series.own_history", "series.peer"}


def test_cli_on_the_embedded_sample_finds_the_planted_rerouting(tmp_path):
    from tradeanomaly.cli import main

    sample = REPO / "data" / "sample" / "flows.csv.gz"
    truth = pd.read_csv(REPO / "data" / "sample" / "truth.csv", dtype=str, keep_default_na=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["signatures", "--source", "canonical", str(sample), "--out", str(out), "-q"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    f = pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False)
    assert set(f["check"]) <= {"series", "invoice_export", "entrepot", "rush"}
    # each planted transshipment is a pass-through finding while its share shift is news (within the planted
    # window); by the panel's last month the route has stood for years and no longer leaves a change to score
    ent = f.loc[f["check"] == "entrepot"]
    for _, t in truth.loc[truth["kind"] == "transshipment"].iterrows():
        hits = ent.loc[(ent["subject"] == truth_subject(t)) & (ent["signal"] == "entrepot.pass_through")]
        assert len(hits) >= 12, (truth_subject(t), len(hits))
        assert hits["period"].min() >= t["period_start"] and hits["period"].max() <= t["period_end"]
    # findings are sorted best first within each check
    scores = ent["score"].astype(float).to_numpy()
    assert (scores[:-1] >= scores[1:]).all()
    assert (out / "ledger.json").exists()
