"""Invoice exports: exports invented on paper (for subsidies, or to bring in hot money) show up as an
exporter-side surge that the partner's imports do not show, concentrated in a few easily-invoiced products
(HS 71 gold and jewellery, HS 85 integrated circuits); for provinces, as spikes at the opening of each quarter,
growth decoupled from the national total and from the coastal provinces, and round, padded figures.

Signals (scores on the robust-z scale of :mod:`.series`, or -log10 of a tail probability):

- ``invoice_export.mirror_band``: the mirror ratio ``X_A->B / (M_B<-A / (1 + cif_margin))`` crosses the first
  band (1.4 by default; the 2013 China -> Hong Kong episode began there and peaked near 2.35) and stands far above
  the pair's own history of that ratio (robust z). A stable structural gap (an entrepôt's re-exports, ordinary
  CIF/FOB margins) is its own history and is not flagged. Both the pair total and each product are tested; the
  pair's detail says which products hold the excess.
- ``invoice_export.quarter_opening``: the share of a quarter's exports booked in its first month (January,
  April, July, October) above the other provinces' share in the same quarter, by more than the province's usual
  difference in the same quarter of its other years (the seasonal position within the quarter; robust z against
  the spread of the province's residuals over all its quarters).
- ``invoice_export.decoupling``: a province's export growth (3-month sums, year on year) against the median of
  the coastal provinces' growth, judged against the province's own history of that difference.
- ``invoice_export.round_numbers``: how many of a province's last 12 monthly figures have at most
  ``round_digits`` significant digits, against the rate among all provinces (-log10 binomial tail probability).
- ``invoice_export.province_excess``: where the national row is published beside the provinces, a month in which
  the provinces sum to more than the national total by more than their usual difference (robust z of the excess
  as a share of the national total, the spread floored at ``excess_floor``): exports a province books that the
  national figures do not contain. The excess is laid on the province whose share of the national total stands
  furthest above its usual share (the same month of its other years, else the months 7 to 24 away, so a
  padding of a few months is not its own norm; robust z against the spread of its residuals), among the provinces whose excess over that usual share holds at
  least half of the gap; ``usd_at_stake`` is the gap (measured, where the province's excess is estimated), at
  most the province's figure.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ConfigError
from .base import CheckResult, finish
from .. import periods as P
from .panels import (
    AGGREGATE_PARTNERS,
    SEASON,
    build_panel,
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
    split_frequencies,
    usable_rows,
    value_code,
    value_codes,
)
from .phrases import (
    amount,
    coastal_provinces,
    country,
    possessive,
    product,
    province,
)
from .robust import (
    MAD_TO_SD,
    lagged,
    nan_median,
    rolling_sum,
    trailing_stats,
)

CHECK = "invoice_export"
SMOOTH = {"M": 3, "Q": 1, "A": 1}


@dataclass(frozen=True)
class InvoiceExportParams:
    """Knobs of the invoice-export check (defaults in brackets).

    - ``bands`` [(1.4, 2.0)]: mirror-ratio bands; a finding needs the first, the detail names the highest crossed.
    - ``cif_margin`` [0.06]: imports are CIF; FOB = CIF / (1 + margin).
    - ``min_band_z`` [2.0]: a band crossing is reported when the ratio also stands this far above its history.
    - ``min_quantity_weight`` [0.25]: where both sides report quantities, the score is the z times the share of
      the value excess that is also a quantity excess (paper shipments inflate both; mispricing only the value),
      at least this weight.
    - ``history`` [{"M": 24, "Q": 8, "A": 6}] / ``min_history`` [{"M": 9, "Q": 4, "A": 3}]: trailing periods.
    - ``min_scale`` [0.05]: floor of the spread of the log ratio; ``share_scale`` [0.02]: floor of the spread of
      the quarter-opening share.
    - ``min_score`` [3.5]: province findings are reported at or above this score.
    - ``round_digits`` [2], ``round_window`` [12], ``round_base_rate`` [0.01]: a figure is round when it has at
      most ``round_digits`` significant digits; the expected rate is the provinces' pooled rate, at least the base.
    - ``fx_spread`` [None]: optional ((period, spread), ...) series, e.g. the onshore-offshore CNY spread; when
      given, each mirror finding reports the correlation of the pair's log ratio with it over the history window.
    - ``excess_floor`` [0.001], ``excess_score_cap`` [30]: floor of the spread of the provinces' sum minus the
      national total (a share of the national total), and the cap of the province-excess score.
    - ``include_estimated`` [False].
    """

    bands: tuple = (1.4, 2.0)
    cif_margin: float = 0.06
    min_band_z: float = 2.0
    min_quantity_weight: float = 0.25
    history: dict = field(default_factory=lambda: {"M": 24, "Q": 8, "A": 6})
    min_history: dict = field(default_factory=lambda: {"M": 9, "Q": 4, "A": 3})
    min_scale: float = 0.05
    share_scale: float = 0.02
    min_score: float = 3.5
    round_digits: int = 2
    round_window: int = 12
    round_base_rate: float = 0.01
    fx_spread: tuple | None = None
    include_estimated: bool = False
    excess_floor: float = 0.001
    excess_score_cap: float = 30.0
    signals: tuple = ("mirror_band", "quarter_opening", "decoupling", "round_numbers", "province_excess")

    def __post_init__(self):
        if not self.bands or any(b <= 1 for b in self.bands) or list(self.bands) != sorted(self.bands):
            raise ConfigError("invoice_export: bands must be increasing ratios above 1, e.g. [1.4, 2.0]")
        if self.cif_margin < 0 or self.min_scale <= 0 or self.share_scale <= 0:
            raise ConfigError("invoice_export: cif_margin >= 0, min_scale > 0 and share_scale > 0 are required")
        bad = set(self.signals) - {"mirror_band", "quarter_opening", "decoupling", "round_numbers",
                                   "province_excess"}
        if bad:
            raise ConfigError(f"invoice_export: unknown signal(s) {sorted(bad)}")


# --------------------------------------------------------------------------------------------------------------
# mirror pairs
# --------------------------------------------------------------------------------------------------------------


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


def _eq(codes: np.ndarray, uniq: pd.Index, value) -> np.ndarray:
    return codes == value_code(uniq, value)


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
        order = np.argsort(-pos, kind="mergesort")[:2]
        parts = [f"{product(keys.value('hs', rr[o]))} {100 * pos[o] / tot:.0f}%" for o in order if pos[o] > 0]
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


def _mirror_band(flows: pd.DataFrame, rows: np.ndarray, params: InvoiceExportParams, periods) -> list[pd.DataFrame]:
    # the ratio at a period reads two smoothing windows, the history before them and a season back
    reach = {f: params.history[f] + 2 * (SMOOTH[f] - 1) + SEASON[f] + 1 for f in SMOOTH}
    cp = _coded_pairs(flows, reach_rows(flows, rows, periods, reach), params.cif_margin)
    out = []
    for freq, part in _pair_frequencies(cp).items():
        ms = mirror_state((cp, part), freq, params.history, params.min_history, params.min_scale, periods)
        test = period_mask(ms.labels, periods)
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
            "n_tested": float(np.isfinite(ms.z[:, test]).sum()), "detail": details,
        }))
    return out


# --------------------------------------------------------------------------------------------------------------
# provinces
# --------------------------------------------------------------------------------------------------------------


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
    national total (see the module docstring)."""
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


