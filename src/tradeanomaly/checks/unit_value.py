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

What reads one pair alone (unit values, the mirror ratio, the own history of prices and quantities) is
:func:`prepare`; what crosses pairs (the ratio's median per product, the fences across the exporter's partners,
the median price move of its partners) comes from the mirror check's reduce step
(:mod:`tradeanomaly.checks.mirror.stats`), so the check runs pair by pair on the Dask engine.
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


#: the reasons of the unit-value ledger, in the order it counts them
REASONS = ("no_quantity", "unit_mismatch", "kept")

#: the series whose own history the ``unit_value.own_history`` signal reads
_OWN_LOGS = ("uv_x", "uv_m", "q_x", "q_m")


def prepare(pairs: pd.DataFrame, params, period_labels: np.ndarray) -> dict | None:
    """What the unit values read of each pair alone (``None`` without quantity columns or pairs): the rows with
    both quantities, which of them compare (same unit), unit values, the log mirror ratio, the unit labels, and
    the own-history statistics of the log unit values and quantities. ``pairs`` carries the integer codes ``p``,
    ``e``, ``i``, ``h`` beside the values; ``period_labels`` are the labels of ``p``."""
    if "qx" not in pairs.columns or pairs.empty:
        return None
    qx = pairs["qx"].to_numpy(dtype=float)
    qm = pairs["qm"].to_numpy(dtype=float)
    ux = pairs["qx_unit"].astype(str).to_numpy()
    um = pairs["qm_unit"].astype(str).to_numpy()
    has_q = (qx > 0) & (qm > 0)
    mismatch = has_q & (ux != um)
    comp = has_q & ~mismatch
    rows = np.flatnonzero(has_q)
    c = comp[rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv_x = pairs["x_usd"].to_numpy()[rows] / qx[rows]
        uv_m = pairs["m_fob_usd"].to_numpy()[rows] / qm[rows]
        ratio = np.where(c, np.log(uv_x / uv_m), np.nan)
    unit_code, units = pd.factorize(pd.Series(ux[rows], dtype="str"))
    p, e, i, h = (pairs[k].to_numpy()[rows] for k in ("p", "e", "i", "h"))
    # the own history of the pair's log unit values and quantities (its previous periods, same unit)
    ordinal_l, _, _ = _period_axes(period_labels)
    ordn = ordinal_l[p] if len(p) else np.zeros(0, dtype=np.int64)
    series = _key(e, i, h, unit_code)
    ones = np.ones(len(rows), dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = {"uv_x": np.log(uv_x), "uv_m": np.log(uv_m), "q_x": np.log(qx[rows]), "q_m": np.log(qm[rows])}
    own = {}
    for k in _OWN_LOGS:
        v = np.where(c & np.isfinite(logs[k]), logs[k], np.nan)
        hh = _history(v, series, ordn, ones, params.history)
        scale = np.maximum(MAD_TO_SD * hh["mad"], params.mad_floor)
        d = np.where(hh["count"] >= params.min_history, v - hh["median"], np.nan)
        own[k] = (v, hh, scale, d)
    return {"has_q": has_q, "mismatch": mismatch, "comp": comp, "rows": rows, "c": c, "uv_x": uv_x, "uv_m": uv_m,
            "ratio": ratio, "unit_code": unit_code.astype(np.int64), "units": np.asarray(units, dtype=object),
            "p": p, "e": e, "h": h, "own": own, "d": {k: own[k][3] for k in ("uv_x", "uv_m")}}


def _codes_of(table: pd.DataFrame) -> pd.DataFrame:
    """The labelled pair table with the integer codes of its labels (what :func:`prepare` reads)."""
    codes = {k: table[c].cat.codes.to_numpy().astype(np.int64)
             for k, c in (("p", "period"), ("e", "exporter"), ("i", "importer"), ("h", "hs"))}
    return pd.DataFrame({**codes, **{c: table[c] for c in ("x_usd", "m_fob_usd", "qx", "qm", "qx_unit", "qm_unit")
                                     if c in table.columns}})


def run_pairs(table: pd.DataFrame, params, test_mask: np.ndarray, pairing, *, prep: dict | None = None,
              stats=None, tested: dict | None = None, order_key: bool = False) -> UnitValueResult:
    """Unit-value findings and table from the labelled mirror pair table (see module docstring).

    ``prep``: :func:`prepare` of the same pairs (made here when not given); ``stats``: the run's statistics across
    pairs (:class:`tradeanomaly.checks.mirror.stats.MirrorStats`; from these pairs alone when not given).
    ``tested`` receives each signal's count of tests among these pairs; with ``order_key`` the ledger's examples
    carry the pair's labels as ``_row`` (so that partitions' examples merge in the whole table's order)."""
    ledger = Ledger(stage="unit_value.pairs", rows_in=len(table))
    if "qx" not in table.columns or table.empty:
        ledger.add("no_quantity", len(table))
        ledger.check()
        return UnitValueResult(ledgers=[ledger])
    if prep is None:
        prep = prepare(_codes_of(table), params, pairing.period_labels)
    if stats is None:
        from .mirror.stats import local_uv_stats

        stats = local_uv_stats(pairing, table, prep, params)
    has_q, mismatch, comp = prep["has_q"], prep["mismatch"], prep["comp"]
    ledger.add("no_quantity", int((~has_q).sum()))
    examples = table.loc[mismatch].head(3)[["period", "exporter", "importer", "hs", "qx_unit", "qm_unit"]].astype(str)
    if order_key:
        from .base import ROW

        examples[ROW] = (examples["period"] + "\x00" + examples["exporter"] + "\x00" + examples["importer"] + "\x00"
                         + examples["hs"]).to_numpy()
    ledger.add("unit_mismatch", int(mismatch.sum()), examples)
    ledger.add("kept", int(comp.sum()))
    ledger.check()

    rows = prep["rows"]
    t = table.iloc[rows][["period", "exporter", "importer", "hs", "x_usd", "m_fob_usd", "qx", "qx_unit", "qm",
                          "qm_unit"]].reset_index(drop=True)
    c = prep["c"]
    test = test_mask[rows]
    uv_x, uv_m, ratio = prep["uv_x"], prep["uv_m"], prep["ratio"]
    t["uv_x"] = uv_x
    t["uv_m_fob"] = uv_m
    t["status"] = np.where(c, "compared", "unit_mismatch")
    t["log_ratio"] = ratio

    # the product's mirror ratios across all pairs of the period (same unit)
    ratio_key, box_key, shift_key = stats.uv_keys(pairing, t, prep)
    got = stats.ratio.take(ratio_key, {"median": np.nan, "count": 0, "mad": np.nan})
    rmed = np.where(c, got["median"], np.nan)
    rcount = np.where(c, got["count"], 0).astype(np.int64)
    rmad = np.where(c, got["mad"], np.nan)
    scale = np.maximum(MAD_TO_SD * rmad, params.mad_floor)
    z = np.where(c & (rcount >= params.uv_min_flows), (ratio - rmed) / scale, np.nan)
    t["ratio_median"] = rmed
    t["n_product"] = rcount
    t["z_ratio"] = z

    # the exporter's unit value to this partner against its unit values of the product to its other partners
    # (adjusted boxplot); across exporters the spread is mostly quality and product mix, not mispricing
    fx = stats.fences.take(box_key, dict.fromkeys(("n", "iqr", "medcouple", "fence_low", "fence_high"), np.nan))
    zx = _box_z_rows(uv_x, fx)
    t["z_box"] = np.where(c, zx, np.nan)
    t["fence_low"] = fx["fence_low"]
    t["fence_high"] = fx["fence_high"]
    t["medcouple"] = fx["medcouple"]

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
    if tested is not None:
        tested["unit_value.mirror_ratio"] = int((test & c & np.isfinite(z)).sum())
        tested["unit_value.outlier"] = int((test & c & np.isfinite(zx)).sum())
    for zb, uv, q, who in ((zx, uv_x, t["qx"].to_numpy(), "exporter"),):
        lo_all, hi_all = fx["fence_low"], fx["fence_high"]
        outside = c & np.isfinite(zb) & (zb > 0)
        stake = np.where(outside, np.abs(uv - np.where(uv > hi_all, hi_all, lo_all)) * q, 0.0)
        s_box = np.minimum(np.nan_to_num(zb), params.z_cap)
        pick = test & c & ~entrepot & np.isfinite(zb) & (zb >= params.uv_min_score) & (stake > 0)
        if not pick.any():
            continue
        sub = t.loc[pick]
        lo, hi = lo_all[pick], hi_all[pick]
        v = uv[pick]
        at_stake = stake[pick]
        det = []
        for a, b, h, p, vv, l_, h_, u, n, zz in zip(
                sub["exporter"].astype(str), sub["importer"].astype(str), sub["hs"].astype(str),
                sub["period"].astype(str), v, lo, hi, sub["qx_unit"], fx["n"][pick], zb[pick]):
            an, bn = names.get(a, a), names.get(b, b)
            rep = an if who == "exporter" else bn
            det.append(f"{rep}'s report of HS {h} from {an} to {bn} in {p} has a unit value of {vv:,.2f} USD/{u}, "
                       f"outside the skew-adjusted range {max(l_, 0):,.2f}–{h_:,.2f} of {an}'s {int(n)} "
                       f"partners for the product (z-equivalent {zz:.1f})")
        recs.append(_frame(sub, "unit_value.outlier", s_box[pick], v, np.clip(v, lo, hi), at_stake, det,
                           int((test & c & np.isfinite(zb)).sum())))
    own = _own_history(t, c, test, entrepot, params, names, prep, stats, shift_key, tested)
    if own is not None:
        recs.append(own)
    findings = make_findings(pd.concat(recs, ignore_index=True)) if recs else make_findings()
    order = np.lexsort([t[c].cat.codes.to_numpy() for c in ("hs", "importer", "exporter", "period")])
    table_out = t.iloc[order].reset_index(drop=True)
    return UnitValueResult(findings=findings, table=table_out, ledgers=[ledger])


def _box_z_rows(values: np.ndarray, f: dict) -> np.ndarray:
    """The z-equivalent of each value against its own row's fences (``iqr``, ``fence_low``, ``fence_high``)."""
    lo, hi = f["fence_low"], f["fence_high"]
    sd = np.maximum(f["iqr"] / 1.349, 1e-12)
    with np.errstate(invalid="ignore"):
        z = np.where(values > hi, BOX_Z + (values - hi) / sd,
                     np.where(values < lo, BOX_Z + (lo - values) / sd, 0.0))
    return np.where(np.isfinite(hi), z, np.nan)


def _own_history(t: pd.DataFrame, c: np.ndarray, test: np.ndarray, entrepot: np.ndarray, params, names: dict,
                 prep: dict, stats, shift_key: np.ndarray, tested: dict | None = None) -> pd.DataFrame | None:
    """``unit_value.own_history``: a pair's price of a product against its own previous periods, with the
    quantity in line with its own history (a price that jumps while the goods do not). Both sides are followed:
    where both reports move together the mirror ratio stays put, and only this signal sees the mispricing
    (collusive over- or under-invoicing). The own-history statistics are :func:`prepare`'s; the move of the
    exporter's prices to all its partners comes from ``stats`` (it crosses pairs)."""
    t["z_own_uv"] = np.nan
    out_z = {}
    hist = {}
    # the exporter's prices of the product to all its partners in the period move together when the product's
    # price moves (a price index, the exchange rate); a pair mispriced on paper moves alone
    for k in _OWN_LOGS:
        v, h, scale, d = prep["own"][k]
        if k.startswith("uv"):
            d = d - _shift_of(d, shift_key, stats.shift[k])
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
    tested_rows = test & c & np.isfinite(z)
    if tested is not None:
        tested["unit_value.own_history"] = int(tested_rows.sum())
    pick = tested_rows & ~entrepot & (np.abs(np.nan_to_num(z)) >= params.uv_min_score)
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
                  at_stake, det, int(tested_rows.sum()))


def _shift_of(d: np.ndarray, key: np.ndarray, table, min_peers: int = 3) -> np.ndarray:
    """The median of ``d`` (a log price's move from its own history) over the rows of the same group (one
    exporter's product in one period, to all its partners, over every pair of the run: ``table`` holds each
    group's median and count of finite moves), where the group holds at least ``min_peers`` finite moves; 0
    elsewhere. With three or more moves the median is not pulled by the row itself."""
    fin = np.isfinite(d)
    out = np.zeros(len(d))
    if not fin.any():
        return out
    got = table.take(key[fin], {"median": np.nan, "count": 0})
    out[fin] = np.where(got["count"] >= min_peers, got["median"], 0.0)
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
