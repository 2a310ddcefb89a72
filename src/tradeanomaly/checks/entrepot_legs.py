"""The legs of the entrepôt check: the origin -> hub -> destination table read from the flows table.

For every origin, hub, destination and product (and the total), legs are read in US dollars at FOB: O->H from O's
exports (else H's imports), H->D and O->D from D's imports (else the exporter's report), as trailing annual sums
with the value ``lag`` periods earlier, at the periods the tests read. :mod:`.entrepot` scores them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import periods as P
from ..schema import MAX_EXAMPLES, Ledger
from .panels import AGGREGATE_PARTNERS, SEASON, expand_group, period_mask
from .robust import lagged, rolling_sum


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


def _needed_positions(labels: list[str], params, freq: str, periods) -> np.ndarray:
    """Period positions a test of ``periods`` reads from the triples table: those periods, and the period before
    each tariff event whose post-event period is under test (the share shift compares the two)."""
    test = period_mask(labels, periods)
    need = test.copy()
    pos = {lb: i for i, lb in enumerate(labels)}
    w = params.event_window[freq]
    for ev in params.tariff_events:
        ev = str(ev)
        p_e = ev[:4] if freq == "A" else (ev[:7] if freq == "M" else f"{ev[:4]}-Q{(int(ev[5:7]) + 2) // 3}")
        te = pos.get(p_e)
        if te is not None and te >= 1 and test[min(te + w, len(labels) - 1)]:
            need[te - 1] = True
    return need


def triples(flows: pd.DataFrame, rows: np.ndarray, label_of: np.ndarray, period_codes: np.ndarray,
             params, freq: str, periods=None):
    """The origin -> hub -> destination table from the ``rows`` of ``flows`` (usable rows of one frequency within
    reach of the periods under test). ``period_codes`` numbers each row's period label and ``label_of`` names
    those numbers.

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
    labels = P.period_range(first, last)
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
        return None, None
    # triples only at the positions the tests read: the joins below are the heavy part
    need = _needed_positions(labels, params, freq, periods)
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
