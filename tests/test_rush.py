"""Export rushing before tariff dates: planted rushes at the top; annual data gives none; the CLI writes them."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from signatures_support import check_run, subject_ranks, synth_panel, truth_subject
from tradeanomaly.checks import rush

TOP_K = 5


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_planted_rushes_are_at_the_top(seed):
    panel = synth_panel(seed)
    f = check_run("rush", seed).findings
    ranks = subject_ranks(f)
    for _, t in panel.truth.loc[panel.truth["kind"] == "export_rush"].iterrows():
        subj = truth_subject(t)
        assert subj in ranks.index and ranks[subj] < TOP_K, (subj, ranks.head(8))
        hit = f.loc[f["subject"] == subj].iloc[0]
        assert t["period_start"] <= hit["period"] <= t["period_end"]
        assert hit["usd_at_stake"] > 0 and "before the tariff date" in hit["detail"]
    # few false alarms: every economy's shipments to the US, China and the EU at twelve tariff dates are ~9,500
    # series-events (measured: 120-132 findings, 7-11 of them from China)
    assert f["n_tested"].iloc[0] > 9000 and len(f) <= 0.015 * f["n_tested"].iloc[0]
    assert (f["reporter"] == "CHN").sum() <= 12


def test_annual_data_gives_no_rush():
    flows = pd.DataFrame({"period": [str(y) for y in range(2010, 2021)], "reporter": "USA", "region": "",
                          "partner": "CHN", "flow": "M", "hs": "TOTAL",
                          "value_usd": [1e9 * (3 if y == 2018 else 1) for y in range(2010, 2021)],
                          "valuation": "CIF", "estimated": False, "source": "test"})
    res = rush.run(flows)
    assert res.findings.empty
    assert any("annual" in n for n in res.ledgers[0].notes)


def test_cli_writes_findings(tmp_path):
    from tradeanomaly.cli import main

    panel = synth_panel(0)
    keep = panel.flows["hs"].isin(["76", "48", "87", "TOTAL"]) & (panel.flows["region"] == "")
    src = tmp_path / "flows.parquet"
    panel.flows.loc[keep].reset_index(drop=True).to_parquet(src, index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["signatures", "--source", "canonical", str(src), "--out", str(out),
                                  "--check", "rush", "--period", "2018-01:2019-12", "-q"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    f = pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False)
    planted = {truth_subject(t) for _, t in panel.truth.loc[panel.truth["kind"] == "export_rush"].iterrows()}
    assert planted <= set(f["subject"])
    assert (f["check"] == "rush").all() and (out / "ledger.json").exists()
