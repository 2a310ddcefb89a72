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

The references' digit readings are emulated here without the floating-point library: numpy's ``log10`` and
``power`` take CPU-dependent paths (SIMD/SVML on AVX-512, libm elsewhere) whose last bits differ -- with SVML,
``10.0 ** np.array([-5.0])`` is one ulp below 1e-5, and 1500000 reads as 14 instead of 15. The emulation assumes
what an accurate libm (glibc's, under R on Linux) gives: ``log10`` and ``10^k`` correctly rounded. It takes
``floor(log10(x))`` from the exact decimal value of the double (:mod:`decimal`), ``10^k`` as a correctly rounded
power of ten (:mod:`fractions`), and rounds the product ``10^k * x`` once, as an IEEE multiplication does. Only
exact integer, :mod:`decimal` and :mod:`fractions` arithmetic enters the reference digits; the fixture that
computes them runs with ``np.log10``, ``np.power``, ``math.log10`` and ``math.pow`` disabled.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction

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


#: ``d / 10**(e + 1)`` below this: ``log10(d)`` is more than 4e-13 below ``e + 1``, which is more than half the gap
#: between ``e + 1`` and the double below it for every exponent a double can have (at most 2.9e-14), so a correctly
#: rounded ``log10`` cannot round up to ``e + 1``
_NEAR_NEXT_POWER = Decimal("0.999999999999")


def _floor_log10(v: float) -> int:
    """``floor(log10(v))`` with ``log10`` correctly rounded to a double (an accurate libm), for a positive double."""
    d = Decimal(v)  # the exact binary value
    e = d.adjusted()  # exact floor(log10(d)); a correctly rounded log10 is >= e because e is a double
    if d.scaleb(-(e + 1)) < _NEAR_NEXT_POWER:
        return e
    with localcontext() as ctx:  # within 1e-12 below a power of ten: round log10 exactly, as the libm should
        ctx.prec = 60  # Decimal.log10 is correctly rounded to 60 digits; float() of it then rounds once more
        return math.floor(float(d.log10()))


def _pow10(k: int) -> float:
    """``10^k`` correctly rounded to a double (exact for 0 <= k <= 22)."""
    return float(Fraction(10) ** k)


def _r_value(v: float, k: int) -> int:
    """R: ``trunc(10^(-floor(log10(v)) + k - 1) * v)``, the product rounded once to a double."""
    return math.trunc(float(Fraction(_pow10(k - 1 - _floor_log10(v))) * Fraction(v)))


def _per_unique(x: np.ndarray, fn) -> np.ndarray:
    u, inv = np.unique(x, return_inverse=True)
    return np.array([fn(v) for v in u.tolist()], dtype=np.int64)[inv]


def _first_two_r(x: np.ndarray) -> np.ndarray:
    """benford.analysis's digit extraction (R: trunc((10^((floor(log10(x)) * -1) + 1)) * x))."""
    return _per_unique(x, lambda v: _r_value(v, 2))


def _collapsed_r(d: np.ndarray) -> np.ndarray:
    """benford.analysis's distortion factor values: 10 * d / 10^trunc(log10(d)) (d >= 10, so trunc is floor)."""
    p = _per_unique(d, _floor_log10)
    return 10 * d / np.array([_pow10(int(k)) for k in range(p.max() + 1)])[p]


_POW10_INT = 10 ** np.arange(19, dtype=np.int64)


def _first_two_of_integers(n: np.ndarray) -> np.ndarray:
    """benford_py: ``n // 10**(int(log10(n)) - 1)``; for integers below 1e15 ``int(log10(n))`` (correctly rounded)
    is the number of digits less one, counted here by exact integer comparisons."""
    assert (n >= 10).all() and (n < 10**15).all()
    n_digits = np.searchsorted(_POW10_INT, n, side="right")
    return n // _POW10_INT[n_digits - 2]


def _no_float_library(mp: pytest.MonkeyPatch) -> None:
    """Make the libm-backed functions the emulation must not use raise."""
    def banned(*args, **kwargs):
        raise AssertionError("reference digits must not depend on the floating-point library")
    for mod, name in ((np, "log10"), (np, "power"), (np, "float_power"), (np, "log"), (math, "log10"),
                      (math, "pow"), (math, "log")):
        mp.setattr(mod, name, banned)


@pytest.fixture(scope="module")
def payments(shared_data):
    return _read(shared_data, "corporate_payment.csv.gz", "Amount")


@pytest.fixture(scope="module")
def payments_r(payments):
    """benford.analysis's first-two digits of the positive payments and its collapsed amounts >= 10."""
    with pytest.MonkeyPatch.context() as mp:
        _no_float_library(mp)
        return _first_two_r(payments[payments > 0]), _collapsed_r(payments[payments >= 10])


def test_r_emulation_reads_like_ieee():
    # 100 * 0.29 == 28.999999999999996; 10 * 2.3 rounds to 23.0; 1e-5 rounds up, so 1500000 reads 15; the double
    # 999.9999999999999 is 1.1e-13 below 1000, so log10 rounds to 3.0 and R reads a single digit, 9
    with pytest.MonkeyPatch.context() as mp:
        _no_float_library(mp)
        got = [_r_value(v, 2) for v in (0.29, 0.58, 2.3, 1500000.0, 1000.0, 999.99, 999.9999999999999, 0.01)]
        ints = _first_two_of_integers(np.array([10, 99, 100, 999, 1000, 1009, 229, 10**14, 10**15 - 1]))
    assert got == [28, 57, 23, 15, 10, 99, 9, 10]
    assert ints.tolist() == [10, 99, 10, 99, 10, 10, 22, 10, 99]


def test_corporate_payments_match_benford_analysis_readme(payments, payments_r):
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
    r_digits = payments_r[0]
    ours, _ = leading_digits(x, 2)
    wrong = r_digits != ours
    assert int(wrong.sum()) == 146
    assert x[wrong].max() < 10 and (r_digits[wrong] == ours[wrong] - 1).all()
    assert set(np.round(x[wrong], 2)) >= {0.29, 0.58}
    r_stats = share_stats(np.bincount(r_digits - 10, minlength=90)[None, :], P_FIRST_TWO)
    assert float(r_stats["chi2"][0]) == pytest.approx(32094, abs=0.5)
    assert f2.chi2 == pytest.approx(32100.90, abs=0.01)


def test_distortion_factor_and_benford_analysis_typo(payments, payments_r):
    # benford.analysis prints Distortion Factor -1.065467: (mean - 39.0865) / 39.0685 * 100 on amounts >= 10.
    # 39.0685 is a transposition of 39.0865 (= 90 / ln 10, the mean of Benford amounts collapsed to [10, 100)).
    collapsed = payments_r[1]
    assert len(collapsed) == 185083 - 7320 and collapsed.min() >= 10 and collapsed.max() < 100
    mean = math.fsum(collapsed) / len(collapsed)  # R's mean sums in long double: both are exact to 1e-16
    r_df = (mean - 39.0865) / 39.0685 * 100
    assert r_df == pytest.approx(-1.065467, abs=5e-7)
    res = benford(payments, min_value=0)
    correct = (mean - DF_EXPECTED_MEAN) / DF_EXPECTED_MEAN * 100
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
    bpy = _first_two_of_integers(zn)
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
