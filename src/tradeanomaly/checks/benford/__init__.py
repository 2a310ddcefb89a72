"""Benford and digit forensics: first, second, first-two and last-two digits, summation, number duplication,
round numbers, mantissa arc and (on request) second order, for one sample or for thousands of groups in one pass.

Conventions (Nigrini 2012, *Benford's Law*, Wiley, unless said otherwise):

* Digits are those of the number as written (its shortest round-trip decimal, see :mod:`..digits`), never of a
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

Layout (everything below is re-exported here, so ``from tradeanomaly.checks.benford import X`` keeps working):

* :mod:`tradeanomaly.checks.digit_stats` (beside the package, shared with the windowed tests): expected digit
  distributions, constants (Nigrini's MAD bounds, conformity labels) and the vectorised statistics over a
  groups x digits count matrix (``share_stats``, ``log_bh``).
* :mod:`.results`: the result records (``DigitTest``, ``MantissaArc``, ``RoundNumbers``, ``Duplicates``,
  ``BenfordResult``).
* :mod:`.counting`: the per-record passes (digits, mantissa, cents and their trailing zeros, last two digits at
  each group's precision, round numbers, number duplication), in cache-sized chunks.
* :mod:`.engine`: the one-pass engine over many groups (``analyse_groups``, ``GroupedBenford``) and the tests of
  one sample (``benford``, ``second_order_test``).
* :mod:`.check`: the check on the flows table (``run``): rows set aside, q-values, findings and their
  explanations, the suspects table; the same split by reporter for the Dask engine (``reduce_part``,
  ``reduce_combine``, ``run_part``, ``combine_parts``, which takes the q-values over all parts). The windowed tests
  are in :mod:`tradeanomaly.checks.digit_windows`.
* :mod:`.estimated`: publisher estimates against reported values (``compare_estimated``, ``estimated_table``).

Settings such as ``PARALLEL_MIN`` are read in the submodule that defines them (:mod:`.engine`): patch them there.
"""

from __future__ import annotations

from .check import (FLOW_WORDS, SCORE_CAP, SIGNAL_LABEL, combine_parts, qvalues, reduce_combine, reduce_part,
                    run, run_part)
from .engine import PARALLEL_MIN, GroupedBenford, analyse_groups, benford, second_order_test
from .estimated import EstimatedComparison, compare_estimated, estimated_table
from .results import BenfordResult, DigitTest, Duplicates, MantissaArc, RoundNumbers
from .counting import N_TZ
from ..digit_stats import (
    CONFORMING, CONFORMITY, DF_EXPECTED_MEAN, DIGITS, EXPECTED, FINDING_TESTS, FIRST_TWO, INSUFFICIENT,
    KS_FACTOR, LAST_TWO_MIN_UNITS, MAX_CENTS, NIGRINI_MAD, NONCONFORMING, P_FIRST, P_FIRST_TWO, P_LAST_TWO,
    P_SECOND, P_SUMMATION, ROUND_MIN_UNITS, TESTS, UNIT_SHARE, WITHIN_SAMPLING, Z_CRIT_MAD, _conformity, log_bh,
    share_stats,
)

__all__ = [
    "BenfordResult", "CONFORMING", "CONFORMITY", "DF_EXPECTED_MEAN", "DIGITS", "DigitTest", "Duplicates",
    "EXPECTED", "EstimatedComparison", "FINDING_TESTS", "FIRST_TWO", "FLOW_WORDS", "GroupedBenford",
    "INSUFFICIENT", "KS_FACTOR", "LAST_TWO_MIN_UNITS", "MAX_CENTS", "MantissaArc", "NIGRINI_MAD", "NONCONFORMING",
    "N_TZ", "PARALLEL_MIN", "P_FIRST", "P_FIRST_TWO", "P_LAST_TWO", "P_SECOND", "P_SUMMATION", "ROUND_MIN_UNITS",
    "RoundNumbers", "SCORE_CAP", "SIGNAL_LABEL", "TESTS", "UNIT_SHARE", "WITHIN_SAMPLING", "Z_CRIT_MAD",
    "analyse_groups", "benford", "combine_parts", "compare_estimated", "estimated_table", "log_bh", "qvalues",
    "reduce_combine", "reduce_part", "run", "run_part", "second_order_test", "share_stats",
]
