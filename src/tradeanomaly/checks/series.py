"""Series breaks: growth against a series' own history, level shifts, and growth against its peers.

Every monthly, quarterly or annual series of the flows table (a pair, a province, a pair x product) is laid out
as a row of a (series x period) matrix, so that all the arithmetic below is column slicing on numpy arrays.

Scores are robust z values: ``(observed - median of history) / spread``, where the spread is 1.4826 x the
median absolute deviation of the history, floored at ``min_scale`` and widened by the relative rounding error of
the published values (a series rounded to 0.1 m that moves between 0.3 and 0.5 m is noisy by construction, and
must not be flagged for it). A score of 3.5 is about as rare as 1 in 2,000 under Gaussian noise; the same scale is
used by the other signature checks (``invoice_export``, ``entrepot``, ``rush``).

This module also holds the small helpers that the signature checks share (panels, robust statistics, names and
amounts in readable form).
"""

from __future__ import annotations

import functools
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import periods as P
from ..errors import ConfigError
from ..schema import MAX_EXAMPLES, Ledger, make_findings
from .base import CheckResult

CHECK = "series"
MAD_TO_SD = 1.4826
SEASON = {"M": 12, "Q": 4, "A": 1}
AGGREGATE_PARTNERS = ("WLD", "NES")

# ==============================================================================================================
# shared helpers (used by invoice_export, entrepot and rush)
# ==============================================================================================================


@functools.lru_cache(maxsize=None)
def country(code: str) -> str:
    """Readable name of an ISO3 code (or the group label EU27); the code itself when unknown."""
    if code == "EU27":
        return "the EU"
    if code == "WLD":
        return "the world"
    from ..codes import country_name

    name = country_name(code) or code
    return f"the {name}" if name in ("United States", "Netherlands", "Philippines", "United Kingdom") else name


@functools.lru_cache(maxsize=None)
def province(code: str) -> str:
    """Readable name of a Chinese province code (CN-HA -> Henan)."""
    from ..codes import province_name

    return province_name(code)


def coastal_provinces() -> set[str]:
    from ..codes import COASTAL

    return set(COASTAL)


@functools.lru_cache(maxsize=None)
def product(hs: str) -> str:
    """``HS 85 (electrical machinery)`` for a chapter code; ``goods`` for TOTAL."""
    if not hs or hs == "TOTAL":
        return "goods"
    from ..codes import hs_name

    name = hs_name(hs)
    return f"HS {hs} ({name})" if name else f"HS {hs}"


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def amount(usd: float) -> str:
    """Dollars in readable units: ``384.9 bn``, ``540.2 mn``, ``12,300``."""
    if usd is None or not np.isfinite(usd):
        return "n/a"
    a = abs(usd)
    if a >= 1e9:
        return f"{usd / 1e9:,.1f} bn"
    if a >= 1e6:
        return f"{usd / 1e6:,.1f} mn"
    return f"{usd:,.0f}"


def amounts(values: np.ndarray) -> np.ndarray:
    return np.array([amount(float(v)) for v in values], dtype=object)


def pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:+.0f}%"


def flow_phrase(flow: str) -> str:
    return {"X": "exports to", "M": "imports from", "RX": "re-exports to", "RM": "re-imports from"}.get(flow, flow)


def expand_group(codes) -> dict[str, str]:
    """Member ISO3 -> the label it is analysed under: a group name (``EU27``) for its members, an ISO3 for itself.
    Members of a group are summed into one destination (an EU importer is one customs union)."""
    from ..codes import GROUPS, expand

    out: dict[str, str] = {}
    for g in codes:
        key = str(g).strip().upper().replace("-", "_").replace(" ", "_")
        label = key if key in GROUPS else None
        for m in expand([g]):
            out.setdefault(m, label or m)
    return out


@dataclass
class Panel:
    """Series as rows of a matrix: ``keys`` (one row per series), ``labels`` (period per column), ``values``."""

    keys: pd.DataFrame
    labels: list[str]
    values: np.ndarray
    freq: str

    @property
    def season(self) -> int:
        return SEASON[self.freq]


def period_ordinals(periods: pd.Series) -> np.ndarray:
    """:func:`periods.period_ordinal` computed once per distinct label (a panel repeats each period many times)."""
    codes, uniq = pd.factorize(periods.astype("str"))
    return P.period_ordinal(pd.Series(uniq, dtype="str"))[codes]


