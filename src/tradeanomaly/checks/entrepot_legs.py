"""The legs of the entrepôt check: the origin -> hub -> destination table read from the flows table.

For every origin, hub, destination and product (and the total), legs are read in US dollars at FOB: O->H from O's
exports (else H's imports), H->D and O->D from D's imports (else the exporter's report), as trailing annual sums
with the value ``lag`` periods earlier, at the periods the tests read. :mod:`.entrepot` scores them.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import pandas as pd

from .. import periods as P
from ..schema import MAX_EXAMPLES, Ledger
from .panels import AGGREGATE_PARTNERS, SEASON, expand_group, period_mask, split_frequencies, sum_by, within_reach
from .robust import lagged, robust_cross_z, rolling_sum


def mapped(s: pd.Series, mapping: dict) -> np.ndarray:
    """``s`` with each code replaced by ``mapping[code]`` where given (one lookup per distinct code)."""
    codes, uniq = pd.factorize(s)
    table = np.array([mapping.get(u, u) for u in uniq] + [None], dtype=object)
    out = table[codes]
    miss = codes < 0
    if miss.any():
        out[miss] = s.to_numpy(dtype=object)[miss]
    return out


def usable_mask(flows: pd.DataFrame, include_estimated: bool, stage: str) -> tuple[np.ndarray, Ledger]:
    """:func:`.panels.usable_flows` as a row mask: the same ledger (counts and example rows), without copying the
    flows table (the check reads a few of its columns, on integer codes)."""
    led = Ledger(stage=stage, rows_in=len(flows))
    n = len(flows)
    est = np.zeros(n, dtype=bool)
    if not include_estimated and "estimated" in flows:
        est = flows["estimated"].fillna(False).astype(bool).to_numpy()
    v = pd.to_numeric(flows["value_usd"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = ~est & (~np.isfinite(v) | (v < 0))
    for mask, reason in ((est, "estimated"), (bad, "no_value")):
        k = int(mask.sum())
        if k:  # as Ledger.set_aside: the count and the first rows set aside (one-row slices: no take of the
            # whole columns)
            first = np.flatnonzero(mask)[:MAX_EXAMPLES]
            led.add(reason, k, pd.concat([flows.iloc[i:i + 1] for i in first]))
    ok = ~(est | bad)
    led.keep(int(ok.sum()))
    led.check()
    return ok, led


def _factor(s: pd.Series, idx: np.ndarray | None) -> tuple[np.ndarray, list]:
    """Integer codes (-1 where missing) of ``s`` at rows ``idx`` (all rows when ``None``) and the distinct
    values as Python objects."""
    if idx is None:
        codes, uniq = pd.factorize(s)
    elif 2 * len(idx) >= len(s):  # most rows: code the whole column once, then take the codes
        codes, uniq = pd.factorize(s)
        codes = codes[idx]
    else:
        codes, uniq = pd.factorize(s.iloc[idx])
    return np.asarray(codes, dtype=np.int64), list(uniq)


def _equal(s: pd.Series, idx: np.ndarray, value: str) -> np.ndarray:
    """``(s == value)`` at rows ``idx``, from one comparison per distinct value."""
    codes, uniq = _factor(s, idx)
    table = np.array([u == value for u in uniq] + [False], dtype=bool)
    return table[codes]


def _group_sum(key: np.ndarray, v: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct ``key`` values (sorted) with the sums of ``v`` and ``q`` over their rows (pandas' grouped sum,
    compensated and in row order, NaN where a group has no finite figure: the sums of ``panels.sum_by``)."""
    if len(key) == 0:
        return key, v, q
    sums = pd.DataFrame({"v": v, "q": q}).groupby(key, sort=True).sum(min_count=1)
    return sums.index.to_numpy(dtype=np.int64), sums["v"].to_numpy(dtype=float), sums["q"].to_numpy(dtype=float)


def event_period(ev, freq: str) -> str:
    """The period label of tariff event ``ev`` (a date) at frequency ``freq``."""
    ev = str(ev)
    return ev[:4] if freq == "A" else (ev[:7] if freq == "M" else f"{ev[:4]}-Q{(int(ev[5:7]) + 2) // 3}")


