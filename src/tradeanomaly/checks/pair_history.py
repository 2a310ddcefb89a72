"""Shared by the mirror and unit-value checks (both import it, so neither imports the other for these): the
robust statistics of a series' own previous periods (``_history``, with the sorting network it sorts the lags by),
the period axes (ordinal, season, step) and the readable country names of codes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import period_ordinal


def _sorting_network(k: int) -> tuple[tuple[int, int], ...]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort for ``k`` inputs."""
    if k not in _NETWORKS:
        pairs = []
        p = 1
        while p < k:
            step = p
            while step > 0:
                j = step % p
                while j + step < k:
                    for i in range(step):
                        a, b = i + j, i + j + step
                        if b < k and a // (2 * p) == b // (2 * p):
                            pairs.append((a, b))
                    j += 2 * step
                step //= 2
            p *= 2
        _NETWORKS[k] = tuple(pairs)
    return _NETWORKS[k]


_NETWORKS: dict[int, tuple[tuple[int, int], ...]] = {}


def _sort_columns(a: np.ndarray) -> np.ndarray:
    """Sort each column of ``a`` (``k`` rows, no NaN) in place by a sorting network: a few minimum/maximum passes
    over contiguous rows, where ``np.sort(axis=...)`` would sort millions of tiny rows one by one."""
    tmp = np.empty(a.shape[1], dtype=a.dtype)
    for i, j in _sorting_network(a.shape[0]):
        np.minimum(a[i], a[j], out=tmp)
        np.maximum(a[i], a[j], out=a[j])
        a[i] = tmp
    return a


def _column_median(s: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of the first ``count`` values of each column of the column-sorted ``s`` (NaN where none)."""
    n = s.shape[1]
    r = np.arange(n)
    lo = np.maximum((count - 1) // 2, 0)
    hi = np.maximum(count // 2, 0)
    flat = s.reshape(-1)
    with np.errstate(invalid="ignore"):
        out = (flat[lo * n + r] + flat[hi * n + r]) / 2.0 if s.shape[0] else np.full(n, np.nan)
    return np.where(count > 0, out, np.nan)


def _history(values: np.ndarray, series: np.ndarray, ordinal: np.ndarray, step: np.ndarray,
             window: int, threshold: float | None = None, band: float | None = None) -> dict[str, np.ndarray]:
    """Robust statistics of the previous ``window`` values of the same series (period under test left out).

    ``series`` must already hold the season, so a monthly series looks back at the same month of earlier years.
    Returns median, MAD, count, the ordinal of the first and last history period and, with ``threshold``, how
    many history values are at least ``threshold`` (``above``) and at most ``-threshold`` (``below``), and with
    ``band`` how many lie beyond ``band`` either way (``outside``).

    The lags are held as ``window`` contiguous rows (lag k of every value) with missing values as +inf, and sorted
    by a sorting network: the finite values come first in order (as ``np.sort`` puts NaN last), so the median of
    the first ``count`` values is the one of the finite lags, bit for bit.
    """
    n = len(values)
    order = np.lexsort((ordinal, series))
    s, o, v = series[order], ordinal[order], values[order]
    st = step[order]
    finite = np.isfinite(v)
    count = np.zeros(n, dtype=np.int64)
    above = np.zeros(n, dtype=np.int64) if threshold is not None else None
    below = np.zeros(n, dtype=np.int64) if threshold is not None else None
    outside = np.zeros(n, dtype=np.int64) if band is not None else None
    oks = []
    for k in range(1, min(window, n - 1) + 1):  # loop over lags, vectorised over all rows
        ok = (s[k:] == s[:-k]) & ((o[k:] - o[:-k]) <= window * st[k:])
        if not ok.any():  # no value has lag k, so none has a longer one (rows run by series, then ordinal)
            break
        oks.append((k, ok))
        count[k:] += ok & finite[:-k]
        if threshold is not None:
            above[k:] += ok & (v[:-k] >= threshold)
            below[k:] += ok & (v[:-k] <= -threshold)
        if band is not None:
            outside[k:] += ok & (np.abs(v[:-k]) >= band)
    # one row per lag that any value has (a lag no value has would be a row of +inf: it sorts last, left out)
    lags = np.full((max(len(oks), 1), n), np.inf)
    if oks:
        v_inf = np.where(np.isnan(v), np.inf, v)
        for row, (k, ok) in enumerate(oks):
            np.copyto(lags[row, k:], v_inf[:-k], where=ok)
        del v_inf
    del oks, finite
    _sort_columns(lags)
    med = _column_median(lags, count)
    # absolute deviations of the same multiset (order does not matter for their median), missing ones +inf (NaN
    # appears only against an infinite median, i.e. infinite values)
    with np.errstate(invalid="ignore"):
        np.subtract(lags, med, out=lags)
        np.abs(lags, out=lags)
    if not np.isfinite(med[count > 0]).all():
        lags[np.isnan(lags)] = np.inf
    _sort_columns(lags)
    mad = _column_median(lags, count)
    del lags
    pos = np.arange(n)
    first = np.where(count > 0, o[np.maximum(pos - count, 0)], -1)
    last = np.where(count > 0, o[np.maximum(pos - 1, 0)], -1)
    out = {"median": med, "mad": mad, "count": count, "first": first, "last": last}
    if threshold is not None:
        out["above"], out["below"] = above, below
    if band is not None:
        out["outside"] = outside
    result = {}
    for k, a in out.items():  # back to the input order
        b = np.empty_like(a)
        b[order] = a
        result[k] = b
    return result


def _period_axes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per period label: ordinal, season-and-frequency code, and the step between same-season periods."""
    lab = pd.Series(labels, dtype="str")
    ordinal = period_ordinal(lab)
    freq = np.where(lab.str.len() == 4, 0, np.where(lab.str.contains("Q"), 1, 2))
    sub = lab.str.slice(5).str.replace("Q", "", regex=False)
    season = np.where(sub == "", 0, pd.to_numeric(sub, errors="coerce").fillna(0).astype(int))
    step = np.choose(freq, [1, 4, 12])
    return ordinal.astype(np.int64), (freq * 16 + season).astype(np.int64), step.astype(np.int64)


def _names(codes: np.ndarray) -> np.ndarray:
    from ..codes import country_names

    return country_names(pd.Series(codes, dtype="str")).to_numpy(dtype=object)
