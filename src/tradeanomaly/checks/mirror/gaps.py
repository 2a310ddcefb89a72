"""Gap measures of the paired flows: tau, FOB import value, log and symmetric gaps, dollars beyond the freight
band, and (with history) the own-history and peer robust z, the entrepôt and chronic labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..pair_history import _history, _period_axes
from .pairing import Pairing, _hs_level
from .params import MAD_TO_SD, MirrorParams, _section_key, hs_section


# ----------------------------------------------------------------------------------------------------------------
# Gap measures
# ----------------------------------------------------------------------------------------------------------------


def _group_members(group: str) -> list[str]:
    from ...codes.groups import group_members

    return list(group_members(group))


def resolve_tau(pairing: Pairing, params: MirrorParams) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """tau per pair from the overrides (NaN where none applies), and where it came from as codes into labels."""
    pr = pairing.pairs
    n = len(pr)
    tau = np.full(n, np.nan)
    src = np.zeros(n, dtype=np.int16)
    labels = ["default", "estimated", "import valued FOB"]
    cidx = {c: k for k, c in enumerate(pairing.countries)}

    def apply(mask, value, label):
        take = mask & np.isnan(tau)
        tau[take] = float(value)
        labels.append(label)
        src[take] = len(labels) - 1

    e, i, h = pr["e"].to_numpy(), pr["i"].to_numpy(), pr["h"].to_numpy()
    for k, v in sorted(dict(params.tau_pair).items()):
        a, b = (s.strip().upper() for s in k.split(">"))
        if a in cidx and b in cidx:
            apply((e == cidx[a]) & (i == cidx[b]), v, f"pair {a}>{b}")
    for k, v in sorted(dict(params.tau_partner).items()):
        c = str(k).strip().upper()
        if c in cidx:
            apply(i == cidx[c], v, f"partner {c}")
    for g, v in sorted(dict(params.tau_group).items()):
        members = [cidx[c] for c in _group_members(g) if c in cidx]
        if members:
            apply(np.isin(i, members), v, f"group {g}")
    if params.tau_section and len(pairing.hs):
        sections = np.array([hs_section(str(x)) for x in pairing.hs], dtype=object)
        for k, v in sorted(dict(params.tau_section).items(), key=lambda kv: _section_key(kv[0])):
            sec = _section_key(k)
            apply(np.isin(h, np.flatnonzero(sections == sec)), v, f"section {sec}")
    return tau, src, labels


def _beyond(x: np.ndarray, m_cif: np.ndarray, m_fob: np.ndarray) -> np.ndarray:
    """Dollars by which X lies outside the freight band [M_cif / (1 + tau), M_cif]."""
    return np.where(x > m_cif, x - m_cif, np.where(x < m_fob, m_fob - x, 0.0))


def size_noise(x: np.ndarray, m: np.ndarray, deviation: np.ndarray, group: np.ndarray, bands: int,
               pair: np.ndarray | None = None) -> np.ndarray:
    """1.4826 * median |deviation| of the pairs in the same size band (``bands`` equal-count bands of the log of
    sqrt(X * M) within each ``group``: frequency and product level). With ``pair``, a pair's size is its median over
    all its periods, so that a period whose reports jump (the break under test, or an erratic reporter's swing)
    does not move the pair into another band.

    The three steps (:func:`pair_size`, :func:`size_bands` over the rows of every pair, :func:`band_spread` per row)
    are apart so that the Dask engine can gather the band statistics over all partitions."""
    size = pair_size(x, m, pair)
    ok = np.isfinite(size) & np.isfinite(deviation)
    table = size_bands(np.asarray(group)[ok], size[ok], np.abs(deviation[ok]), bands)
    return band_spread(np.asarray(group), size, table)


def pair_size(x: np.ndarray, m: np.ndarray, pair: np.ndarray | None = None) -> np.ndarray:
    """log10 sqrt(X * M) of each row; with ``pair``, the median over the pair's rows."""
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.log10(np.sqrt(x * m))
    if pair is not None and len(size):
        size = pd.Series(size).groupby(np.asarray(pair)).transform("median").to_numpy()
    return size


def size_bands(group: np.ndarray, size: np.ndarray, abs_dev: np.ndarray, bands: int) -> dict:
    """Per group (the rows with a finite size and deviation, of every pair): the sizes where bands 1 .. ``bands``-1
    begin and the spread (1.4826 * median |deviation|) of each band, empty bands taking their neighbours'.

    A row of size ``s`` falls in band ``clip(int(count(sizes <= s) / n * bands), 0, bands - 1)``; that is
    nondecreasing in the count, so it is the number of band starts at or below ``s``."""
    if bands < 1 or not len(size):
        return {}
    d = pd.DataFrame({"g": group, "s": size, "a": abs_dev})
    d["b"] = d.groupby("g")["s"].rank(pct=True, method="average").mul(bands).clip(upper=bands - 1e-9).astype(int)
    spread = d.groupby(["g", "b"])["a"].median().mul(MAD_TO_SD)
    ref = d.groupby("g")["s"].apply(lambda v: np.sort(v.to_numpy()))
    out = {}
    for g, srt in ref.items():
        n = len(srt)
        band = (np.arange(n + 1) / n * bands).astype(int)  # the band of a size with c sizes at or below it
        # the first count that reaches band k (k = 1 .. bands-1), and the size from which a row has that count
        first = np.searchsorted(band, np.arange(1, bands), side="left")
        starts = np.where(first <= n, srt[np.maximum(np.minimum(first, n) - 1, 0)], np.inf)
        vals = spread.loc[g].reindex(range(bands)).ffill().bfill().to_numpy()
        out[g] = (starts, vals)
    return out


def band_spread(group: np.ndarray, size: np.ndarray, table: dict) -> np.ndarray:
    """The spread of each row's band (:func:`size_bands`), NaN without a size or a band table for its group."""
    out = np.full(len(size), np.nan)
    fin = np.isfinite(size)
    if not table or not fin.any():
        return out
    group = np.asarray(group)
    for g in pd.unique(group[fin]):
        if g not in table:
            continue
        sel = fin & (group == g)
        starts, vals = table[g]
        out[sel] = vals[np.searchsorted(starts, size[sel], side="right")]
    return out


def gap_measures(pairing: Pairing, params: MirrorParams, *, history: bool = True, cross=None) -> pd.DataFrame:
    """The pair table with tau, FOB import value, log gap, symmetric gap and dollars beyond the freight band.

    With ``history`` also the own-history and peer robust z, and the entrepôt label. The size bands and the peers
    cross pairs: ``cross`` (a :class:`~.stats.MirrorStats`) holds them for all pairs of the run; without it they are
    computed from this pairing's pairs."""
    pr, own = pair_measures(pairing, params, history=history)
    if not history:
        return pr
    if cross is None:
        from .stats import local_gap_stats

        cross = local_gap_stats(pairing, pr, own, params)
    return cross_measures(pr, own, pairing, params, cross)


def pair_measures(pairing: Pairing, params: MirrorParams, *, history: bool = True):
    """The measures of :func:`gap_measures` that read one pair's own rows only: ``(pair table, own)``, ``own``
    holding the own-history statistics and the inputs of the cross-pair ones (``None`` without ``history``)."""
    pr = pairing.pairs.copy(deep=False)  # new columns go to this frame only; the pairs are not copied
    n = len(pr)
    x_rep = pr["x_usd"].to_numpy()
    rx = pr["rx_usd"].to_numpy()
    has_rx = np.isfinite(rx) & (rx > 0)
    x = x_rep
    m = pr["m_usd"].to_numpy()
    m_fob_flag = pr["m_valued_fob"].to_numpy()
    tau, tau_src, tau_labels = resolve_tau(pairing, params)

    p = pr["p"].to_numpy()
    ordinal_l, season_l, step_l = _period_axes(pairing.period_labels)
    ordinal, season, step = ordinal_l[p], season_l[p], step_l[p]
    nc = len(pairing.countries)
    nh = max(len(pairing.hs), 1)
    base = ((pr["e"].to_numpy() * nc + pr["i"].to_numpy()) * nh + pr["h"].to_numpy()) * 64
    freq = season // 16

    def own_history(values, threshold=None, band=None):
        same = _history(values, base + season, ordinal, step, params.history, threshold, band)
        if params.season_history == "same" or (step == 1).all():
            return same
        anys = _history(values, base + freq * 16, ordinal, np.ones_like(step), params.history, threshold, band)
        if params.season_history == "any":
            return anys
        use_any = same["count"] < params.min_history
        out = {k: np.where(use_any, anys[k], v) for k, v in same.items()}
        if band is not None:  # a standing difference is judged on the same season of earlier years only
            out["outside"], out["count_same"] = same["outside"], same["count"]
        return out

    if params.estimate_tau and history:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(m_fob_flag | has_rx, np.nan, np.log(m / x))
        hr = own_history(ratio)
        lo, hi = params.tau_bounds
        est = np.clip(np.exp(hr["median"]) - 1.0, lo, hi)
        use = np.isnan(tau) & (hr["count"] >= params.min_history) & np.isfinite(est)
        tau = np.where(use, est, tau)
        tau_src[use] = 1
    tau = np.where(np.isnan(tau), params.tau, tau)
    tau = np.where(m_fob_flag, 0.0, tau)
    tau_src[m_fob_flag] = 2

    m_fob = m / (1.0 + tau)
    # a hub's exports include re-exports, which an importer recording by origin books under the goods' origin, not
    # under the hub: where the re-exports are published, any figure between domestic exports (X - RX) and total
    # exports (X) is consistent, and the gap is measured from the nearest end of that range
    x_low = np.maximum(x_rep - np.nan_to_num(rx), 0.0)
    x = np.where(has_rx, np.clip(m_fob, x_low, x_rep), x_rep)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_gap = np.log(x / m_fob)
        sym_gap = np.abs(x - m_fob) / (x + m_fob)
    gap_usd = x_rep - m_fob
    beyond = _beyond(x, m, m_fob)
    beyond_reported = _beyond(x_rep, m, m_fob)

    pr["x_compared_usd"] = x
    pr["tau"] = tau
    pr["tau_source"] = pd.Categorical.from_codes(tau_src, categories=pd.Index(tau_labels))
    pr["m_fob_usd"] = m_fob
    pr["log_gap"] = log_gap
    pr["sym_gap"] = sym_gap
    pr["gap_usd"] = gap_usd
    pr["usd_beyond_band"] = beyond
    # the re-exports explain most of the reported gap: an entrepôt effect, whatever the history
    pr["reexport_explained"] = has_rx & (beyond_reported > 0) & (beyond < 0.5 * beyond_reported)
    pr["usd_beyond_band_reported"] = beyond_reported
    if not history:
        return pr, None

    thr = params.entrepot_min_log_gap
    h = own_history(log_gap, thr, params.chronic_log_gap)
    enough = h["count"] >= params.min_history
    level = _hs_level(pairing.hs)[pr["h"].to_numpy()] if len(pairing.hs) else np.zeros(n, dtype=np.int64)
    own = {"h": h, "enough": enough, "level": level, "size_group": freq * 16 + level,
           "size": pair_size(x, m_fob, base + freq), "deviation": log_gap - np.where(enough, h["median"], np.nan)}
    return pr, own


def cross_measures(pr: pd.DataFrame, own: dict, pairing: Pairing, params: MirrorParams, cross) -> pd.DataFrame:
    """The rest of :func:`gap_measures` on the table of :func:`pair_measures`, with the size bands and the peers
    of ``cross``: size noise, own-history z, chronic and peer z, entrepôt labels."""
    n = len(pr)
    h, enough, level = own["h"], own["enough"], own["level"]
    x, m_fob, log_gap = pr["x_compared_usd"].to_numpy(), pr["m_fob_usd"].to_numpy(), pr["log_gap"].to_numpy()
    p = pr["p"].to_numpy()
    nc = len(pairing.countries)
    nh = max(len(pairing.hs), 1)
    thr = params.entrepot_min_log_gap
    # small flows are noisier: the scale is floored by how far pairs of the same size usually stray from their own
    # norm (a robust spread across the pairs of each size band), so a tiny pair's routine swing does not read as
    # a break while a large pair's rare one does
    pr["size_noise"] = cross.size_noise(own["size_group"], own["size"])
    scale = np.maximum(np.maximum(MAD_TO_SD * h["mad"], params.mad_floor), np.nan_to_num(pr["size_noise"]))
    pr["n_history"] = h["count"]
    pr["hist_median"] = h["median"]
    pr["hist_mad"] = h["mad"]
    pr["z_own"] = np.where(enough, (log_gap - h["median"]) / scale, np.nan)
    pr["hist_first"] = h["first"]
    pr["hist_last"] = h["last"]
    # the excess over the pair's own norm: what changed, in dollars (a gap that has stood for years is not news)
    with np.errstate(invalid="ignore", over="ignore"):
        norm_x = m_fob * np.exp(np.where(enough, h["median"], 0.0))
    pr["usd_beyond_norm"] = np.abs(x - norm_x)
    # chronic: outside the band in most history periods and now, with the gap in line with that norm
    count_same = h.get("count_same", h["count"])
    chronic_share = h["outside"] / np.maximum(count_same, 1)
    pr["chronic"] = ((count_same >= params.min_history) & (chronic_share >= params.chronic_min_share)
                     & (np.abs(log_gap) >= params.chronic_log_gap))

    # peers: the exporter's other partners, same period and product level
    pmed, pcount, pmad = cross.peers(pairing, p, pr["e"].to_numpy(), level)
    pscale = np.maximum(MAD_TO_SD * pmad, params.mad_floor)
    pr["n_peers"] = pcount
    pr["peer_median"] = pmed
    pr["z_peer"] = np.where(pcount >= params.min_peers, (log_gap - pmed) / pscale, np.nan)

    # entrepôt: a hub pair whose gap has been large in the entrepôt direction in most of its history
    hubs = params.hub_codes()
    hub_mask = np.isin(pairing.countries, np.array(hubs, dtype=object))
    e_hub, i_hub = hub_mask[pr["e"].to_numpy()], hub_mask[pr["i"].to_numpy()]
    cnt = np.maximum(h["count"], 1)
    share_pos = h["above"] / cnt
    share_neg = h["below"] / cnt
    structural = enough & (
        (e_hub & (share_pos >= params.entrepot_min_share))
        | (i_hub & (share_neg >= params.entrepot_min_share)))
    # from the first period: a hub's gap in the entrepôt direction is structure when its history is too short to
    # tell, or when the pair's all-products figure is labelled so in the same period (its products follow)
    direction = (e_hub & (log_gap >= thr)) | (i_hub & (log_gap <= -thr))
    short = ~enough & direction
    e_, i_ = pr["e"].to_numpy(), pr["i"].to_numpy()
    total_code = np.flatnonzero(np.asarray(pairing.hs, dtype=object) == "TOTAL")
    if len(total_code) and nh > 1:
        is_total = pr["h"].to_numpy() == total_code[0]
        pair_key = (p * nc + e_) * nc + i_
        labelled = structural | short | pr["reexport_explained"].to_numpy()
        tot = pd.Series(labelled[is_total], index=pair_key[is_total])
        tot = tot[~tot.index.duplicated()]
        from_total = tot.reindex(pair_key).fillna(False).to_numpy(dtype=bool) & direction & ~is_total
    else:
        from_total = np.zeros(n, dtype=bool)
    pr["hub_pair"] = e_hub | i_hub
    pr["entrepot"] = structural | short | from_total | pr["reexport_explained"].to_numpy()
    return pr
