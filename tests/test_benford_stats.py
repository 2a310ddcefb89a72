"""Statistics of the digit tests: continuity-corrected Z, honest-sample MAD, grouped pass, q-values, findings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control

from tradeanomaly.checks import benford as bf
from tradeanomaly.schema import validate_findings


def lognormal(rng, n, sigma_log10=1.0, centre=4.0):
    return 10 ** rng.normal(centre, sigma_log10, n)


def fabricated(rng, n, centre=4.0):
    """People's favourite first digits (1, 2, 5 heavy, few 8s and 9s), three significant digits."""
    first = rng.choice(np.arange(1, 10), p=np.array([14, 16, 12, 10, 16, 10, 9, 7, 6]) / 100, size=n)
    mant = first + rng.uniform(0, 1, n)
    x = mant * 10.0 ** np.round(rng.normal(centre, 1.0, n))
    scale = 10.0 ** (np.floor(np.log10(x)) - 2)
    return np.round(x / scale) * scale


def test_log_bh_equals_scipy():
    rng = np.random.default_rng(1)
    p = np.concatenate([rng.uniform(size=200), 10 ** -rng.uniform(2, 30, size=50)])
    p[[3, 7]] = np.nan
    ok = ~np.isnan(p)
    q = np.exp(bf.log_bh(np.log(p)))
    np.testing.assert_allclose(q[ok], false_discovery_control(p[ok]), rtol=1e-10)
    assert np.isnan(q[~ok]).all()
    # beyond double range the log scale still orders the groups
    assert bf.log_bh(np.array([-2000.0, -1000.0]))[0] < -1990


def test_z_continuity_correction_only_when_smaller_than_the_gap():
    counts = np.array([[301, 176, 125, 97, 79, 67, 58, 51, 46]])  # N = 1000
    st = bf.share_stats(counts, bf.P_FIRST)
    n = 1000
    phat = counts[0] / n
    gap = np.abs(phat - bf.P_FIRST)
    sd = np.sqrt(bf.P_FIRST * (1 - bf.P_FIRST) / n)
    expect = np.where(gap > 1 / (2 * n), gap - 1 / (2 * n), gap) / sd
    np.testing.assert_allclose(st["z"][0], expect, rtol=1e-12)
    assert (st["z"] >= 0).all()
    # first digit 1: 301 of 1000 against 0.30103 -> gap 3e-5 < 1/2000, so no correction
    assert st["z"][0, 0] == pytest.approx(3.0e-5 / sd[0], rel=1e-3)
    assert st["ks_critical"][0] == pytest.approx(1.36 / math.sqrt(1000))


def test_expected_mad_matches_honest_samples():
    rng = np.random.default_rng(7)
    n, reps = 1000, 400
    x = lognormal(rng, n * reps, 1.2)
    gb = bf.analyse_groups(x, np.repeat(np.arange(reps), n), min_value=0)
    for name in ("first_digit", "second_digit", "first_two_digits"):
        st = gb.stats[name]
        assert st["mad"].mean() == pytest.approx(st["mad_expected"][0], rel=0.06), name
        # mad_critical sits near the 99th percentile of honest MADs
        assert 0.95 <= (st["mad"] <= st["mad_critical"]).mean() <= 1.0, name


def test_honest_samples_of_200_are_not_called_nonconforming():
    rng = np.random.default_rng(2026)
    reps = 300
    x = lognormal(rng, 200 * reps, 1.0)
    gb = bf.analyse_groups(x, np.repeat(np.arange(reps), 200), min_value=10)
    bad = ("marginally acceptable conformity", "nonconformity")
    for name in ("first_digit", "second_digit", "first_two_digits"):
        n = gb.stats[name]["n"]
        assert n.min() >= 150  # the lower bound of 10 removes ~0.1 % of values at this centre
        called = np.isin(gb.conformity[name], bad)
        assert called.mean() <= 0.02, (name, called.mean())
    # Nigrini's fixed bounds, made for large samples, would call most of these honest samples nonconforming
    raw = gb.conformity_nigrini["first_two_digits"]
    assert (raw == "nonconformity").mean() > 0.9


def test_fabricated_sample_of_200_is_called_nonconforming():
    rng = np.random.default_rng(5)
    res = bf.benford(fabricated(rng, 400))
    assert res.tests["first_digit"].conformity == "nonconformity"
    assert res.tests["first_digit"].chi2_pvalue < 1e-6
    assert 5 in res.tests["first_digit"].over_represented(3)


def test_insufficient_data():
    rng = np.random.default_rng(3)
    small = bf.benford(lognormal(rng, 60), min_n=100)
    assert {t.conformity for t in small.tests.values()} == {"insufficient data"}
    narrow = bf.benford(rng.uniform(10, 99, 5000))  # within one decade: not a Benford setting
    assert narrow.span_decades < 2
    assert narrow.tests["first_digit"].conformity == "insufficient data"
    assert narrow.tests["first_digit"].mad is not None  # the figures are still reported


def test_negatives_and_zeros_are_apart():
    rng = np.random.default_rng(4)
    pos = lognormal(rng, 3000)
    neg = -fabricated(rng, 2000)
    x = np.concatenate([pos, neg, np.zeros(500), [np.nan, np.inf]])
    p = bf.benford(x)
    n = bf.benford(x, sign="negative")
    assert p.n == int((pos >= 10).sum()) and n.n == int((-neg >= 10).sum())
    assert p.tests["first_digit"].conformity != "nonconformity"
    assert n.tests["first_digit"].conformity == "nonconformity"


