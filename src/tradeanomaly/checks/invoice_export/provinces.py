"""Province signals of the invoice-export check, on the monthly panel of province exports to the world
(``_province_panel``): ``invoice_export.quarter_opening``, ``invoice_export.decoupling``,
``invoice_export.province_excess`` and ``invoice_export.round_numbers``, each a findings frame (``_rows_frame``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..panels import build_panel, key_codes, split_frequencies
from ..phrases import amount, coastal_provinces, country, possessive, province
from ..robust import MAD_TO_SD, lagged, nan_median, rolling_sum, trailing_stats
from .params import _eq


def _province_panel(flows: pd.DataFrame, usable: np.ndarray):
    # the province and national export totals to the world (a few rows: selected on integer codes, then read)
    gc, gu = key_codes(flows["region"])
    fc, fu = key_codes(flows["flow"])
    pc, pu = key_codes(flows["partner"])
    hc, hu = key_codes(flows["hs"])
    g = gc[usable]
    base = (_eq(fc[usable], fu, "X") & _eq(pc[usable], pu, "WLD") & _eq(hc[usable], hu, "TOTAL"))
    # ``region != ""`` holds for a missing region too (it is not national)
    is_nat = _eq(g, gu, "")
    rows = flows.iloc[usable[base & ~is_nat]]
    monthly = split_frequencies(rows).get("M")
    if monthly is None or monthly.empty:
        return None, None
    pn = build_panel(monthly, ["reporter", "region"], freq="M")
    nat_rows = flows.iloc[usable[base & is_nat]]
    nat_m = split_frequencies(nat_rows).get("M")
    nat = None
    if nat_m is not None and len(nat_m):
        pnat = build_panel(nat_m, ["reporter"], freq="M")
        # align the national series on the province panel's months
        idx = {lb: j for j, lb in enumerate(pnat.labels)}
        cols = np.array([idx.get(lb, -1) for lb in pn.labels])
        nat = {}
        for i, rep in enumerate(pnat.keys["reporter"]):
            s = np.where(cols >= 0, pnat.values[i, np.clip(cols, 0, None)], np.nan)
            nat[rep] = s
    return pn, nat


def _rows_frame(pn, rows, cols, signal, score, value, expected, usd, details) -> pd.DataFrame:
    keys = pn.keys.iloc[rows].reset_index(drop=True)
    return pd.DataFrame({
        "signal": signal, "subject": keys["region"].to_numpy(), "reporter": keys["reporter"].to_numpy(),
        "partner": "WLD", "region": keys["region"].to_numpy(), "hs": "",
        "period": [pn.labels[c] for c in cols], "score": score, "value": value, "expected": expected,
        "usd_at_stake": usd, "n_tested": float(getattr(pn, "n_tested", np.nan)), "detail": details,
    })


def _peer_median(mat: np.ndarray, peers: np.ndarray) -> np.ndarray:
    """For each row, the median over the ``peers`` rows other than itself (leave-one-out)."""
    out = np.full(mat.shape, np.nan)
    idx = np.flatnonzero(peers)
    if len(idx) == 0:
        return out
    for i in range(mat.shape[0]):  # 31 provinces: a short loop over rows, each step vectorised over months
        others = idx[idx != i]
        if len(others):
            out[i] = nan_median(mat[others].T)
    return out


def _seasonal_norm(e: np.ndarray, quarter: np.ndarray, min_same: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(norm, spread) of each province-quarter's difference ``e`` from its peers' opening-month share: the norm is
    the median of the province's same quarter of the year in the other years (a province whose January always
    carries more of the first quarter, or whose Lunar New Year falls differently, is its own norm), or of all its
    other quarters where fewer than ``min_same`` same quarters exist; the spread is the robust SD (1.4826 * MAD)
    of the province's residuals from those norms over all its quarters. The quarter under test is left out of its
    own norm, so the first quarters of a panel are judged too, against the years that follow."""
    n, nq = e.shape
    norm = np.full(e.shape, np.nan)
    cols = np.arange(nq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for j in range(nq):  # a few dozen quarters, each step vectorised over provinces
            same = (quarter == quarter[j]) & (cols != j)
            other = same if same.sum() >= min_same else (cols != j)
            if other.any():
                norm[:, j] = np.nanmedian(e[:, other], axis=1)
        res = e - norm
        centre = np.nanmedian(res, axis=1, keepdims=True)
        spread = MAD_TO_SD * np.nanmedian(np.abs(res - centre), axis=1, keepdims=True)
    return norm, np.broadcast_to(spread, e.shape)


def _quarter_opening(pn, params, test) -> pd.DataFrame | None:
    months = np.array([int(lb[5:7]) for lb in pn.labels])
    opening = np.flatnonzero(np.isin(months, (1, 4, 7, 10)))
    opening = opening[opening + 2 < len(pn.labels)]
    if len(opening) == 0:
        return None
    v = pn.values
    q = v[:, opening] + v[:, opening + 1] + v[:, opening + 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = v[:, opening] / q
    peers = _peer_median(share, np.ones(share.shape[0], dtype=bool))
    e = share - peers
    med, spread = _seasonal_norm(e, (months[opening] - 1) // 3)
    scale = np.maximum(np.nan_to_num(spread, nan=np.inf), params.share_scale)
    with np.errstate(invalid="ignore"):
        z = (e - med) / scale
    test_q = test[opening] | test[opening + 1] | test[opening + 2]
    hit = np.isfinite(z) & (z >= params.min_score) & test_q[None, :]
    rows, qc = np.nonzero(hit)
    if len(rows) == 0:
        return None
    cols = opening[qc]
    expected_share = peers[rows, qc] + med[rows, qc]
    usd = (share[rows, qc] - expected_share) * q[rows, qc]
    details = [
        f"{province(pn.keys.at[r, 'region'])} booked {100 * share[r, j]:.0f}% of its "
        f"{pn.labels[c][:4]} Q{(int(pn.labels[c][5:7]) + 2) // 3} exports ({amount(q[r, j])} USD) in "
        f"{pn.labels[c]}, the quarter's first month, against {100 * peers[r, j]:.0f}% for the other provinces "
        f"and a usual difference in that quarter of its other years of {100 * med[r, j]:+.0f} points (robust z {z[r, j]:+.1f}); "
        f"{amount(usd[i])} more than expected in the opening month"
        for i, (r, j, c) in enumerate(zip(rows, qc, cols))
    ]
    return _rows_frame(pn, rows, cols, "invoice_export.quarter_opening", z[rows, qc], share[rows, qc],
                       expected_share, np.maximum(usd, 0.0), details)


def _decoupling(pn, nat, params, test) -> pd.DataFrame | None:
    v3 = rolling_sum(pn.values, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log(v3 / lagged(v3, 12))
    coastal = coastal_provinces()
    is_coastal = pn.keys["region"].isin(coastal).to_numpy()
    peers = _peer_median(g, is_coastal if is_coastal.sum() >= 3 else np.ones(len(is_coastal), dtype=bool))
    e = g - peers
    med, spread, _ = trailing_stats(lagged(e, 2), params.history["M"], params.min_history["M"])
    scale = np.maximum(np.nan_to_num(spread, nan=np.inf), params.min_scale)
    with np.errstate(invalid="ignore"):
        z = (e - med) / scale
    score = np.abs(z)
    hit = np.isfinite(score) & (score >= params.min_score) & test[None, :]
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    nat_g = {}
    if nat:
        for rep, s in nat.items():
            s3 = rolling_sum(s[None, :], 3)
            with np.errstate(divide="ignore", invalid="ignore"):
                nat_g[rep] = np.log(s3 / lagged(s3, 12))[0]
    expected = v3[rows, cols] / np.exp(g[rows, cols]) * np.exp(peers[rows, cols] + med[rows, cols])
    details = []
    for r, c in zip(rows, cols):
        rep = pn.keys.at[r, "reporter"]
        ng = nat_g.get(rep)
        ntext = (f", the national total {100 * np.expm1(ng[c]):+.0f}%" if ng is not None and np.isfinite(ng[c])
                 else "")
        details.append(
            f"{possessive(province(pn.keys.at[r, 'region']))} exports over {pn.labels[c - 2]}..{pn.labels[c]} "
            f"({amount(v3[r, c])} USD) changed {100 * np.expm1(g[r, c]):+.0f}% on a year earlier, against "
            f"{100 * np.expm1(peers[r, c]):+.0f}% for the coastal provinces (median){ntext}; its usual gap is "
            f"{100 * med[r, c]:+.0f} points (robust z {z[r, c]:+.1f})"
        )
    return _rows_frame(pn, rows, cols, "invoice_export.decoupling", score[rows, cols], v3[rows, cols], expected,
                       np.abs(v3[rows, cols] - expected), details)


def _province_excess(pn, nat, params, test) -> pd.DataFrame | None:
    """Months in which a reporter's provinces sum to more than its national row by more than their usual
    difference, with the excess laid on the province whose figure stands furthest above its usual share of the
    national total (see the docstring of :mod:`tradeanomaly.checks.invoice_export`)."""
    if not nat:
        return None
    v = pn.values
    reps = pn.keys["reporter"].to_numpy()
    labels = pn.labels
    t_idx = np.arange(v.shape[1])
    frames = []
    for rep, ns in sorted(nat.items()):
        rows_r = np.flatnonzero(reps == rep)
        if len(rows_r) < 3:
            continue
        vr = v[rows_r]
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = np.isfinite(ns) & (ns > 0) & np.isfinite(vr).all(axis=0)
            g = np.where(ok, (np.nansum(vr, axis=0) - ns) / ns, np.nan)
            centre = np.nanmedian(g)
            sd = max(MAD_TO_SD * float(np.nanmedian(np.abs(g - centre))), params.excess_floor)
            z = (g - centre) / sd
            logshare = np.log(np.where(vr > 0, vr, np.nan) / ns[None, :])
        hit = np.flatnonzero(np.isfinite(z) & (z >= params.min_score) & test)
        if not len(hit):
            continue
        # each province's usual share of the national total in a month: the same month of its other years (its
        # seasonal position; a padding of a few months is not its own norm), else the months 7 to 24 away
        norms = np.full(logshare.shape, np.nan)
        for c in t_idx:
            lag = np.abs(t_idx - c)
            same = (lag > 0) & (lag % 12 == 0)
            near = same if same.sum() >= 2 else (lag >= 7) & (lag <= 24)
            if near.any():
                norms[:, c] = np.nanmedian(logshare[:, near], axis=1)
        res = logshare - norms
        spread = MAD_TO_SD * np.nanmedian(np.abs(res - np.nanmedian(res, axis=1, keepdims=True)), axis=1)
        for c in hit:
            norm = norms[:, c]
            excess_usd = (g[c] - centre) * ns[c]
            prov = vr[:, c] - ns[c] * np.exp(norm)
            # the province whose share jumped furthest against its own spread, among those that can hold at
            # least half of the excess (a large province's ordinary noise is not a small one's padding)
            zs = (logshare[:, c] - norm) / np.maximum(spread, params.min_scale / 5)
            zs = np.where(prov >= 0.5 * excess_usd, zs, np.nan)
            if not np.isfinite(zs).any():
                continue
            k = int(np.nanargmax(zs))
            r = rows_r[k]
            usd = float(min(excess_usd, vr[k, c]))  # the gap is measured; the province's own excess is estimated
            detail = (f"China's provinces sum to {amount(ns[c] * (1 + g[c]))} USD of exports in {labels[c]}, "
                      f"{100 * (g[c] - centre):.1f}% more than the national total {amount(ns[c])} USD (usually "
                      f"{100 * centre:+.1f}%, robust z {z[c]:.1f}); {province(pn.keys.at[r, 'region'])} reports "
                      f"{amount(vr[k, c])} USD against {amount(ns[c] * np.exp(norm[k]))} at its usual share of the "
                      f"national total, {amount(prov[k])} more: exports booked in the province that the national "
                      f"figures do not contain" if rep == "CHN" else
                      f"The regions of {country(rep)} sum to {100 * (g[c] - centre):.1f}% more than its national "
                      f"exports in {labels[c]} (robust z {z[c]:.1f}); {pn.keys.at[r, 'region']} reports "
                      f"{amount(prov[k])} USD above its usual share")
            frames.append(_rows_frame(pn, np.array([r]), np.array([c]), "invoice_export.province_excess",
                                      np.array([min(float(z[c]), params.excess_score_cap)]), np.array([vr[k, c]]),
                                      np.array([ns[c] * np.exp(norm[k])]), np.array([usd]), [detail]))
    return pd.concat(frames, ignore_index=True) if frames else None


def _round_numbers(pn, params, test) -> pd.DataFrame | None:
    v = pn.values
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.where(v > 0, v, np.nan)))
        step = 10.0 ** (mag - (params.round_digits - 1))
        q = v / step
        is_round = np.abs(q - np.round(q)) <= 1e-9 * np.maximum(np.abs(q), 1.0)
    present = np.isfinite(v) & (v > 0)
    is_round = is_round & present
    W = params.round_window
    k = rolling_sum(is_round.astype(float), W)
    n = rolling_sum(present.astype(float), W)
    pooled = np.nansum(k, axis=0) / np.nansum(n, axis=0)
    p0 = np.maximum(np.nan_to_num(pooled, nan=0.0), params.round_base_rate)
    # leave-one-out would matter only when a third of provinces are padded; the floor covers the rest
    p0 = np.broadcast_to(p0, k.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = stats.binom.sf(k - 1, n, p0)
        score = -np.log10(np.clip(tail, 1e-300, 1.0))
    hit = np.isfinite(score) & (score >= params.min_score) & (k > n * p0) & test[None, :]
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    details = [
        f"{int(k[r, c])} of {possessive(province(pn.keys.at[r, 'region']))} {int(n[r, c])} monthly export "
        f"figures over {pn.labels[c - W + 1]}..{pn.labels[c]} have at most {params.round_digits} significant "
        f"digits (latest {amount(v[r, c])} USD), where {100 * p0[r, c]:.1f}% would be expected "
        f"(binomial tail p = {tail[r, c]:.1e})"
        for r, c in zip(rows, cols)
    ]
    return _rows_frame(pn, rows, cols, "invoice_export.round_numbers", score[rows, cols], k[rows, cols] / n[rows, cols],
                       p0[rows, cols], np.full(len(rows), np.nan), details)
