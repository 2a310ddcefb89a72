"""Benford and digit forensics: first, second, first-two and last-two digits, summation, number duplication,
round numbers, mantissa arc and (on request) second order, for one sample or for thousands of groups in one pass.

Conventions (Nigrini 2012, *Benford's Law*, Wiley, unless said otherwise):

* Digits are those of the number as written (its shortest round-trip decimal, see :mod:`.digits`), never of a
  scaled and truncated float. Zeros and non-finite values are left out; negative values are analysed apart
  (``sign="negative"`` analyses their absolute values).
* ``min_value`` (default 10) is the lower bound for the first-digit, second-digit, first-two-digits, summation,
  mantissa and duplication tests: amounts below 10 have no second digit in their integer part and are often
  special (fees, unit prices). ``min_value=0`` takes every positive value, as R benford.analysis does.
* The last two digits are read at the sample's (each group's) own precision: the coarsest power of ten of which
  90 % of the amounts are multiples, counted in cents (``62 457 510 000`` dollars published in millions with two
  decimals has its last two digits ``51``; a payment of 36.08 has ``08``). Only amounts of at least 1,000 such
  units enter, so the last two digits are never also the first two. Expected: 1/100 each. A reporter that
  publishes in thousands therefore is not "padding"; one whose figures are round more often than its own
  precision explains is. Amounts of $10 trillion and more are left out of these two tests (their cents are not
  exact doubles).
* Round numbers: the share of amounts (of at least 100 units) that are multiples of 100 units, expected 1/100.
* Z per digit: ``(|p̂ - p| - 1/(2N)) / sqrt(p(1-p)/N)``, the continuity correction applied only when it is smaller
  than ``|p̂ - p|``, so Z is never negative.
* MAD: mean of ``|p̂ - p|``; Nigrini's classes (first digit 0.006/0.012/0.015, second digit 0.008/0.010/0.012,
  first two digits 0.0012/0.0018/0.0022) give ``conformity_nigrini``. The MAD of an honest sample of size N is
  ``mad_expected = sum_d sqrt(2 p_d (1 - p_d) / (pi N)) / K`` (mean of half-normals) and ``excess_mad`` is the
  difference. Nigrini's bounds were set on large samples; a small honest sample exceeds them by chance alone, so
  ``conformity`` reads "conforming within sampling error" when the MAD is below ``mad_critical`` (the 99th
  percentile of honest MADs: ``mad_expected`` plus 2.5 to 2.8 standard deviations, see :data:`Z_CRIT_MAD`), and
  Nigrini's class otherwise.
* KS: largest gap between cumulative shares, critical value ``1.36 / sqrt(N)``. Chi-square with K - 1 degrees of
  freedom. Distortion factor: mean of the amounts >= 10 collapsed to [10, 100) against ``90 / ln 10 = 39.0865``,
  in percent. Mantissa arc test (Alexander 2009): ``L² = mean(cos 2πm)² + mean(sin 2πm)²``, ``p = exp(-L² N)``.
* Below ``min_n`` records, or when the 1st and 99th percentiles of the amounts lie less than ``min_span`` decades
  apart, a test's ``conformity`` is "insufficient data" and no finding is made.

Where reference implementations differ, the tests in ``tests/test_benford_reference.py`` say which and why.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, SchemaError
from ..schema import Ledger, make_findings
from .base import CheckResult
from .digits import _POW10, _POW_TABLE, _TABLE_OFFSET, integer_part, leading_digits

# --------------------------------------------------------------------------------------------------------------
# Expected distributions and constants
# --------------------------------------------------------------------------------------------------------------

FIRST_TWO = np.arange(10, 100)
# Benford's probabilities from correctly rounded decimal logarithms (numpy's vector log10 may differ in the last
# bit between CPUs)
P_FIRST_TWO = np.array([float((Decimal(d + 1) / Decimal(d)).log10()) for d in range(10, 100)])
P_FIRST = P_FIRST_TWO.reshape(9, 10).sum(axis=1)
P_SECOND = P_FIRST_TWO.reshape(9, 10).sum(axis=0)
P_LAST_TWO = np.full(100, 0.01)
P_SUMMATION = np.full(90, 1 / 90)
DF_EXPECTED_MEAN = 90 / math.log(10)  # 39.0865: mean of Benford amounts collapsed to [10, 100)
KS_FACTOR = 1.36
#: multiples of the honest-sample MAD's standard deviation (normal approximation, digits taken as independent) at
#: which 99 % of honest MADs lie; calibrated by simulating honest log-normal samples of 100 to 5,000 values
#: (the MAD is skewed and the digit shares are correlated, so 2.33 would be too low)
Z_CRIT_MAD = {"first_digit": 2.8, "second_digit": 2.6, "first_two_digits": 2.5, "last_two_digits": 2.5}

#: Nigrini (2012) MAD bounds for close / acceptable / marginally acceptable conformity.
NIGRINI_MAD = {
    "first_digit": (0.006, 0.012, 0.015),
    "second_digit": (0.008, 0.010, 0.012),
    "first_two_digits": (0.0012, 0.0018, 0.0022),
}
CONFORMITY = ("close conformity", "acceptable conformity", "marginally acceptable conformity", "nonconformity")
WITHIN_SAMPLING = "conforming within sampling error"
CONFORMING = "conforming"
NONCONFORMING = "nonconforming"
INSUFFICIENT = "insufficient data"

TESTS = ("first_digit", "second_digit", "first_two_digits", "last_two_digits", "summation")
DIGITS = {
    "first_digit": np.arange(1, 10),
    "second_digit": np.arange(0, 10),
    "first_two_digits": FIRST_TWO,
    "last_two_digits": np.arange(0, 100),
    "summation": FIRST_TWO,
}
EXPECTED = {
    "first_digit": P_FIRST,
    "second_digit": P_SECOND,
    "first_two_digits": P_FIRST_TWO,
    "last_two_digits": P_LAST_TWO,
    "summation": P_SUMMATION,
}
#: tests whose share deviations become findings (summation shares are of amounts, not of records: no p-value)
FINDING_TESTS = ("first_digit", "second_digit", "first_two_digits", "last_two_digits")
LAST_TWO_MIN_UNITS = 1000
ROUND_MIN_UNITS = 100
MAX_CENTS = 1.0e15  # amounts of up to $10 trillion: cents and their quotients by powers of ten stay exact doubles
UNIT_SHARE = 0.90


def _plain(v):
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, np.bool_):
        return bool(v)
    return v


# --------------------------------------------------------------------------------------------------------------
# Result records
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitTest:
    """One digit test on one sample. ``statistic``/``pvalue`` are the chi-square's; ``z`` is per digit (>= 0)."""

    name: str
    n: int
    digits: tuple[int, ...]
    counts: tuple[float, ...]
    expected: tuple[float, ...]
    observed: tuple[float, ...]
    z: tuple[float, ...] | None
    chi2: float | None
    chi2_pvalue: float | None
    ks: float | None
    ks_critical: float | None
    mad: float | None
    mad_expected: float | None
    mad_critical: float | None
    excess_mad: float | None
    conformity: str
    conformity_nigrini: str | None
    sums: tuple[float, ...] | None = None
    note: str = ""

    @property
    def statistic(self) -> float | None:
        return self.chi2

    @property
    def pvalue(self) -> float | None:
        return self.chi2_pvalue

    def over_represented(self, top: int = 3) -> list[int]:
        """Digits most over-represented (largest Z among those above their expected share)."""
        if self.z is None:
            order = np.argsort(-(np.array(self.observed) - np.array(self.expected)), kind="stable")
            return [self.digits[i] for i in order[:top] if self.observed[i] > self.expected[i]]
        z = np.where(np.array(self.observed) > np.array(self.expected), np.array(self.z), -1.0)
        order = np.argsort(-z, kind="stable")
        return [self.digits[i] for i in order[:top] if z[i] > 0]

    def to_dict(self) -> dict:
        d = {
            "n": self.n, "digits": list(self.digits), "counts": list(self.counts), "expected": list(self.expected),
            "observed": list(self.observed), "z": None if self.z is None else list(self.z), "chi2": self.chi2,
            "chi2_pvalue": self.chi2_pvalue, "ks": self.ks, "ks_critical": self.ks_critical, "mad": self.mad,
            "mad_expected": self.mad_expected, "mad_critical": self.mad_critical, "excess_mad": self.excess_mad,
            "conformity": self.conformity, "conformity_nigrini": self.conformity_nigrini,
        }
        if self.sums is not None:
            d["sums"] = list(self.sums)
        if self.note:
            d["note"] = self.note
        return _plain(d)


