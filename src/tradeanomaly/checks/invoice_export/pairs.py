"""Mirror pairs of the invoice-export check: the exporter's X beside the importer's M on integer codes
(``mirror_pairs``), the smoothed log ratio against the pair's own history (``mirror_state``) and the signal
``invoice_export.mirror_band`` with its explanations (which products hold the excess, the FX-spread note)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ... import periods as P
from ..panels import (
    AGGREGATE_PARTNERS,
    SEASON,
    build_panels,
    combine_codes,
    _fill_panels,
    group_sorted,
    group_sums,
    key_codes,
    KeyTable,
    Panel,
    period_mask,
    reach_rows,
    value_codes,
)
from ..phrases import amount, country, product
from ..robust import lagged, rolling_sum, trailing_stats
from .params import SMOOTH, InvoiceExportParams, _eq


@dataclass
class CodedPairs:
    """Mirror pairs as integer codes: ``p`` into ``periods``, ``e`` / ``i`` into ``countries``, ``h`` into ``hs``
    (one row per period x exporter x importer x product, in that key order), and the summed figures."""

    p: np.ndarray
    e: np.ndarray
    i: np.ndarray
    h: np.ndarray
    values: dict
    periods: pd.Index
    countries: pd.Index
    hs: pd.Index
    dtypes: dict



def _coded_pairs(flows: pd.DataFrame, rows: np.ndarray, cif_margin: float) -> CodedPairs:
    """:func:`mirror_pairs` of the rows ``rows`` of ``flows`` on integer codes of the keys."""
    rc, ru = key_codes(flows["reporter"])
    pc, pu = key_codes(flows["partner"])
    gc, gu = key_codes(flows["region"])
    fc, fu = key_codes(flows["flow"])
    tc, tu = key_codes(flows["period"])
    hc, hu = key_codes(flows["hs"])
    r, pa, fl = rc[rows], pc[rows], fc[rows]
    nat = (_eq(gc[rows], gu, "") & ~np.isin(pa, value_codes(pu, AGGREGATE_PARTNERS))
           & ~np.isin(r, value_codes(ru, AGGREGATE_PARTNERS)))
    # reporters and partners on one axis of countries, sorted like the values
    countries = ru.append(pu).unique().sort_values()
    r_to = np.append(countries.get_indexer(ru), -1)
    p_to = np.append(countries.get_indexer(pu), -1)
    xs = rows[nat & _eq(fl, fu, "X")]
    ms = rows[nat & _eq(fl, fu, "M")]
    value = flows["value_usd"]
    qty = flows["quantity"]
    x_e, x_i = r_to[rc[xs]], p_to[pc[xs]]
    m_e, m_i = p_to[pc[ms]], r_to[rc[ms]]
    x_key = [tc[xs], x_e, x_i, hc[xs]]
    m_key = [tc[ms], m_e, m_i, hc[ms]]
    x_ok = np.logical_and.reduce([k >= 0 for k in x_key])
    m_ok = np.logical_and.reduce([k >= 0 for k in m_key])
    sizes = [len(tu), len(countries), len(countries), len(hu)]
    # one code space for both sides (exporter's and importer's reports of the same flow meet on it)
    both = combine_codes([np.concatenate([a[x_ok], b[m_ok]]) for a, b in zip(x_key, m_key)], sizes)
    nx = int(x_ok.sum())
    kx, km = both[:nx], both[nx:]
    vx = value.to_numpy(dtype=float)[xs]
    vm = value.to_numpy(dtype=float)[ms]
    fob = np.where(_eq(key_codes(flows["valuation"])[0][ms], key_codes(flows["valuation"])[1], "FOB"), vm,
                   vm / (1.0 + cif_margin))
    qx = qty.to_numpy(dtype=float)[xs]
    qm = qty.to_numpy(dtype=float)[ms]
    gx, first_x = group_sorted(kx)
    sx = group_sums(gx, len(first_x), {"x": vx[x_ok], "qx": qx[x_ok]})
    gm, first_m = group_sorted(km)
    sm = group_sums(gm, len(first_m), {"m_fob": fob[m_ok], "qm": qm[m_ok]})
    # inner join of the two sorted, distinct key lists: the exporter side's order
    _, jx, jm = np.intersect1d(kx[first_x], km[first_m], assume_unique=True, return_indices=True)
    src = np.flatnonzero(x_ok)[first_x[jx]]
    return CodedPairs(p=x_key[0][src], e=x_key[1][src], i=x_key[2][src], h=x_key[3][src],
                      values={"x": sx["x"][jx], "qx": sx["qx"][jx], "m_fob": sm["m_fob"][jm], "qm": sm["qm"][jm]},
                      periods=tu, countries=countries, hs=hu,
                      dtypes={"period": flows["period"].dtype, "exporter": flows["reporter"].dtype,
                              "importer": flows["partner"].dtype, "hs": flows["hs"].dtype})


def mirror_pairs(df: pd.DataFrame, cif_margin: float) -> pd.DataFrame:
    """Exporter's X beside the importer's M (converted to FOB) at the same period and product level.

    Columns: period, exporter, importer, hs, x, qx, m_fob, qm (national rows only, aggregates excluded)."""
    cp = _coded_pairs(df, np.arange(len(df)), cif_margin)
    out = pd.DataFrame({
        "period": pd.Series(cp.periods.take(cp.p)).astype(cp.dtypes["period"]),
        "exporter": pd.Series(cp.countries.take(cp.e)).astype(cp.dtypes["exporter"]),
        "importer": pd.Series(cp.countries.take(cp.i)).astype(cp.dtypes["importer"]),
        "hs": pd.Series(cp.hs.take(cp.h)).astype(cp.dtypes["hs"]),
    })
    for k in ("x", "qx", "m_fob", "qm"):
        out[k] = cp.values[k]
    return out


@dataclass
class MirrorState:
    """Smoothed exporter and importer panels of matched pairs and the log ratio against its own history."""

    keys: pd.DataFrame
    labels: list
    freq: str
    x: np.ndarray
    m: np.ndarray
    lr: np.ndarray
    med: np.ndarray
    scale: np.ndarray
    z: np.ndarray
    qshare: np.ndarray


def mirror_state(pairs, freq: str, history: dict, min_history: dict, min_scale: float,
                 periods: list[str] | None = None) -> MirrorState:
    """The log ratio of each pair against its own history; the history's statistics are computed only at the
    ``periods`` under test (all when ``None``). ``pairs``: a frame of :func:`mirror_pairs` (one frequency), or
    coded pairs with the rows of one frequency (``(CodedPairs, rows)``)."""
    if isinstance(pairs, tuple):
        cp, rows = pairs
        vals = {k: v[rows] for k, v in cp.values.items()}
        has_q = bool((~np.isnan(vals["qx"])).any() and (~np.isnan(vals["qm"])).any())
        names = ["x", "m_fob"] + (["qx", "qm"] if has_q else [])
        e, i, h, t = cp.e[rows], cp.i[rows], cp.h[rows], cp.p[rows]
        if len(rows):
            inv, first = group_sorted(combine_codes([e, i, h], [len(cp.countries), len(cp.countries), len(cp.hs)]))
            table = KeyTable({"exporter": e[first], "importer": i[first], "hs": h[first]},
                             {"exporter": cp.countries, "importer": cp.countries, "hs": cp.hs},
                             {k: cp.dtypes[k] for k in ("exporter", "importer", "hs")})
            present = np.zeros(len(cp.periods), dtype=bool)
            present[t] = True
            ui = np.flatnonzero(present)
            ord_u = np.zeros(len(cp.periods), dtype=np.int64)
            ord_u[ui] = P.period_ordinal(pd.Series(np.asarray(cp.periods, dtype=object)[ui], dtype="str"))
            ordv = ord_u[t]
            panels = _fill_panels(inv, ordv, str(cp.periods[t[int(np.argmin(ordv))]]), table, len(first),
                                  {k: vals[k] for k in names}, freq, "sum")
        else:
            panels = {k: Panel(KeyTable.from_frame(pd.DataFrame(columns=["exporter", "importer", "hs"])), [],
                               np.zeros((0, 0)), freq) for k in names}
    else:
        keys = ["exporter", "importer", "hs"]
        has_q = "qx" in pairs and pairs["qx"].notna().any() and pairs["qm"].notna().any()
        panels = build_panels(pairs, keys, ["x", "m_fob"] + (["qx", "qm"] if has_q else []), freq=freq)
        for pn in panels.values():
            pn.keys = KeyTable.from_frame(pn.keys)
    px, pm = panels["x"], panels["m_fob"]
    cols = period_mask(px.labels, periods)
    k = SMOOTH[freq]
    # a shipment can be booked a month apart on the two sides: compare 3-month sums for monthly data
    x = rolling_sum(px.values, k)
    m = rolling_sum(pm.values, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.where((x > 0) & (m > 0), np.log(x / m), np.nan)
    hist_lr = lr.copy()
    # history must not overlap the current smoothing window
    med, spread, _ = trailing_stats(lagged(hist_lr, k - 1) if k > 1 else hist_lr, history[freq],
                                    min_history[freq], cols=cols)
    scale = np.maximum(np.nan_to_num(spread, nan=np.inf), min_scale)
    with np.errstate(invalid="ignore"):
        z = (lr - med) / scale
    # quantities on both sides: how much of the value excess is also a quantity excess (paper shipments inflate
    # both; mispricing moves the value alone)
    qshare = np.ones(lr.shape)
    if has_q:
        qx = rolling_sum(panels["qx"].values, k)
        qm = rolling_sum(panels["qm"].values, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            lq = np.where((qx > 0) & (qm > 0), np.log(qx / qm), np.nan)
        qmed, _, _ = trailing_stats(lagged(lq, k - 1) if k > 1 else lq, history[freq], min_history[freq],
                                    cols=cols)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = (lq - qmed) / (lr - med)
        qshare = np.where(np.isfinite(frac), np.clip(frac, 0.0, 1.0), 1.0)
    return MirrorState(px.keys, px.labels, freq, x, m, lr, med, scale, z, qshare)


def _concentration(ms: MirrorState, rows_total: np.ndarray, cols: np.ndarray) -> list[str]:
    """For pair-total findings: which products hold the excess of exports over the mirror (top two shares)."""
    keys = ms.keys
    chap = ~keys.eq("hs", "TOTAL")
    if not chap.any():
        return [""] * len(rows_total)
    with np.errstate(invalid="ignore"):
        excess = ms.x - ms.m * np.exp(np.nan_to_num(ms.med, nan=0.0))
    # the pair of each row (exporter and importer codes): only which rows share a pair matters
    pair_codes, _ = pd.factorize(combine_codes([keys.codes["exporter"], keys.codes["importer"]],
                                               [len(keys.uniques["exporter"]), len(keys.uniques["importer"])]))
    out = []
    # the product rows of each pair, in row order: one stable sort instead of a scan per pair
    chap_rows = np.flatnonzero(chap)
    order = chap_rows[np.argsort(pair_codes[chap_rows], kind="stable")]
    sorted_codes = pair_codes[order]
    wanted = pair_codes[np.asarray(rows_total, dtype=np.int64)]
    lo = np.searchsorted(sorted_codes, wanted, side="left")
    hi = np.searchsorted(sorted_codes, wanted, side="right")
    for r, c, a, b in zip(rows_total, cols, lo, hi):
        rr = order[a:b]
        if len(rr) == 0:
            out.append("")
            continue
        e = np.nan_to_num(excess[rr, c], nan=0.0)
        pos = e.clip(min=0)
        tot = pos.sum()
        if tot <= 0:
            out.append("")
            continue
        top = np.argsort(-pos, kind="mergesort")[:2]
        parts = [f"{product(keys.value('hs', rr[o]))} {100 * pos[o] / tot:.0f}%" for o in top if pos[o] > 0]
        out.append("; the excess sits in " + " and ".join(parts))
    return out


def _fx_note(ms: MirrorState, params: InvoiceExportParams, rows, cols) -> list[str]:
    if not params.fx_spread:
        return [""] * len(rows)
    fx = dict((str(p), float(v)) for p, v in params.fx_spread)
    series = np.array([fx.get(lb, np.nan) for lb in ms.labels])
    W = params.history[ms.freq]
    out = []
    for r, c in zip(rows, cols):
        a = ms.lr[r, max(0, c - W):c + 1]
        b = series[max(0, c - W):c + 1]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 4 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
            out.append("")
            continue
        rho = float(np.corrcoef(a[ok], b[ok])[0, 1])
        out.append(f"; correlation with the FX spread over the last {int(ok.sum())} periods {rho:+.2f}")
    return out


def _pair_frequencies(cp: CodedPairs) -> dict:
    """The rows of the coded pairs at each frequency (``A``, ``Q``, ``M`` order, as :func:`split_frequencies`)."""
    if not len(cp.p):
        return {}
    names = ("A", "Q", "M")
    fu = P.frequencies(pd.Series(cp.periods, dtype="str")).to_numpy()
    fcode = np.array([names.index(x) if x in names else -1 for x in fu], dtype=np.int8)[cp.p]
    return {k: np.flatnonzero(fcode == j) for j, k in enumerate(names) if (fcode == j).any()}


def _band_states(flows: pd.DataFrame, rows: np.ndarray, params: InvoiceExportParams, periods):
    """``(frequency, MirrorState, columns under test)`` of the mirror pairs of ``rows``, per frequency."""
    # the ratio at a period reads two smoothing windows, the history before them and a season back
    reach = {f: params.history[f] + 2 * (SMOOTH[f] - 1) + SEASON[f] + 1 for f in SMOOTH}
    cp = _coded_pairs(flows, reach_rows(flows, rows, periods, reach), params.cif_margin)
    for freq, part in _pair_frequencies(cp).items():
        ms = mirror_state((cp, part), freq, params.history, params.min_history, params.min_scale, periods)
        yield freq, ms, period_mask(ms.labels, periods)


def mirror_band_tested(flows: pd.DataFrame, rows: np.ndarray, params: InvoiceExportParams,
                       periods) -> dict[str, int]:
    """Per frequency, how many pair-periods under test the mirror band tests (a finite robust z): the
    ``n_tested`` of its findings. Counts of the pairs of any split of the flows by pair add up to the whole's."""
    return {freq: int(np.isfinite(ms.z[:, test]).sum()) for freq, ms, test in _band_states(flows, rows, params,
                                                                                            periods)}