def split_frequencies(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    codes, uniq = pd.factorize(df["period"].astype("str"))
    f = P.frequencies(pd.Series(uniq, dtype="str")).to_numpy()[codes] if len(uniq) else np.array([], dtype=object)
    out = {}
    for k in ("A", "Q", "M"):
        sel = f == k
        if sel.any():
            # one frequency (the usual case): the frame itself, not a copy of every column
            out[k] = df if sel.all() else df.loc[sel]
    return out


# integer codes of key columns ---------------------------------------------------------------------------------

# (id of the column's array) -> (weak reference to it, its storage, codes, distinct values): the checks read the
# same flows table one after another, and a key column is factorized once for all of them
_CODES: dict[int, tuple] = {}
_CODES_MAX = 24


def key_codes(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer code of each value of ``s`` (-1 where missing) in the sorted order of the distinct values, and those
    values (``pd.factorize(s, sort=True)``). Remembered for a large Arrow-backed column while it lives."""
    arr = s.array
    store = getattr(arr, "_pa_array", None)
    key = id(arr)
    hit = _CODES.get(key)
    if hit is not None and hit[0]() is arr and hit[1] is store:
        return hit[2], hit[3]
    codes, uniq = pd.factorize(s, sort=True)
    if len(uniq) < 2 ** 31 - 1:
        codes = codes.astype(np.int32)
    if store is not None and len(s) >= 100_000:
        if len(_CODES) >= _CODES_MAX:
            _CODES.pop(next(iter(_CODES)))
        try:
            ref = weakref.ref(arr, lambda _r, k=key: _CODES.pop(k, None))
        except TypeError:
            ref = None
        if ref is not None:
            _CODES[key] = (ref, store, codes, uniq)
    return codes, uniq


def value_code(uniq: pd.Index, value) -> int:
    """Position of ``value`` among the distinct values (-1 when absent)."""
    try:
        return int(uniq.get_loc(value))
    except (KeyError, TypeError):
        return -1


def value_codes(uniq: pd.Index, values) -> np.ndarray:
    """Positions of ``values`` among the distinct values (absent ones left out)."""
    idx = pd.Index(uniq).get_indexer(pd.Index(list(values), dtype=object))
    return idx[idx >= 0]


def combine_codes(codes: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One int64 code per row that sorts like the tuple of the (non-negative) ``codes`` (mixed radix, re-numbered
    when it would overflow)."""
    n = len(codes[0]) if codes else 0
    combined = np.zeros(n, dtype=np.int64)
    radix = 1
    for c, size in zip(codes, sizes):
        size = max(int(size), 1)
        if radix * size >= 2 ** 62:
            _, combined = np.unique(combined, return_inverse=True)
            combined = combined.astype(np.int64)
            radix = int(combined.max()) + 1 if n else 1
        combined = combined * size + c
        radix *= size
    return combined


def group_sorted(combined: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group number of each row (groups in increasing code order) and the first row of each group."""
    n = len(combined)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(combined)
    sc = combined[order]
    start = np.ones(n, dtype=bool)
    np.not_equal(sc[1:], sc[:-1], out=start[1:])
    del sc
    gid = np.cumsum(start) - 1
    inv = np.empty(n, dtype=np.int64)
    inv[order] = gid
    del gid
    starts = np.flatnonzero(start)
    # the sort is not stable: the first row of a group is its smallest row number
    first = np.minimum.reduceat(order, starts) if len(starts) < n else order[starts]
    return inv, first


def group_sums(row: np.ndarray, n_groups: int, values: dict) -> dict:
    """``groupby(row, sort=True).sum(min_count=1)`` of each value array (rows with ``row < 0`` dropped): a group of
    one row sums to ``0.0 + value`` (NaN stays NaN), as pandas' compensated sum does; larger groups are summed by
    pandas itself, in row order."""
    ok = row >= 0
    r = row if ok.all() else row[ok]
    counts = np.bincount(r, minlength=n_groups)
    single = counts[r] == 1
    multi = ~single
    out = {}
    sums = None
    if multi.any():
        sums = pd.DataFrame({v: (a if ok.all() else a[ok])[multi] for v, a in values.items()}).groupby(
            r[multi], sort=True).sum(min_count=1)
    for v, a in values.items():
        a = a if ok.all() else a[ok]
        res = np.full(n_groups, np.nan)
        one = a[single]
        res[r[single]] = np.where(np.isnan(one), np.nan, one + 0.0)
        if sums is not None:
            res[sums.index.to_numpy()] = sums[v].to_numpy()
        out[v] = res
    return out


class KeyTable:
    """The key columns of a panel's series as integer codes into each column's distinct values; readable rows are
    built only for the series asked for (findings), never for the whole panel."""

    def __init__(self, codes: dict, uniques: dict, dtypes: dict):
        self.codes = codes
        self.uniques = uniques
        self.dtypes = dtypes
        self.columns = list(codes)
        self._objects: dict = {}

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "KeyTable":
        codes, uniques = {}, {}
        for k in frame.columns:
            codes[k], uniques[k] = pd.factorize(frame[k], sort=True)
        return cls(codes, uniques, {k: frame[k].dtype for k in frame.columns})

    def __len__(self) -> int:
        return len(next(iter(self.codes.values()))) if self.codes else 0

    def values(self, k: str) -> np.ndarray:
        """The distinct values of column ``k`` as a plain object array (index it with ``codes[k]``)."""
        if k not in self._objects:
            self._objects[k] = np.asarray(self.uniques[k], dtype=object)
        return self._objects[k]

    def value(self, k: str, i: int):
        return self.values(k)[self.codes[k][i]]

    def eq(self, k: str, value) -> np.ndarray:
        return self.codes[k] == value_code(self.uniques[k], value)

    def isin(self, k: str, values) -> np.ndarray:
        return np.isin(self.codes[k], value_codes(self.uniques[k], values))

    def frame(self, rows=None) -> pd.DataFrame:
        """The keys of series ``rows`` (all when ``None``) as a frame with the source columns' dtypes."""
        out = {}
        for k in self.columns:
            c = self.codes[k] if rows is None else self.codes[k][np.asarray(rows, dtype=np.int64)]
            out[k] = pd.Series(self.uniques[k].take(c)).astype(self.dtypes[k])
        return pd.DataFrame(out, columns=self.columns)


def usable_rows(flows: pd.DataFrame, include_estimated: bool, stage: str) -> tuple[np.ndarray | None, Ledger]:
    """:func:`usable_flows` as a mask of the rows kept (``None`` when all are) and the same ledger, without copying
    the table."""
    led = Ledger(stage=stage, rows_in=len(flows))
    drop = None
    if not include_estimated and "estimated" in flows:
        est = flows["estimated"].fillna(False).astype(bool).to_numpy()
        n = int(est.sum())
        if n:
            led.add("estimated", n, flows.iloc[np.flatnonzero(est)[:MAX_EXAMPLES]])
            drop = est
    v = pd.to_numeric(flows["value_usd"], errors="coerce").to_numpy(dtype=float)
    bad = (~np.isfinite(v)) | (v < 0)
    if drop is not None:
        bad &= ~drop
    n = int(bad.sum())
    if n:
        led.add("no_value", n, flows.iloc[np.flatnonzero(bad)[:MAX_EXAMPLES]])
        drop = bad if drop is None else (drop | bad)
    keep = None if drop is None else ~drop
    led.keep(len(flows) if keep is None else int(keep.sum()))
    led.check()
    return keep, led


def row_frequencies(flows: pd.DataFrame, rows: np.ndarray) -> tuple[dict, bool]:
    """The rows of each frequency present (``A``, ``Q``, ``M`` order, as :func:`split_frequencies`), and whether some
    of ``rows`` have no period."""
    pc, pu = key_codes(flows["period"])
    c = pc[rows]
    missing = bool((c < 0).any())
    if not len(pu):
        return {}, missing
    fu = P.frequencies(pd.Series(pu, dtype="str")).to_numpy()
    names = ("A", "Q", "M")
    fcode = np.array([names.index(x) if x in names else -1 for x in fu] + [-1], dtype=np.int8)
    f = fcode[np.where(c >= 0, c, len(pu))]
    out = {}
    for j, k in enumerate(names):
        sel = f == j
        if sel.any():
            out[k] = rows if sel.all() else rows[sel]
    return out, missing


def _labels_in_reach(labels: pd.Series, periods, before: dict, after: dict) -> np.ndarray:
    """Which period ``labels`` fall in the window of ``periods`` of their frequency, ``before`` earlier and
    ``after`` later periods included (per frequency A, Q, M)."""
    freq = P.frequencies(labels).to_numpy()
    ordv = P.period_ordinal(labels)
    want = pd.Series(list(periods), dtype="str")
    wf = P.frequencies(want).to_numpy()
    wo = P.period_ordinal(want)
    keep = np.zeros(len(labels), dtype=bool)
    for f in ("A", "Q", "M"):
        sel = wf == f
        if not sel.any():
            continue
        lo, hi = wo[sel].min() - before.get(f, 0), wo[sel].max() + after.get(f, 0)
        keep |= (freq == f) & (ordv >= lo) & (ordv <= hi)
    return keep


def reach_rows(flows: pd.DataFrame, rows: np.ndarray, periods: list[str] | None, before: dict,
               after: dict | None = None) -> np.ndarray:
    """:func:`within_reach` on the rows ``rows`` of ``flows`` (rows with a period only)."""
    if periods is None or len(rows) == 0:
        return rows
    after = after or {}
    pc, pu = key_codes(flows["period"])
    c = pc[rows]
    present = np.zeros(len(pu), dtype=bool)
    present[c[c >= 0]] = True
    ui = np.flatnonzero(present)
    keep_u = np.zeros(len(pu), dtype=bool)
    keep_u[ui] = _labels_in_reach(pd.Series(np.asarray(pu, dtype=object)[ui], dtype="str"), periods, before, after)
    keep = (c >= 0) & keep_u[np.maximum(c, 0)]
    return rows if keep.all() else rows[keep]


def coded_panels(flows: pd.DataFrame, rows: np.ndarray, keys: list[str], values: dict, freq: str,
                 how: str = "sum") -> dict[str, Panel]:
    """:func:`build_panels` of the rows ``rows`` of ``flows`` (one frequency, every row with a period), with the
    series' keys as a :class:`KeyTable`. ``values`` maps each panel name to its values over ``rows``."""
    cols = [key_codes(flows[k]) for k in keys]
    dtypes = {k: flows[k].dtype for k in keys}
    if len(rows) == 0:
        empty = KeyTable({k: np.array([], dtype=np.int64) for k in keys}, {k: u for k, (_, u) in zip(keys, cols)},
                         dtypes)
        return {v: Panel(empty, [], np.zeros((0, 0)), freq) for v in values}
    sub = [c[rows] for c, _ in cols]
    valid = np.ones(len(rows), dtype=bool)
    for c in sub:
        valid &= c >= 0
    row = np.full(len(rows), -1, dtype=np.int64)
    if valid.all():
        inv, first = group_sorted(combine_codes(sub, [len(u) for _, u in cols]))
        row[:] = inv
        codes = {k: c[first] for k, c in zip(keys, sub)}
    else:
        vi = np.flatnonzero(valid)
        inv, first = group_sorted(combine_codes([c[vi] for c in sub], [len(u) for _, u in cols]))
        row[vi] = inv
        codes = {k: c[vi[first]] for k, c in zip(keys, sub)}
    table = KeyTable(codes, {k: u for k, (_, u) in zip(keys, cols)}, dtypes)
    pc, pu = key_codes(flows["period"])
    c = pc[rows]
    present = np.zeros(len(pu), dtype=bool)
    present[c] = True
    ui = np.flatnonzero(present)
    ord_u = np.zeros(len(pu), dtype=np.int64)
    ord_u[ui] = P.period_ordinal(pd.Series(np.asarray(pu, dtype=object)[ui], dtype="str"))
    ordv = ord_u[c]
    first_label = str(pu[c[int(np.argmin(ordv))]])
    return _fill_panels(row, ordv, first_label, table, len(first), values, freq, how)


def group_rows(df: pd.DataFrame, keys: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Group number of each row and the frame of distinct keys, in the lexicographic order of the key tuples
    (the order of ``groupby(keys, sort=True)``), from integer codes of each key column. Rows with a missing key
    get -1, as groupby drops them."""
    n = len(df)
    cols = [key_codes(df[k]) for k in keys]
    valid = np.ones(n, dtype=bool)
    for c, _ in cols:
        valid &= c >= 0
    row = np.full(n, -1, dtype=np.int64)
    if valid.any():
        vi = None if valid.all() else np.flatnonzero(valid)
        combined = combine_codes([c if vi is None else c[vi] for c, _ in cols], [len(u) for _, u in cols])
        inv, first = group_sorted(combined)
        if vi is None:
            row[:] = inv
            pos = first
        else:
            row[vi] = inv
            pos = vi[first]
    else:
        pos = np.array([], dtype=np.int64)
    # the first row of each group, taken from each column in its own dtype (the values of the key tuple)
    key_frame = pd.DataFrame({k: pd.Series(df[k].array.take(pos)) for k in keys}, columns=keys)
    for k in keys:
        key_frame[k] = key_frame[k].astype(df[k].dtype)
    return row, key_frame


def build_panel(df: pd.DataFrame, keys: list[str], value: str = "value_usd", freq: str | None = None,
                how: str = "sum") -> Panel:
    """Pivot ``df`` (one frequency) to a (series x period) matrix; missing cells are NaN; periods form a full
    range from the first to the last one present (gaps become NaN columns)."""
    return build_panels(df, keys, [value], freq=freq, how=how)[value]


def build_panels(df: pd.DataFrame, keys: list[str], values: list[str], freq: str | None = None,
                 how: str = "sum") -> dict[str, Panel]:
    """:func:`build_panel` for several value columns over one grouping (same rows, same columns)."""
    if freq is None:
        freq = P.frequency(str(df["period"].iloc[0])) if len(df) else "A"
    if len(df) == 0:
        return {v: Panel(pd.DataFrame(columns=keys), [], np.zeros((0, 0)), freq) for v in values}
    row, key_frame = group_rows(df, keys)
    ordv = period_ordinals(df["period"])
    first = df["period"].iloc[int(np.argmin(ordv))]
    key_frame = key_frame.reset_index(drop=True)
    return _fill_panels(row, ordv, str(first), key_frame, len(key_frame),
                        {v: df[v].to_numpy(dtype=float) for v in values}, freq, how)


def _fill_panels(row: np.ndarray, ordv: np.ndarray, first: str, keys, n_rows: int, values: dict, freq: str,
                 how: str) -> dict[str, Panel]:
    """The (series x period) matrices of ``values`` (one array per value column, over the same rows as ``row``, the
    series number, and ``ordv``, the period ordinal); ``first`` is the label of the first period."""
    o0, o1 = int(ordv.min()), int(ordv.max())
    labels = [P.shift(first, i) for i in range(o1 - o0 + 1)]
    keep = row >= 0
    if keep.all():
        col = ordv - o0
    else:
        row, col = row[keep], (ordv - o0)[keep]
    shape = (n_rows, o1 - o0 + 1)
    flat = row * shape[1] + col
    out = {}
    for value, arr in values.items():
        mat = np.full(shape, np.nan)
        vals = arr if keep.all() else arr[keep]
        if how == "sum":
            # bincount keeps duplicate keys summed; cells never seen with a finite value stay NaN
            fin = np.isfinite(vals)
            seen = np.bincount(flat[fin], minlength=shape[0] * shape[1]).reshape(shape) > 0
            acc = np.bincount(flat, weights=np.nan_to_num(vals), minlength=shape[0] * shape[1]).reshape(shape)
            mat[seen] = acc[seen]
        else:
            mat[row, col] = vals
        out[value] = Panel(keys, labels, mat, freq)
    return out


def sum_by(df: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """``groupby(keys).sum(min_count=1)`` on integer-coded keys: one row per distinct key tuple, in key order;
    a value is NaN where the group has no finite figure."""
    row, out = group_rows(df, keys)
    sums = group_sums(row, len(out), {v: df[v].to_numpy(dtype=float) for v in values})
    for v in values:
        out[v] = sums[v]
    return out


def within_reach(df: pd.DataFrame, periods: list[str] | None, before: dict, after: dict | None = None) -> pd.DataFrame:
    """The rows a test of ``periods`` can read: for each frequency, from ``before[freq]`` periods before the first
    period under test to ``after[freq]`` periods after the last (all rows when ``periods`` is ``None``). Trimming
    the panel this way changes no statistic at the periods under test, only the work."""
    if periods is None or len(df) == 0:
        return df
    after = after or {}
    codes, uniq = pd.factorize(df["period"].astype("str"))
    keep = _labels_in_reach(pd.Series(uniq, dtype="str"), periods, before, after)[codes]
    return df if keep.all() else df.loc[keep]


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


def period_mask(labels: list[str], periods: list[str] | None) -> np.ndarray:
    """Columns under test: the given periods (any frequency mismatch simply selects nothing), or all."""
    if periods is None:
        return np.ones(len(labels), dtype=bool)
    want = set(periods)
    return np.array([lb in want for lb in labels], dtype=bool)


def usable_flows(flows: pd.DataFrame, include_estimated: bool, stage: str) -> tuple[pd.DataFrame, Ledger]:
    """The rows a signature check may use: non-estimated (publisher estimates are not reports), finite values."""
    keep, led = usable_rows(flows, include_estimated, stage)
    return (flows if keep is None else flows.loc[keep]), led


def robust_cross_z(x: np.ndarray, groups: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust z of ``x`` within each group (median, 1.4826 MAD floored at ``floor``)."""
    s = pd.Series(x)
    med = s.groupby(groups).transform("median").to_numpy()
    mad = (s - med).abs().groupby(groups).transform("median").to_numpy() * MAD_TO_SD
    scale = np.maximum(np.nan_to_num(mad, nan=floor), floor)
    return (x - med) / scale, med, scale


def finish(records: list[pd.DataFrame], check: str) -> pd.DataFrame:
    """Concatenate finding frames and sort them on explicit keys (byte-identical output for the same input)."""
    frames = [r for r in records if r is not None and len(r)]
    if not frames:
        return make_findings()
    out = make_findings(pd.concat(frames, ignore_index=True))
    out = out.sort_values(["signal", "score", "subject", "period"], ascending=[True, False, True, True],
                          kind="mergesort").reset_index(drop=True)
    out["check"] = check
    return out


# ==============================================================================================================
# the series check
# ==============================================================================================================


@dataclass(frozen=True)
class SeriesParams:
    """Knobs of the series check (defaults in brackets).

    - ``min_score`` [3.5]: findings are reported at or above this robust z.
    - ``history`` [{"M": 36, "Q": 12, "A": 8}]: periods of trailing history for the expected growth and spread.
    - ``min_history`` [{"M": 12, "Q": 6, "A": 4}]: fewer past growth figures than this -> no finding.
    - ``min_scale`` [0.05]: floor of the spread of log growth (5%), so that a very smooth series is not flagged
      for an ordinary move.
    - ``level_window`` [{"M": 12, "Q": 4, "A": 3}]: periods compared before and after a candidate level shift.
    - ``min_peers`` [4]: a peer comparison needs this many other series in the group.
    - ``combine_jan_feb`` [True]: read January and February together (Chinese New Year moves between them).
    - ``include_estimated`` [False]: publisher estimates are not reports and are left out.
    - ``signals`` [own_history, level_shift, peer]: which tests to run.
    - ``classification`` ["HS"]: what the ``hs`` codes are, for the sentences: ``SITC`` when a Comtrade file was
      read with ``allow_sitc`` (SITC division 93 is "special transactions", HS chapter 93 arms).
    """

    min_score: float = 3.5
    history: dict = field(default_factory=lambda: {"M": 36, "Q": 12, "A": 8})
    min_history: dict = field(default_factory=lambda: {"M": 12, "Q": 6, "A": 4})
    min_scale: float = 0.05
    level_window: dict = field(default_factory=lambda: {"M": 12, "Q": 4, "A": 3})
    min_peers: int = 4
    combine_jan_feb: bool = True
    include_estimated: bool = False
    signals: tuple = ("own_history", "level_shift", "peer")
    classification: str = "HS"

    def __post_init__(self):
        if self.min_score < 0 or self.min_scale <= 0 or self.min_peers < 1:
            raise ConfigError("series: min_score >= 0, min_scale > 0 and min_peers >= 1 are required")
        bad = set(self.signals) - {"own_history", "level_shift", "peer"}
        if bad:
            raise ConfigError(f"series: unknown signal(s) {sorted(bad)}; use own_history, level_shift, peer")
        if self.classification not in ("HS", "SITC"):
            raise ConfigError(f"series: classification {self.classification!r} is not HS or SITC")


SERIES_KEYS = ["reporter", "region", "partner", "flow", "hs"]


def _subject(keys: pd.DataFrame) -> pd.Series:
    base = np.where(keys["region"] != "", keys["region"], keys["reporter"] + ">" + keys["partner"])
    base = pd.Series(base, index=keys.index, dtype="str")
    flow_tag = np.where(keys["flow"] == "X", "", "[" + keys["flow"] + "]")
    hs_tag = np.where(keys["hs"] == "TOTAL", "", ":" + keys["hs"])
    return base + pd.Series(hs_tag, index=keys.index) + pd.Series(flow_tag, index=keys.index)


class _What:
    """``China's exports of HS 85 to Hong Kong`` for series ``i`` of a panel, built only when asked for."""

    def __init__(self, keys: KeyTable, classification: str = "HS"):
        self.keys = keys
        self.classification = classification
        # plain arrays of codes and distinct values: label lookups on a frame cost more than the sentence itself
        self.codes = [keys.codes[c] for c in SERIES_KEYS]
        self.vals = [keys.values(c) for c in SERIES_KEYS]

    def col(self, j: int, i: int):
        return self.vals[j][self.codes[j][i]]

    def __getitem__(self, i: int) -> str:
        r, reg, p, f, hs = (v[c[i]] for c, v in zip(self.codes, self.vals))
        who = province(reg) if reg else country(r)
        name = product(hs) if self.classification == "HS" else f"SITC {hs}"
        prod = "" if hs == "TOTAL" else f" of {name}"
        verb = flow_phrase(f).split(" ")
        return f"{possessive(who)} {verb[0]}{prod} {verb[1]} {country(p)}"


def _period_text(label: str, freq: str, jan_feb: bool) -> str:
    if freq == "M" and jan_feb and label[5:7] == "02":
        return f"January-February {label[:4]}"
    return label


class _SeriesState:
    """Growth, history and noise of one frequency's panel."""

    def __init__(self, panel: Panel, params: SeriesParams, cols: np.ndarray | None = None):
        self.panel = panel
        f = panel.freq
        L = panel.season
        v = merge_jan_feb(panel) if params.combine_jan_feb else panel.values.copy()
        self.v = v
        self.res = row_resolution(panel.values)
        lv = log_level(v, self.res)
        self.lv = lv
        self.g = lv - lagged(lv, L)
        rv = rounding_var(v, self.res)
        # Jan/Feb merged values are means of two rounded figures: half the variance
        self.noise_var = rv + lagged(rv, L)
        self.med, self.spread, self.cnt = trailing_stats(self.g, params.history[f], params.min_history[f],
                                                         cols=cols)
        self.scale = np.sqrt(np.maximum(np.nan_to_num(self.spread, nan=np.inf), params.min_scale) ** 2
                             + np.nan_to_num(self.noise_var, nan=0.0))
        with np.errstate(invalid="ignore"):
            self.z = (self.g - self.med) / self.scale
        # January duplicates February after merging: report the pair once, at February
        self.skip = np.zeros(len(panel.labels), dtype=bool)
        if f == "M" and params.combine_jan_feb:
            self.skip = np.array([lb[5:7] == "01" for lb in panel.labels])


def _own_history(st: _SeriesState, params: SeriesParams, test: np.ndarray, what: _What) -> pd.DataFrame:
    pn = st.panel
    L = pn.season
    score = np.abs(st.z)
    hit = np.isfinite(score) & (score >= params.min_score) & test[None, :] & ~st.skip[None, :]
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    v = st.v[rows, cols]
    prev = st.v[rows, cols - L]
    g = st.g[rows, cols]
    med = st.med[rows, cols]
    expected = prev * np.exp(med)
    keys = pn.keys.frame(rows)
    details = []
    for i in range(len(rows)):
        lab = pn.labels[cols[i]]
        details.append(
            f"{what[rows[i]]} {'rose' if g[i] > 0 else 'fell'} {100 * abs(np.expm1(g[i])):.0f}% in "
            f"{_period_text(lab, pn.freq, params.combine_jan_feb)} ({amount(v[i])} USD against {amount(prev[i])} "
            f"in {_period_text(pn.labels[cols[i] - L], pn.freq, params.combine_jan_feb)}), where its own history "
            f"says {pct(np.expm1(med[i]))} (spread {100 * st.scale[rows[i], cols[i]]:.0f}%): "
            f"robust z {st.z[rows[i], cols[i]]:+.1f}"
        )
    return _frame(keys, pn, cols, "series.own_history", score[rows, cols], v, expected,
                  np.abs(v - expected), details)


def _frame(keys, pn, cols, signal, score, value, expected, usd, details) -> pd.DataFrame:
    return pd.DataFrame({
        "check": CHECK, "signal": signal, "subject": _subject(keys).to_numpy(),
        "reporter": keys["reporter"].to_numpy(), "partner": keys["partner"].to_numpy(),
        "region": keys["region"].to_numpy(), "hs": np.where(keys["hs"] == "TOTAL", "", keys["hs"]),
        "period": [pn.labels[c] for c in cols], "score": score, "value": value, "expected": expected,
        "usd_at_stake": usd, "detail": details,
    })


def _level_shift(st: _SeriesState, params: SeriesParams, test: np.ndarray, what: _What) -> pd.DataFrame:
    """A change point at t: the mean log level over [t, t+k) against the mean over [t-k, t), net of the trend
    the history expects, in units of the history's growth spread (widened for the averaging of a random walk)."""
    pn = st.panel
    L = pn.season
    k = params.level_window[pn.freq]
    n, T = st.lv.shape
    if T < 2 * k + 1:
        return None
    from numpy.lib.stride_tricks import sliding_window_view

    lv = st.lv
    win_mean = np.full((n, T), np.nan)  # mean over [t, t+k)
    w = sliding_window_view(lv, k, axis=1)
    full = np.all(np.isfinite(w), axis=-1)
    win_mean[:, : T - k + 1] = np.where(full, w.mean(axis=-1), np.nan)
    after = win_mean
    before = lagged(win_mean, k)
    m = k / L  # seasons between the two block centres
    blocks = max(1, int(round(m)))
    c = np.sqrt(blocks * (2 * blocks ** 2 + 1) / 3.0) / blocks  # sd of a block-mean difference, random walk
    jump = after - before - m * st.med
    with np.errstate(invalid="ignore"):
        z = jump / (st.scale * c)
    score = np.abs(z)
    # keep the strongest point of each break: a local maximum within +-k
    padded = np.concatenate([np.full((n, k), -np.inf), np.nan_to_num(score, nan=-np.inf),
                             np.full((n, k), -np.inf)], axis=1)
    local = sliding_window_view(padded, 2 * k + 1, axis=1).max(axis=-1)[:, :T]
    hit = (np.isfinite(score) & (score >= params.min_score) & (score >= local) & test[None, :]
           & ~st.skip[None, :])
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    lin = np.exp(lv) - st.res[:, None]
    val = np.array([np.nanmean(lin[r, c:c + k]) for r, c in zip(rows, cols)])
    base = np.array([np.nanmean(lin[r, c - k:c]) for r, c in zip(rows, cols)])
    exp_ = base * np.exp(m * st.med[rows, cols])
    keys = pn.keys.frame(rows)
    details = []
    for i, (r, cc) in enumerate(zip(rows, cols)):
        a, b = pn.labels[cc], pn.labels[min(cc + k - 1, T - 1)]
        details.append(
            f"{what[r]} shifted {'up' if jump[r, cc] > 0 else 'down'} from {a}: {amount(val[i])} USD a period on "
            f"average over {a}..{b} against {amount(base[i])} over the {k} periods before, where the trend "
            f"expects {amount(exp_[i])} (robust z {z[r, cc]:+.1f})"
        )
    # a short, erratic history can extrapolate its trend far beyond anything traded (a +1,292% median growth
    # over three years): the shift cannot explain more dollars than the series carried before or after it
    # (per period, like every amount of a finding; and no more than the level actually moved)
    at_stake = np.minimum(np.minimum(np.abs(val - exp_), np.maximum(val, base)), np.abs(val - base))
    return _frame(keys, pn, cols, "series.level_shift", score[rows, cols], val, exp_, at_stake, details)


def _peer(st: _SeriesState, params: SeriesParams, test: np.ndarray, what: _What) -> pd.DataFrame:
    """Growth against peers: a province against the other provinces (and the national total, in the detail);
    a pair against the reporter's other partners (same flow and product). The excess growth is then judged
    against its own history, so that a series that always grows faster than its peers is not flagged."""
    pn = st.panel
    keys = pn.keys
    is_region = ~keys.eq("region", "")
    agg = keys.isin("partner", AGGREGATE_PARTNERS)
    # peer groups: provinces share reporter/partner/flow/hs; national pairs share reporter/flow/hs (integer codes
    # of the key tuples; the other rows form one group, as they did under an empty label)
    eligible = is_region | ~agg
    kc = keys.codes
    sizes = [len(keys.uniques[k]) for k in ("reporter", "partner", "flow", "hs")]
    reg_key = combine_codes([kc["reporter"], kc["partner"], kc["flow"], kc["hs"]], sizes)
    nat_key = combine_codes([kc["reporter"], kc["flow"], kc["hs"]], [sizes[0], sizes[2], sizes[3]])
    gid = np.where(eligible, np.where(is_region, 2 * reg_key + 1, 2 * nat_key), -1)
    gcodes, _ = pd.factorize(gid)
    size = np.bincount(gcodes[eligible], minlength=int(gcodes.max()) + 1 if len(gcodes) else 0)[gcodes]
    ok = eligible & (size - 1 >= params.min_peers)
    if not ok.any():
        return None
    f = pn.freq
    tested = test & ~st.skip
    # the excess growth e = g - peer median is finite only where g is: fewer finite g than ``min_history`` in every
    # window under test means no finite score (the peer medians need not be computed)
    if not tested.any() or not (st.cnt[np.ix_(ok, tested)] >= params.min_history[f]).any():
        return None
    # the excess growth is needed at the periods under test and over the history before them
    need = widen(tested, before=params.history[f])
    cols = np.flatnonzero(need)
    gmed = pd.DataFrame(st.g[np.ix_(ok, cols)]).groupby(gcodes[ok]).transform("median").to_numpy()
    e = np.full(st.g.shape, np.nan)
    e[np.ix_(ok, cols)] = st.g[np.ix_(ok, cols)] - gmed
    peer_med = np.full(st.g.shape, np.nan)
    peer_med[np.ix_(ok, cols)] = gmed
    med, spread, _ = trailing_stats(e, params.history[f], params.min_history[f], cols=tested)
    scale = np.sqrt(np.maximum(np.nan_to_num(spread, nan=np.inf), params.min_scale) ** 2
                    + np.nan_to_num(st.noise_var, nan=0.0))
    with np.errstate(invalid="ignore"):
        z = (e - med) / scale
    score = np.abs(z)
    hit = np.isfinite(score) & (score >= params.min_score) & test[None, :] & ~st.skip[None, :]
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    # the national total beside each province, for the detail
    rep_c, flow_c, hs_c = kc["reporter"], kc["flow"], kc["hs"]
    nat = {}
    if is_region[rows].any():
        for r in np.flatnonzero((~is_region) & keys.eq("partner", "WLD")):
            nat[(rep_c[r], flow_c[r], hs_c[r])] = r
    L = pn.season
    v = st.v[rows, cols]
    prev = st.v[rows, cols - L]
    expected = prev * np.exp(peer_med[rows, cols] + med[rows, cols])
    sub = keys.frame(rows)
    details = []
    for i, (r, c) in enumerate(zip(rows, cols)):
        lab = _period_text(pn.labels[c], f, params.combine_jan_feb)
        peers = ("the other provinces" if is_region[r]
                 else f"{possessive(country(what.col(0, r)))} other partners")
        text = (f"{what[r]} changed {pct(np.expm1(st.g[r, c]))} in {lab} ({amount(v[i])} USD) while "
                f"{peers} changed {pct(np.expm1(peer_med[r, c]))} (median); the usual gap is "
                f"{100 * med[r, c]:+.0f} points (robust z {z[r, c]:+.1f})")
        if is_region[r]:
            nr = nat.get((rep_c[r], flow_c[r], hs_c[r]))
            if nr is not None and np.isfinite(st.g[nr, c]):
                text += f"; the national total grew {pct(np.expm1(st.g[nr, c]))}"
        details.append(text)
    return _frame(sub, pn, cols, "series.peer", score[rows, cols], v, expected, np.abs(v - expected), details)


def run(flows: pd.DataFrame, *, params: SeriesParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None) -> CheckResult:
    """Series breaks for every series of ``flows`` (any mix of frequencies; each is analysed on its own axis).

    ``periods`` are the periods under test (findings only for them; earlier periods are history).
    ``mirror_gaps`` is not needed by this check and is ignored.
    """
    params = params or SeriesParams()
    keep, led = usable_rows(flows, params.include_estimated, "series")
    rows = np.arange(len(flows)) if keep is None else np.flatnonzero(keep)
    by_freq, no_period = row_frequencies(flows, rows)
    out = []
    if no_period:
        # rows without a period: the frame path's bookkeeping, exactly as it places them
        df = flows if keep is None else flows.loc[keep]
        panels = []
        for freq, part in split_frequencies(df).items():
            pn = build_panel(part, SERIES_KEYS, freq=freq)
            panels.append(Panel(KeyTable.from_frame(pn.keys), pn.labels, pn.values, freq))
    else:
        vals = flows["value_usd"].to_numpy(dtype=float)
        panels = (coded_panels(flows, r, SERIES_KEYS, {"value_usd": vals[r]}, freq)["value_usd"]
                  for freq, r in by_freq.items())
    tested = 0
    for panel in panels:
        freq = panel.freq
        test = period_mask(panel.labels, periods)
        tested += int(len(panel.keys)) * int(test.sum())
        # growth statistics only where a test reads them: the periods under test, and the neighbours a level
        # shift's local maximum compares
        need = test.copy()
        if "level_shift" in params.signals:
            k = params.level_window[freq]
            need = widen(test, before=k, after=k)
        st = _SeriesState(panel, params, cols=need)
        what = _What(panel.keys, params.classification)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if "own_history" in params.signals:
                out.append(_own_history(st, params, test, what))
            if "level_shift" in params.signals:
                out.append(_level_shift(st, params, test, what))
            if "peer" in params.signals:
                out.append(_peer(st, params, test, what))
        del st, panel
    findings = finish(out, CHECK)
    findings["n_tested"] = float(tested)  # series x periods under test
    return CheckResult(check=CHECK, findings=findings, ledgers=[led])
