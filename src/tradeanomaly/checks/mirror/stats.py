"""The mirror check's statistics across pairs, as a reduce step (so the Dask engine can run it pair by pair).

Every statistic of the check that reads more than one unordered pair is computed here from small records that
each partition of pairs sends (:func:`part_stats`), combined on the driver (:func:`combine_stats`) and given
back to every partition as a :class:`MirrorStats` (group tables keyed by labels, not rows):

* reliability of every reporter (:mod:`..reliability`): exporter and importer effects fitted to the absolute
  log gaps of all pairs (the periods not under test), and each country's share of estimated rows;
* the size bands that floor the scale of the own-history z: the sizes where each band begins and its spread,
  per frequency and product level;
* the peers of ``mirror.peer_z``: median, count and MAD of the log gaps of each exporter's partners in a period,
  per product level;
* the exporter's paired exports per period and product level (the base of ``min_usd_share``), summed in the
  order of the whole table;
* the unit values (:mod:`..unit_value`): the median, count and MAD of the mirror ratio per product, period and
  unit; the adjusted-boxplot fences of each exporter's unit values across its partners; the median move of an
  exporter's prices of a product to its partners (the own-history signal's price index);
* whether any pair carries quantities, and whether any row lies outside the periods under test.

Medians and the medcouple do not decompose into partial sums, so the records are the values themselves, not the
flows (:func:`records`): per paired row its codes (small integers), product level, log gap, pair size, deviation
from its own norm and whether it is under test (then its exports); per pair with comparable quantities its codes,
mirror ratio, export unit value and two price moves. On the embedded sample they take 20 MB against the flows'
81 MB; what is broadcast back is 6 MB. The driver computes each statistic once over all of them, with the code
the whole-table run uses, so the result is the same bit for bit.
The counts of tests behind each finding (``n_tested``) are summed from the partitions' own counts when their
results are combined (:func:`tradeanomaly.checks.mirror.check.combine_results`).

One table's run (the pandas engine, or :func:`tradeanomaly.checks.mirror.run` called directly) goes through the
same records, so both engines share every line of this code.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .params import MirrorParams

#: the peer and total keys give the product level this many values
_LEVELS = 64


def _vocab(labels_list: list) -> np.ndarray:
    """Sorted union of label arrays (the order of the whole table's codes)."""
    return np.array(sorted(set().union(*[set(np.asarray(a, dtype=object).tolist()) for a in labels_list])),
                    dtype=object)


def _indexer(local: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """Code in ``vocab`` of each local label (an array to gather local codes through)."""
    if not len(local):
        return np.zeros(0, dtype=np.int64)
    return pd.Index(vocab, dtype=object).get_indexer(pd.Index(np.asarray(local, dtype=object), dtype=object)) \
        .astype(np.int64)


def _radix(*cols) -> np.ndarray:
    """One int64 key of ``(codes, size)`` columns."""
    key = np.zeros(len(cols[0][0]), dtype=np.int64)
    for c, size in cols:
        key *= int(size)
        key += np.asarray(c, dtype=np.int64)
    return key


class _Table:
    """Group statistics keyed by a sorted int64 key, looked up row by row."""

    def __init__(self, keys: np.ndarray, **columns: np.ndarray):
        order = np.argsort(keys, kind="stable")
        self.keys = np.asarray(keys)[order]
        self.columns = {k: np.asarray(v)[order] for k, v in columns.items()}

    def get(self, query: np.ndarray, name: str, missing):
        return self.take(query, {name: missing})[name]

    def take(self, query: np.ndarray, wanted: dict) -> dict:
        """Each wanted column at the rows' keys (one search for all), ``missing`` where a key is absent."""
        out = {}
        if len(self.keys) and len(query):
            idx = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
            hit = self.keys[idx] == query
            idx = idx[hit]
        for name, missing in wanted.items():
            col = self.columns[name]
            a = np.full(len(query), missing, dtype=np.result_type(col.dtype, type(missing)))
            if len(self.keys) and len(query):
                a[hit] = col[idx]
            out[name] = a
        return out


@dataclass
class MirrorStats:
    """The run's statistics across pairs (see the module docstring), with the labels their codes point to."""

    countries: np.ndarray
    hs: np.ndarray
    periods: np.ndarray
    units: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    size: dict = field(default_factory=dict)
    peer: _Table | None = None
    total_x: _Table | None = None
    reliability: pd.DataFrame | None = None
    quantities: bool = False
    ratio: _Table | None = None
    fences: _Table | None = None
    shift: dict = field(default_factory=dict)
    tau_labels: list = field(default_factory=list)

    # -- lookups by the local codes of one partition ----------------------------------------------------------
    def _maps(self, pairing):
        """Codes in the run's labels of the pairing's period, country and product codes (small arrays; not
        cached on this object, which the tasks of one worker share)."""
        return (_indexer(pairing.period_labels, self.periods), _indexer(pairing.countries, self.countries),
                _indexer(pairing.hs, self.hs))

    def peer_key(self, pairing, p, e, level) -> np.ndarray:
        mp, mc, _ = self._maps(pairing)
        return _radix((mp[p], len(self.periods)), (mc[e], len(self.countries)), (level, _LEVELS))

    def size_noise(self, group: np.ndarray, size: np.ndarray) -> np.ndarray:
        from .gaps import band_spread

        return band_spread(group, size, self.size)

    def peers(self, pairing, p, e, level):
        """Median, count and MAD of the log gaps of each row's peers (its exporter's partners, same period and
        product level)."""
        got = self.peer.take(self.peer_key(pairing, p, e, level), {"median": np.nan, "count": 0, "mad": np.nan})
        return got["median"], got["count"].astype(np.int64), got["mad"]

    def total_exports(self, pairing, p, e, level) -> np.ndarray:
        """The exporter's paired exports in the row's period (under test), same product level."""
        return self.total_x.get(self.peer_key(pairing, p, e, level), "sum", np.nan)

    def uv_keys(self, pairing, t: pd.DataFrame, prep: dict):
        """Keys of the unit values' groups for the rows of ``prep``: mirror ratio (period, product, unit), fences
        (the same and the exporter), price move (period, exporter, product, unit)."""
        mp, mc, mh = self._maps(pairing)
        mu = _indexer(prep["units"], self.units)
        p, e, h, u = mp[prep["p"]], mc[prep["e"]], mh[prep["h"]], mu[prep["unit_code"]]
        npd, nc, nh, nu = (max(len(v), 1) for v in (self.periods, self.countries, self.hs, self.units))
        return (_radix((p, npd), (h, nh), (u, nu)), _radix((p, npd), (h, nh), (u, nu), (e, nc)),
                _radix((p, npd), (e, nc), (h, nh), (u, nu)))


# ---------------------------------------------------------------------------------------------------------------
# one partition's records
# ---------------------------------------------------------------------------------------------------------------

@dataclass
class Local:
    """A partition's work that reads its own pairs only: pairing, the pair measures and the unit values' inputs."""

    pairing: object
    pairs: pd.DataFrame
    own: dict | None
    uv: dict | None


def prepare(flows: pd.DataFrame, params: MirrorParams, quantities: bool | None = None) -> Local:
    from .. import unit_value
    from .gaps import pair_measures
    from .pairing import pair_flows

    pairing = pair_flows(flows, params, quantities=quantities)
    pr, own = pair_measures(pairing, params)
    return Local(pairing=pairing, pairs=pr, own=own, uv=unit_value.prepare(pr, params, pairing.period_labels))


#: the last partition whose records were taken (:func:`part_stats`), kept for its run until the frame is gone
_LAST: list = []
_LOCK = threading.Lock()


def cached_prepare(flows: pd.DataFrame, params: MirrorParams) -> Local:
    """:func:`prepare` of ``flows``, taken from the records step when it just read the same frame (the pandas
    engine's reduce and run read one table: it is paired once)."""
    with _LOCK:
        entry = _LAST.pop() if _LAST else None
    if entry is not None:
        ref, p, local = entry
        if ref() is flows and p == params:
            return local
    return prepare(flows, params)


def _remember(flows: pd.DataFrame, params: MirrorParams, local: Local) -> None:
    def forget(ref):
        with _LOCK:
            _LAST[:] = [e for e in _LAST if e[0] is not ref]

    try:
        entry = (weakref.ref(flows, forget), params, local)
    except TypeError:  # pragma: no cover - a frame that takes no weak reference is paired again
        return
    with _LOCK:
        _LAST[:] = [entry]


def test_mask(p_codes: np.ndarray, labels: np.ndarray, periods: list[str] | None) -> np.ndarray:
    if periods is None:
        return np.ones(len(p_codes), dtype=bool)
    wanted = np.isin(np.asarray(labels, dtype=object).astype(str), [str(p) for p in periods])
    return wanted[p_codes] if len(labels) else np.zeros(len(p_codes), dtype=bool)


def part_stats(flows: pd.DataFrame, params: MirrorParams, periods: list[str] | None, *,
               keep: bool = True) -> dict:
    """The records of one partition (see the module docstring); its pairing is kept for its run."""
    local = prepare(flows, params)
    if keep:
        _remember(flows, params, local)
    return records(local, params, periods)


def _small(codes: np.ndarray, n: int) -> np.ndarray:
    """Codes into ``n`` labels in the smallest integer type that holds them (the records travel to the driver)."""
    return np.asarray(codes).astype(np.int16 if n < 2**15 else np.int32)


def records(local: Local, params: MirrorParams, periods: list[str] | None) -> dict:
    """What one partition sends to the driver: its labels, counts and flags, and per paired row its codes, log gap,
    pair size and deviation from its own norm, whether it is under test (and then its exports); per pair with
    comparable quantities its unit code, mirror ratio, export unit value and price moves (see
    :func:`_expand`)."""
    pairing, pr, own = local.pairing, local.pairs, local.own
    p, e, i, h = (pr[c].to_numpy() for c in ("p", "e", "i", "h"))
    test = test_mask(p, pairing.period_labels, periods)
    npd, nc, nh = len(pairing.period_labels), len(pairing.countries), len(pairing.hs)
    out = {"params": params, "countries": pairing.countries, "hs": pairing.hs, "periods": pairing.period_labels,
           "country_rows": pairing.country_rows, "country_estimated": pairing.country_estimated,
           "unknown_rows": pairing.unknown_rows, "unknown_estimated": pairing.unknown_estimated,
           "quantities": "qx" in pr.columns, "n_not_test": int((~test).sum()),
           "pairs": {"p": _small(p, npd), "e": _small(e, nc), "i": _small(i, nc), "h": _small(h, nh),
                     "level": own["level"].astype(np.int8), "log_gap": pr["log_gap"].to_numpy(),
                     "size": own["size"], "abs_dev": np.abs(own["deviation"]), "test": test,
                     "x_test": pr["x_usd"].to_numpy()[test]}}
    if local.uv is not None:
        out.update(_uv_records(local.uv, npd, nc, nh))
    return out


def _uv_records(uv: dict, npd: int, nc: int, nh: int) -> dict:
    c = uv["c"]
    return {"units": uv["units"], "uv": {
        "p": _small(uv["p"][c], npd), "e": _small(uv["e"][c], nc), "h": _small(uv["h"][c], nh),
        "u": _small(uv["unit_code"][c], len(uv["units"])), "ratio": uv["ratio"][c], "uv_x": uv["uv_x"][c],
        "d_uv_x": uv["d"]["uv_x"][c], "d_uv_m": uv["d"]["uv_m"][c]}}


def _expand(q: dict, any_base: bool) -> dict:
    """The records of :func:`records` as the statistics read them (local codes): ``rel`` (exporter, importer,
    absolute log gap of the periods not under test, or of all periods when no row of the run is outside them),
    ``size`` (group, size, absolute deviation), ``peer`` (period, exporter, level, log gap), ``total`` (the rows
    under test: period, exporter, importer, product, level, exports), ``ratio``, ``box`` and ``shift`` (the
    comparable rows; a price move's rows where it is finite; the unit values' price moves never leave them)."""
    from ..pair_history import _period_axes

    out = {k: v for k, v in q.items() if k not in ("pairs", "uv")}
    if "pairs" in q:
        r = q["pairs"]
        p, e, i, h, level = (r[k].astype(np.int64) for k in ("p", "e", "i", "h", "level"))
        lg, test = r["log_gap"], r["test"]
        base = ~test if any_base else np.ones(len(lg), dtype=bool)
        out["rel"] = (e[base], i[base], np.abs(lg[base]))
        freq = _period_axes(q["periods"])[1] // 16 if len(q["periods"]) else np.zeros(0, dtype=np.int64)
        ok = np.isfinite(r["size"]) & np.isfinite(r["abs_dev"])
        out["size"] = ((freq[p] * 16 + level)[ok], r["size"][ok], r["abs_dev"][ok])
        out["peer"] = (p, e, level, lg)
        out["total"] = (p[test], e[test], i[test], h[test], level[test], r["x_test"])
    if "uv" in q:
        r = q["uv"]
        p, e, h, u = (r[k].astype(np.int64) for k in ("p", "e", "h", "u"))
        out["ratio"] = (p, h, u, r["ratio"])
        out["box"] = (p, h, u, e, r["uv_x"])
        out["shift"] = {}
        for k in ("uv_x", "uv_m"):
            d = r["d_" + k]
            fin = np.isfinite(d)
            out["shift"][k] = (p[fin], e[fin], h[fin], u[fin], d[fin])
    return out


# ---------------------------------------------------------------------------------------------------------------
# the driver: records of every partition -> the run's statistics
# ---------------------------------------------------------------------------------------------------------------

def combine_stats(parts: list[dict]) -> MirrorStats:
    from ..reliability import reliability_table
    from .gaps import resolve_tau, size_bands
    from .pairing import Pairing

    parts = [q for q in parts if q is not None]
    any_base = any(q.get("n_not_test", 0) for q in parts)
    parts = [_expand(q, any_base) for q in parts]
    params: MirrorParams = parts[0]["params"]
    countries = _vocab([q["countries"] for q in parts])
    hs = _vocab([q["hs"] for q in parts])
    periods = _vocab([q["periods"] for q in parts])
    units = _vocab([q.get("units", []) for q in parts])
    nc, nh, npd, nu = len(countries), max(len(hs), 1), max(len(periods), 1), max(len(units), 1)
    maps = [(_indexer(q["periods"], periods), _indexer(q["countries"], countries), _indexer(q["hs"], hs),
             _indexer(q.get("units", []), units)) for q in parts]

    def cat(name, fn):
        got = [fn(m, q[name]) for m, q in zip(maps, parts) if name in q]
        if not got:
            return None
        return [np.concatenate([g[k] for g in got]) for k in range(len(got[0]))]

    stats = MirrorStats(countries=countries, hs=hs, periods=periods, units=units,
                        quantities=any(q.get("quantities", False) for q in parts))
    if "ratio" in parts[0] and "rel" not in parts[0]:  # the unit values' statistics only
        _uv_stats(stats, parts, maps, cat, params)
        return stats

    # reliability, and each country's share of estimated rows (a row without a reporter counts for the first
    # country, as in one table's pairing)
    rows = np.zeros(nc, dtype=np.int64)
    est = np.zeros(nc, dtype=np.int64)
    for (mp, mc, mh, mu), q in zip(maps, parts):
        np.add.at(rows, mc, q["country_rows"])
        np.add.at(est, mc, q["country_estimated"])
    if nc:
        rows[0] += sum(q["unknown_rows"] for q in parts)
        est[0] += sum(q["unknown_estimated"] for q in parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows > 0, est / np.maximum(rows, 1), np.nan)
    rel = [(mc[q["rel"][0]], mc[q["rel"][1]], q["rel"][2]) for (mp, mc, mh, mu), q in zip(maps, parts)]
    re_, ri, ra = (np.concatenate([r[k] for r in rel]) for k in range(3)) if rel else \
        (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    stats.reliability = reliability_table(countries, re_, ri, ra, share)

    # size bands
    g, s, a = cat("size", lambda m, r: r)
    stats.size = size_bands(g, s, a, params.size_bands)

    # peers: median, count, MAD of the log gaps per exporter, period and product level
    pp, pe, pl, plg = cat("peer", lambda m, r: (m[0][r[0]], m[1][r[1]], r[2], r[3]))
    key = _radix((pp, npd), (pe, nc), (pl, _LEVELS))
    stats.peer = _median_table(key, plg)

    # the exporter's paired exports of the periods under test, summed in the whole table's row order
    tp, te, ti, th, tl, tx = cat("total", lambda m, r: (m[0][r[0]], m[1][r[1]], m[1][r[2]], m[2][r[3]], r[4],
                                                        r[5]))
    order = np.lexsort((th, ti, te, tp))
    tkey = _radix((tp, npd), (te, nc), (tl, _LEVELS))[order]
    sums = pd.Series(tx[order]).groupby(tkey).sum()
    stats.total_x = _Table(sums.index.to_numpy(), sum=sums.to_numpy())

    if any("ratio" in q for q in parts):
        _uv_stats(stats, parts, maps, cat, params)

    # the labels of the tau sources, as one table's pairing would list them
    empty = pd.DataFrame({"e": np.zeros(0, np.int64), "i": np.zeros(0, np.int64), "h": np.zeros(0, np.int64)})
    stats.tau_labels = resolve_tau(Pairing(pairs=empty, one_sided=empty, ledger=None, countries=countries, hs=hs,
                                           period_labels=periods, estimated_share=share), params)[2]
    return stats


def _uv_stats(stats: MirrorStats, parts: list[dict], maps: list, cat, params: MirrorParams) -> None:
    """The unit values' statistics (mirror ratio, fences, price moves) into ``stats``."""
    from .. import unit_value

    npd, nc, nh, nu = (max(len(v), 1) for v in (stats.periods, stats.countries, stats.hs, stats.units))
    rp, rh, ru, rr = cat("ratio", lambda m, r: (m[0][r[0]], m[2][r[1]], m[3][r[2]], r[3]))
    stats.ratio = _median_table(_radix((rp, npd), (rh, nh), (ru, nu)), rr)
    bp, bh, bu, be, bv = cat("box", lambda m, r: (m[0][r[0]], m[2][r[1]], m[3][r[2]], m[1][r[3]], r[4]))
    bkey = _radix((bp, npd), (bh, nh), (bu, nu), (be, nc))
    f = unit_value.adjusted_fences(bv, bkey, params.uv_whisker, params.uv_max_group, params.uv_min_flows,
                                   iqr_floor=2 * 0.6745 * params.mad_floor)
    stats.fences = _Table(f.index.to_numpy(), **{c: f[c].to_numpy() for c in f.columns})
    for k in ("uv_x", "uv_m"):
        got = [(m[0][q["shift"][k][0]], m[1][q["shift"][k][1]], m[2][q["shift"][k][2]],
                m[3][q["shift"][k][3]], q["shift"][k][4]) for m, q in zip(maps, parts) if "shift" in q]
        sp, se, sh, su, sd = (np.concatenate([x[j] for x in got]) for j in range(5))
        skey = _radix((sp, npd), (se, nc), (sh, nh), (su, nu))
        grp = pd.Series(sd).groupby(skey)
        med, cnt = grp.median(), grp.count()
        stats.shift[k] = _Table(med.index.to_numpy(), median=med.to_numpy(),
                                count=cnt.reindex(med.index).to_numpy())



def _median_table(key: np.ndarray, values: np.ndarray) -> _Table:
    """Per key: median, count (finite values) and MAD (median absolute deviation from that median), as a group
    ``transform`` over the rows would give them."""
    if not len(key):
        return _Table(np.zeros(0, np.int64), median=np.zeros(0), count=np.zeros(0, np.int64), mad=np.zeros(0))
    codes, uniq = pd.factorize(key, sort=True)
    g = pd.Series(values).groupby(codes)
    med = g.median().to_numpy()
    cnt = g.count().to_numpy()
    mad = pd.Series(np.abs(values - med[codes])).groupby(codes).median().to_numpy()
    return _Table(np.asarray(uniq), median=med, count=cnt, mad=mad)


def local_uv_stats(pairing, table: pd.DataFrame, prep: dict, params: MirrorParams) -> MirrorStats:
    """The unit values' statistics from one pair table alone (``unit_value.run_pairs`` called alone)."""
    part = {"params": params, "countries": pairing.countries, "hs": pairing.hs, "periods": pairing.period_labels}
    part.update(_uv_records(prep, len(pairing.period_labels), len(pairing.countries), len(pairing.hs)))
    return combine_stats([part])


def local_gap_stats(pairing, pr: pd.DataFrame, own: dict, params: MirrorParams) -> MirrorStats:
    """The statistics of :func:`combine_stats` from one pairing's pairs (``gap_measures`` called alone)."""
    local = Local(pairing=pairing, pairs=pr, own=own, uv=None)
    return combine_stats([records(local, params, None)])