def test_grouped_pass_equals_one_sample_at_a_time():
    rng = np.random.default_rng(11)
    sizes = rng.integers(50, 2000, 40)
    labels = np.repeat(np.array([f"G{i:02d}" for i in range(40)]), sizes)
    x = np.round(lognormal(rng, int(sizes.sum()), 1.3), 2)
    x[rng.uniform(size=len(x)) < 0.05] = 5000.0  # duplicates
    order = rng.permutation(len(x))
    x, labels = x[order], labels[order]
    gb = bf.analyse_groups(x, labels)
    assert list(gb.keys["group"]) == sorted(set(labels))
    for i in (0, 7, 39):
        one = bf.benford(x[labels == gb.keys["group"][i]])
        grp = gb.result(i)
        # equal up to the order of floating-point summation (sums per group vs one sum)
        assert _close(grp.to_dict(), one.to_dict())


def _close(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(u, v) for u, v in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-15)
    return a == b


def test_second_order():
    rng = np.random.default_rng(8)
    x = lognormal(rng, 20000, 1.0, 3.0)
    so = bf.second_order_test(x, decimals=6)
    # gaps between sorted amounts of continuous data follow Benford closely
    assert so.n > 19000 and so.mad < 0.0012 and so.conformity == "close conformity"
    res = bf.benford(x, second_order=True, decimals=6)
    assert res.second_order.to_dict() == so.to_dict()
    # amounts rounded to cents make gaps multiples of a cent: the spikes at 10, 20, 30 ... Nigrini describes
    cents = bf.second_order_test(np.round(x, 2))
    assert set(cents.over_represented(5)) == {10, 20, 30, 40, 50}


def flows_frame(rng):
    rows = []
    reporters = [f"R{i:02d}" for i in range(30)]
    for r in reporters:
        n = 600
        x = fabricated(rng, n) if r == "R07" else np.rint(lognormal(rng, n, 1.1, 5.0))
        rows.append(pd.DataFrame({"reporter": r, "partner": "P00", "flow": "X", "hs": "85", "value_usd": x,
                                  "estimated": False, "period": "2020"}))
    df = pd.concat(rows, ignore_index=True)
    est = df.iloc[:40].assign(estimated=True, value_usd=123000.0)
    tot = df.groupby("reporter", as_index=False)["value_usd"].sum().assign(
        partner="P00", flow="X", hs="TOTAL", estimated=False, period="2020")
    return pd.concat([df, est, tot], ignore_index=True)


def test_run_flags_the_fabricated_reporter_and_accounts_for_rows():
    rng = np.random.default_rng(12)
    flows = flows_frame(rng)
    res = bf.run(flows, group_by=("reporter",), windows=False)
    led = res.ledgers[0]
    led.check()
    assert led.rows_in == len(flows)
    assert led.counts["estimated"] == 40 and led.counts["aggregate_product"] == 30
    f = validate_findings(res.findings)
    assert (f["score"] >= 0).all()
    top = f.iloc[0]
    assert top["subject"] == "R07" and top["reporter"] == "R07"
    assert set(f.loc[f["subject"] == "R07", "signal"]) >= {"benford.first_digit", "benford.round_numbers"}
    assert f["subject"].value_counts().get("R07", 0) >= 2
    # honest reporters stay quiet, after Benjamini-Hochberg over 30 reporters
    assert (f["subject"] != "R07").sum() <= 1
    audit = res.tables["benford_audit"]
    assert len(audit) == 30 and audit.loc[audit["reporter"] == "R07", "first_digit_qvalue"].iloc[0] < 1e-6
    # suspects: the R07 records whose first digit is among the over-represented, and their sum is at stake
    sus = res.tables["benford_suspects"]
    fd = f[(f["subject"] == "R07") & (f["signal"] == "benford.first_digit")].iloc[0]
    s = sus[(sus["subject"] == "R07") & (sus["signal"] == "benford.first_digit")]
    assert len(s) > 0 and set(s["digits"]) <= {1, 2, 5, 3, 4, 6}
    assert fd["usd_at_stake"] >= s["value_usd"].sum() - 1e-6
    assert flows.loc[s["row"], "reporter"].eq("R07").all()
    assert "R07" in fd["detail"] and "first-digit MAD" in fd["detail"] and "over-represented" in fd["detail"]
    # deterministic
    again = bf.run(flows, group_by=("reporter",), windows=False)
    pd.testing.assert_frame_equal(again.findings, res.findings)


def test_run_groups_by_several_columns():
    rng = np.random.default_rng(13)
    flows = flows_frame(rng)
    flows["partner"] = np.where(np.arange(len(flows)) % 2 == 0, "AAA", "BBB")
    res = bf.run(flows, group_by=("reporter", "partner"), min_n=200, windows=False)
    subj = res.findings["subject"]
    assert subj.str.startswith("R07>").sum() >= 2 and subj.str.contains(">").all()
    assert len(res.tables["benford_audit"]) == 60


def test_duplication_in_a_second_thread_gives_the_same_result(monkeypatch):
    from tradeanomaly.checks.benford import engine as bfm  # PARALLEL_MIN is read where it is defined

    rng = np.random.default_rng(11)
    x = np.round(np.exp(rng.normal(8, 3, 50_000)), 2)
    x[:500] = 50.0  # a repeated amount, so the duplication test has something to find
    groups = rng.integers(0, 7, len(x)).astype(str)
    monkeypatch.setattr(bfm, "PARALLEL_MIN", 10**12)
    serial = [bfm.analyse_groups(x, groups).result(i).to_dict() for i in range(7)]
    monkeypatch.setattr(bfm, "PARALLEL_MIN", 1_000)
    threaded = [bfm.analyse_groups(x, groups).result(i).to_dict() for i in range(7)]
    assert threaded == serial
    assert max(r["duplicates"]["top"][0]["count"] for r in threaded) >= 60