def run(flows: pd.DataFrame, *, params: InvoiceExportParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None) -> CheckResult:
    """Invoice-export signals for the ``periods`` under test (all periods when ``None``).

    The check pairs exporter and importer reports itself (``mirror_gaps`` from the mirror check is accepted
    and not needed: the ratio here uses smoothed sums and the pair's own history, not a single period's gap).
    """
    params = params or InvoiceExportParams()
    keep, led = usable_rows(flows, params.include_estimated, CHECK)
    rows = np.arange(len(flows)) if keep is None else np.flatnonzero(keep)
    out: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if "mirror_band" in params.signals:
            out += _mirror_band(flows, rows, params, periods)
        pn, nat = _province_panel(flows, rows)
        if pn is not None and pn.values.shape[0] >= 3:
            test = period_mask(pn.labels, periods)
            pn.n_tested = int(pn.values.shape[0]) * int(test.sum())  # province-periods under test
            if "quarter_opening" in params.signals:
                out.append(_quarter_opening(pn, params, test))
            if "decoupling" in params.signals:
                out.append(_decoupling(pn, nat, params, test))
            if "round_numbers" in params.signals:
                out.append(_round_numbers(pn, params, test))
            if "province_excess" in params.signals:
                out.append(_province_excess(pn, nat, params, test))
    return CheckResult(check=CHECK, findings=finish(out, CHECK), ledgers=[led])