@dataclass(frozen=True)
class MantissaArc:
    n: int
    mean: float | None
    variance: float | None
    l2: float | None
    pvalue: float | None

    @property
    def statistic(self):
        return self.l2

    def to_dict(self) -> dict:
        return _plain({"n": self.n, "mean": self.mean, "variance": self.variance, "l2": self.l2,
                       "pvalue": self.pvalue})


@dataclass(frozen=True)
class RoundNumbers:
    """Share of amounts that are multiples of 100 units (``unit`` is the sample's precision, in dollars)."""

    n: int
    unit: float
    count: int
    share: float | None
    expected: float
    z: float | None
    pvalue: float | None

    @property
    def statistic(self):
        return self.z

    def to_dict(self) -> dict:
        return _plain({"n": self.n, "unit": self.unit, "count": self.count, "share": self.share,
                       "expected": self.expected, "z": self.z, "pvalue": self.pvalue})


@dataclass(frozen=True)
class Duplicates:
    """Most repeated amounts (Nigrini's number duplication test)."""

    n: int
    values: tuple[float, ...]
    counts: tuple[int, ...]
    duplicated_share: float | None  # share of records whose amount occurs more than once

    def to_dict(self) -> dict:
        return _plain({"n": self.n, "top": [{"value": v, "count": c} for v, c in zip(self.values, self.counts)],
                       "duplicated_share": self.duplicated_share})


@dataclass(frozen=True)
class BenfordResult:
    """Every test on one sample (one sign)."""

    n: int
    sign: str
    min_value: float
    span_decades: float | None
    tests: Mapping[str, DigitTest]
    distortion_factor: float | None
    mantissa_arc: MantissaArc
    round_numbers: RoundNumbers
    duplicates: Duplicates
    second_order: DigitTest | None = None

    def to_dict(self) -> dict:
        d = {
            "n": self.n, "sign": self.sign, "min_value": self.min_value, "span_decades": self.span_decades,
            "tests": {k: t.to_dict() for k, t in self.tests.items()},
            "distortion_factor": self.distortion_factor,
            "mantissa_arc": self.mantissa_arc.to_dict(),
            "round_numbers": self.round_numbers.to_dict(),
            "duplicates": self.duplicates.to_dict(),
        }
        if self.second_order is not None:
            d["second_order"] = self.second_order.to_dict()
        return _plain(d)


# --------------------------------------------------------------------------------------------------------------
# Vectorised statistics over a groups x digits count matrix
# --------------------------------------------------------------------------------------------------------------


def _nigrini_class(mad: np.ndarray, bounds: Sequence[float]) -> np.ndarray:
    # R's findInterval convention: a MAD equal to a bound falls in the worse class
    return np.searchsorted(np.asarray(bounds), mad, side="right")


def share_stats(counts: np.ndarray, expected: np.ndarray, z_crit: float = 2.5) -> dict[str, np.ndarray]:
    """Z, chi-square, KS, MAD and the honest-sample MAD for each row of ``counts`` (groups x digits)."""
    from scipy import stats

    counts = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    n = counts.sum(axis=1)
    k = counts.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        nn = np.where(n > 0, n, np.nan)[:, None]
        obs = counts / nn
        diff = obs - expected
        absdiff = np.abs(diff)
        cc = 1 / (2 * nn)
        num = np.where(cc < absdiff, absdiff - cc, absdiff)
        sd = np.sqrt(expected * (1 - expected) / nn)
        z = num / sd
        exp_counts = expected * nn
        chi2 = ((counts - exp_counts) ** 2 / exp_counts).sum(axis=1)
        chi2 = np.where(n > 0, chi2, np.nan)
        # logsf underflows to -inf for enormous statistics; the score is capped long before -1e4
        logp = np.maximum(stats.chi2.logsf(chi2, k - 1), -1e4)
        ks = np.abs(np.cumsum(obs, axis=1) - np.cumsum(expected)).max(axis=1)
        mad = absdiff.mean(axis=1)
        sd_all = np.sqrt(expected * (1 - expected) / nn)
        mad_expected = (sd_all * math.sqrt(2 / math.pi)).sum(axis=1) / k
        mad_sd = np.sqrt((sd_all ** 2 * (1 - 2 / math.pi)).sum(axis=1)) / k
        ks_crit = KS_FACTOR / np.sqrt(nn[:, 0])
    return {
        "n": n, "observed": obs, "diff": diff, "z": z, "chi2": chi2, "logp": logp, "pvalue": np.exp(logp),
        "ks": ks, "ks_critical": ks_crit, "mad": mad, "mad_expected": mad_expected,
        "mad_critical": mad_expected + z_crit * mad_sd, "excess_mad": mad - mad_expected,
    }


def _conformity(name: str, st: dict, enough: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(conformity, conformity_nigrini) labels per group."""
    g = len(st["mad"])
    mad = np.nan_to_num(st["mad"], nan=0.0)
    within = mad <= np.nan_to_num(st["mad_critical"], nan=np.inf)
    if name in NIGRINI_MAD:
        cls = _nigrini_class(mad, NIGRINI_MAD[name])
        nigrini = np.array(CONFORMITY, dtype=object)[cls]
        conf = np.where(within & (cls > 0), WITHIN_SAMPLING, nigrini)
    else:
        nigrini = np.full(g, None, dtype=object)
        conf = np.where(within, CONFORMING, NONCONFORMING).astype(object)
    conf = np.where(enough, conf, INSUFFICIENT)
    return conf.astype(object), nigrini


def log_bh(logp: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values on the log scale (no underflow for p below 1e-308).

    Equal to ``log(scipy.stats.false_discovery_control(p))`` where ``p`` is representable; NaN stays NaN.
    """
    logp = np.asarray(logp, dtype=np.float64)
    out = np.full(logp.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(logp))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(logp[ok], kind="stable")]
    ranks = np.arange(1, m + 1)
    adj = logp[order] + math.log(m) - np.log(ranks)
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out[order] = np.minimum(adj, 0.0)
    return out


# --------------------------------------------------------------------------------------------------------------
# The one-pass engine
# --------------------------------------------------------------------------------------------------------------


