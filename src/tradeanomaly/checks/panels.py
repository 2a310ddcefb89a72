"""Series panels shared by the signature checks (``series``, ``invoice_export``, ``entrepot``, ``rush``).

A panel lays every monthly, quarterly or annual series of the flows table (a pair, a province, a pair x product)
out as a row of a (series x period) matrix, so that the checks' arithmetic is column slicing on numpy arrays. This
module holds the rows a check may use, the integer codes of key columns, the panels themselves and the periods a
test reads.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import periods as P
from ..schema import MAX_EXAMPLES, Ledger

SEASON = {"M": 12, "Q": 4, "A": 1}
AGGREGATE_PARTNERS = ("WLD", "NES")


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
                 how: str = "sum", span: tuple[int, int, str] | None = None) -> dict[str, Panel]:
    """:func:`build_panels` of the rows ``rows`` of ``flows`` (one frequency, every row with a period), with the
    series' keys as a :class:`KeyTable`. ``values`` maps each panel name to its values over ``rows``. ``span``:
    the periods' axis ``(first ordinal, last ordinal, first label)`` when it must be wider than these rows' (that of
    the whole table, for some reporters' rows)."""
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
    return _fill_panels(row, ordv, first_label, table, len(first), values, freq, how, span)


def combine_spans(spans: list) -> tuple[int, int, str] | None:
    """The axis ``(first ordinal, last ordinal, first label)`` covering every span given (``None`` entries
    ignored): the whole table's from those of its parts."""
    spans = [s for s in spans if s is not None]
    if not spans:
        return None
    first = min(spans, key=lambda s: s[0])
    return first[0], max(s[1] for s in spans), first[2]


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
                 how: str, span: tuple[int, int, str] | None = None) -> dict[str, Panel]:
    """The (series x period) matrices of ``values`` (one array per value column, over the same rows as ``row``, the
    series number, and ``ordv``, the period ordinal); ``first`` is the label of the first period. ``span``: a wider
    axis ``(first ordinal, last ordinal, first label)``."""
    o0, o1 = int(ordv.min()), int(ordv.max())
    if span is not None:
        o0, o1, first = min(o0, span[0]), max(o1, span[1]), (span[2] if span[0] <= o0 else first)
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
