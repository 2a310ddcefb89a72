"""Unit values of paired flows: the two sides' prices compared, and each price against its product's spread.

* ``unit_value.mirror_ratio``: ``ln(UV_X / UV_M,FOB)`` of a pair (the exporter's value per unit against the
  importer's FOB value per unit, same flow) against the median ratio of all pairs of the same product and period
  (robust z, median/MAD). Mispricing on one side moves the ratio; inflating value and quantity together does not
  (that is a mirror gap, not a price).
* ``unit_value.outlier``: the exporter's unit value to one partner against the distribution of its unit values of
  the same product to all its partners in the period (across exporters the spread is mostly quality and mix),
  with the adjusted boxplot of Hubert & Vandervieren (2008): fences
  ``[Q1 - 1.5 e^{-4 MC} IQR, Q3 + 1.5 e^{3 MC} IQR]`` for medcouple ``MC >= 0`` (mirrored for ``MC < 0``), so a
  right-skewed price distribution is not half flagged as the raw interquartile rule would. The score is a
  z-equivalent: 2.698 (where the plain boxplot fence sits for normal data) plus the distance beyond the fence in
  ``IQR / 1.349`` units, the IQR floored at the reporting noise (``mad_floor`` of the median).
* ``unit_value.own_history``: a pair's unit value of a product against the pair's own previous periods (robust
  z of the log unit value), on the side whose price moved, while the quantity stays within two robust SD of its
  own history: a price that jumps while the goods do not. The move is taken net of the median move of the same
  exporter's prices of the product to its other partners in the period (a price index or exchange rate moves
  them all; a pair mispriced on paper moves alone); where both reports carry the same move with both quantities
  steady, the two sides' z are combined (Stouffer), so collusive mispricing is not weaker evidence than a
  one-sided one. Where both reports carry the same new price (collusive
  mispricing) the mirror ratio does not move and only this signal sees it.
* Scores are the robust z capped at ``z_cap``; the dollars are in ``usd_at_stake`` (the priced difference times
  the quantity) and weighed by the ranking. Pairs labelled entrepôt by the mirror check get no unit-value
  finding.

Pairs whose two reports use different quantity units are listed (``status == "unit_mismatch"``) and counted in
the ledger, not compared and not dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..schema import Ledger, make_findings
from .pair_history import _history, _names, _period_axes

CHECK = "unit_value"
MAD_TO_SD = 1.4826
BOX_Z = 2.698  # z of Q3 + 1.5 IQR under a normal distribution
#: own-history scores are capped at this multiple of ``z_cap``: a price that moved far beyond its own spread on both
#: sides must stay distinguishable from the many that reach the single-side cap
OWN_HISTORY_CAP = 3.0


@dataclass
class UnitValueResult:
    findings: pd.DataFrame = field(default_factory=make_findings)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    ledgers: list[Ledger] = field(default_factory=list)


def _group_bounds(g_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.flatnonzero(np.r_[True, g_sorted[1:] != g_sorted[:-1]]) if len(g_sorted) else np.zeros(0, int)
    counts = np.diff(np.r_[starts, len(g_sorted)])
    return starts, counts


def _sorted_quantile(v: np.ndarray, starts: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    pos = q * (counts - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, counts - 1)
    w = pos - lo
    return v[starts + lo] * (1 - w) + v[starts + hi] * w


def medcouple_by_group(values: np.ndarray, groups: np.ndarray, max_n: int = 100) -> pd.Series:
    """Medcouple (Brys, Hubert & Struyf 2004) of ``values`` within each group, all groups at once.

    The kernel ``((x_j - m) - (m - x_i)) / (x_j - x_i)`` over every ``x_i <= m <= x_j`` is built for all groups
    as one ragged array; groups larger than ``max_n`` use ``max_n`` evenly spaced order statistics (the
    medcouple's error from that is far below its sampling error). Pairs of values tied at the median take the
    published special kernel: with ``t`` ties, numbered ``0..t-1`` on each side, pair ``(r, c)`` scores
    ``sign(r + c - (t - 1))`` (-1 above the anti-diagonal, 0 on it, +1 below; as statsmodels'
    ``stats.stattools.medcouple``), not 0: on rounded prices the difference reaches the whole range of the
    medcouple. Returns a Series indexed by group.
    """
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    starts, counts = _group_bounds(g)
    if len(starts) == 0:
        return pd.Series(dtype=float)
    rank = np.arange(len(g)) - np.repeat(starts, counts)
    cnt = np.repeat(counts, counts)
    stride = np.maximum(np.ceil(cnt / max_n).astype(np.int64), 1)
    keep = (rank % stride) == 0
    g, v = g[keep], v[keep]
    starts, counts = _group_bounds(g)
    med = (v[starts + (counts - 1) // 2] + v[starts + counts // 2]) / 2.0
    medrow = np.repeat(med, counts)
    gid = np.repeat(np.arange(len(starts)), counts)
    nl = np.bincount(gid, weights=(v <= medrow), minlength=len(starts)).astype(np.int64)
    nu = np.bincount(gid, weights=(v >= medrow), minlength=len(starts)).astype(np.int64)
    ties = np.bincount(gid, weights=(v == medrow), minlength=len(starts)).astype(np.int64)
    npairs = nl * nu
    total = int(npairs.sum())
    pg = np.repeat(np.arange(len(starts)), npairs)
    k = np.arange(total) - np.repeat(np.cumsum(npairs) - npairs, npairs)
    nu_r = nu[pg]
    li = starts[pg] + k // nu_r
    ui = starts[pg] + counts[pg] - nu_r + k % nu_r
    xi, xj, m = v[li], v[ui], med[pg]
    den = xj - xi
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.where(den > 0, ((xj - m) - (m - xi)) / den, 0.0)
    # x_i == x_j happens only for two values tied at the median: the lower side's ties are its last t, the upper
    # side's its first t; their positions among the ties give the kernel's sign
    tie = den == 0
    if tie.any():
        t = ties[pg[tie]]
        c = k[tie] // nu_r[tie] - (nl[pg[tie]] - t)  # position among the lower side's ties
        r = k[tie] % nu_r[tie]                      # position among the upper side's ties
        h[tie] = np.sign(r + c - (t - 1))
    mc = pd.Series(h).groupby(pg).median()
    out = pd.Series(np.nan, index=np.arange(len(starts)))
    out.loc[mc.index] = mc.to_numpy()
    out.index = g[starts]
    return out


def adjusted_fences(values: np.ndarray, groups: np.ndarray, whisker: float = 1.5, max_n: int = 100,
                    min_n: int = 8, iqr_floor: float = 0.0) -> pd.DataFrame:
    """Per group: n, Q1, Q3, medcouple and the adjusted-boxplot fences (NaN fences below ``min_n`` values)."""
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    starts, counts = _group_bounds(g)
    q1 = _sorted_quantile(v, starts, counts, 0.25)
    q3 = _sorted_quantile(v, starts, counts, 0.75)
    mc = medcouple_by_group(values, groups, max_n).reindex(g[starts]).to_numpy()
    med = _sorted_quantile(v, starts, counts, 0.5)
    # a spread below the reporting noise would turn rounding into outliers: floor the IQR at iqr_floor * median
    iqr = np.maximum(q3 - q1, iqr_floor * np.abs(med))
    lo_f = np.where(mc >= 0, np.exp(-4 * mc), np.exp(-3 * mc))
    hi_f = np.where(mc >= 0, np.exp(3 * mc), np.exp(4 * mc))
    ok = counts >= min_n
    return pd.DataFrame({
        "n": counts, "q1": q1, "q3": q3, "iqr": iqr, "medcouple": mc,
        "fence_low": np.where(ok, q1 - whisker * lo_f * iqr, np.nan),
        "fence_high": np.where(ok, q3 + whisker * hi_f * iqr, np.nan),
    }, index=pd.Index(g[starts], name="group"))


def _key(*cols: np.ndarray) -> np.ndarray:
    """One int64 code for a tuple of integer-coded columns."""
    key = np.zeros(len(cols[0]), dtype=np.int64)
    for c in cols:
        c = np.asarray(c, dtype=np.int64)
        key = key * (int(c.max()) + 1 if len(c) else 1) + c
    return key


def run_pairs(table: pd.DataFrame, params, test_mask: np.ndarray, pairing) -> UnitValueResult:
    """Unit-value findings and table from the labelled mirror pair table (see module docstring)."""
    ledger = Ledger(stage="unit_value.pairs", rows_in=len(table))
    if "qx" not in table.columns or table.empty:
        ledger.add("no_quantity", len(table))
        ledger.check()
        return UnitValueResult(ledgers=[ledger])
    qx = table["qx"].to_numpy(dtype=float)
    qm = table["qm"].to_numpy(dtype=float)
    ux = table["qx_unit"].astype(str).to_numpy()
    um = table["qm_unit"].astype(str).to_numpy()
    has_q = (qx > 0) & (qm > 0)
    mismatch = has_q & (ux != um)
    ledger.add("no_quantity", int((~has_q).sum()))
    ledger.add("unit_mismatch", int(mismatch.sum()), table.loc[mismatch].head(3)[
        ["period", "exporter", "importer", "hs", "qx_unit", "qm_unit"]].astype(str))
    comp = has_q & ~mismatch
    ledger.add("kept", int(comp.sum()))
    ledger.check()

    rows = np.flatnonzero(has_q)
    t = table.iloc[rows][["period", "exporter", "importer", "hs", "x_usd", "m_fob_usd", "qx", "qx_unit", "qm",
                          "qm_unit"]].reset_index(drop=True)
    c = comp[rows]
    test = test_mask[rows]
    uv_x = t["x_usd"].to_numpy() / t["qx"].to_numpy()
    uv_m = t["m_fob_usd"].to_numpy() / t["qm"].to_numpy()
    t["uv_x"] = uv_x
    t["uv_m_fob"] = uv_m
    t["status"] = np.where(c, "compared", "unit_mismatch")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(c, np.log(uv_x / uv_m), np.nan)
    t["log_ratio"] = ratio

    p_code = t["period"].cat.codes.to_numpy()
    h_code = t["hs"].cat.codes.to_numpy()
    unit_code = pd.factorize(t["qx_unit"].astype(str))[0]
    grp = _key(p_code, h_code, unit_code)
    grp_c = np.where(c, grp, -1)
    s = pd.Series(ratio)
    g = s.groupby(grp_c)
    rmed = g.transform("median").to_numpy()
    rcount = g.transform("count").to_numpy()
    rmad = pd.Series(np.abs(ratio - rmed)).groupby(grp_c).transform("median").to_numpy()
    scale = np.maximum(MAD_TO_SD * rmad, params.mad_floor)
    z = np.where(c & (rcount >= params.uv_min_flows), (ratio - rmed) / scale, np.nan)
    t["ratio_median"] = rmed
    t["n_product"] = rcount
    t["z_ratio"] = z

    # the exporter's unit value to this partner against its unit values of the product to its other partners
    # (adjusted boxplot); across exporters the spread is mostly quality and product mix, not mispricing
    e_code = t["exporter"].cat.codes.to_numpy()
    ogrp = _key(p_code, h_code, unit_code, e_code)
    fences = adjusted_fences(uv_x[c], ogrp[c], params.uv_whisker, params.uv_max_group, params.uv_min_flows,
                             iqr_floor=2 * 0.6745 * params.mad_floor)
    zx = _box_z(uv_x, ogrp, fences)
    t["z_box"] = np.where(c, zx, np.nan)
    fx = fences.reindex(ogrp)
    t["fence_low"] = fx["fence_low"].to_numpy()
    t["fence_high"] = fx["fence_high"].to_numpy()
    t["medcouple"] = fx["medcouple"].to_numpy()

    names = dict(zip(pairing.countries, _names(pairing.countries)))
    # an entrepôt pair's values carry re-exports its quantities may not: labelled by the mirror check, not here
    entrepot = table["entrepot"].to_numpy()[rows] if "entrepot" in table.columns else np.zeros(len(t), bool)
    stake_ratio = np.where(c, np.abs(t["x_usd"].to_numpy() - t["qx"].to_numpy() * uv_m), 0.0)
    s_ratio = np.minimum(np.abs(z), params.z_cap)
    t["score_ratio"] = s_ratio
    recs = []
    pick = test & ~entrepot & np.isfinite(z) & (np.abs(z) >= params.uv_min_score) & (stake_ratio > 0)
    if pick.any():
        sub = t.loc[pick]
        det = []
        for a, b, h, p, vx, vm, u, r, rm, n, zz in zip(
                sub["exporter"].astype(str), sub["importer"].astype(str), sub["hs"].astype(str),
                sub["period"].astype(str), sub["uv_x"], sub["uv_m_fob"], sub["qx_unit"], sub["log_ratio"],
                sub["ratio_median"], sub["n_product"], z[pick]):
            an, bn = names.get(a, a), names.get(b, b)
            det.append(f"{an} reports exports of HS {h} to {bn} at {vx:,.2f} USD/{u}; {bn} reports the same "
                       f"flow at {vm:,.2f} USD/{u} FOB (ratio {np.exp(r):.2f}, {abs(zz):.1f} robust SD "
                       f"{'above' if zz > 0 else 'below'} the median ratio {np.exp(rm):.2f} of {int(n)} flows of "
                       f"HS {h} in {p})")
        at_stake = stake_ratio[pick]
        recs.append(_frame(sub, "unit_value.mirror_ratio", s_ratio[pick], sub["uv_x"].to_numpy(),
                           sub["uv_m_fob"].to_numpy() * np.exp(sub["ratio_median"].to_numpy()), at_stake, det,
                           int((test & c & np.isfinite(z)).sum())))
    for zb, uv, q, who in ((zx, uv_x, t["qx"].to_numpy(), "exporter"),):
        fr_all = fences.reindex(ogrp)
        lo_all, hi_all = fr_all["fence_low"].to_numpy(), fr_all["fence_high"].to_numpy()
        outside = c & np.isfinite(zb) & (zb > 0)
        stake = np.where(outside, np.abs(uv - np.where(uv > hi_all, hi_all, lo_all)) * q, 0.0)
        s_box = np.minimum(np.nan_to_num(zb), params.z_cap)
        pick = test & c & ~entrepot & np.isfinite(zb) & (zb >= params.uv_min_score) & (stake > 0)
        if not pick.any():
            continue
        sub = t.loc[pick]
        fr = fr_all.iloc[np.flatnonzero(pick)]
        lo, hi = lo_all[pick], hi_all[pick]
        v = uv[pick]
        at_stake = stake[pick]
        det = []
        for a, b, h, p, vv, l_, h_, u, n, zz in zip(
                sub["exporter"].astype(str), sub["importer"].astype(str), sub["hs"].astype(str),
                sub["period"].astype(str), v, lo, hi, sub["qx_unit"], fr["n"].to_numpy(), zb[pick]):
            an, bn = names.get(a, a), names.get(b, b)
            rep = an if who == "exporter" else bn
            det.append(f"{rep}'s report of HS {h} from {an} to {bn} in {p} has a unit value of {vv:,.2f} USD/{u}, "
                       f"outside the skew-adjusted range {max(l_, 0):,.2f}–{h_:,.2f} of {an}'s {int(n)} "
                       f"partners for the product (z-equivalent {zz:.1f})")
        recs.append(_frame(sub, "unit_value.outlier", s_box[pick], v, np.clip(v, lo, hi), at_stake, det,
                           int((test & c & np.isfinite(zb)).sum())))
    own = _own_history(t, c, test, entrepot, params, pairing, names)
    if own is not None:
        recs.append(own)
    findings = make_findings(pd.concat(recs, ignore_index=True)) if recs else make_findings()
    order = np.lexsort([t[c].cat.codes.to_numpy() for c in ("hs", "importer", "exporter", "period")])
    table_out = t.iloc[order].reset_index(drop=True)
    return UnitValueResult(findings=findings, table=table_out, ledgers=[ledger])


def _box_z(values: np.ndarray, groups: np.ndarray, fences: pd.DataFrame) -> np.ndarray:
    f = fences.reindex(groups)
    lo, hi = f["fence_low"].to_numpy(), f["fence_high"].to_numpy()
    sd = np.maximum(f["iqr"].to_numpy() / 1.349, 1e-12)
    with np.errstate(invalid="ignore"):
        z = np.where(values > hi, BOX_Z + (values - hi) / sd,
                     np.where(values < lo, BOX_Z + (lo - values) / sd, 0.0))
    return np.where(np.isfinite(hi), z, np.nan)


def _own_history(t: pd.DataFrame, c: np.ndarray, test: np.ndarray, entrepot: np.ndarray, params, pairing,
                 names: dict) -> pd.DataFrame | None:
    """``unit_value.own_history``: a pair's price of a product against its own previous periods, with the
    quantity in line with its own history (a price that jumps while the goods do not). Both sides are followed:
    where both reports move together the mirror ratio stays put, and only this signal sees the mispricing
    (collusive over- or under-invoicing)."""
    ordinal_l, _, _ = _period_axes(pairing.period_labels)
    ordn = ordinal_l[t["period"].cat.codes.to_numpy()]
    series = _key(t["exporter"].cat.codes.to_numpy(), t["importer"].cat.codes.to_numpy(),
                  t["hs"].cat.codes.to_numpy(), pd.factorize(t["qx_unit"].astype(str))[0])
    ones = np.ones(len(t), dtype=np.int64)
    t["z_own_uv"] = np.nan
    out_z = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = {"uv_x": np.log(t["uv_x"].to_numpy()), "uv_m": np.log(t["uv_m_fob"].to_numpy()),
                "q_x": np.log(t["qx"].to_numpy()), "q_m": np.log(t["qm"].to_numpy())}
    hist = {}
    # the exporter's prices of the product to all its partners in the period move together when the product's
    # price moves (a price index, the exchange rate); a pair mispriced on paper moves alone
    peer_group = _key(t["period"].cat.codes.to_numpy(), t["exporter"].cat.codes.to_numpy(),
                      t["hs"].cat.codes.to_numpy(), pd.factorize(t["qx_unit"].astype(str))[0])
    for k, v in logs.items():
        v = np.where(c & np.isfinite(v), v, np.nan)
        h = _history(v, series, ordn, ones, params.history)
        scale = np.maximum(MAD_TO_SD * h["mad"], params.mad_floor)
        d = np.where(h["count"] >= params.min_history, v - h["median"], np.nan)
        if k.startswith("uv"):
            d = d - _peer_shift(d, peer_group)
            h = dict(h, median=h["median"] + (v - h["median"] - d))  # the norm now includes the peers' move
        out_z[k] = d / scale
        hist[k] = h
    zx, zm = out_z["uv_x"], out_z["uv_m"]
    steady_x = np.abs(np.nan_to_num(out_z["q_x"], nan=np.inf)) < 2.0
    steady_m = np.abs(np.nan_to_num(out_z["q_m"], nan=np.inf)) < 2.0
    side_x = np.isfinite(zx) & steady_x & (np.abs(zx) >= np.nan_to_num(np.abs(zm), nan=0.0))
    z = np.where(side_x, zx, np.where(np.isfinite(zm) & steady_m, zm, np.nan))
    # both reports carrying the same new price with both quantities steady: two independent reports of one move
    # (each side's reporting noise is its own), combined as Stouffer's z; a move on one side keeps its own z
    agree = (np.isfinite(zx) & np.isfinite(zm) & steady_x & steady_m & (np.sign(zx) == np.sign(zm)))
    stouffer = np.where(agree, np.sign(np.nan_to_num(zx)) * (np.abs(np.nan_to_num(zx)) + np.abs(np.nan_to_num(zm)))
                        / np.sqrt(2.0), np.nan)
    z = np.where(agree & (np.abs(np.nan_to_num(stouffer)) > np.abs(np.nan_to_num(z))), stouffer, z)
    t["z_own_uv"] = z
    tested = test & c & np.isfinite(z)
    pick = tested & ~entrepot & (np.abs(np.nan_to_num(z)) >= params.uv_min_score)
    if not pick.any():
        return None
    idx = np.flatnonzero(pick)
    sub = t.iloc[idx]
    med_x = np.exp(hist["uv_x"]["median"][idx])
    med_m = np.exp(hist["uv_m"]["median"][idx])
    qx = sub["qx"].to_numpy()
    uvx, uvm = sub["uv_x"].to_numpy(), sub["uv_m_fob"].to_numpy()
    both = np.isfinite(zx[idx]) & np.isfinite(zm[idx]) & (np.sign(zx[idx]) == np.sign(zm[idx])) & \
        (np.abs(zm[idx]) >= params.uv_min_score) & (np.abs(zx[idx]) >= params.uv_min_score)
    uv_now = np.where(side_x[idx], uvx, uvm)
    uv_norm = np.where(side_x[idx], med_x, med_m)
    at_stake = np.abs(uv_now - uv_norm) * np.where(side_x[idx], qx, sub["qm"].to_numpy())
    det = []
    for a, b, h, p, u, vx, vm, mx, mm, zz, bb, sx in zip(
            sub["exporter"].astype(str), sub["importer"].astype(str), sub["hs"].astype(str),
            sub["period"].astype(str), sub["qx_unit"].astype(str), uvx, uvm, med_x, med_m, z[idx], both,
            side_x[idx]):
        an, bn = names.get(a, a), names.get(b, b)
        who = an if sx else bn
        now, norm = (vx, mx) if sx else (vm, mm)
        s = (f"{who}'s report of HS {h} from {an} to {bn} in {p} prices it at {now:,.2f} USD/{u} against "
             f"{norm:,.2f} expected from the pair's previous periods and its exporter's other partners "
             f"({abs(zz):.1f} robust SD {'above' if zz > 0 else 'below'}),"
             f" with the quantity in line with its own history")
        if bb:
            s += (f"; {an if not sx else bn} reports the same move ({vm if sx else vx:,.2f} USD/{u}): both reports "
                  f"carry the new price, so the two sides agree and no mirror gap shows")
        det.append(s)
    return _frame(sub, "unit_value.own_history", np.minimum(np.abs(z[idx]), OWN_HISTORY_CAP * params.z_cap), uv_now,
                  uv_norm,
                  at_stake, det, int(tested.sum()))


def _peer_shift(d: np.ndarray, group: np.ndarray, min_peers: int = 3) -> np.ndarray:
    """The median of ``d`` (a log price's move from its own history) over the rows of the same group (one
    exporter's product in one period, to all its partners), where the group holds at least ``min_peers`` finite
    moves; 0 elsewhere. With three or more moves the median is not pulled by the row itself."""
    fin = np.isfinite(d)
    out = np.zeros(len(d))
    if not fin.any():
        return out
    s = pd.Series(d[fin])
    g = s.groupby(group[fin])
    med = g.transform("median").to_numpy()
    cnt = g.transform("count").to_numpy()
    out[fin] = np.where(cnt >= min_peers, med, 0.0)
    return out


def _frame(sub, signal, score, value, expected, at_stake, details, n_tested=None) -> pd.DataFrame:
    ex, im, hs = sub["exporter"].astype(str).to_numpy(), sub["importer"].astype(str).to_numpy(), \
        sub["hs"].astype(str).to_numpy()
    return pd.DataFrame({
        "check": CHECK, "signal": signal,
        "subject": [f"{a}>{b}" if h == "TOTAL" else f"{a}>{b}:{h}" for a, b, h in zip(ex, im, hs)],
        "reporter": ex, "partner": im, "hub": "", "region": "", "hs": hs,
        "period": sub["period"].astype(str).to_numpy(), "score": score, "value": value, "expected": expected,
        "usd_at_stake": at_stake, "n_tested": np.nan if n_tested is None else float(n_tested), "detail": details,
    })
