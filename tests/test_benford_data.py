"""Benford on trade data: IMF DOTS estimates against reported values, and the generator's planted digits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from tradeanomaly.checks import benford as bf


@pytest.mark.shared
def test_imf_dots_estimates_against_reported_values(shared_data):
    path = shared_file(shared_data, "imf_dots_annual_1960_2020", "dots_annual_bilateral_1960_2020.csv.gz")
    dots = pd.read_csv(path, usecols=["value_musd", "flag"], dtype={"flag": "str"}, keep_default_na=False,
                       na_values=[""])
    usd = dots["value_musd"].to_numpy(dtype=np.float64) * 1e6
    est = (dots["flag"] == "e").to_numpy()
    assert int(est.sum()) == 174005

    # Every amount of at least $10: the reported values conform closely; the IMF's estimates do not
    c = bf.compare_estimated(usd, est)
    rep, es = c.reported, c.estimated
    assert rep.n == 2405749 and es.n == 146468
    r2, e2 = rep.tests["first_two_digits"], es.tests["first_two_digits"]
    assert r2.mad == pytest.approx(0.000937, abs=2e-6) and r2.conformity == "close conformity"
    assert e2.mad == pytest.approx(0.005354, abs=2e-6) and e2.conformity == "nonconformity"
    # what drives it: estimates sit on the publication unit ($10,000 = 0.01 million), so 10, 20, 30, 40, 50 and a
    # second digit 0 are everywhere (12,537 estimates are exactly $10,000)
    assert e2.over_represented(5) == [10, 20, 30, 40, 50]
    assert es.tests["second_digit"].mad == pytest.approx(0.04818, abs=1e-5)
    assert es.tests["second_digit"].over_represented(1) == [0]
    assert es.duplicates.values[0] == 10000.0 and es.duplicates.counts[0] == 12537
    assert c.chi2_homogeneity == pytest.approx(38945.7, abs=0.5)

    # Amounts of $1 million and more carry three or more significant digits at that unit: the estimates come
    # closer to Benford but still differ from reported values (first digit marginal, p of homogeneity ~ 3e-53)
    big = bf.compare_estimated(usd, est, min_value=1e6)
    assert big.estimated.n == 69656 and big.reported.n == 1633803
    bf1, br1 = big.estimated.tests["first_digit"], big.reported.tests["first_digit"]
    assert bf1.mad == pytest.approx(0.01481, abs=1e-5) and bf1.conformity == "marginally acceptable conformity"
    assert br1.mad == pytest.approx(0.00758, abs=1e-5) and br1.conformity == "acceptable conformity"
    assert big.estimated.tests["first_two_digits"].conformity == "acceptable conformity"
    assert big.homogeneity_pvalue < 1e-50
    assert big.estimated.distortion_factor < big.reported.distortion_factor < 0


@pytest.fixture(scope="module")
def panel():
    synth = pytest.importorskip("tradeanomaly.synth")
    return synth.generate(0)


@pytest.mark.parametrize("extra", [(), ("flow",)])
def test_planted_fabricated_digits_are_found(panel, extra):
    truth = panel.truth[panel.truth["kind"] == "fabricated_digits"]
    assert len(truth) == 2
    # the generator plants made-up export figures for a reporter as a whole (all partners, all chapters)
    assert (truth["partner"] == "").all()
    # the tests of each group over the whole panel (windows=False); the windowed tests are tested below
    res = bf.run(panel.flows, group_by=("reporter",) + extra, windows=False)
    f = res.findings
    suffix = ":X" if extra else ""
    planted = {f"{r}{suffix}" for r in truth["reporter"]}
    top = list(dict.fromkeys(f["subject"]))[:2]
    assert set(top) == planted, (planted, top)
    for subject in planted:
        row = f[(f["subject"] == subject) & (f["signal"] == "benford.round_numbers")].iloc[0]
        assert row["value"] > 0.15 and row["usd_at_stake"] > 0 and row["score"] >= 30
    led = res.ledgers[0]
    led.check()
    assert led.counts["estimated"] == int(panel.flows["estimated"].sum())


def test_run_compares_estimates_and_the_report_says_so():
    from tradeanomaly.report import estimates_sentence

    rng = np.random.default_rng(7)
    honest = np.exp(rng.normal(14, 2.5, 4000))
    estimates = np.round(np.exp(rng.normal(14, 2.5, 800)), -4) + 10_000  # on a publication unit, as DOTS's are
    flows = pd.DataFrame({"reporter": "AAA", "partner": "BBB", "flow": "X", "hs": "TOTAL", "period": "2013",
                          "value_usd": np.r_[honest, estimates], "estimated": np.r_[np.zeros(4000, bool),
                                                                                     np.ones(800, bool)]})
    res = bf.run(flows)
    table = res.tables["benford_estimated"]
    assert table["values"].tolist() == ["reported", "estimated"]
    assert table["n"].tolist() == [4000, 800]
    rep, est = table.iloc[0], table.iloc[1]
    assert rep["first_two_digits_mad"] < 0.003 < est["first_two_digits_mad"]
    assert est["pvalue_same_distribution"] < 1e-6
    text = estimates_sentence(table)
    assert "800 estimated values" in text and "do not share one first-two-digits distribution" in text


def test_windows_find_each_fabricating_reporter_inside_its_months(panel):
    # default run: each reporter x side tested twelve months at a time against its own other windows
    truth = panel.truth[panel.truth["kind"] == "fabricated_digits"]
    res = bf.run(panel.flows)
    f = res.findings
    win = f[f["signal"] == "benford.window_first_two"]
    top = list(dict.fromkeys(win["subject"]))[:2]
    assert set(top) == {f"{r}[X]" for r in truth["reporter"]}, top
    for _, t in truth.iterrows():
        w = win[win["subject"] == f"{t['reporter']}[X]"]
        # every flagged window overlaps the months of invented figures, none lies wholly outside them
        assert len(w) >= 3
        assert ((w["period"] >= t["period_start"]) & (w["period_start"] <= t["period_end"])).all(), w[
            ["period_start", "period"]]
        assert w["score"].max() >= 5
    # an honest reporter's window may cross the bar by chance (z 3 to 6 on this panel); a fabricator's stand out
    others = win[~win["subject"].isin(top)]
    assert win.loc[win["subject"].isin(top)].groupby("subject")["score"].max().min() > 2 * others["score"].max()
