"""Exact digits of numbers as they are written.

A number's digits are those of its shortest round-trip decimal (Python's ``repr``): ``2.3`` has first two digits
``23`` although the double nearest to 2.3 is 2.29999999999999982236431605997495353221893310546875. Scaling and
truncating (``int(2.3 * 100) == 229``) or ``x / 10**floor(log10(x))`` therefore give wrong digits for a share of
ordinary values. The functions here are exact for every positive finite double and fully vectorised.

How: a candidate prefix ``m`` comes from floating-point scaling; the true prefix is ``m - 1``, ``m`` or ``m + 1``.
A boundary ``b = m * 10**j`` is inside the rounding interval of ``x`` exactly when the correctly rounded double of
``b`` equals ``x``; then the shortest round-trip decimal of ``x`` has at most ``k`` significant digits and is ``b``
itself. Otherwise no ``k``-digit boundary lies in the interval, so the written number and the exact binary value
share the same ``k``-digit prefix, and comparing ``x`` with the rounded boundaries (rounding is monotonic) decides
it. ``m * 10**j`` is correctly rounded by one IEEE multiplication or division when ``|j| <= 22`` (powers of ten up
to 1e22 are exact doubles); the rare values outside that range go through Python's correctly rounded
``float(str)``.
"""

from __future__ import annotations

import numpy as np

#: largest power of ten that is an exact double
_EXACT_POW = 22
_POW10 = np.array([float(10 ** k) for k in range(_EXACT_POW + 1)])  # exact, not the vector pow
_CHUNK = 1 << 16


