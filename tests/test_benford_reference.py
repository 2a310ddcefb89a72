"""Benford figures on Nigrini's reference data sets, side by side with R benford.analysis and benford_py.

Reference implementations, as read from their source:

* R ``benford.analysis`` (carloscinelli/benford.analysis; the README prints the corporate-payments run):
  takes every positive value (``sign = "positive"``, no lower bound), reads digits as
  ``trunc(10^(-floor(log10(x)) + k - 1) * x)``, computes Z without guarding the continuity correction, divides the
  distortion factor by 39.0685 (a transposition of 39.0865), and uses 0.008/0.010/0.011 for the second-digit MAD
  (Nigrini: 0.012).
* ``benford_py`` 0.5 (milcent/benford_py): with ``decimals=2`` reads digits of ``int(abs(x) * 100)`` (truncation:
  2.3 * 100 == 229.99999999999997 -> 22), first digit on ``x >= 0.01``, second and first-two digits on ``x >= 0.1``;
  Z can be negative for the same reason as in R. On integers (``decimals=0``) its figures are exact and ours agree
  with them to the last bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from tradeanomaly.checks.benford import (
    DF_EXPECTED_MEAN, NIGRINI_MAD, P_FIRST_TWO, _conformity, benford, share_stats,
)
from tradeanomaly.checks.digits import leading_digits

pytestmark = pytest.mark.shared


def _read(shared, name, column):
    return pd.read_csv(shared_file(shared, "benford_reference", name))[column].to_numpy(dtype=np.float64)


def _first_two_r(x):
    """benford.analysis's digit extraction (R: trunc((10^((floor(log10(x)) * -1) + 1)) * x))."""
    return np.trunc(10.0 ** (-np.floor(np.log10(x)) + 1) * x).astype(np.int64)


@pytest.fixture(scope="module")
def payments(shared_data):
    return _read(shared_data, "corporate_payment.csv.gz", "Amount")


def test_corporate_payments_match_benford_analysis_readme(payments):
    # README of benford.analysis: benford(corporate.payment$Amount) -> 185083 observations, MAD 0.002336614,
    # mantissa arc L2 = 0.0039958, mantissa mean 0.496 and variance 0.092, chi-square 32094 (df 89)
    res = benford(payments, min_value=0)
    f2 = res.tests["first_two_digits"]
    assert res.n == 185083 and f2.n == 185083
    assert f2.mad == pytest.approx(0.002336614, abs=5e-10)
    assert res.mantissa_arc.l2 == pytest.approx(0.0039958, abs=5e-8)
    assert round(res.mantissa_arc.mean, 3) == 0.496 and round(res.mantissa_arc.variance, 3) == 0.092
    assert f2.conformity == f2.conformity_nigrini == "nonconformity"
    # The chi-square differs: benford.analysis misreads 146 payments below 10 (0.29 -> 28, 0.58 -> 57) because
    # 100 * 0.29 == 28.999999999999996 is truncated. With its digits we get its 32094; with the digits as written
    # the statistic is 32100.9. The MAD agrees to 1e-9 because 146 of 185083 records barely move it.
    x = payments[payments > 0]
    r_digits = _first_two_r(x)
    ours, _ = leading_digits(x, 2)
    wrong = r_digits != ours
    assert int(wrong.sum()) == 146
    assert set(np.round(x[wrong], 2)) >= {0.29, 0.58}
    r_stats = share_stats(np.bincount(r_digits - 10, minlength=90)[None, :], P_FIRST_TWO)
    assert float(r_stats["chi2"][0]) == pytest.approx(32094, abs=0.5)
    assert f2.chi2 == pytest.approx(32100.90, abs=0.01)


def test_distortion_factor_and_benford_analysis_typo(payments):
    # benford.analysis prints Distortion Factor -1.065467: (mean - 39.0865) / 39.0685 * 100 on amounts >= 10.
    # 39.0685 is a transposition of 39.0865 (= 90 / ln 10, the mean of Benford amounts collapsed to [10, 100)).
    d = payments[payments >= 10]
    collapsed = 10 * d / 10.0 ** np.trunc(np.log10(d))
    r_df = (collapsed.mean() - 39.0865) / 39.0685 * 100
    assert r_df == pytest.approx(-1.065467, abs=5e-7)
    res = benford(payments, min_value=0)
    correct = (collapsed.mean() - DF_EXPECTED_MEAN) / DF_EXPECTED_MEAN * 100
    assert res.distortion_factor == pytest.approx(correct, abs=1e-9)
    assert res.distortion_factor == pytest.approx(-1.064985, abs=5e-7)
    assert abs(res.distortion_factor - r_df) > 4e-4  # the typo's effect (0.05 % of the factor)