def _mirror_band(flows: pd.DataFrame, rows: np.ndarray, params: InvoiceExportParams, periods,
                 n_tested: dict | None = None) -> list[pd.DataFrame]:
    """The findings of ``invoice_export.mirror_band``; ``n_tested`` (per frequency, from
    :func:`mirror_band_tested` over every pair) replaces the count of the pairs of ``flows`` alone."""
    out = []
    for freq, ms, test in _band_states(flows, rows, params, periods):
        ratio = np.exp(ms.lr)
        L = SEASON[freq]
        # the surge must be on the exporter's side: exports grew faster than the mirror imports
        with np.errstate(divide="ignore", invalid="ignore"):
            gx = np.log(ms.x / lagged(ms.x, L))
            gm = np.log(ms.m / lagged(ms.m, L))
        exporter_side = ~(gx <= gm)  # NaN growth (no history a season back) does not veto
        hit = (np.isfinite(ms.z) & (ratio >= params.bands[0]) & (ms.z >= params.min_band_z) & exporter_side
               & test[None, :])
        rows, cols = np.nonzero(hit)
        if len(rows) == 0:
            continue
        keys = ms.keys.frame(rows)
        r_now = ratio[rows, cols]
        r_hist = np.exp(ms.med[rows, cols])
        x = ms.x[rows, cols]
        m = ms.m[rows, cols]
        expected_x = m * r_hist
        conc = _concentration(ms, rows, cols)
        fxn = _fx_note(ms, params, rows, cols)
        k = SMOOTH[freq]
        qs = ms.qshare[rows, cols]
        # a value excess without a quantity excess is mispricing (the unit_value check), not paper exports
        score = ms.z[rows, cols] * np.maximum(qs, params.min_quantity_weight)
        qnote = ["" if q >= 1.0 else f"; quantities explain {100 * q:.0f}% of the excess" for q in qs]
        details = []
        ka = [keys[c].to_numpy(dtype=object) for c in ("exporter", "importer", "hs")]
        for i, (r, c) in enumerate(zip(rows, cols)):
            e, im, hs = ka[0][i], ka[1][i], ka[2][i]
            band = max(b for b in params.bands if r_now[i] >= b)
            span = ms.labels[c] if k == 1 else f"{ms.labels[c - k + 1]}..{ms.labels[c]}"
            prod = "" if hs == "TOTAL" else f" of {product(hs)}"
            details.append(
                f"{country(e)} reports {amount(x[i])} USD of exports{prod} to {country(im)} in {span}; "
                f"{country(im)} reports {amount(m[i] * (1 + params.cif_margin))} of imports "
                f"({amount(m[i])} at FOB): ratio {r_now[i]:.2f}, above the {band:g} band, against "
                f"{r_hist[i]:.2f} in the pair's history (robust z {ms.z[r, c]:+.1f}); "
                f"{amount(x[i] - expected_x[i])} of exports the partner does not see"
                + (conc[i] if hs == "TOTAL" else "") + fxn[i] + qnote[i]
            )
        out.append(pd.DataFrame({
            "signal": "invoice_export.mirror_band",
            "subject": (keys["exporter"] + ">" + keys["importer"]
                        + np.where(keys["hs"] == "TOTAL", "", ":" + keys["hs"])).to_numpy(),
            "reporter": keys["exporter"].to_numpy(), "partner": keys["importer"].to_numpy(),
            "hs": np.where(keys["hs"] == "TOTAL", "", keys["hs"]),
            "period": [ms.labels[c] for c in cols], "score": score, "value": r_now,
            "expected": r_hist, "usd_at_stake": np.maximum(x - expected_x, 0.0),
            "n_tested": float(n_tested[freq] if n_tested is not None else np.isfinite(ms.z[:, test]).sum()),
            "detail": details,
        }))
    return out
