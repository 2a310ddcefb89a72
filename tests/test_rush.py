"""Export rushing before tariff dates: planted rushes at the top; annual data gives none; the CLI writes them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from signatures_support import check_run, subject_ranks, synth_panel, truth_subject
from tradeanomaly.checks import rush

TOP_K = 5


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_planted_rushes_are_at_the_top(seed):
    panel = synth_panel(seed)
    every = check_run("rush", seed).findings
    # at the configured tariff dates (the scan of every other month finds the hubs' legs of the reroutings too)
    f = every.loc[every["signal"] == "rush.pre_tariff_surge"].reset_index(drop=True)
    ranks = subject_ranks(f)
    for _, t in panel.truth.loc[panel.truth["kind"] == "export_rush"].iterrows():
        subj = truth_subject(t)
        assert subj in ranks.index and ranks[subj] < TOP_K, (subj, ranks.head(8))
        hit = f.loc[f["subject"] == subj].iloc[0]
        assert t["period_start"] <= hit["period"] <= t["period_end"]
        assert hit["usd_at_stake"] > 0 and "before the tariff date" in hit["detail"]
    # few false alarms: every economy's shipments to the US, China and the EU at twelve tariff dates are ~9,500
    # series-events (measured: 54-81 findings, 4-7 of them from China; 120-132 and 7-11 before each period was also
    # compared with two years before)
    assert len(f) <= 0.015 * 9500
    assert (f["reporter"] == "CHN").sum() <= 12
    # the scan of every other month (about 70,000 series-months) stays rarer still, after its penalty
    scanned = every.loc[every["signal"] == "rush.surge_then_fall"]
    assert every["n_tested"].iloc[0] > 60000 and len(scanned) <= 0.004 * every["n_tested"].iloc[0]


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


def _monthly(series: dict[str, np.ndarray], start: str = "2017-01") -> pd.DataFrame:
    """US imports from each origin (TOTAL), monthly from ``start``."""
    months = pd.period_range(start, periods=len(next(iter(series.values()))), freq="M").strftime("%Y-%m")
    rows = [{"period": m, "reporter": "USA", "region": "", "partner": o, "flow": "M", "hs": "TOTAL",
             "value_usd": float(x), "valuation": "CIF", "estimated": False, "source": "test"}
            for o, v in series.items() for m, x in zip(months, v)]
    return pd.DataFrame(rows)


def _rush_world(n: int = 60, seed: int = 0):
    """Six origins with seasonality and 3% noise; MEX front-loads 80% more in the two months before 2020-06 and
    ships the same amount less over the three months from it; KOR's level rises 80% in 2020-04 for good."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    season = 1.0 + 0.15 * np.sin(2 * np.pi * t / 12)
    out = {}
    for o in ("MEX", "CAN", "JPN", "KOR", "DEU", "VNM"):
        out[o] = 1e9 * season * np.exp(0.003 * t + rng.normal(0.0, 0.03, n))
    cut = 41  # 2020-06
    extra = 0.8 * out["MEX"][cut - 2:cut]
    out["MEX"][cut - 2:cut] += extra
    out["MEX"][cut:cut + 3] -= extra.sum() / 3
    out["KOR"][cut - 2:] *= 1.8
    return out


def test_a_rush_before_a_date_the_check_does_not_know_is_found():
    flows = _monthly(_rush_world())
    f = rush.run(flows, params=rush.RushParams(tariff_events=())).findings
    assert len(f) >= 1
    top = f.iloc[0]
    assert (top["subject"], top["period"], top["signal"]) == ("MEX>USA", "2020-06", "rush.surge_then_fall")
    assert "not among the configured tariff dates" in top["detail"]
    # the front-loaded amount: 80% of two months of about 1.1 bn (the expectation, not the whole flow)
    assert 1.2e9 < top["usd_at_stake"] < 2.4e9
    # one finding per rush, not one per candidate month around it
    assert (f["subject"] == "MEX>USA").sum() == 1
    # a lasting rise (no fall after it) is not a rush; quiet series give nothing
    assert set(f["subject"]) == {"MEX>USA"}