def test_corporate_payments_benford_py_truncation(payments):
    # benford_py 0.5: Benford(Amount, decimals=2, sign="pos").F2D.MAD == 0.0023433650242620833 (chi-square
    # 32171.963) on 185069 amounts >= 0.10. Reproduced here from its reading of the digits, int(x * 100), which
    # turns 2.3 into 229 and so 22: 225 amounts get wrong first-two digits. Read as written, the MAD is 0.0023357.
    x = payments[payments > 0]
    zn = (x * 100).astype(np.int64)
    keep = zn >= 10
    zn, xk = zn[keep], x[keep]
    bpy = zn // 10 ** (np.log10(zn).astype(np.int64) - 1)
    st = share_stats(np.bincount(bpy - 10, minlength=90)[None, :], P_FIRST_TWO)
    assert len(zn) == 185069
    assert float(st["mad"][0]) == pytest.approx(0.0023433650242620833, rel=1e-12)
    assert float(st["chi2"][0]) == pytest.approx(32171.963, abs=1e-3)
    ours, _ = leading_digits(xk, 2)
    assert int((ours != bpy).sum()) == 225
    assert 2.3 in set(xk[ours != bpy])
    f2 = benford(payments, min_value=0.1).tests["first_two_digits"]
    assert f2.n == 185069
    assert f2.mad == pytest.approx(0.0023356802, abs=1e-10)


@pytest.mark.parametrize("name, column, figures", [
    # benford_py 0.5 on integers (decimals=0, sign="pos"): F1D on x >= 1, SD and F2D on x >= 10
    ("census_2009.csv", "pop.2009", {"first_digit": (1, 19509, 0.003119260531311535, 17.523559997044444),
                                     "second_digit": (10, 19482, 0.0021765761321185214, 12.497678587232535),
                                     "first_two_digits": (10, 19482, 0.0006211394079467828, 107.93908986574955)}),
    ("taxable_incomes_1978.csv.gz", "taxIncomes",
     {"first_digit": (1, 150760, 0.014408772793348797, 3525.759633839425),
      "second_digit": (10, 150735, 0.002695811483373574, 149.54801002544284),
      "first_two_digits": (10, 150735, 0.001683655437545587, 5106.981582284739)}),
    ("gm_payments.csv", "Amount", {"first_digit": (1, 15282, 0.006353525236825847, 90.90653004285954),
                                   "second_digit": (10, 15238, 0.012352796770769654, 375.2253860733697),
                                   "first_two_digits": (10, 15238, 0.0016916326023984946, 709.9551556945668)}),
])
def test_integer_sets_agree_with_benford_py(shared_data, name, column, figures):
    x = _read(shared_data, name, column)
    for test, (min_value, n, mad, chi2) in figures.items():
        t = benford(x, min_value=min_value).tests[test]
        assert t.n == n
        assert t.mad == pytest.approx(mad, rel=1e-12)
        assert t.chi2 == pytest.approx(chi2, rel=1e-9)


def test_z_is_never_negative_where_references_go_below_zero(shared_data):
    # benford_py (and benford.analysis, same formula) give Z = -0.019134 for first-two digits 96 in census 2009:
    # |p̂ - p| = 1.6e-5 is smaller than the continuity correction 1/(2N) = 2.6e-5. Nigrini drops the correction
    # there; the Z is then the plain |p̂ - p| / sd.
    x = _read(shared_data, "census_2009.csv", "pop.2009")
    t = benford(x).tests["first_two_digits"]
    z = np.array(t.z)
    assert (z >= 0).all()
    i = t.digits.index(96)
    p, phat, n = t.expected[i], t.observed[i], t.n
    assert t.counts[i] == 88
    assert abs(phat - p) < 1 / (2 * n)
    assert z[i] == pytest.approx(abs(phat - p) / np.sqrt(p * (1 - p) / n), rel=1e-12)
    assert z[i] == pytest.approx(0.03438, abs=1e-5)


def test_second_digit_bounds_are_nigrinis_not_benford_analysis():
    # benford.analysis uses 0.011 as the upper second-digit bound; Nigrini (2012, table 7.1) gives 0.012. A
    # second-digit MAD of 0.0115 on a large sample is "marginally acceptable", not "nonconformity".
    assert NIGRINI_MAD["second_digit"] == (0.008, 0.010, 0.012)
    st = {"mad": np.array([0.0115, 0.0121]), "mad_critical": np.array([0.0005, 0.0005])}
    conf, nig = _conformity("second_digit", st, np.array([True, True]))
    assert list(nig) == ["marginally acceptable conformity", "nonconformity"]


def test_nigrini_convention_amounts_of_10_and_more(payments):
    res = benford(payments)  # min_value = 10: Nigrini's first-digit and first-two-digits convention
    assert res.n == 185083 - 7320
    f1, f2, sd = (res.tests[k] for k in ("first_digit", "first_two_digits", "second_digit"))
    assert f1.mad == pytest.approx(0.0146419, abs=1e-7) and f1.conformity == "marginally acceptable conformity"
    assert f2.mad == pytest.approx(0.0024299, abs=1e-7) and f2.conformity == "nonconformity"
    assert sd.mad == pytest.approx(0.0153174, abs=1e-7) and sd.conformity == "nonconformity"
    # the spike Nigrini discusses: 50 (amounts of $50.xx) is the most over-represented first-two digits
    assert f2.over_represented(3) == [50, 11, 10]
    assert res.duplicates.values[0] == 50.0 and res.duplicates.counts[0] == 6022
    # the KS statistic far beyond its critical value 1.36 / sqrt(N)
    assert f2.ks_critical == pytest.approx(1.36 / np.sqrt(f2.n)) and f2.ks > 10 * f2.ks_critical