@dataclass
class GroupedBenford:
    """All tests for every group. ``keys`` has one row per group; matrices are groups x digits."""

    keys: pd.DataFrame
    min_value: float
    sign: str
    min_n: int
    min_span: float
    n_records: np.ndarray
    span_decades: np.ndarray
    counts: dict[str, np.ndarray]
    stats: dict[str, dict[str, np.ndarray]]
    conformity: dict[str, np.ndarray]
    conformity_nigrini: dict[str, np.ndarray]
    enough: dict[str, np.ndarray]
    sums: np.ndarray
    distortion_factor: np.ndarray
    arc: dict[str, np.ndarray]
    round_numbers: dict[str, np.ndarray]
    duplicates: dict[str, np.ndarray]
    unit_exp: np.ndarray
    qvalues: dict[str, np.ndarray] = field(default_factory=dict)
    #: per record kept for the tests: position in the input, group, amount, first two digits, last two digits
    #: (-1 where not eligible), round flag
    records: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return len(self.keys)

    def test(self, name: str, group: int = 0) -> DigitTest:
        """The :class:`DigitTest` of one group."""
        if name == "summation":
            return self._summation(group)
        st = self.stats[name]
        nig = self.conformity_nigrini[name][group]
        return DigitTest(
            name=name, n=int(st["n"][group]), digits=tuple(int(d) for d in DIGITS[name]),
            counts=tuple(int(c) for c in self.counts[name][group]),
            expected=tuple(float(p) for p in EXPECTED[name]),
            observed=tuple(float(v) for v in np.nan_to_num(st["observed"][group])),
            z=tuple(float(v) for v in np.nan_to_num(st["z"][group])),
            chi2=_f(st["chi2"][group]), chi2_pvalue=_f(st["pvalue"][group]), ks=_f(st["ks"][group]),
            ks_critical=_f(st["ks_critical"][group]), mad=_f(st["mad"][group]),
            mad_expected=_f(st["mad_expected"][group]), mad_critical=_f(st["mad_critical"][group]),
            excess_mad=_f(st["excess_mad"][group]), conformity=str(self.conformity[name][group]),
            conformity_nigrini=None if nig is None else str(nig),
        )

    def _summation(self, group: int) -> DigitTest:
        sums = self.sums[group]
        total = sums.sum()
        obs = sums / total if total > 0 else np.zeros_like(sums)
        absdiff = np.abs(obs - P_SUMMATION)
        return DigitTest(
            name="summation", n=int(self.counts["first_two_digits"][group].sum()),
            digits=tuple(int(d) for d in FIRST_TWO),
            counts=tuple(int(c) for c in self.counts["first_two_digits"][group]),
            expected=tuple(float(p) for p in P_SUMMATION), observed=tuple(float(v) for v in obs), z=None, chi2=None,
            chi2_pvalue=None, ks=None, ks_critical=None, mad=float(absdiff.mean()) if total > 0 else None,
            mad_expected=None, mad_critical=None, excess_mad=None,
            conformity=INSUFFICIENT if not self.enough["first_two_digits"][group] else "not assessed",
            conformity_nigrini=None, sums=tuple(float(s) for s in sums),
            note=("shares of the summed amounts by first two digits, expected 1/90 each; amounts are not counts, "
                  "so no Z, chi-square or KS applies: read the largest shares as pointers to a few large amounts"),
        )

    def result(self, group: int = 0) -> BenfordResult:
        """Every test of one group as a :class:`BenfordResult`."""
        arc = self.arc
        rn = self.round_numbers
        dup = self.duplicates
        top_vals = dup["top_values"][group]
        top_counts = dup["top_counts"][group]
        keep = top_counts > 0
        return BenfordResult(
            n=int(self.n_records[group]), sign=self.sign, min_value=self.min_value,
            span_decades=_f(self.span_decades[group]),
            tests={name: self.test(name, group) for name in TESTS},
            distortion_factor=_f(self.distortion_factor[group]),
            mantissa_arc=MantissaArc(n=int(arc["n"][group]), mean=_f(arc["mean"][group]),
                                     variance=_f(arc["variance"][group]), l2=_f(arc["l2"][group]),
                                     pvalue=_f(arc["pvalue"][group])),
            round_numbers=RoundNumbers(n=int(rn["n"][group]), unit=float(_pow10(int(self.unit_exp[group]) - 2)),
                                       count=int(rn["count"][group]), share=_f(rn["share"][group]),
                                       expected=0.01, z=_f(rn["z"][group]), pvalue=_f(rn["pvalue"][group])),
            duplicates=Duplicates(n=int(dup["n"][group]), values=tuple(float(v) for v in top_vals[keep]),
                                  counts=tuple(int(c) for c in top_counts[keep]),
                                  duplicated_share=_f(dup["duplicated_share"][group])),
        )

    def audit_table(self) -> pd.DataFrame:
        """One row per group: n, MADs, conformity, p- and q-values of every test, distortion factor, round share."""
        out = self.keys.copy().reset_index(drop=True)
        out["n"] = self.n_records.astype(np.int64)
        out["span_decades"] = self.span_decades
        for name in ("first_digit", "second_digit", "first_two_digits", "last_two_digits"):
            st = self.stats[name]
            out[f"{name}_n"] = st["n"].astype(np.int64)
            out[f"{name}_mad"] = st["mad"]
            out[f"{name}_mad_expected"] = st["mad_expected"]
            out[f"{name}_excess_mad"] = st["excess_mad"]
            out[f"{name}_chi2"] = st["chi2"]
            out[f"{name}_pvalue"] = st["pvalue"]
            if name in self.qvalues:
                out[f"{name}_qvalue"] = np.exp(self.qvalues[name])
            out[f"{name}_conformity"] = pd.array(self.conformity[name].astype(str), dtype="str")
        out["distortion_factor"] = self.distortion_factor
        out["mantissa_arc_l2"] = self.arc["l2"]
        out["mantissa_arc_pvalue"] = self.arc["pvalue"]
        out["round_share"] = self.round_numbers["share"]
        out["round_pvalue"] = self.round_numbers["pvalue"]
        if "round_numbers" in self.qvalues:
            out["round_qvalue"] = np.exp(self.qvalues["round_numbers"])
        out["top_duplicate_value"] = self.duplicates["top_values"][:, 0]
        out["top_duplicate_count"] = self.duplicates["top_counts"][:, 0]
        return out