def test_the_amount_at_stake_is_what_was_moved_forward_not_the_whole_surge():
    # the same payback after the date, after a surge twice as large: only the payback was shipped early (the rest
    # of the surge is a rise, whatever its cause)
    out = _rush_world()
    cut = 41
    out["MEX"][cut - 2:cut] *= 1.0 + 0.8 / 1.8  # the surge months at 2.6 times their level instead of 1.8
    params = rush.RushParams(tariff_events=("2020-06-01",))
    a = rush.run(_monthly(_rush_world()), params=params).findings.query("subject == 'MEX>USA'").iloc[0]
    b = rush.run(_monthly(out), params=params).findings.query("subject == 'MEX>USA'").iloc[0]
    assert 1.2e9 < a["usd_at_stake"] < 2.4e9
    # the excess above the expectation doubles (its value), the amount at stake stays the payback
    assert b["value"] - b["expected"] > 1.8 * (a["value"] - a["expected"])
    assert b["usd_at_stake"] == pytest.approx(a["usd_at_stake"], rel=0.05)


def test_a_configured_tariff_date_raises_the_score_of_the_same_rush():
    flows = _monthly(_rush_world())
    blind = rush.run(flows, params=rush.RushParams(tariff_events=())).findings
    known = rush.run(flows, params=rush.RushParams(tariff_events=("2020-06-01",))).findings
    b = blind.loc[blind["subject"] == "MEX>USA"].iloc[0]
    k = known.loc[known["subject"] == "MEX>USA"].iloc[0]
    assert k["signal"] == "rush.pre_tariff_surge" and "before the tariff date 2020-06-01" in k["detail"]
    # the scan over every month costs the blind finding its multiple-testing penalty, the known date none
    assert k["score"] > b["score"]
    assert k["usd_at_stake"] == pytest.approx(b["usd_at_stake"])


def test_scan_penalty_is_bonferroni_on_the_normal_scale():
    from scipy import stats

    z = np.array([3.0, 5.0, 8.0, 40.0])
    got = rush._scan_adjusted(z, 50)
    ref = stats.norm.isf(np.minimum(1.0, 50 * stats.norm.sf(z[:3])))
    assert got[:3] == pytest.approx(ref, rel=1e-9)
    assert got[3] == pytest.approx(np.sqrt(40.0 ** 2 - 2 * np.log(50)), rel=1e-6)
    assert rush._scan_adjusted(z, 1) is z


def test_the_year_after_a_dip_and_its_catch_up_is_not_a_rush():
    """Japan's shipments dip in 2019-04..05 and catch up above their level in 2019-06..08. A year later, against
    the year before alone, 2020-04..05 run above expectation and 2020-06 below it: the shape of a rush, made by the
    moved base. Against two years before as well, nothing is left; Mexico's real rush of 2020-06 stays."""
    out = _rush_world()
    out["JPN"][27:29] *= 0.6
    out["JPN"][29:32] *= 1.5
    flows = _monthly(out)
    one_year = rush.run(flows, params=rush.RushParams(tariff_events=(), two_year_base=False)).findings
    assert set(one_year["subject"]) == {"MEX>USA", "JPN>USA"}
    assert one_year.loc[one_year["subject"] == "JPN>USA", "period"].tolist() == ["2020-06"]
    f = rush.run(flows, params=rush.RushParams(tariff_events=())).findings
    assert f["subject"].tolist() == ["MEX>USA"] and f["period"].iloc[0] == "2020-06"
    mex = one_year.loc[one_year["subject"] == "MEX>USA"].iloc[0]
    assert f["score"].iloc[0] == pytest.approx(mex["score"], rel=0.05)
    assert f["usd_at_stake"].iloc[0] == pytest.approx(mex["usd_at_stake"])