def _ordinal(label: str) -> int:
    """:func:`tradeanomaly.periods.period_ordinal` of one label."""
    year, sub = int(label[:4]), label[5:]
    return year * 4 + int(sub[1]) - 1 if sub.startswith("Q") else (year * 12 + int(sub) - 1 if sub else year)


def _needed_positions(labels: list[str], params, freq: str, periods, every_event: bool = False) -> np.ndarray:
    """Period positions a test of ``periods`` reads from the triples table: those periods, and the period before
    each tariff event whose post-event period is under test (the share shift compares the two).

    ``every_event``: also the period before each event that has a period under test from the event to
    ``event_window`` periods after it, whether or not the event is on this axis (a part of the table, whose axis
    may end earlier than the whole table's, reads every position the whole table's test may read)."""
    test = period_mask(labels, periods)
    need = test.copy()
    pos = {lb: i for i, lb in enumerate(labels)}
    w = params.event_window[freq]
    if every_event and labels:
        o0 = _ordinal(labels[0])
        tested = np.array([_ordinal(str(p)) for p in periods if P.frequency(str(p)) == freq] if periods is not None
                          else [], dtype=np.int64)
    for ev in params.tariff_events:
        p_e = event_period(ev, freq)
        te = pos.get(p_e)
        if te is not None and te >= 1 and test[min(te + w, len(labels) - 1)]:
            need[te - 1] = True
        if every_event and labels:
            oe = _ordinal(p_e)
            t = oe - 1 - o0
            if 0 <= t < len(labels) and (periods is None or ((tested >= oe) & (tested <= oe + w)).any()):
                need[t] = True
    return need