def _f(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _group_codes(groups, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer codes 0..G-1 and a keys frame (sorted by key) for the grouping."""
    if groups is None:
        return np.zeros(0, dtype=np.int64), pd.DataFrame(index=range(1))
    if isinstance(groups, pd.Series):
        groups = groups.to_frame()
    if isinstance(groups, pd.DataFrame):
        if len(groups) != n:
            raise ValueError("groups must have one row per value")
        gb = groups.groupby(list(groups.columns), sort=True, observed=True, dropna=False)
        codes = gb.ngroup().to_numpy(dtype=np.int64)
        keys = gb.size().reset_index()[list(groups.columns)]
        return codes, keys
    arr = np.asarray(groups)
    if len(arr) != n:
        raise ValueError("groups must have one value per value")
    if arr.dtype.kind in "iu" and len(arr) and arr.min() >= 0 and arr.max() < 4 * len(arr) + 1024:
        # small non-negative integer labels (the common case of precomputed codes): no hashing, no sorting
        present = np.bincount(arr, minlength=1) > 0
        if present.all():
            return arr.astype(np.int64, copy=False), pd.DataFrame({"group": np.arange(len(present))})
        remap = np.cumsum(present) - 1
        return remap[arr].astype(np.int64), pd.DataFrame({"group": np.flatnonzero(present)})
    codes, uniq = pd.factorize(pd.Series(arr), sort=True)
    return codes.astype(np.int64), pd.DataFrame({"group": np.asarray(uniq)})


#: samples at least this large compute number duplication in a second thread
PARALLEL_MIN = 1_000_000


def analyse_groups(
    values,
    groups=None,
    *,
    min_value: float = 10.0,
    sign: str = "positive",
    min_n: int = 100,
    min_span: float = 2.0,
    top_duplicates: int = 5,
) -> GroupedBenford:
    """Run every test for every group in one vectorised pass.

    ``values``: amounts (array-like). ``groups``: ``None`` (one sample), an array of labels, or a DataFrame of key
    columns (one row per value). ``sign``: "positive" analyses values > 0, "negative" the absolute values of
    values < 0. No Python loop runs over groups: digits are extracted once and counted with ``np.bincount`` on
    ``group * K + digit``.
    """
    if sign not in ("positive", "negative"):
        raise ConfigError(f"sign must be 'positive' or 'negative', not {sign!r}")
    if min_value < 0:
        raise ConfigError("min_value must be >= 0 (amounts below it are left out of the digit tests)")
    x_all = np.asarray(values, dtype=np.float64)
    codes_all, keys = _group_codes(groups, len(x_all))
    n_groups = len(keys)
    with np.errstate(invalid="ignore"):
        if sign == "positive":
            take = (x_all >= min_value) & (x_all > 0) & (x_all < np.inf)
        else:
            take = (x_all <= -min_value) & (x_all < 0) & (x_all > -np.inf)
    if take.all():  # the common case: no copies
        pos = np.arange(len(x_all))
        x = x_all
        g = codes_all
    else:
        pos = np.flatnonzero(take)
        x = x_all[pos]
        g = None if groups is None else codes_all[pos]
    if sign == "negative":
        x = -x
    if groups is None:
        g = np.zeros(len(pos), dtype=np.int64)
    # number duplication needs only the amounts: on large samples it runs on a second core meanwhile (numpy
    # releases the GIL in its sorts and array operations); the result does not depend on where it runs
    dup_job = None
    if len(x) >= PARALLEL_MIN:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1)
        dup_job = pool.submit(_duplicates, x, g, n_groups, top_duplicates)
        pool.shutdown(wait=False)
    p = _record_pass(x, g, n_groups)
    m2, c_ft, sums, dec = p["first_two"], p["c_ft"], p["sums"], p["dec"]
    c_f = c_ft.reshape(n_groups, 9, 10).sum(axis=2)
    c_s = c_ft.reshape(n_groups, 9, 10).sum(axis=1)
    n_rec = c_ft.sum(axis=1)
    # -- span of magnitudes: decades between the 1st and 99th percentile, from a groups x decades histogram -----
    cum = np.cumsum(dec, axis=1) / np.maximum(n_rec, 1)[:, None]
    lo = np.argmax(cum >= 0.01, axis=1)
    hi = np.argmax(cum >= 0.99, axis=1)
    span = np.where(n_rec > 0, (hi - lo).astype(np.float64), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        # distortion factor: amounts >= 10 collapsed to [10, 100)
        dfac = (p["coll_sum"] / p["n10"] - DF_EXPECTED_MEAN) / DF_EXPECTED_MEAN * 100
        nr = np.where(n_rec > 0, n_rec, np.nan)
        l2 = (p["cos_sum"] / nr) ** 2 + (p["sin_sum"] / nr) ** 2
        mmean = p["mant_sum"] / nr
        mvar = (p["mant2_sum"] - nr * mmean ** 2) / (nr - 1)
    arc = {"n": n_rec, "l2": l2, "pvalue": np.exp(-l2 * n_rec), "mean": mmean, "variance": mvar}
    # -- precision, last two digits and round numbers, on amounts in cents --------------------------------------
    tzc = p["tz_hist"]
    at_least = np.cumsum(tzc[:, ::-1], axis=1)[:, ::-1] / np.maximum(tzc.sum(axis=1), 1)[:, None]
    unit_exp = (at_least >= UNIT_SHARE).sum(axis=1) - 1  # largest t with 90 % of amounts multiples of 10**t
    unit_exp = np.maximum(unit_exp, 0)
    last_two, rec_round, c_l2, rn_n, rn_k = _unit_pass(p["cents"], g, unit_exp, n_groups)
    round_numbers = _round_stats(rn_n, rn_k)
    # -- number duplication ------------------------------------------------------------------------------------
    duplicates = dup_job.result() if dup_job is not None else _duplicates(x, g, n_groups, top_duplicates,
                                                                           p["hash"])
    # -- statistics ----------------------------------------------------------------------------------------------
    counts = {"first_digit": c_f, "second_digit": c_s, "first_two_digits": c_ft, "last_two_digits": c_l2}
    stats_, conf, nig, enough = {}, {}, {}, {}
    span_ok = np.nan_to_num(span, nan=-1) >= min_span
    for name, c in counts.items():
        st = share_stats(c, EXPECTED[name], Z_CRIT_MAD[name])
        stats_[name] = st
        enough[name] = (st["n"] >= min_n) & span_ok
        conf[name], nig[name] = _conformity(name, st, enough[name])
    return GroupedBenford(
        keys=keys, min_value=float(min_value), sign=sign, min_n=int(min_n), min_span=float(min_span),
        n_records=n_rec, span_decades=span, counts=counts, stats=stats_, conformity=conf, conformity_nigrini=nig,
        enough=enough, sums=sums, distortion_factor=dfac, arc=arc, round_numbers=round_numbers,
        duplicates=duplicates, unit_exp=unit_exp,
        records={"pos": pos, "group": g, "value": x, "first_two": m2, "last_two": last_two, "round": rec_round},
    )


# exact powers of ten, shared with the digit extraction
_POW10_F = _POW10[:19]


def _pow10(k: np.ndarray) -> np.ndarray:
    return _POW_TABLE[k + _TABLE_OFFSET]


_PASS_CHUNK = 1 << 16
_TZ_STEPS = ((8, 1e8), (4, 1e4), (2, 100.0), (1, 10.0))
N_TZ = 16  # trailing zeros of cents are counted up to 15


def _chunks(n: int, n_groups: int):
    # per-chunk group histograms cost O(n_groups): keep chunks several times larger than the group count
    size = max(_PASS_CHUNK, 8 * n_groups)
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _trailing_zeros_fast(n: np.ndarray) -> np.ndarray:
    """Trailing decimal zeros of whole numbers held as doubles below 2**50 (capped at 15), by halving steps.

    Float division is exact enough here (a quotient of such a whole number by a power of ten is an integer exactly
    when it divides) and much faster than int64 division."""
    tz = np.zeros(n.shape, dtype=np.int8)
    cur = np.where(n >= 1, n, np.nan)  # NaN never divides: zero and the too-large (-1) get no trailing zeros
    for step, div in _TZ_STEPS:
        q = np.floor(cur / div)
        hit = q * div == cur
        np.copyto(cur, q, where=hit)
        tz += hit.view(np.int8) * np.int8(step)
    return tz


def _by_group(gc: np.ndarray, weights: np.ndarray | None, n_groups: int) -> np.ndarray:
    if n_groups == 1:
        return np.array([float(len(gc)) if weights is None else float(weights.sum(dtype=np.float64))])
    return np.bincount(gc, weights=weights, minlength=n_groups)


def _record_pass(x: np.ndarray, g: np.ndarray, n_groups: int) -> dict:
    """Everything computed per record, in cache-sized chunks; per-group sums accumulate chunk by chunk."""
    n = len(x)
    m2, e = leading_digits(x, 2)
    idx = m2 - 10 if n_groups == 1 else g * 90 + (m2 - 10)
    out = {
        "first_two": m2,
        "c_ft": np.bincount(idx, minlength=n_groups * 90).reshape(n_groups, 90),
        "sums": np.bincount(idx, weights=x, minlength=n_groups * 90).reshape(n_groups, 90),
    }
    del idx
    emin = int(e.min()) if n else 0
    n_dec = (int(e.max()) - emin + 1) if n else 1
    acc = {k: np.zeros(n_groups) for k in ("cos_sum", "sin_sum", "mant_sum", "mant2_sum", "coll_sum", "n10")}
    tz_all = np.zeros(n, dtype=np.int8)
    cents = np.full(n, -1.0)
    hashes = np.empty(n, dtype=np.uint64)
    for a, b in _chunks(n, n_groups):
        xc, gc, ec = x[a:b], g[a:b], e[a:b]
        # x collapsed to [10, 100) by its exact decimal exponent: the distortion factor's values, and (in float32,
        # whose 1e-7 rounding averages out far below the sampling noise) the mantissa log10(x) - e
        coll = xc * _pow10(1 - ec)
        ge10 = xc >= 10
        if ge10.all():
            acc["coll_sum"] += _by_group(gc, coll, n_groups)
            acc["n10"] += _by_group(gc, None, n_groups)
        else:
            acc["coll_sum"] += _by_group(gc[ge10], coll[ge10], n_groups)
            acc["n10"] += _by_group(gc[ge10], None, n_groups)
        mant = np.log10(coll.astype(np.float32)) - np.float32(1)
        mant -= mant >= 1  # a value that rounds up to 100 sits at mantissa 0 of the circle
        ang = np.float32(2 * np.pi) * mant
        acc["cos_sum"] += _by_group(gc, np.cos(ang), n_groups)
        acc["sin_sum"] += _by_group(gc, np.sin(ang), n_groups)
        acc["mant_sum"] += _by_group(gc, mant, n_groups)
        m64 = mant.astype(np.float64)
        if n_groups == 1:
            acc["mant2_sum"] += float(np.dot(m64, m64))
        else:
            acc["mant2_sum"] += _by_group(gc, m64 * m64, n_groups)
        ok = xc < MAX_CENTS
        cc = (integer_part(xc * 100, as_float=True) if ok.all()
              else np.where(ok, integer_part(np.where(ok, xc, 0) * 100, as_float=True), -1.0))
        cents[a:b] = cc
        tz_all[a:b] = _trailing_zeros_fast(cc)
        hashes[a:b] = _mix64(xc)
    out.update(acc)
    # groups x decades and groups x trailing-zeros histograms, one pass each over compact per-record codes
    ok = cents >= 0
    if n_groups == 1:
        dec = np.bincount(e - emin, minlength=n_dec).reshape(1, n_dec)
        tz_hist = np.bincount(tz_all if ok.all() else tz_all[ok], minlength=N_TZ).reshape(1, N_TZ)
    else:
        dec = np.bincount(g * n_dec + (e - emin), minlength=n_groups * n_dec).reshape(n_groups, n_dec)
        tz_hist = np.bincount((g * N_TZ + tz_all)[ok], minlength=n_groups * N_TZ).reshape(n_groups, N_TZ)
    out.update({"dec": dec, "emin": emin, "tz_hist": tz_hist, "cents": cents, "hash": hashes})
    return out


def _unit_pass(cents, g, unit_exp, n_groups):
    """Last two digits and round flags at each group's own precision (``unit_exp``: power of ten, in cents)."""
    n = len(cents)
    last_two = np.full(n, -1, dtype=np.int64)
    rec_round = np.zeros(n, dtype=bool)
    l2_idx = None if n_groups == 1 else np.empty(n, dtype=np.int64)
    c_l2 = np.zeros(100, dtype=np.int64)
    rn_n = np.zeros(n_groups + 1, dtype=np.int64)
    rn_k = np.zeros(n_groups + 1, dtype=np.int64)
    single = n_groups == 1
    for a, b in _chunks(n, n_groups):
        gc = None if single else g[a:b]
        div = _POW10_F[unit_exp[0]] if single else _POW10_F[unit_exp[gc]]
        units = np.floor(cents[a:b] / div)  # cents of -1 (too large) give negative units
        l2 = units - np.floor(units / 100) * 100
        l2_ok = units >= LAST_TWO_MIN_UNITS
        lt = np.where(l2_ok, l2, -1).astype(np.int64)
        last_two[a:b] = lt
        elig = units >= ROUND_MIN_UNITS
        hit = elig & (l2 == 0)
        rec_round[a:b] = hit
        if single:
            c_l2 += np.bincount(lt[l2_ok], minlength=100)
            rn_n[0] += np.count_nonzero(elig)
            rn_k[0] += np.count_nonzero(hit)
        else:
            # invalid records go to one extra bin at the end, dropped below (no boolean indexing)
            l2_idx[a:b] = np.where(l2_ok, gc * 100 + lt, n_groups * 100)
            rn_n += np.bincount(np.where(elig, gc, n_groups), minlength=n_groups + 1)
            rn_k += np.bincount(np.where(hit, gc, n_groups), minlength=n_groups + 1)
    if not single:
        c_l2 = np.bincount(l2_idx, minlength=n_groups * 100 + 1)[:-1]
    return last_two, rec_round, c_l2.reshape(n_groups, 100), rn_n[:-1], rn_k[:-1]


def _round_stats(n: np.ndarray, k: np.ndarray, p: float = 0.01) -> dict[str, np.ndarray]:
    from scipy import stats

    with np.errstate(invalid="ignore", divide="ignore"):
        nn = np.where(n > 0, n, np.nan)
        share = k / nn
        z = (k - nn * p - 0.5) / np.sqrt(nn * p * (1 - p))
        z = np.maximum(z, 0.0)
        pval = np.where(n > 0, stats.binom.sf(k - 1, n, p), np.nan)
    return {"n": n, "count": k, "share": share, "z": z, "pvalue": pval}


def _mix64(bits: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mix of the amounts' bit patterns (odd multiplier, then xor-shift): equal amounts give
    equal keys, distinct amounts distinct keys, and the high bits are well spread for the group-prefixed key."""
    with np.errstate(over="ignore"):
        z = bits.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= z >> np.uint64(29)
    return z


def _duplicates(x: np.ndarray, g: np.ndarray, n_groups: int, top: int,
                hashes: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Most repeated amounts per group by one sort of (group, hash of amount) keys; top values verified exactly."""
    top_values = np.full((n_groups, top), np.nan)
    top_counts = np.zeros((n_groups, top), dtype=np.int64)
    n = np.array([len(x)]) if n_groups == 1 else np.bincount(g, minlength=n_groups)
    if len(x) == 0:
        return {"n": n, "top_values": top_values, "top_counts": top_counts,
                "duplicated_share": np.full(n_groups, np.nan)}
    h = _mix64(x) if hashes is None else hashes
    if n_groups == 1:
        hbits = 64
        rec_key = h
    else:
        gbits = int(n_groups - 1).bit_length()
        hbits = 64 - gbits
        rec_key = (g.astype(np.uint64) << np.uint64(hbits)) | (h >> np.uint64(gbits))
    key = np.sort(rec_key)
    # only the duplicate structure is materialised: d holds i where key[i] == key[i + 1]
    d = np.flatnonzero(key[1:] == key[:-1])
    if len(d):
        first_d = np.r_[0, np.flatnonzero(np.diff(d) != 1) + 1]
        run = np.diff(np.r_[first_d, len(d)]) + 1
        run_key = key[d[first_d]]
    else:
        run = np.zeros(0, dtype=np.int64)
        run_key = np.zeros(0, dtype=np.uint64)
    run_group = (np.zeros(len(run_key), dtype=np.int64) if n_groups == 1
                 else (run_key >> np.uint64(hbits)).astype(np.int64))
    dup_records = np.bincount(run_group, weights=run, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        dup_share = dup_records / np.where(n > 0, n, np.nan)
    # top runs per group: order by (group, -count)
    cand = np.arange(len(run))
    if n_groups == 1 and len(cand) > top:
        # one group: only runs at least as long as the top-th longest can be listed (ties kept, ordered below)
        kth = np.partition(run[cand], len(cand) - top)[len(cand) - top]
        cand = cand[run[cand] >= kth]
    if len(cand):
        # runs are in (group, hash) order already; a stable sort on (group, -count) keeps the hash order for ties
        big = int(run[cand].max()) + 1
        order = cand[np.argsort(run_group[cand] * big + (big - 1 - run[cand]), kind="stable")]
        og = run_group[order]
        first = np.r_[0, np.flatnonzero(og[1:] != og[:-1]) + 1]
        rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
        sel = order[rank < top]
        # map the selected hash keys back to amounts (a hash collision would merge two amounts: drop such runs)
        sel_sorted = np.sort(run_key[sel])
        if len(sel_sorted) <= 100:
            pos = np.flatnonzero(np.isin(rec_key, sel_sorted))
        else:
            # a bit table on the keys' low (hash) bits screens the records; the few that pass are checked exactly
            mask = np.uint64((1 << 22) - 1)
            table = np.zeros(1 << 22, dtype=bool)
            table[(sel_sorted & mask).astype(np.intp)] = True
            pos = np.flatnonzero(table[(rec_key & mask).astype(np.intp)])
            at = np.minimum(np.searchsorted(sel_sorted, rec_key[pos]), len(sel_sorted) - 1)
            pos = pos[sel_sorted[at] == rec_key[pos]]
        kdf = pd.DataFrame({"k": rec_key[pos], "v": x[pos]})
        agg = kdf.groupby("k", sort=True)["v"].agg(["min", "max"])
        vmin = agg["min"].reindex(run_key[sel]).to_numpy()
        vmax = agg["max"].reindex(run_key[sel]).to_numpy()
        exact = vmin == vmax
        rs = rank[rank < top]
        gs = run_group[sel]
        top_values[gs[exact], rs[exact]] = vmin[exact]
        top_counts[gs[exact], rs[exact]] = run[sel][exact]
    return {"n": n, "top_values": top_values, "top_counts": top_counts, "duplicated_share": dup_share}


# --------------------------------------------------------------------------------------------------------------
# One sample
# --------------------------------------------------------------------------------------------------------------


def benford(values, *, min_value: float = 10.0, sign: str = "positive", min_n: int = 100, min_span: float = 2.0,
            second_order: bool = False, decimals: int = 2) -> BenfordResult:
    """Every test on one sample. See the module docstring for the conventions."""
    res = analyse_groups(values, None, min_value=min_value, sign=sign, min_n=min_n, min_span=min_span).result(0)
    if second_order:
        so = second_order_test(values, min_value=min_value, sign=sign, decimals=decimals, min_n=min_n)
        res = BenfordResult(**{**res.__dict__, "second_order": so})
    return res


def second_order_test(values, *, min_value: float = 10.0, sign: str = "positive", decimals: int = 2,
                      min_n: int = 100) -> DigitTest:
    """Nigrini's second-order test: first two digits of the gaps between the sorted amounts (zeros left out).

    Amounts are rounded to ``decimals`` places and differenced as integers, so that float artefacts
    (``0.009999999999990905`` for a one-cent gap) do not invent digits.
    """
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        x = x[np.isfinite(x) & ((x > 0) if sign == "positive" else (x < 0))]
    x = np.abs(x)
    x = x[x >= min_value] if min_value > 0 else x
    scaled = np.sort(np.rint(x * 10.0 ** decimals))
    gaps = np.diff(scaled)
    gaps = gaps[gaps > 0] / 10.0 ** decimals
    m2, _ = leading_digits(gaps, 2) if len(gaps) else (np.zeros(0, dtype=np.int64), None)
    c = np.bincount(m2 - 10, minlength=90)[None, :] if len(gaps) else np.zeros((1, 90))
    st = share_stats(c, P_FIRST_TWO, Z_CRIT_MAD["first_two_digits"])
    enough = st["n"] >= min_n
    conf, nig = _conformity("first_two_digits", st, enough)
    return DigitTest(
        name="second_order", n=int(st["n"][0]), digits=tuple(int(d) for d in FIRST_TWO),
        counts=tuple(int(v) for v in c[0]), expected=tuple(float(p) for p in P_FIRST_TWO),
        observed=tuple(float(v) for v in np.nan_to_num(st["observed"][0])),
        z=tuple(float(v) for v in np.nan_to_num(st["z"][0])), chi2=_f(st["chi2"][0]),
        chi2_pvalue=_f(st["pvalue"][0]), ks=_f(st["ks"][0]), ks_critical=_f(st["ks_critical"][0]),
        mad=_f(st["mad"][0]), mad_expected=_f(st["mad_expected"][0]), mad_critical=_f(st["mad_critical"][0]),
        excess_mad=_f(st["excess_mad"][0]), conformity=str(conf[0]), conformity_nigrini=nig[0],
        note="first two digits of the gaps between sorted amounts",
    )


# --------------------------------------------------------------------------------------------------------------
# The check on the flows table
# --------------------------------------------------------------------------------------------------------------

SIGNAL_LABEL = {
    "first_digit": "first-digit",
    "second_digit": "second-digit",
    "first_two_digits": "first-two-digits",
    "last_two_digits": "last-two-digits",
}
SCORE_CAP = 30.0
FLOW_WORDS = {"X": "export", "M": "import", "RX": "re-export", "RM": "re-import"}
_KEY_FINDING_COLUMNS = ("reporter", "partner", "hub", "region", "hs", "period")


def qvalues(gb: GroupedBenford) -> dict[str, np.ndarray]:
    """Benjamini-Hochberg across the groups with enough data, per test (log scale); stored on ``gb``."""
    out = {}
    for name in FINDING_TESTS:
        logp = np.where(gb.enough[name], gb.stats[name]["logp"], np.nan)
        out[name] = log_bh(logp)
    from scipy import stats

    with np.errstate(divide="ignore"):
        rn_logp = np.where(gb.round_numbers["n"] >= gb.min_n,
                           np.maximum(stats.binom.logsf(gb.round_numbers["count"] - 1, gb.round_numbers["n"], 0.01),
                                      -1e4), np.nan)
    out["round_numbers"] = log_bh(rn_logp)
    gb.qvalues = out
    return out


def _subject(keys: pd.DataFrame) -> pd.Series:
    cols = list(keys.columns)
    if not cols:
        return pd.Series(["all"] * len(keys), index=keys.index, dtype="str")
    parts = []
    if "reporter" in cols:
        rp = keys["reporter"].astype(str)
        if "partner" in cols:
            rp = rp + ">" + keys["partner"].astype(str)
        parts.append(rp)
    elif "partner" in cols:
        parts.append(">" + keys["partner"].astype(str))
    for c in cols:
        if c not in ("reporter", "partner"):
            parts.append(keys[c].astype(str))
    subj = parts[0]
    for p in parts[1:]:
        subj = subj + ":" + p
    return subj.astype("str")


@functools.lru_cache(maxsize=4096)
def _country_name(code: str) -> str:
    """The crosswalk's readable name (the one source of country names in the project), the code when unknown."""
    from ..codes import country_name

    return country_name(code)


def _describe_group(key: Mapping[str, object], flows_word: str) -> str:
    rep = key.get("reporter")
    par = key.get("partner")
    if key.get("flow"):
        flows_word = FLOW_WORDS.get(str(key["flow"]), str(key["flow"])) + " "
    who = f"{_country_name(str(rep))}'s" if rep else "the"
    what = f"reported {flows_word}values"
    if par:
        what += f" {'to' if flows_word.strip() in ('export', 're-export') else 'with'} {_country_name(str(par))}"
    extra = [f"{k} {v}" for k, v in key.items() if k not in ("reporter", "partner", "flow") and v != ""]
    return f"{who} {what}" + (f" ({', '.join(extra)})" if extra else "")


def _fmt_q(logq: float) -> str:
    if logq < math.log(1e-300):
        return "< 1e-300"
    q = math.exp(logq)
    return f"{q:.1g}" if q < 0.01 else f"{q:.2f}"


def _fmt_digits(digits: Sequence[int], width: int) -> str:
    ds = [str(d).zfill(width) for d in digits]
    if len(ds) <= 1:
        return "".join(ds)
    return ", ".join(ds[:-1]) + " and " + ds[-1]


def run(
    flows: pd.DataFrame,
    *,
    group_by: Sequence[str] = ("reporter",),
    min_value: float = 10.0,
    min_n: int = 300,
    min_span: float = 2.0,
    alpha: float = 0.05,
    exclude_estimated: bool = True,
    top_digits: int = 3,
    max_suspects: int = 200,
    periods: Sequence[str] | None = None,
    windows: bool = True,
    window_step_months: int = 3,
    window_min_history: int = 4,
    window_z_min: float = 3.0,
) -> CheckResult:
    """Benford findings for every group of the flows table (default: one group per reporter).

    With ``windows`` (the default) the findings are the windowed tests of :mod:`.digit_windows` (each reporter's
    exports and imports, twelve months at a time, against its own other windows), for the windows ending in
    ``periods``; the tests of each group over the ``periods`` under test stay in the ``benford_audit`` table. Without
    ``windows`` those group tests are the findings, as described below.

    Rows left out (ledger reasons): ``estimated`` (publisher estimates are the partner's figure with a factor, not
    a report of their own), ``aggregate_product`` (``hs == "TOTAL"`` where product-level rows exist: totals are
    sums of the rows beside them), ``aggregate_partner`` (``partner == "WLD"`` where partner rows exist),
    ``not_positive`` (zero or missing) and ``below_min_value``.

    A group yields a finding for a test when (i) it has ``min_n`` amounts spanning ``min_span`` decades, (ii) the
    Benjamini-Hochberg q-value of its chi-square across all groups is at most ``alpha``, and (iii) its MAD is
    beyond what an honest sample of its size shows and, where Nigrini gives bounds, at least "marginally
    acceptable". For round numbers: q at most ``alpha`` and at least twice the expected 1 % share. ``score`` is
    ``-log10(q)`` capped at 30 (higher = more anomalous). ``usd_at_stake`` sums the amounts whose digits are the
    most over-represented (the suspects, listed in the ``benford_suspects`` table).
    """
    group_by = list(group_by)
    missing = [c for c in group_by + ["value_usd"] if c not in flows.columns]
    if missing:
        raise SchemaError(f"benford check: flows table lacks column(s) {missing}; "
                          f"group by columns of the flows table ({', '.join(flows.columns)})")
    ledger = Ledger(stage="check:benford", rows_in=len(flows))
    # reasons in order of precedence; each row is counted under the first that applies; one filter at the end
    left = np.ones(len(flows), dtype=bool)

    def aside(mask, reason):
        hit = left & np.asarray(mask, dtype=bool)
        n = int(hit.sum())
        if n:
            ledger.add(reason, n, flows.iloc[np.flatnonzero(hit)[:3]])
            left[hit] = False

    if exclude_estimated and "estimated" in flows.columns:
        aside(flows["estimated"].fillna(False).astype(bool).to_numpy(), "estimated")
    if "hs" in flows.columns:
        total = (flows["hs"].astype("str") == "TOTAL").to_numpy()
        if total.any() and not total.all():
            aside(total, "aggregate_product")
    if "partner" in flows.columns:
        wld = (flows["partner"].astype("str") == "WLD").to_numpy()
        if wld.any() and not wld.all():
            aside(wld, "aggregate_partner")
    v = pd.to_numeric(flows["value_usd"], errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        aside(~(np.isfinite(v) & (v > 0)), "not_positive")
        aside(v < min_value, "below_min_value")
    extra = [c for c in ("flow", "period", "reporter") if c in flows.columns and c not in group_by]
    df_all = flows.loc[left, group_by + ["value_usd"] + extra]
    ledger.finish(df_all)
    window_f, window_t = None, None
    if windows and {"reporter", "flow", "period"} <= set(flows.columns):
        from .digit_windows import run_windows

        window_f, window_t = run_windows(df_all, list(periods) if periods is not None else None, min_n=min_n,
                                         alpha=alpha, z_min=window_z_min, step_months=window_step_months,
                                         min_history=window_min_history)
    df = df_all if periods is None else df_all.loc[df_all["period"].astype("str").isin([str(p) for p in periods])]
    if periods is not None:
        flows = flows.loc[flows["period"].astype("str").isin([str(p) for p in periods])]
    keys_df = df[group_by].astype("str") if group_by else None
    gb = analyse_groups(df["value_usd"].to_numpy(dtype=np.float64), keys_df, min_value=min_value,
                        min_n=min_n, min_span=min_span)
    q = qvalues(gb)
    keys = gb.keys.reset_index(drop=True)
    key_rows = keys[group_by].astype("str").to_dict("records") if group_by else [{}]
    subjects = _subject(keys) if group_by else pd.Series(["all"], dtype="str")
    flows_word = ""
    if "flow" in df.columns:
        fl = sorted(df["flow"].astype("str").unique())
        if len(fl) == 1:
            flows_word = FLOW_WORDS.get(fl[0], fl[0]) + " "
    rec = gb.records
    records: list[dict] = []
    suspects: list[pd.DataFrame] = []
    value_all = rec["value"]
    row_index = df.index.to_numpy()
    for name in FINDING_TESTS:
        st = gb.stats[name]
        conf = gb.conformity[name]
        bad = np.isin(conf, ["marginally acceptable conformity", "nonconformity", NONCONFORMING])
        logq = q[name]
        hit = np.flatnonzero(bad & gb.enough[name] & (np.nan_to_num(logq, nan=0.0) <= math.log(alpha)))
        if len(hit) == 0:
            continue
        # suspect digits: the most over-represented (z > 1.96 above the expected share) of each flagged group
        z = np.where(st["diff"][hit] > 0, np.nan_to_num(st["z"][hit]), 0.0)
        order = np.argsort(-z, axis=1, kind="stable")[:, :top_digits]
        zsel = np.take_along_axis(z, order, axis=1)
        susp = np.zeros((gb.n_groups, len(DIGITS[name])), dtype=bool)
        rows = np.repeat(hit, order.shape[1])
        ok = (zsel > 1.96).ravel()
        susp[rows[ok], order.ravel()[ok]] = True
        rec_digit = _record_digit(name, rec)
        eligible = rec_digit >= 0
        in_susp = np.zeros(len(value_all), dtype=bool)
        in_susp[eligible] = susp[rec["group"][eligible], rec_digit[eligible]]
        at_stake = np.bincount(rec["group"][in_susp], weights=value_all[in_susp], minlength=gb.n_groups)
        for i, gi in enumerate(hit):
            digs = [int(DIGITS[name][j]) for j, zz in zip(order[i], zsel[i]) if zz > 1.96]
            key = key_rows[gi]
            nig = NIGRINI_MAD.get(name)
            mad_txt = (f"{SIGNAL_LABEL[name]} MAD {st['mad'][gi]:.4f} against {st['mad_expected'][gi]:.4f} expected "
                       f"for honest data of this size")
            if nig:
                mad_txt += f" (Nigrini: {conf[gi]} above {nig[1 if conf[gi] == CONFORMITY[2] else 2]})"
            width = 2 if name in ("first_two_digits", "last_two_digits") else 1
            dig_txt = f"; {_fmt_digits(digs, width)} over-represented" if digs else ""
            detail = (f"Digits of {_describe_group(key, flows_word)} (n = {int(st['n'][gi]):,}) depart from "
                      f"Benford's law: {mad_txt}{dig_txt} (q = {_fmt_q(logq[gi])}).")
            if name == "last_two_digits":
                detail = (f"Last two digits of {_describe_group(key, flows_word)} (n = {int(st['n'][gi]):,}) are "
                          f"not uniform: MAD {st['mad'][gi]:.4f} against {st['mad_expected'][gi]:.4f} expected for "
                          f"honest data of this size{dig_txt} (q = {_fmt_q(logq[gi])}).")
            records.append({
                "check": "benford", "signal": f"benford.{name}", "subject": subjects.iloc[gi],
                **{c: (key.get(c, "") if c in group_by else "") for c in _KEY_FINDING_COLUMNS},
                "score": min(-logq[gi] / math.log(10), SCORE_CAP), "value": st["mad"][gi],
                "expected": st["mad_expected"][gi], "usd_at_stake": at_stake[gi], "detail": detail,
                "_tiebreak": st["excess_mad"][gi],
            })
        suspects.append(_suspect_rows(rec, in_susp, rec_digit, f"benford.{name}", subjects, row_index,
                                      max_suspects))
    # round numbers
    rn = gb.round_numbers
    logq = q["round_numbers"]
    hit = np.flatnonzero((np.nan_to_num(logq, nan=0.0) <= math.log(alpha)) & (np.nan_to_num(rn["share"]) >= 0.02))
    if len(hit):
        at_stake = np.bincount(rec["group"][rec["round"]], weights=value_all[rec["round"]], minlength=gb.n_groups)
        for gi in hit:
            key = key_rows[gi]
            unit = float(_pow10(int(gb.unit_exp[gi]) - 2)) * 100
            detail = (f"{rn['share'][gi]:.1%} of {_describe_group(key, flows_word)} (n = {int(rn['n'][gi]):,}) are "
                      f"round multiples of {unit:,.0f} USD against 1% expected at the data's own precision "
                      f"(q = {_fmt_q(logq[gi])}).")
            records.append({
                "check": "benford", "signal": "benford.round_numbers", "subject": subjects.iloc[gi],
                **{c: (key.get(c, "") if c in group_by else "") for c in _KEY_FINDING_COLUMNS},
                "score": min(-logq[gi] / math.log(10), SCORE_CAP), "value": rn["share"][gi], "expected": 0.01,
                "usd_at_stake": at_stake[gi], "detail": detail, "_tiebreak": rn["share"][gi] - 0.01,
            })
        suspects.append(_suspect_rows(rec, rec["round"] & np.isin(rec["group"], hit), rec["last_two"],
                                      "benford.round_numbers", subjects, row_index, max_suspects))
    if window_f is not None:
        # the windows carry the distribution tests; padding (round numbers, last two digits) of the periods under
        # test stays a finding of the group, since a window of first-two digits does not see it
        padding = [r for r in records if r["signal"] in ("benford.round_numbers", "benford.last_two_digits")]
        parts = [window_f]
        if padding:
            fr = pd.DataFrame(padding).sort_values(["score", "_tiebreak", "subject", "signal"],
                                                   ascending=[False, False, True, True], kind="mergesort")
            fr = make_findings(fr.drop(columns="_tiebreak"))
            if periods is not None and len(periods) and "period" not in group_by:
                # a test over the periods under test: its window is their span
                ps = sorted(str(x) for x in periods)
                fr = fr.assign(period=np.where(fr["period"] == "", ps[-1], fr["period"]),
                               period_start=np.where(fr["period"] == "", ps[0], fr["period_start"]))
            parts.append(fr)
        findings = pd.concat(parts, ignore_index=True) if len(parts) > 1 else window_f
        findings = findings.sort_values(["score", "subject", "period", "signal"], ascending=[False, True, True, True],
                                        kind="mergesort").reset_index(drop=True)
    elif records:
        fr = pd.DataFrame(records).sort_values(["score", "_tiebreak", "subject", "signal"],
                                                ascending=[False, False, True, True], kind="mergesort")
        findings = make_findings(fr.drop(columns="_tiebreak"))
    else:
        findings = make_findings()
    audit = gb.audit_table()
    if group_by:
        audit.insert(0, "subject", subjects.to_numpy())
    sus = (pd.concat(suspects, ignore_index=True) if suspects else
           pd.DataFrame({"signal": pd.Series(dtype="str"), "subject": pd.Series(dtype="str"),
                         "row": pd.Series(dtype="int64"), "value_usd": pd.Series(dtype="float64"),
                         "digits": pd.Series(dtype="int64")}))
    tables = {"benford_audit": audit, "benford_suspects": sus}
    if window_t is not None:
        tables["benford_windows"] = window_t
    if "estimated" in flows.columns:
        est_table = estimated_table(flows, min_value=min_value, min_n=min_n)
        if est_table is not None:
            tables["benford_estimated"] = est_table
    return CheckResult(check="benford", findings=findings, tables=tables, ledgers=[ledger])


def estimated_table(flows: pd.DataFrame, *, min_value: float = 10.0, min_n: int = 300) -> pd.DataFrame | None:
    """The publisher's estimated values beside its reported ones (product level where it exists): one row each,
    with the digit statistics and the chi-square test that both share one first-two-digits distribution.

    ``None`` when either side has fewer than ``min_n`` amounts of at least ``min_value``.
    """
    sel = flows
    if "hs" in flows.columns:
        total = (flows["hs"].astype("str") == "TOTAL").to_numpy()
        if total.any() and not total.all():
            sel = flows.loc[~total]
    v = pd.to_numeric(sel["value_usd"], errors="coerce").to_numpy(dtype=np.float64)
    est = sel["estimated"].fillna(False).to_numpy(dtype=bool)
    ok = np.isfinite(v) & (v >= min_value)
    if min(int((ok & est).sum()), int((ok & ~est).sum())) < min_n:
        return None
    cmp = compare_estimated(v[ok], est[ok], min_value=min_value)
    rows = []
    for label, res in (("reported", cmp.reported), ("estimated", cmp.estimated)):
        f2 = res.tests["first_two_digits"]
        over = [d for d, _ in sorted(zip(f2.digits, f2.z or ()), key=lambda t: -t[1])[:3]] if f2.z else []
        rows.append({
            "values": label, "n": res.n,
            "first_digit_mad": res.tests["first_digit"].mad,
            "first_digit_conformity": res.tests["first_digit"].conformity,
            "first_two_digits_mad": f2.mad, "first_two_digits_mad_expected": f2.mad_expected,
            "first_two_digits_conformity": f2.conformity,
            "second_digit_mad": res.tests["second_digit"].mad,
            "round_number_share": res.round_numbers.to_dict().get("share"),
            "most_over_represented": " ".join(str(d) for d in over),
            "chi2_same_distribution": cmp.chi2_homogeneity, "pvalue_same_distribution": cmp.homogeneity_pvalue,
        })
    return pd.DataFrame(rows)


def _record_digit(name: str, rec: dict) -> np.ndarray:
    """Column index of each record's digit(s) in the test's digit list (-1 where the record is not eligible)."""
    if name == "first_digit":
        return rec["first_two"] // 10 - 1
    if name == "second_digit":
        return rec["first_two"] % 10
    if name == "first_two_digits":
        return rec["first_two"] - 10
    return rec["last_two"]


def _suspect_rows(rec, mask, digit, signal, subjects, row_index, max_rows) -> pd.DataFrame:
    idx = np.flatnonzero(mask)
    out = pd.DataFrame({"signal": signal, "subject": subjects.to_numpy()[rec["group"][idx]],
                        "row": row_index[rec["pos"][idx]], "value_usd": rec["value"][idx],
                        "digits": digit[idx] + (10 if signal == "benford.first_two_digits" else
                                                1 if signal == "benford.first_digit" else 0)})
    out = out.sort_values(["subject", "value_usd", "row"], ascending=[True, False, True], kind="mergesort")
    out = out.groupby("subject", sort=False).head(max_rows).reset_index(drop=True)
    out["signal"] = out["signal"].astype("str")
    out["subject"] = out["subject"].astype("str")
    return out


# --------------------------------------------------------------------------------------------------------------
# Publisher estimates against reported values
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimatedComparison:
    """Digit conformity of a publisher's estimated values beside the values it reports."""

    reported: BenfordResult
    estimated: BenfordResult
    chi2_homogeneity: float
    homogeneity_pvalue: float

    def to_dict(self) -> dict:
        return _plain({"reported": self.reported.to_dict(), "estimated": self.estimated.to_dict(),
                       "chi2_homogeneity": self.chi2_homogeneity, "homogeneity_pvalue": self.homogeneity_pvalue})


def compare_estimated(values, estimated, *, min_value: float = 10.0) -> EstimatedComparison:
    """Run every test on the reported and on the estimated values, and a chi-square test that both share one
    first-two-digits distribution."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    est = np.asarray(estimated, dtype=bool)
    gb = analyse_groups(values, est.astype(np.int64), min_value=min_value)
    labels = ["estimated" if k else "reported" for k in gb.keys["group"]]
    res = {lab: gb.result(i) for i, lab in enumerate(labels)}
    table = gb.counts["first_two_digits"]
    table = table[:, table.sum(axis=0) > 0]
    chi2, p, _, _ = stats.chi2_contingency(table)
    return EstimatedComparison(reported=res["reported"], estimated=res["estimated"], chi2_homogeneity=float(chi2),
                               homogeneity_pvalue=float(p))
