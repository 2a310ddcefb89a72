"""Expected digit distributions, the constants of the tests, and the vectorised statistics (Z, chi-square, KS,
MAD, conformity classes, Benjamini-Hochberg on the log scale) over a groups x digits count matrix."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Sequence

import numpy as np


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
