"""Robust statistics on (series x period) matrices, shared by the signature checks: trailing medians and
MAD spreads, rounding steps and the noise they imply, lags, leads and rolling sums, the merged January-February of
Chinese data, and robust z values within groups.

Scores are robust z values: ``(observed - median of history) / spread``, where the spread is 1.4826 x the median
absolute deviation of the history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .panels import Panel

MAD_TO_SD = 1.4826


def nan_median(a: np.ndarray) -> np.ndarray:
    """Median over the last axis ignoring NaN, by sorting (NaN sort last); NaN where nothing is present."""
    s = np.sort(a, axis=-1)
    k = np.sum(~np.isnan(a), axis=-1)
    lo = np.clip((k - 1) // 2, 0, None)
    hi = np.clip(k // 2, 0, a.shape[-1] - 1)
    m = 0.5 * (np.take_along_axis(s, lo[..., None], -1)[..., 0] + np.take_along_axis(s, hi[..., None], -1)[..., 0])
    return np.where(k > 0, m, np.nan)


def trailing_stats(mat: np.ndarray, window: int, min_count: int, chunk: int = 4000,
                   cols: np.ndarray | None = None):
    """For each cell, median, MAD-based spread and count of the ``window`` cells before it in its row (the
    cell itself excluded). Cells with fewer than ``min_count`` values get NaN. With ``cols`` (a boolean mask of
    columns) only those columns are computed; the others are NaN (count 0): a run that judges the latest period
    needs the history's statistics there alone."""
    n, t = mat.shape
    med = np.full((n, t), np.nan)
    spread = np.full((n, t), np.nan)
    cnt = np.zeros((n, t), dtype=np.int64)
    idx = np.arange(t) if cols is None else np.flatnonzero(cols)
    if n == 0 or t == 0 or len(idx) == 0:
        return med, spread, cnt
    # counts first (running sums of present cells): the medians are needed only in rows where some window holds
    # ``min_count`` values; elsewhere every statistic is NaN
    csum = np.zeros((n, t + 1), dtype=np.int64)
    np.cumsum(~np.isnan(mat), axis=1, out=csum[:, 1:])
    c_all = csum[:, idx] - csum[:, np.maximum(idx - window, 0)]
    del csum
    cnt[:, idx] = c_all
    rows = np.flatnonzero((c_all >= min_count).any(axis=1))
    del c_all
    if len(rows) == 0:
        return med, spread, cnt
    # window of cell c: padded columns c .. c + window - 1, i.e. columns c - window .. c - 1 of ``mat``
    gather = idx[:, None] + np.arange(window)[None, :]
    chunk = max(1, chunk * t // max(len(idx), 1))
    every = len(rows) == n
    for s in range(0, len(rows), chunk):
        rr = slice(s, s + chunk) if every else rows[s:s + chunk]
        block = mat[rr]
        pad = np.concatenate([np.full((block.shape[0], window), np.nan), block], axis=1)
        win = pad[:, gather]
        m = nan_median(win)
        d = nan_median(np.abs(win - m[..., None]))
        c = cnt[rr][:, idx]
        ok = c >= min_count
        if every:
            med[rr, idx] = np.where(ok, m, np.nan)
            spread[rr, idx] = np.where(ok, MAD_TO_SD * d, np.nan)
        else:
            med[np.ix_(rr, idx)] = np.where(ok, m, np.nan)
            spread[np.ix_(rr, idx)] = np.where(ok, MAD_TO_SD * d, np.nan)
    return med, spread, cnt


def widen(mask: np.ndarray, before: int = 0, after: int = 0) -> np.ndarray:
    """Columns within ``before`` columns before or ``after`` columns after a selected one (the history a
    statistic at a selected column reads, or the neighbours a local maximum compares)."""
    out = mask.copy()
    for i in np.flatnonzero(mask):
        out[max(0, i - before):i + after + 1] = True
    return out


def row_resolution(mat: np.ndarray) -> np.ndarray:
    """The rounding step of each row: the largest power of ten (1e-3 .. 1e12) that divides every value of it."""
    n = mat.shape[0]
    res = np.full(n, 1e-3)
    if mat.size == 0:
        return res
    finite = np.isfinite(mat)
    nonzero = finite & (mat != 0)
    small = np.min(np.where(nonzero, np.abs(mat), np.inf), axis=1)
    has = np.isfinite(small)
    # a row with no non-zero figure is divided by every step
    res[~has] = 1e12
    # a step above twice the row's smallest non-zero figure rounds that figure to 0, which does not divide: such
    # steps are not tried (with a margin of a factor ten)
    with np.errstate(divide="ignore", over="ignore"):
        top = np.where(has, np.ceil(np.log10(np.where(has, 2.0 * small, 1.0))) + 1, -np.inf)
    active = np.flatnonzero(has)
    # the largest step that divides every figure: steps from the top down, the first that divides wins; a row is
    # read column by column and left as soon as one figure is not divided
    for k in range(12, -4, -1):
        if len(active) == 0:
            break
        cand = active[top[active] >= k]
        if len(cand) == 0:
            continue
        step = 10.0 ** k
        for j in range(mat.shape[1]):
            v = mat[cand, j]
            q = v / step
            r = np.round(q)
            div = (np.abs(q - r) <= 1e-6 * np.maximum(1.0, np.abs(q))) & ((r != 0) | (v == 0))
            cand = cand[div | ~finite[cand, j]]
            if len(cand) == 0:
                break
        if len(cand):
            res[cand] = step
            done = np.zeros(n, dtype=bool)
            done[cand] = True
            active = active[~done[active]]
    return res


def log_level(mat: np.ndarray, res: np.ndarray) -> np.ndarray:
    """log(value + rounding step): zeros stay finite, and a series at its rounding floor moves little."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(mat + res[:, None])


def rounding_var(mat: np.ndarray, res: np.ndarray) -> np.ndarray:
    """Variance of log(value) allowed for rounding to ``res``: one full rounding step in relative terms (wider
    than the uniform error's r/sqrt(12), because small published series also move by whole steps)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (res[:, None] / (mat + res[:, None])) ** 2


def lagged(mat: np.ndarray, lag: int) -> np.ndarray:
    """``out[:, t] = mat[:, t - lag]`` (NaN where ``t < lag``)."""
    out = np.full(mat.shape, np.nan)
    if lag < mat.shape[1]:
        out[:, lag:] = mat[:, : mat.shape[1] - lag]
    return out


def leading(mat: np.ndarray, lead: int) -> np.ndarray:
    """``out[:, t] = mat[:, t + lead]`` (NaN past the end)."""
    out = np.full(mat.shape, np.nan)
    if lead < mat.shape[1]:
        out[:, : mat.shape[1] - lead] = mat[:, lead:]
    return out


def rolling_sum(mat: np.ndarray, k: int) -> np.ndarray:
    """Trailing sum of ``k`` cells; NaN unless all ``k`` are present."""
    if k <= 1:
        return mat.copy()
    out = np.full(mat.shape, np.nan)
    if mat.shape[1] < k:
        return out
    from numpy.lib.stride_tricks import sliding_window_view

    out[:, k - 1:] = sliding_window_view(mat, k, axis=1).sum(axis=-1)
    return out


def merge_jan_feb(panel: Panel) -> np.ndarray:
    """Monthly values with January and February both replaced by their mean, so that the moving Chinese New Year
    holiday does not read as a January collapse followed by a February rebound."""
    v = panel.values.copy()
    if panel.freq != "M":
        return v
    months = np.array([int(lb[5:7]) for lb in panel.labels])
    years = np.array([int(lb[:4]) for lb in panel.labels])
    for j in np.flatnonzero(months == 1):
        nxt = j + 1
        if nxt < v.shape[1] and months[nxt] == 2 and years[nxt] == years[j]:
            both = 0.5 * (v[:, j] + v[:, nxt])
            v[:, j] = both
            v[:, nxt] = both
        else:
            v[:, j] = np.nan
    if months[-1] == 1:
        v[:, -1] = np.nan
    if months[0] == 2:
        v[:, 0] = np.nan
    return v


def robust_cross_z(x: np.ndarray, groups: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust z of ``x`` within each group (median, 1.4826 MAD floored at ``floor``)."""
    s = pd.Series(x)
    med = s.groupby(groups).transform("median").to_numpy()
    mad = (s - med).abs().groupby(groups).transform("median").to_numpy() * MAD_TO_SD
    scale = np.maximum(np.nan_to_num(mad, nan=floor), floor)
    return (x - med) / scale, med, scale
