"""Exact digit extraction against decimal arithmetic on the number as written (``repr``)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeanomaly.checks.digits import integer_part, leading_digits, trailing_zeros


def reference(v: float, k: int) -> tuple[int, int]:
    """First k significant digits and exponent of the shortest round-trip decimal, by exact decimal arithmetic."""
    d = Decimal(repr(v))
    sign, digits, exp = d.normalize().as_tuple()
    e10 = len(digits) - 1 + exp
    lead = int((d.scaleb(-(e10 - k + 1))).to_integral_value(rounding="ROUND_FLOOR"))
    return lead, e10


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False),
       st.sampled_from([1, 2, 3]))
def test_leading_digits_match_exact_decimal(v, k):
    m, e = leading_digits(np.array([v]), k)
    assert (int(m[0]), int(e[0])) == reference(v, k)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=1e-300, max_value=1e300, allow_nan=False, allow_infinity=False),
                min_size=1, max_size=300),
       st.sampled_from([1, 2]))
def test_vectorised_equals_scalar(values, k):
    x = np.array(values)
    m, e = leading_digits(x, k)
    assert [(int(a), int(b)) for a, b in zip(m, e)] == [reference(v, k) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=6))
def test_short_decimals_read_as_written(units, decimals):
    # amounts with few decimals are where scaling and truncating goes wrong (2.3 -> 22)
    v = float(f"{units}e-{decimals}")
    m, _ = leading_digits(np.array([v]), 2)
    assert int(m[0]) == reference(v, 2)[0]


@pytest.mark.parametrize("v, k, digits, exp", [
    (2.3, 2, 23, 0),                  # int(2.3 * 100) == 229: benford_py reads 22
    (0.29, 2, 29, -1),                # trunc(100 * 0.29) == 28: benford.analysis reads 28
    (999999999999.998, 1, 9, 11),     # the naive x / 10**floor(log10(x)) is unsafe here
    (1e23, 2, 10, 23),                # the double is 99999999999999991611392; it is written 1e+23
    (9.99999999999999e22, 2, 99, 22),
    (5e-324, 3, 500, -324),           # smallest subnormal
    (1.7976931348623157e308, 3, 179, 308),
    (1e-300, 2, 10, -300),
])
def test_hard_values(v, k, digits, exp):
    m, e = leading_digits(np.array([v]), k)
    assert (int(m[0]), int(e[0])) == (digits, exp)


def test_integer_part_snaps_unit_conversion_artefacts():
    x = np.array([62457.51 * 1e6, 0.07 * 1e6, 1234.56, 99.99999, 5.0])
    assert integer_part(x).tolist() == [62457510000, 70000, 1234, 99, 5]


def test_trailing_zeros():
    assert trailing_zeros(np.array([0, 1, 10, 1200, 10**12, 10**15]), max_zeros=12).tolist() == [0, 0, 1, 2, 12, 12]