def leading_digits(x: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """First ``k`` significant digits (as an integer in ``[10**(k-1), 10**k)``) and decimal exponent of each value.

    ``x`` must hold positive finite doubles. The exponent ``e`` is such that the number as written is
    ``d.ddd... * 10**e``. Both arrays are int64.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.size > _CHUNK:
        # chunks keep the dozen temporaries of each step in cache
        m = np.empty(x.shape, dtype=np.int64)
        e = np.empty(x.shape, dtype=np.int64)
        for s in range(0, x.size, _CHUNK):
            m[s:s + _CHUNK], e[s:s + _CHUNK] = leading_digits(x[s:s + _CHUNK], k)
        return m, e
    m = np.empty(x.shape, dtype=np.int64)
    e = _exponent_estimate(x)
    todo = None  # None: every value
    # The estimate is off by at most one near powers of ten and a carry (9.999... -> 10) moves it by one, so a
    # couple of passes settle every value; each pass only revisits the values whose prefix left the range.
    for _ in range(4):
        xs = x if todo is None else x[todo]
        es = e if todo is None else e[todo]
        cand = _prefix_candidates(xs, es - (k - 1), k)
        up = cand >= 10 ** k
        down = cand < 10 ** (k - 1)
        bad = up | down
        if todo is None:
            m[:] = cand
            if not bad.any():
                return m, e
            todo = np.flatnonzero(bad)
            e[todo] += up[todo].astype(np.int64) - down[todo].astype(np.int64)
        else:
            ok = ~bad
            m[todo[ok]] = cand[ok]
            e[todo] += up.astype(np.int64) - down.astype(np.int64)
            todo = todo[bad]
            if todo.size == 0:
                return m, e
    for i in todo:  # pragma: no cover - defensive, never reached in tests
        m[i], e[i] = _leading_digits_text(float(x[i]), k)
    return m, e


_TINY = np.finfo(np.float64).tiny  # smallest normal double; subnormals carry too few bits for the fast path
_TABLE_OFFSET = 400
_POW_TABLE = np.array([float(f"1e{k}") for k in range(-_TABLE_OFFSET, _TABLE_OFFSET)])


def _exponent_estimate(x: np.ndarray) -> np.ndarray:
    """floor(log10(x)) from the binary exponent, fixed by one comparison with the nearest double of 10**k."""
    b = ((x.view(np.int64) >> 52) & 0x7FF) - 1023
    e = (b * 78913) >> 18  # floor(b * log10(2)) for |b| < 2**12
    e += x >= _POW_TABLE[e + 1 + _TABLE_OFFSET]
    return e


def _prefix_candidates(x: np.ndarray, j: np.ndarray, k: int) -> np.ndarray:
    """Prefix ``floor`` of the number as written at scale ``10**j`` (may fall outside the k-digit range)."""
    # The common case (amounts of 10**(k-1) and more, below 10**(22+k)) runs on the whole array; values below that
    # (negative scale) or beyond the exact powers of ten are done apart.
    other = (j < 0) | (j > _EXACT_POW)
    if other.any():
        out = np.empty(x.shape, dtype=np.int64)
        main = np.flatnonzero(~other)
        out[main] = _prefix_candidates(x[main], j[main], k)
        idx = np.flatnonzero(other)
        xo, jo = x[idx], j[idx]
        small = (jo < 0) & (jo >= -_EXACT_POW) & (xo >= _TINY)
        pw = _POW10[-jo[small]]
        xs = xo[small]
        c = np.floor(xs * pw)
        out[idx[small]] = c.astype(np.int64) + (xs >= (c + 1) / pw) - (xs < c / pw)
        out[idx[~small]] = _prefix_far(xo[~small], jo[~small])
        return out
    pw = _POW10[j]
    c = np.floor(x / pw)
    return c.astype(np.int64) + (x >= (c + 1) * pw) - (x < c * pw)


def _prefix_far(x: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Same rule, one value at a time, for scales beyond the exact powers of ten: the boundaries are rounded by
    Python's correctly rounded ``float(str)``. Subnormals (fewer significant bits, so one rounding interval can hold
    several boundaries) take the digits of ``repr`` directly."""
    from decimal import ROUND_FLOOR, Decimal

    out = np.empty(x.shape, dtype=np.int64)
    for i, (v, jj) in enumerate(zip(x.tolist(), j.tolist())):
        if v < _TINY:
            out[i] = int(Decimal(repr(v)).scaleb(-jj).to_integral_value(rounding=ROUND_FLOOR))
            continue
        c = int(v * 10.0 ** (-(jj // 2)) * 10.0 ** (-(jj - jj // 2)))
        y0, y1 = float(f"{c}e{jj}"), float(f"{c + 1}e{jj}")
        out[i] = c + (v >= y1) - (v < y0)
    return out


def _leading_digits_text(v: float, k: int) -> tuple[int, int]:
    """Reference: first ``k`` digits and exponent from ``repr`` (slow, one value)."""
    s = repr(float(v))
    mant, _, exp = s.partition("e")
    intpart, _, frac = mant.partition(".")
    digits = (intpart + frac).lstrip("0")
    lead_zeros = len(intpart + frac) - len((intpart + frac).lstrip("0"))
    e10 = (len(intpart) - 1 - lead_zeros) + (int(exp) if exp else 0)
    digits = (digits + "0" * k)[:k]
    return int(digits), e10


def integer_part(x: np.ndarray, as_float: bool = False) -> np.ndarray:
    """Integer part of each value as written, as int64 (values in ``[0, 9.2e18)``) or as whole doubles.

    A value within 1e-12 (relative) of an integer is that integer: unit conversions leave binary artefacts such as
    ``62457.51 * 1e6 == 62457510000.000008``, and the figure meant is 62457510000.
    """
    x = np.asarray(x, dtype=np.float64)
    r = np.rint(x)
    snap = np.abs(x - r) <= 1e-12 * np.maximum(x, 1.0)
    out = np.where(snap, r, np.floor(x))
    return out if as_float else out.astype(np.int64)


def trailing_zeros(n: np.ndarray, max_zeros: int = 12) -> np.ndarray:
    """Number of trailing decimal zeros of non-negative integers (0 counts as 0 zeros), capped at ``max_zeros``."""
    n = np.asarray(n, dtype=np.int64)
    tz = np.zeros(n.shape, dtype=np.int64)
    idx = np.flatnonzero(n > 0)
    cur = n[idx]
    for _ in range(max_zeros):
        hit = cur % 10 == 0
        if not hit.any():
            break
        idx = idx[hit]
        cur = cur[hit] // 10
        tz[idx] += 1
    return tz
