"""Entrepôt rerouting: goods from origin O sent through hub H to destination D to wash their origin (China ->
Vietnam/ASEAN/Mexico -> the US after the 2018-2019 tariffs).

For every origin, hub, destination and product (and the total), legs are read from the flows table in US dollars
at FOB: O->H from O's exports (else H's imports), H->D and O->D from D's imports (D's customs is the one the
rerouting fools; else the exporter's report). Monthly and quarterly data are compared as trailing annual sums
(12 months / 4 quarters), so that seasons cancel; each period is compared with ``lag`` periods earlier
(two years by default, 2017 -> 2019).

Signals (robust z of the same scale as the other checks; each z is taken across all triples of the same period and
product level, so that a change common to all hubs, such as a recession, is not rerouting):

- ``entrepot.pass_through``: the pass-through bound ``min(O->H, H->D)`` (Iyoha et al., "Exports in Disguise?")
  rose while both legs rose; measured as the bound's increase over D's imports of the product from O and H at the
  base period. ``usd_at_stake`` is the bound: the most that can have been rerouted.
- ``entrepot.comovement``: O->H and H->D grew together in the same product (Rotunno et al.): the smaller of the
  two log growths.
- ``entrepot.share_shift``: D's import share of the product moved from O to H around a tariff event (the year
  before against the year after).
- ``entrepot.thin_hub``: for pass-through findings, the hub's own increase in imports from O is close to its
  increase in exports to D, and (with quantities) the unit values of the two legs are close: little value added.
- ``entrepot.origin_washing``: D reports more imports from H than H reports exports to D, more so than at the
  base period (goods declared as H's that H never recorded as its own exports).

- ``entrepot.hub_share`` (cross-sectional, for destination-side data alone, such as one year of US imports by
  product and partner, where no origin -> hub leg and no history exist): for each product (HS6 by default) and
  hub, the log odds of the hub's share of D's imports from hub and origin, ``log(M_D<-H / M_D<-O)``, as a robust
  z across the products of that hub (a hub that supplies more of a product, relative to the origin, than it
  usually does); the finding's score combines the hubs' z values of the product (Stouffer: sum over hubs /
  sqrt(number of hubs)), so that a product that several hubs took over from the origin at once (the 2023
  solar-module circumvention case: HS 854143 from Vietnam, Thailand, Malaysia and Cambodia) outranks a hub's own
  specialty (Vietnam's pepper). It runs only where no origin -> hub -> destination triple can be formed; it is a
  screen for where to look, not evidence of rerouting by itself.

A hub's structural re-exports (Hong Kong) are stable and therefore do not move these changes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import periods as P
from ..errors import ConfigError
from .base import CheckResult, finish
from .entrepot_legs import mapped, triples, usable_mask
from .panels import (
    SEASON,
    expand_group,
    period_mask,
    split_frequencies,
    sum_by,
    within_reach,
)
from .phrases import (
    amount,
    country,
    possessive,
    product,
)
from .robust import robust_cross_z

CHECK = "entrepot"


@dataclass(frozen=True)
class EntrepotParams:
    """Knobs of the entrepôt check (defaults in brackets).

    - ``origins`` [("CHN",)], ``destinations`` [("USA", "EU27")]: codes or group names (expanded with
      ``codes.groups.expand``; a group's members are summed into one destination).
    - ``hubs`` [None]: every other economy with data; or a list of codes/groups.
    - ``tariff_events`` [("2018-07-06", "2019-09-01", "2025-04-02")]: dates for ``share_shift``.
    - ``lag`` [{"M": 24, "Q": 8, "A": 2}]: periods between the compared windows (two years).
    - ``event_window`` [{"M": 12, "Q": 4, "A": 1}]: how far after an event the share is read.
    - ``cif_margin`` [0.06]: FOB = CIF / (1 + margin).
    - ``min_hub_share`` [0.002]: the hub must carry at least this share of D's imports of the product from O and H.
    - ``share_floor`` [0.01], ``growth_floor`` [0.05]: floors of the cross-sectional spreads (shares, log growth).
    - ``thin_closeness`` [0.5], ``uv_tolerance`` [0.25]: thin hub = increments within this ratio; unit values
      within this log distance score fully.
    - ``min_score`` [3.5].
    - ``share_hubs`` [("VNM", "MEX", "MYS", "THA", "KHM", "IDN", "IND", "TWN", "KOR")]: the hubs of ``hub_share``
      when ``hubs`` is not given (economies named in the post-2018 rerouting literature and US investigations).
    - ``share_level`` [6]: HS digits ``hub_share`` aggregates to; ``share_min_usd`` [50e6]: a product enters when
      D's imports of it from hub and origin reach this, and ``share_min_origin_usd`` [1e6] when the origin still
      ships at least this (the origin makes the product); ``share_scale`` [0.25]: floor of the spread of the log
      odds across products.
    """

    origins: tuple = ("CHN",)
    destinations: tuple = ("USA", "EU27")
    hubs: tuple | None = None
    tariff_events: tuple = ("2018-07-06", "2019-09-01", "2025-04-02")
    lag: dict = field(default_factory=lambda: {"M": 24, "Q": 8, "A": 2})
    event_window: dict = field(default_factory=lambda: {"M": 12, "Q": 4, "A": 1})
    cif_margin: float = 0.06
    min_hub_share: float = 0.002
    share_floor: float = 0.01
    growth_floor: float = 0.05
    thin_closeness: float = 0.5
    uv_tolerance: float = 0.25
    min_score: float = 3.5
    include_estimated: bool = False
    share_hubs: tuple = ("VNM", "MEX", "MYS", "THA", "KHM", "IDN", "IND", "TWN", "KOR")
    share_level: int = 6
    share_min_usd: float = 50e6
    share_min_origin_usd: float = 1e6
    share_scale: float = 0.25
    signals: tuple = ("pass_through", "comovement", "share_shift", "thin_hub", "origin_washing", "hub_share")

    def __post_init__(self):
        if not self.origins or not self.destinations:
            raise ConfigError("entrepot: give at least one origin and one destination")
        for d in self.tariff_events:
            if P.normalise_period(str(d)[:7]) is None:
                raise ConfigError(f"entrepot: tariff event {d!r} is not a date (YYYY-MM-DD)")
        bad = set(self.signals) - {"pass_through", "comovement", "share_shift", "thin_hub", "origin_washing",
                                   "hub_share"}
        if bad:
            raise ConfigError(f"entrepot: unknown signal(s) {sorted(bad)}")


# --------------------------------------------------------------------------------------------------------------
# findings
# --------------------------------------------------------------------------------------------------------------


def _window_text(labels, t, lag, freq) -> tuple[str, str]:
    if freq == "A":
        return labels[t - lag] if t - lag >= 0 else "?", labels[t]
    k = SEASON[freq]
    base = labels[t - lag] if t - lag >= 0 else "?"
    return f"the {k} {'months' if freq == 'M' else 'quarters'} to {base}", f"the {k} to {labels[t]}"


def _frame(tr: pd.DataFrame, sel: np.ndarray, signal: str, score, value, expected, usd, details) -> pd.DataFrame:
    s = tr.loc[sel]
    hs = np.where(s["hs"] == "TOTAL", "", s["hs"])
    # a hub publishing re-exports to D for most of its exports to D is doing an entrepôt's business
    rx = _reexports(s) if "hr" in s else np.zeros(len(s), dtype=bool)
    if rx.any():
        details = [d + ("; the hub publishes re-exports to the destination for most of these exports: an "
                        "entrepôt's business, not ranked as rerouting" if r else "") for d, r in zip(details, rx)]
    return pd.DataFrame({
        "signal": np.where(rx, signal + ".structural", signal),
        "subject": (s["o"] + ">" + s["h"] + ">" + s["d"] + np.where(hs == "", "", ":" + pd.Series(hs,
                                                                                              index=s.index))).to_numpy(),
        "reporter": s["o"].to_numpy(), "hub": s["h"].to_numpy(), "partner": s["d"].to_numpy(), "hs": hs,
        "period": s["period"].to_numpy(), "score": score, "value": value, "expected": expected,
        "usd_at_stake": usd, "n_tested": float(tr.attrs.get("n_tested", np.nan)), "detail": details,
    })


def _trade_sentence(r, base_txt, now_txt) -> str:
    """Vietnam's exports of HS 85 to the US rose 31 bn while China's exports of HS 85 to Vietnam rose 27 bn and
    China's to the US fell 24 bn, 2017 -> 2019."""
    prod = "" if r.hs == "TOTAL" else f" of {product(r.hs)}"
    d_hd, d_oh, d_od = r.hd - r.hd0, r.oh - r.oh0, r.od - r.od0

    def verb(x):
        return f"{'rose' if x >= 0 else 'fell'} {amount(abs(x))}"

    return (f"{possessive(country(r.h))} exports{prod} to {country(r.d)} {verb(d_hd)} while "
            f"{possessive(country(r.o))} exports{prod} to {country(r.h)} {verb(d_oh)} and "
            f"{possessive(country(r.o))} to {country(r.d)} {verb(d_od)}, {base_txt} -> {now_txt}")


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


def _reexports(tr: pd.DataFrame) -> np.ndarray:
    """Triples whose hub publishes re-exports to D covering most of its exports to D: an entrepôt's business."""
    hr = tr["hr"].to_numpy() if "hr" in tr else np.full(len(tr), np.nan)
    hx = tr["hx"].fillna(tr["hd"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(hr / hx) >= 0.5


def _pass_through(tr, params, labels, freq, test):
    lag = params.lag[freq]
    b = np.minimum(tr["oh"], tr["hd"]).to_numpy()
    b0 = np.minimum(tr["oh0"], tr["hd0"]).to_numpy()
    denom = (tr["od0"] + tr["hd0"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (b - b0) / denom
        hub_share = (tr["hd"] / (tr["hd"] + tr["od"])).to_numpy()
    finite = np.isfinite(x)
    z = np.full(len(tr), np.nan)
    if finite.any():
        grp = tr["zg"].to_numpy()  # period, destination and product level
        zz, _, _ = robust_cross_z(x[finite], grp[finite], params.share_floor)
        z[finite] = zz
    rising = (tr["oh"] > tr["oh0"]).to_numpy() & (tr["hd"] > tr["hd0"]).to_numpy()
    # rerouting leaves a share shift from O to H at D: a hub whose exports to D grew no faster than the
    # origin's own (a large economy trading more of everything) carries nothing in its place
    amt, s1, s0 = rerouted(tr, freq)
    tr["rerouted"] = amt
    shifted = (s1 > s0) & (amt > 0)
    tr["pt_z"] = np.where(rising & shifted & (hub_share >= params.min_hub_share), z, np.nan)
    sel = np.isfinite(tr["pt_z"].to_numpy()) & (tr["pt_z"].to_numpy() >= params.min_score) & test[tr["t"]]
    if not sel.any():
        return None
    s = tr.loc[sel]
    details = []
    for r in s.itertuples(index=False):
        bt, nt = _window_text(labels, r.t, lag, freq)
        bnd, bnd0 = min(r.oh, r.hd), min(r.oh0, r.hd0)
        details.append(
            _trade_sentence(r, bt, nt) + f"; the pass-through bound min(O->H, H->D) went from {amount(bnd0)} to "
            f"{amount(bnd)} USD ({100 * bnd / r.hd:.0f}% of {possessive(country(r.h))} exports to "
            f"{country(r.d)}), {100 * (bnd - bnd0) / (r.od0 + r.hd0):.1f}% of {possessive(country(r.d))} imports "
            f"of it from both (robust z {r.pt_z:+.1f})")
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (np.minimum(s["oh"], s["hd"]) / s["hd"]).to_numpy()
        expected = (np.minimum(s["oh0"], s["hd0"]) / s["hd0"]).to_numpy()
    return _frame(tr, sel, "entrepot.pass_through", s["pt_z"].to_numpy(), value, expected,
                  s["rerouted"].to_numpy(), details)


def _comovement(tr, params, labels, freq, test):
    lag = params.lag[freq]
    with np.errstate(divide="ignore", invalid="ignore"):
        g_oh = np.log(tr["oh"] / tr["oh0"]).to_numpy()
        g_hd = np.log(tr["hd"] / tr["hd0"]).to_numpy()
        hub_share = (tr["hd"] / (tr["hd"] + tr["od"])).to_numpy()
    m = np.minimum(g_oh, g_hd)
    amt, s1, s0 = rerouted(tr, freq)
    finite = np.isfinite(m) & (hub_share >= params.min_hub_share) & (s1 > s0) & (amt > 0)
    z = np.full(len(tr), np.nan)
    if finite.any():
        grp = tr["zg"].to_numpy()  # period, destination and product level
        zz, _, _ = robust_cross_z(m[finite], grp[finite], params.growth_floor)
        z[finite] = zz
    sel = np.isfinite(z) & (z >= params.min_score) & (m > 0) & test[tr["t"]]
    if not sel.any():
        return None
    s = tr.loc[sel]
    details = []
    for r, gz, go, gh in zip(s.itertuples(index=False), z[sel], g_oh[sel], g_hd[sel]):
        bt, nt = _window_text(labels, r.t, lag, freq)
        details.append(_trade_sentence(r, bt, nt) + f"; both legs grew together ({100 * np.expm1(go):+.0f}% and "
                       f"{100 * np.expm1(gh):+.0f}%, robust z {gz:+.1f})")
    return _frame(tr, sel, "entrepot.comovement", z[sel], m[sel], np.zeros(int(sel.sum())), amt[sel], details)


def _share_shift(tr, params, labels, freq, test):
    w = params.event_window[freq]
    out = []
    pos = {lb: i for i, lb in enumerate(labels)}
    for ev in params.tariff_events:
        ev = str(ev)
        p_e = ev[:4] if freq == "A" else (ev[:7] if freq == "M" else f"{ev[:4]}-Q{(int(ev[5:7]) + 2) // 3}")
        if p_e not in pos:
            continue
        te = pos[p_e]
        t_pre, t_post = te - 1, min(te + w, len(labels) - 1)
        if t_pre < 0 or t_post - te < max(1, w // 2):
            continue
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
        z = np.full(len(j), np.nan)
        grp = j["zg_dl"].to_numpy()  # destination and product level
        z[fin], _, _ = robust_cross_z(ds[fin], grp[fin], params.share_floor)
        sel = np.isfinite(z) & (z >= params.min_score) & (ds > 0) & bool(test[t_post])
        if not sel.any():
            continue
        s = j.loc[sel]
        details = []
        for r, a, b, zz in zip(s.itertuples(index=False), s0[sel], s1[sel], z[sel]):
            prod = "" if r.hs == "TOTAL" else f" of {product(r.hs)}"
            details.append(
                f"around the tariff event of {ev}, {possessive(country(r.h))} share of {possessive(country(r.d))} "
                f"imports{prod} from {country(r.h)} and {country(r.o)} went from {100 * a:.1f}% "
                f"({labels[t_pre]}) to {100 * b:.1f}% ({labels[t_post]}): {country(r.d)} bought "
                f"{amount(r.hd)} USD from {country(r.h)} (was {amount(r.hd_pre)}) and {amount(r.od)} from "
                f"{country(r.o)} (was {amount(r.od_pre)}) (robust z {zz:+.1f})")
        out.append(_frame(j, sel, "entrepot.share_shift", z[sel], s1[sel], s0[sel],
                          (ds[sel] * (s["hd"] + s["od"])).to_numpy() / SEASON[freq], details))
    return pd.concat(out, ignore_index=True) if out else None


def _thin_hub(tr, params, labels, freq, test):
    if "pt_z" not in tr:
        return None
    lag = params.lag[freq]
    hm = tr["hm"].fillna(tr["oh"] * (1 + params.cif_margin)).to_numpy() / (1 + params.cif_margin)
    hm0 = tr["hm0"].fillna(tr["oh0"] * (1 + params.cif_margin)).to_numpy() / (1 + params.cif_margin)
    hx = tr["hx"].fillna(tr["hd"]).to_numpy()
    hx0 = tr["hx0"].fillna(tr["hd0"]).to_numpy()
    dm, dx = hm - hm0, hx - hx0
    with np.errstate(divide="ignore", invalid="ignore"):
        close = np.where((dm > 0) & (dx > 0), np.minimum(dm, dx) / np.maximum(dm, dx), 0.0)
        uv_in = (tr["oh"] - tr["oh0"]) / (tr["qoh"] - tr["qoh0"])
        uv_out = (tr["hd"] - tr["hd0"]) / (tr["qhd"] - tr["qhd0"])
        dist = np.abs(np.log(uv_out / uv_in)).to_numpy()
    has_uv = np.isfinite(dist)
    uv_w = np.where(has_uv, np.exp(-np.maximum(dist - params.uv_tolerance, 0.0) / params.uv_tolerance), 1.0)
    score = tr["pt_z"].to_numpy() * close * uv_w
    sel = (np.isfinite(score) & (close >= params.thin_closeness) & (score >= params.min_score)
           & test[tr["t"]])
    if not sel.any():
        return None
    s = tr.loc[sel]
    details = []
    for r, a, b, d, hu in zip(s.itertuples(index=False), dm[sel], dx[sel], dist[sel], has_uv[sel]):
        bt, nt = _window_text(labels, r.t, lag, freq)
        prod = "" if r.hs == "TOTAL" else f" of {product(r.hs)}"
        uv = (f"; the unit values of the added flows differ by {100 * np.expm1(d):.0f}%" if hu else "")
        details.append(f"{possessive(country(r.h))} imports{prod} from {country(r.o)} rose {amount(a)} USD and its "
                       f"exports of it to {country(r.d)} rose {amount(b)}, {bt} -> {nt}: a thin hub adding "
                       f"little{uv} (score {score[sel][0]:.1f} from pass-through z {r.pt_z:+.1f})")
    details = [dt.replace(f"(score {score[sel][0]:.1f}", f"(score {sc:.1f}")
               for dt, sc in zip(details, score[sel])]
    return _frame(tr, sel, "entrepot.thin_hub", score[sel], close[sel], np.ones(int(sel.sum())),
                  s["rerouted"].to_numpy(), details)


def _origin_washing(tr, params, labels, freq, test):
    lag = params.lag[freq]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.log(tr["hd"] / tr["hx"]).to_numpy()
        w0 = np.log(tr["hd0"] / tr["hx0"]).to_numpy()
    dw = w - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        hub_share = (tr["hd"] / (tr["hd"] + tr["od"])).to_numpy()
    fin = np.isfinite(dw) & (hub_share >= params.min_hub_share)
    z = np.full(len(tr), np.nan)
    if fin.any():
        grp = tr["zg"].to_numpy()  # period, destination and product level
        z[fin], _, _ = robust_cross_z(dw[fin], grp[fin], params.growth_floor)
    sel = np.isfinite(z) & (z >= params.min_score) & (w > 0) & test[tr["t"]]
    if not sel.any():
        return None
    s = tr.loc[sel]
    details = []
    for r, zz in zip(s.itertuples(index=False), z[sel]):
        bt, nt = _window_text(labels, r.t, lag, freq)
        prod = "" if r.hs == "TOTAL" else f" of {product(r.hs)}"
        details.append(f"{country(r.d)} reports {amount(r.hd * (1 + params.cif_margin))} USD of imports{prod} from "
                       f"{country(r.h)} ({amount(r.hd)} at FOB) in {nt} but {country(r.h)} reports only "
                       f"{amount(r.hx)} of exports of it to {country(r.d)}; in {bt} it was {amount(r.hd0)} against "
                       f"{amount(r.hx0)} (robust z {zz:+.1f}): goods declared as {possessive(country(r.h))} that "
                       f"{country(r.h)} did not record")
    return _frame(tr, sel, "entrepot.origin_washing", z[sel], np.exp(w[sel]), np.exp(w0[sel]),
                  (s["hd"] - s["hx"]).to_numpy(), details)


def _hub_share(df: pd.DataFrame, params: EntrepotParams, periods) -> pd.DataFrame | None:
    """Cross-sectional screen of destination-side imports by product and partner (see the module docstring)."""
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
    legs = sum_by(legs, ["period", "d", "hs", "src"], ["v"])
    wide = legs.pivot_table(index=["period", "d", "hs"], columns="src", values="v", aggfunc="sum", fill_value=0.0,
                            observed=True)
    if "~origin" not in wide or wide.shape[1] < 2:
        return None
    o = wide.pop("~origin")
    hub_cols = sorted(wide.columns)
    H = wide[hub_cols].to_numpy()
    O = o.to_numpy()[:, None]
    ok = (H + O >= params.share_min_usd) & (O >= params.share_min_origin_usd) & (H > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(ok, np.log(H / O), np.nan)
    # robust z of each hub's log odds across the products of one period and destination
    grp = wide.index.droplevel("hs").to_frame(index=False).astype("str").agg("|".join, axis=1).to_numpy()
    z = np.full(H.shape, np.nan)
    med_share = np.full(H.shape, np.nan)
    for j in range(H.shape[1]):  # a handful of hubs; each step vectorised over products
        fin = np.isfinite(lo[:, j])
        if fin.sum() < 10:
            continue
        zz, med, _ = robust_cross_z(lo[fin, j], grp[fin], params.share_scale)
        z[fin, j] = zz
        med_share[fin, j] = 1.0 / (1.0 + np.exp(-med))
    zc = np.nan_to_num(z, nan=0.0)
    score = zc.sum(axis=1) / np.sqrt(H.shape[1])
    sel = np.isfinite(score) & (score >= params.min_score)
    if not sel.any():
        return None
    keys = wide.index.to_frame(index=False)
    rows = np.flatnonzero(sel)
    hub_names, details, value, expected, usd = [], [], [], [], []
    for r in rows:
        carry = [j for j in np.argsort(-zc[r], kind="mergesort") if zc[r, j] >= 1.0]
        hub_names.append("+".join(hub_cols[j] for j in carry))
        hsum, osum = H[r, carry].sum(), O[r, 0]
        # what the carrying hubs would ship at their usual share of hub + origin
        exp_h = sum(med_share[r, j] / (1 - med_share[r, j]) * osum for j in carry)
        value.append(hsum / (hsum + osum))
        expected.append(exp_h / (exp_h + osum))
        usd.append(max(hsum - exp_h, 0.0))
        d, hs_r, per = keys.at[r, "d"], keys.at[r, "hs"], keys.at[r, "period"]
        parts = ", ".join(f"{amount(H[r, j])} from {country(hub_cols[j])} (z {z[r, j]:+.1f})" for j in carry)
        details.append(
            f"in {per} {country(d)} imported {product(hs_r)} for {parts} but only {amount(osum)} from "
            f"{country(sorted(origins)[0]) if len(origins) == 1 else 'the origins'}: these hubs hold "
            f"{100 * value[-1]:.0f}% of what {country(d)} bought of it from them and the origin, where their "
            f"usual product shares would give {100 * expected[-1]:.0f}% (combined z {score[r]:+.1f})")
    origin = sorted(origins)[0] if len(origins) == 1 else "+".join(sorted(origins))
    hs_out = keys["hs"].to_numpy()[rows]
    return pd.DataFrame({
        "signal": "entrepot.hub_share",
        "subject": [f"{origin}>{h}>{d}:{c}" for h, d, c in zip(hub_names, keys["d"].to_numpy()[rows], hs_out)],
        "reporter": origin, "hub": hub_names, "partner": keys["d"].to_numpy()[rows], "hs": hs_out,
        "period": keys["period"].to_numpy()[rows], "score": score[rows], "value": value, "expected": expected,
        "usd_at_stake": usd, "detail": details,
    })


def run(flows: pd.DataFrame, *, params: EntrepotParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None) -> CheckResult:
    """Entrepôt rerouting signals for the ``periods`` under test (all when ``None``); ``mirror_gaps`` is accepted
    and not needed (the check reads both sides of each leg itself)."""
    params = params or EntrepotParams()
    usable, led = usable_mask(flows, params.include_estimated, CHECK)
    # period labels numbered once; frequencies and reach decided on the distinct labels
    pcodes, puniq = pd.factorize(flows["period"].astype("str"))
    label_codes, label_of = pd.factorize(pd.Series(puniq, dtype="str"))  # (one label per distinct string)
    label_of = np.asarray(label_of, dtype=object)
    pcodes = np.where(pcodes >= 0, np.append(label_codes, -1)[pcodes], -1)
    seen = np.zeros(len(label_of), dtype=bool)
    seen[np.unique(pcodes[usable & (pcodes >= 0)])] = True
    present = pd.DataFrame({"period": pd.Series(label_of[seen], dtype="str")})
    out = []
    tables = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for freq, part_labels in split_frequencies(present).items():
            # a period under test reads the trailing annual sum ``lag`` periods back, and the share shift the
            # period before a tariff event up to ``event_window`` periods earlier (its post-event period is capped
            # at the end of the data, so the rows that far after the periods under test are kept too)
            reach = {freq: params.lag[freq] + SEASON[freq] + params.event_window[freq] + 1}
            near = within_reach(part_labels, periods, reach, {freq: params.event_window[freq]})
            in_reach = np.append(pd.Index(label_of).isin(near["period"]), False)
            tr, labels = triples(flows, usable & in_reach[pcodes], label_of, pcodes, params, freq, periods)
            if tr is None or tr.empty:
                led.notes.append(f"entrepot: no origin -> hub -> destination legs at frequency {freq}")
                if "hub_share" in params.signals:
                    of_freq = np.append(pd.Index(label_of).isin(part_labels["period"]), False)
                    hs_found = _hub_share(flows.loc[usable & of_freq[pcodes]], params, periods)
                    if hs_found is not None:
                        led.notes.append("entrepot: destination-side data only; the cross-sectional hub_share "
                                         "screen was run instead")
                    out.append(hs_found)
                continue
            test = period_mask(labels, periods)
            tr.attrs["n_tested"] = int(test[tr["t"].to_numpy()].sum())
            if "pass_through" in params.signals or "thin_hub" in params.signals:
                pt = _pass_through(tr, params, labels, freq, test)
                if "pass_through" in params.signals:
                    out.append(pt)
            if "comovement" in params.signals:
                out.append(_comovement(tr, params, labels, freq, test))
            if "share_shift" in params.signals:
                out.append(_share_shift(tr, params, labels, freq, test))
            if "thin_hub" in params.signals:
                out.append(_thin_hub(tr, params, labels, freq, test))
            if "origin_washing" in params.signals:
                out.append(_origin_washing(tr, params, labels, freq, test))
            keep = ["period", "o", "h", "d", "hs", "oh", "oh0", "hd", "hd0", "od", "od0", "hx", "hm"]
            tables[f"triples_{freq}"] = tr.loc[test[tr["t"]], keep].sort_values(
                ["period", "o", "h", "d", "hs"]).reset_index(drop=True)
    return CheckResult(check=CHECK, findings=finish(out, CHECK), tables=tables, ledgers=[led])