def triples(flows: pd.DataFrame, rows: np.ndarray, label_of: np.ndarray, period_codes: np.ndarray,
             params, freq: str, periods=None, axis: list[str] | None = None, every_event: bool = False):
    """The origin -> hub -> destination table from the ``rows`` of ``flows`` (usable rows of one frequency within
    reach of the periods under test). ``period_codes`` numbers each row's period label and ``label_of`` names
    those numbers. Returns ``(table, labels)``: ``labels`` is the period axis (from the first to the last period of
    the rows, or ``axis`` when given: the whole table's axis for a part of it), ``None`` when the rows have no
    period; ``table`` is ``None`` when no triple can be formed. ``every_event``: see :func:`_needed_positions`.

    Each leg is read on integer codes: country and product codes are numbered in the sort order of their labels
    (so every sort below is the sort of the labels), the exporters' and importers' reports are summed per period,
    reporter, partner (destination group) and product with pandas' grouped sum in row order, and labels are put
    back only on the triples."""
    dest_map = expand_group(params.destinations)
    dests = sorted(set(dest_map.values()))
    origins = set(expand_group(params.origins))
    hub_ok = set(expand_group(params.hubs)) if params.hubs is not None else None
    excluded = origins | set(dest_map) | set(dests)
    lag = params.lag[freq]

    rows = np.flatnonzero(rows & (period_codes >= 0))
    # countries: one numbering of reporters, partners and destination groups, in label order
    rc, ru = _factor(flows["reporter"], rows)
    ptc, pu = _factor(flows["partner"], rows)
    names = sorted({str(u) for u in ru} | {str(u) for u in pu} | set(dests))
    num = {c: i for i, c in enumerate(names)}
    nv = len(names)
    # per distinct reporter / partner (index 0: missing), their country number (-1: missing)
    r_num = np.array([-1] + [num[str(u)] for u in ru], dtype=np.int64)
    p_num = np.array([-1] + [num[str(u)] for u in pu], dtype=np.int64)
    to_dest = np.arange(nv + 1, dtype=np.int64)  # a destination group's members read as the group
    to_dest[nv] = -1  # (index -1: missing)
    for m, g in dest_map.items():
        if m in num:
            to_dest[num[m]] = num[g]

    def member(codes: set | None) -> np.ndarray:  # indexed by country number; -1 (missing) is never a member
        out = np.zeros(nv + 1, dtype=bool)
        for c in codes or ():
            if c in num:
                out[num[c]] = True
        return out

    is_o, is_x, is_d = member(origins), member(excluded), member(set(dests))
    is_agg = member(set(AGGREGATE_PARTNERS))
    # exporters' reports (a = reporter -> b = partner) and importers' (a = partner -> b = reporter), national
    # figures only. A row is read only where its pair can enter a leg (out of an origin, or from a non-excluded
    # economy into a destination), decided once per reporter-partner pair; whole groups of the sums are kept.
    r_, p_ = r_num[:, None], p_num[None, :]
    valid = (r_ >= 0) & (p_ >= 0) & ~is_agg[p_]
    want_x_pair = (valid & (is_o[r_] | (is_d[to_dest[p_]] & ~is_x[r_]))).ravel()
    want_m_pair = (valid & (is_o[p_] | (is_d[to_dest[r_]] & ~is_x[p_]))).ravel()
    pair = (rc + 1) * len(p_num) + (ptc + 1)
    keep = np.flatnonzero((want_x_pair | want_m_pair)[pair])
    pair, cand = pair[keep], rows[keep]
    r_v, p_v = r_num[pair // len(p_num)], p_num[pair % len(p_num)]
    xa, xb = r_v, to_dest[p_v]
    ma, mb = p_v, to_dest[r_v]
    nat = _equal(flows["region"], cand, "")
    flow_c, flow_u = _factor(flows["flow"], cand)
    flow_t = np.array([str(u) for u in flow_u] + [""], dtype=object)[flow_c]
    is_xr = nat & want_x_pair[pair] & (flow_t == "X")
    is_mr = nat & want_m_pair[pair] & (flow_t == "M")
    is_rr = nat & want_x_pair[pair] & (flow_t == "RX")
    hc, hu = _factor(flows["hs"], cand)
    hs_names = sorted({str(u) for u in hu})
    hnum = {c: i for i, c in enumerate(hs_names)}
    nh = max(len(hs_names), 1)
    h_v = np.array([hnum[str(u)] for u in hu] + [-1], dtype=np.int64)[hc]
    is_xr &= h_v >= 0
    is_mr &= h_v >= 0
    is_rr &= h_v >= 0

    # one common period axis for all legs: every label present within reach
    present = np.flatnonzero(np.bincount(period_codes[rows], minlength=len(label_of)))
    if not len(present):
        return None, None
    uniq = pd.Series([str(label_of[c]) for c in present], dtype="str")
    ordv = P.period_ordinal(uniq)
    first, last = uniq.iloc[int(np.argmin(ordv))], uniq.iloc[int(np.argmax(ordv))]
    labels = P.period_range(first, last) if axis is None else list(axis)
    pos = {lb: i for i, lb in enumerate(labels)}
    t_of = np.full(len(label_of) + 1, -1, dtype=np.int64)
    for c in present:
        t_of[c] = pos[str(label_of[c])]
    t_v = t_of[period_codes[cand]]
    span = nv * nv * nh  # key = t * span + series; series = (a * nv + b) * nh + hs, in label order

    values = flows["value_usd"]
    quantity = flows["quantity"]
    xs = cand[is_xr]
    ex_key = t_v[is_xr] * span + (xa[is_xr] * nv + xb[is_xr]) * nh + h_v[is_xr]
    ex = _group_sum(ex_key, values.to_numpy(dtype=float)[xs], quantity.to_numpy(dtype=float)[xs])
    ms = cand[is_mr]
    fob = np.where(_equal(flows["valuation"], ms, "FOB"), 1.0, 1.0 / (1.0 + params.cif_margin))
    im_key = t_v[is_mr] * span + (ma[is_mr] * nv + mb[is_mr]) * nh + h_v[is_mr]
    im = _group_sum(im_key, values.to_numpy(dtype=float)[ms] * fob, quantity.to_numpy(dtype=float)[ms])
    rs = cand[is_rr]
    rx_key = t_v[is_rr] * span + (xa[is_rr] * nv + xb[is_rr]) * nh + h_v[is_rr]
    rx = _group_sum(rx_key, values.to_numpy(dtype=float)[rs], quantity.to_numpy(dtype=float)[rs])

    def ends(key):
        s = key % span
        return s // (nv * nh), (s // nh) % nv

    def pick(leg, a_in=None, b_in=None, a_not=None, b_not=None):
        a, b = ends(leg[0])
        m = np.ones(len(a), dtype=bool)
        if a_in is not None:
            m &= a_in[a]
        if b_in is not None:
            m &= b_in[b]
        if a_not is not None:
            m &= ~a_not[a]
        if b_not is not None:
            m &= ~b_not[b]
        return tuple(x[m] for x in leg)

    def prefer(first, second):
        """One figure per leg: ``first`` where it has the key, else ``second``."""
        k1, k2 = first[0], second[0]
        has = np.zeros(len(k2), dtype=bool)
        if len(k1) and len(k2):
            at = np.minimum(np.searchsorted(k1, k2), len(k1) - 1)
            has = k1[at] == k2
        return tuple(np.concatenate([x1, x2[~has]]) for x1, x2 in zip(first, second))

    oh_leg = prefer(pick(ex, a_in=is_o, b_not=is_x), pick(im, a_in=is_o, b_not=is_x))
    hd_leg = prefer(pick(im, a_not=is_x, b_in=is_d), pick(ex, a_not=is_x, b_in=is_d))
    od_leg = prefer(pick(im, a_in=is_o, b_in=is_d), pick(ex, a_in=is_o, b_in=is_d))
    hx_leg = pick(ex, a_not=is_x, b_in=is_d)  # the hub's own report of its exports to D
    hm_leg = pick(im, a_in=is_o, b_not=is_x)  # the hub's own report of its imports from O
    hr_leg = pick(rx, a_not=is_x, b_in=is_d)  # the hub's published re-exports to D
    if hub_ok is not None:
        ok_hub = member(hub_ok)
        oh_leg = pick(oh_leg, b_in=ok_hub)
        hd_leg = pick(hd_leg, a_in=ok_hub)
    if len(oh_leg[0]) == 0 or len(hd_leg[0]) == 0:
        return None, labels
    # triples only at the positions the tests read: the joins below are the heavy part
    need = _needed_positions(labels, params, freq, periods, every_event)
    cols_need = np.flatnonzero(need)
    k = SEASON[freq]

    def long(leg, name, ka, kb):
        """Trailing annual sums of a leg with the value ``lag`` periods earlier, at the needed positions, one
        row per series (in label order) and position."""
        key, v, q = leg
        series, row = np.unique(key % span, return_inverse=True)
        t = key // span
        shape = (len(series), len(labels))
        pv = np.full(shape, np.nan)
        pq = np.full(shape, np.nan)
        pv[row, t] = v
        pq[row, t] = q
        v = rolling_sum(pv, k)
        q = rolling_sum(pq, k)
        v0 = lagged(v, lag)
        q0 = lagged(q, lag)
        r, j = np.nonzero(np.isfinite(v[:, cols_need]))
        c = cols_need[j]
        s = series[r]
        return pd.DataFrame({ka: s // (nv * nh), kb: (s // nh) % nv, "hs": s % nh, "t": c, name: v[r, c],
                             name + "0": v0[r, c], "q" + name: q[r, c], "q" + name + "0": q0[r, c]})

    oh = long(oh_leg, "oh", "o", "h")
    hd = long(hd_leg, "hd", "h", "d")
    od = long(od_leg, "od", "o", "d")
    hx = long(hx_leg, "hx", "h", "d")
    hm = long(hm_leg, "hm", "o", "h")
    hr = long(hr_leg, "hr", "h", "d") if len(hr_leg[0]) else None
    tr = oh.merge(hd, on=["h", "hs", "t"], how="inner")
    tr = tr.merge(od, on=["o", "d", "hs", "t"], how="left")
    tr = tr.merge(hx, on=["h", "d", "hs", "t"], how="left")
    tr = tr.merge(hm, on=["o", "h", "hs", "t"], how="left")
    if hr is not None:
        tr = tr.merge(hr[["h", "d", "hs", "t", "hr", "hr0"]], on=["h", "d", "hs", "t"], how="left")
    else:
        tr["hr"], tr["hr0"] = np.nan, np.nan
    tr = tr.loc[tr["o"] != tr["h"]].reset_index(drop=True)
    codes = pd.Index(names)
    hs_codes = pd.Index(hs_names)
    # integer groups of the cross-sectional z (destination and product level; with the period)
    d_num = tr["d"].to_numpy()
    for c in ("o", "h", "d"):
        tr[c] = codes[tr[c].to_numpy()]
    tr["hs"] = hs_codes[tr["hs"].to_numpy()]
    tr["level"] = np.where(tr["hs"] == "TOTAL", "TOTAL", "HS" + tr["hs"].str.len().astype(str))
    tr["period"] = [labels[t] for t in tr["t"].to_numpy()]
    lv, lv_u = pd.factorize(tr["level"])
    tr["zg_dl"] = d_num * max(len(lv_u), 1) + lv
    tr["zg"] = tr["t"].to_numpy() * (nv * max(len(lv_u), 1)) + tr["zg_dl"].to_numpy()
    for c in ("oh", "oh0", "hd", "hd0", "od", "od0", "hx", "hx0", "hm", "hm0", "hr", "hr0",
              "qoh", "qoh0", "qhd", "qhd0", "qod", "qod0", "qhx", "qhx0", "qhm", "qhm0"):
        if c in tr:
            tr[c] = pd.to_numeric(tr[c], errors="coerce").astype("float64")
    for c in ("od", "od0"):
        tr[c] = tr[c].fillna(0.0)
    return tr, labels


# --------------------------------------------------------------------------------------------------------------
# the reduce step's pieces (see :func:`.entrepot.part_stats`)
# --------------------------------------------------------------------------------------------------------------

def zg_keys(tr, rows: np.ndarray) -> list:
    """Labels of the ``zg`` groups (period, destination, product level) of the triples at ``rows``."""
    return [tr[c].to_numpy()[rows] for c in ("period", "d", "level")]


def z_table(frames: list, keys: list[str], floor: float):
    """Median and robust scale of each group of the records (:func:`.robust.robust_cross_z` over all of them):
    ``(labels of each key column, median, scale)`` with the group of labels ``(i, j, ...)`` at the flat position
    ``(i * n_j + j) * ...``; ``None`` without records."""
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    rec = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    codes = np.zeros(len(rec), dtype=np.int64)
    index = []
    for c in keys:
        k, u = pd.factorize(rec[c].to_numpy(dtype=object))
        codes = codes * len(u) + k
        index.append(pd.Index(u, dtype=object))
    _, med, scale = robust_cross_z(rec["x"].to_numpy(dtype=float), codes, floor)
    size = int(np.prod([len(u) for u in index]))
    med_of, scale_of = np.full(size, np.nan), np.full(size, np.nan)
    med_of[codes], scale_of[codes] = med, scale
    return index, med_of, scale_of


def cross_z(table, keys: list, x: np.ndarray) -> np.ndarray:
    """Robust z of ``x`` against its group's median and scale in ``table`` (NaN where the group has none)."""
    z = np.full(len(x), np.nan)
    if table is None or not len(x):
        return z
    flat = np.zeros(len(x), dtype=np.int64)
    ok = np.ones(len(x), dtype=bool)
    for labels, col in zip(table[0], keys):
        k, u = pd.factorize(col)
        at = labels.get_indexer(pd.Index(u, dtype=object))
        k = np.append(at, -1)[k]
        ok &= k >= 0
        flat = flat * len(labels) + k
    z[ok] = (x[ok] - table[1][flat[ok]]) / table[2][flat[ok]]
    return z


def dl_keys(j, rows: np.ndarray) -> list:
    """Labels of the ``zg_dl`` groups (destination, product level) of the joined triples at ``rows``."""
    return [j[c].to_numpy()[rows] for c in ("d", "level")]


def event_positions(labels, params, freq, ev):
    """``(t_pre, t_post)``: the positions the share shift compares around tariff event ``ev`` (the period before
    it, and ``event_window`` periods after it capped at the end of the axis), or ``None``."""
    w = params.event_window[freq]
    pos = {lb: i for i, lb in enumerate(labels)}
    p_e = event_period(ev, freq)
    if p_e not in pos:
        return None
    te = pos[p_e]
    t_pre, t_post = te - 1, min(te + w, len(labels) - 1)
    if t_pre < 0 or t_post - te < max(1, w // 2):
        return None
    return t_pre, t_post


def hub_legs(df: pd.DataFrame, params, periods) -> pd.DataFrame | None:
    """The inputs of :func:`.entrepot._hub_scores`: D's imports at FOB summed per period, destination, product (at
    ``share_level``) and source (a hub, or ``~origin``); ``None`` without any."""
    dest_map = expand_group(params.destinations)
    origins = set(expand_group(params.origins))
    hubs = set(expand_group(params.hubs if params.hubs is not None else params.share_hubs)) - origins - set(dest_map)
    m = df.loc[((df["region"] == "") & (df["flow"] == "M") & (df["hs"] != "TOTAL")).to_numpy()
               & df["reporter"].isin(dest_map).to_numpy() & df["partner"].isin(origins | hubs).to_numpy()]
    if periods is not None:
        m = m.loc[m["period"].isin(list(periods)).to_numpy()]
    if m.empty:
        return None
    fob = np.where(m["valuation"].to_numpy() == "FOB", 1.0, 1.0 / (1.0 + params.cif_margin))
    hs = m["hs"].astype("str")
    level = params.share_level
    legs = pd.DataFrame({"period": m["period"], "d": mapped(m["reporter"], dest_map),
                         "src": np.where(m["partner"].isin(origins).to_numpy(), "~origin", m["partner"]),
                         "hs": hs.str.slice(0, level).where(hs.str.len() > level, hs),
                         "v": m["value_usd"].to_numpy(dtype=float) * fob})
    return sum_by(legs, ["period", "d", "hs", "src"], ["v"])


def prepare(flows: pd.DataFrame, params):
    """Usable rows (and their ledger), period codes and labels, and the frequencies of the usable periods."""
    usable, led = usable_mask(flows, params.include_estimated, "entrepot")
    # period labels numbered once; frequencies and reach decided on the distinct labels
    pcodes, puniq = pd.factorize(flows["period"].astype("str"))
    label_codes, label_of = pd.factorize(pd.Series(puniq, dtype="str"))  # (one label per distinct string)
    label_of = np.asarray(label_of, dtype=object)
    pcodes = np.where(pcodes >= 0, np.append(label_codes, -1)[pcodes], -1)
    seen = np.zeros(len(label_of), dtype=bool)
    seen[np.unique(pcodes[usable & (pcodes >= 0)])] = True
    present = pd.DataFrame({"period": pd.Series(label_of[seen], dtype="str")})
    return usable, led, pcodes, label_of, split_frequencies(present)


def legs_of(flows, prep, params, periods, freq, axis=None):
    """The triples table of one frequency (see :func:`.entrepot_legs.triples`)."""
    usable, _, pcodes, label_of, freqs = prep
    # a period under test reads the trailing annual sum ``lag`` periods back, and the share shift the period
    # before a tariff event up to ``event_window`` periods earlier (its post-event period is capped at the end of
    # the data, so the rows that far after the periods under test are kept too)
    reach = {freq: params.lag[freq] + SEASON[freq] + params.event_window[freq] + 1}
    near = within_reach(freqs[freq], periods, reach, {freq: params.event_window[freq]})
    in_reach = np.append(pd.Index(label_of).isin(near["period"]), False)
    return triples(flows, usable & in_reach[pcodes], label_of, pcodes, params, freq, periods, axis=axis,
                   every_event=True)


#: the last table whose reduce step was taken (``entrepot.part_stats``), kept for its run until the frame is gone
_LAST: list = []
_LOCK = threading.Lock()


def remember(flows, params, periods, work) -> None:
    def forget(ref):
        with _LOCK:
            _LAST[:] = [e for e in _LAST if e[0] is not ref]

    try:
        entry = (weakref.ref(flows, forget), params, periods, work)
    except TypeError:  # pragma: no cover - a frame that takes no weak reference is read again
        return
    with _LOCK:
        _LAST[:] = [entry]


def recall(flows, params, periods):
    with _LOCK:
        entry = _LAST.pop() if _LAST else None
    if entry is not None and entry[0]() is flows and entry[1] == params and entry[2] == periods:
        return entry[3]
    return None


def rerouted(tr: pd.DataFrame, freq: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rerouted amount per period, hub share now, hub share at the base) of each triple.

    Had nothing been rerouted, D's imports from O would have grown as D's imports from O and H together did;
    the shortfall of O -> D against that, bounded by the increases of both legs O -> H and H -> D, is the most the
    route can have carried in place of direct shipments. Legs are trailing annual sums, so the amount is divided by
    the periods in a year (per month for monthly data), which lets the amounts of an episode's periods add up."""
    oh, oh0, hd, hd0 = (tr[c].to_numpy() for c in ("oh", "oh0", "hd", "hd0"))
    od, od0 = tr["od"].to_numpy(), tr["od0"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = (od + hd) / (od0 + hd0)
        shortfall = np.maximum(od0 * growth - od, 0.0)
        s1 = hd / (hd + od)
        s0 = hd0 / (hd0 + od0)
    amt = np.minimum(np.minimum(np.maximum(oh - oh0, 0.0), np.maximum(hd - hd0, 0.0)), np.nan_to_num(shortfall))
    return amt / SEASON[freq], s1, s0


def pt_input(tr, params, freq):
    """The pass-through measure of each triple and where it is finite (robust z across its ``zg`` group)."""
    b = np.minimum(tr["oh"], tr["hd"]).to_numpy()
    b0 = np.minimum(tr["oh0"], tr["hd0"]).to_numpy()
    denom = (tr["od0"] + tr["hd0"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (b - b0) / denom
    return x, np.isfinite(x)


def co_input(tr, params, freq):
    """The comovement measure (the smaller of the legs' log growths) and the triples it is compared across."""
    with np.errstate(divide="ignore", invalid="ignore"):
        g_oh = np.log(tr["oh"] / tr["oh0"]).to_numpy()
        g_hd = np.log(tr["hd"] / tr["hd0"]).to_numpy()
        hub_share = (tr["hd"] / (tr["hd"] + tr["od"])).to_numpy()
    m = np.minimum(g_oh, g_hd)
    amt, s1, s0 = rerouted(tr, freq)
    return m, np.isfinite(m) & (hub_share >= params.min_hub_share) & (s1 > s0) & (amt > 0)


def ow_input(tr, params, freq):
    """The change of the hub's reported-exports gap (``log(H->D / H's own report)``) and the triples compared."""
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.log(tr["hd"] / tr["hx"]).to_numpy()
        w0 = np.log(tr["hd0"] / tr["hx0"]).to_numpy()
    dw = w - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        hub_share = (tr["hd"] / (tr["hd"] + tr["od"])).to_numpy()
    return dw, np.isfinite(dw) & (hub_share >= params.min_hub_share)


#: the cross-sectional measures of the triples: name -> (input, floor parameter)
MEASURES = {"pt": (pt_input, "share_floor"), "co": (co_input, "growth_floor"), "ow": (ow_input, "growth_floor")}


def measure_z(tr, params, freq, zs, name, memo=None):
    """``(measure, z)`` of every triple: z across the triples of the same period, destination and product level of
    the whole table (``zs``: the reduce step's tables)."""
    func, _ = MEASURES[name]
    x, fin = memo[name] if memo and name in memo else func(tr, params, freq)  # (the reduce step's, same table)
    z = np.full(len(tr), np.nan)
    if fin.any():
        z[fin] = cross_z(zs.get(name), zg_keys(tr, fin), x[fin])
    return x, z


def event_joins(tr, params, labels, freq):
    """Per tariff event (its index ``i`` in ``tariff_events``): ``(i, ev, t_pre, t_post, j, s0, s1, ds, fin)``,
    the triples present at both positions with their hub shares, the shift and where it is compared."""
    for i, ev in enumerate(params.tariff_events):
        ev = str(ev)
        at = event_positions(labels, params, freq, ev)
        if at is None:
            continue
        t_pre, t_post = at
        pre = tr.loc[tr["t"] == t_pre, ["o", "h", "d", "hs", "hd", "od"]]
        post = tr.loc[tr["t"] == t_post]
        j = post.merge(pre, on=["o", "h", "d", "hs"], suffixes=("", "_pre"))
        if j.empty:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            s1 = (j["hd"] / (j["hd"] + j["od"])).to_numpy()
            s0 = (j["hd_pre"] / (j["hd_pre"] + j["od_pre"])).to_numpy()
        ds = s1 - s0
        fin = np.isfinite(ds) & (s1 >= params.min_hub_share)
        if not fin.any():
            continue
        yield i, ev, t_pre, t_post, j, s0, s1, ds, fin
