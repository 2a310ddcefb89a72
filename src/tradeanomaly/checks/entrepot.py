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
from .base import CheckResult, finish, merge_ledgers
from .entrepot_legs import (
    MEASURES,
    cross_z,
    dl_keys,
    event_joins,
    event_positions,
    hub_legs,
    legs_of,
    measure_z,
    prepare,
    recall,
    remember,
    rerouted,
    z_table,
)
from .panels import SEASON, expand_group, period_mask
from .phrases import amount, country, possessive, product
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


def _reexports(tr: pd.DataFrame) -> np.ndarray:
    """Triples whose hub publishes re-exports to D covering most of its exports to D: an entrepôt's business."""
    hr = tr["hr"].to_numpy() if "hr" in tr else np.full(len(tr), np.nan)
    hx = tr["hx"].fillna(tr["hd"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(hr / hx) >= 0.5


def _pass_through(tr, params, labels, freq, test, zs, memo=None):
    lag = params.lag[freq]
    with np.errstate(divide="ignore", invalid="ignore"):
        hub_share = (tr["hd"] / (tr["hd"] + tr["od"])).to_numpy()
    _, z = measure_z(tr, params, freq, zs, "pt", memo)
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


def _comovement(tr, params, labels, freq, test, zs, memo=None):
    lag = params.lag[freq]
    with np.errstate(divide="ignore", invalid="ignore"):
        g_oh = np.log(tr["oh"] / tr["oh0"]).to_numpy()
        g_hd = np.log(tr["hd"] / tr["hd0"]).to_numpy()
    amt, s1, s0 = rerouted(tr, freq)
    m, z = measure_z(tr, params, freq, zs, "co", memo)
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


def _share_shift(tr, params, labels, freq, test, zs):
    out = []
    for i, ev, t_pre, t_post, j, s0, s1, ds, fin in event_joins(tr, params, labels, freq):
        z = np.full(len(j), np.nan)  # across the destination and product level, whole table
        z[fin] = cross_z(zs.get(("ss", i)), dl_keys(j, fin), ds[fin])
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


def _thin_hub(tr, params, labels, freq, test, zs):
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


def _origin_washing(tr, params, labels, freq, test, zs, memo=None):
    lag = params.lag[freq]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.log(tr["hd"] / tr["hx"]).to_numpy()
        w0 = np.log(tr["hd0"] / tr["hx0"]).to_numpy()
    _, z = measure_z(tr, params, freq, zs, "ow", memo)
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


def _hub_scores(legs: pd.DataFrame, params: EntrepotParams) -> pd.DataFrame | None:
    """The hub_share screen (see the module docstring) from the summed legs of the whole table
    (:func:`.entrepot_legs.hub_legs`)."""
    origins = set(expand_group(params.origins))
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


# --------------------------------------------------------------------------------------------------------------
# the run: a reduce step over the parts of the table split by product, then each part's run
# --------------------------------------------------------------------------------------------------------------

_NO_LEGS = "entrepot: no origin -> hub -> destination legs at frequency {}"
_HUB_NOTE = "entrepot: destination-side data only; the cross-sectional hub_share screen was run instead"


def part_stats(flows: pd.DataFrame, params: EntrepotParams | None = None, periods: list[str] | None = None) -> dict:
    """The reduce step's share of one part of the table split by product (``hs``; a part holds every leg of its
    products). Per frequency: the part's period axis (its first and last period), the periods at which it has
    triples, its triples under test (``n_tested``), and the records of the cross-sectional z values (period,
    destination, product level and the measure, at the periods under test: pass-through, comovement, origin
    washing; destination, product level and share shift for each tariff event, with the two periods compared);
    where it has no triple under test, the summed legs of the hub_share screen. :func:`combine_stats` computes the
    statistics over all parts with the whole table's code."""
    params = params or EntrepotParams()
    periods = None if periods is None else list(periods)
    out: dict = {"params": params, "periods": periods, "freqs": {}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        prep = prepare(flows, params)
        usable, _, pcodes, label_of, freqs = prep
        built = {}
        for freq, part_labels in freqs.items():
            tr, labels = legs_of(flows, prep, params, periods, freq)
            memo: dict = {}  # the measures, for the run of the same table
            built[freq] = (tr, labels, memo)
            rec = {"span": None if labels is None else (labels[0], labels[-1]), "rows_at": set(), "n_tested": 0,
                   "z": {}, "ss": {}, "legs": None}
            under_test = False
            if tr is not None and not tr.empty:
                test = period_mask(labels, periods)
                at_test = test[tr["t"].to_numpy()]
                under_test = bool(at_test.any())
                rec["rows_at"] = set(pd.unique(tr["period"]))
                rec["n_tested"] = int(at_test.sum())
                wanted = {"pt": "pass_through" in params.signals or "thin_hub" in params.signals,
                          "co": "comovement" in params.signals, "ow": "origin_washing" in params.signals}
                for name, (func, _) in MEASURES.items():
                    if not wanted[name]:
                        continue
                    x, fin = memo[name] = func(tr, params, freq)
                    sel = fin & at_test
                    if sel.any():
                        rec["z"][name] = pd.DataFrame({"period": tr["period"].to_numpy()[sel],
                                                       "d": tr["d"].to_numpy()[sel],
                                                       "level": tr["level"].to_numpy()[sel], "x": x[sel]})
                if "share_shift" in params.signals:
                    for i, _, t_pre, t_post, j, _, _, ds, fin in event_joins(tr, params, labels, freq):
                        if test[t_post]:
                            rec["ss"][i] = (labels[t_pre], labels[t_post], pd.DataFrame(
                                {"d": j["d"].to_numpy()[fin], "level": j["level"].to_numpy()[fin], "x": ds[fin]}))
            if not under_test and "hub_share" in params.signals:
                of_freq = np.append(pd.Index(label_of).isin(part_labels["period"]), False)
                rec["legs"] = hub_legs(flows.loc[usable & of_freq[pcodes]], params, periods)
            out["freqs"][freq] = rec
    remember(flows, params, periods, (prep, built))
    return out


def combine_stats(parts: list[dict]) -> dict:
    """The whole table's statistics from the parts of :func:`part_stats`: per frequency the period axis, whether
    any triple is tested (else the hub_share screen runs, here, on the summed legs of all parts), ``n_tested``,
    and each cross-sectional group's median and robust scale."""
    from .entrepot_legs import _needed_positions

    parts = [p for p in parts if p is not None]
    params, periods = parts[0]["params"], parts[0]["periods"]
    order = [f for f in ("A", "Q", "M") if any(f in p["freqs"] for p in parts)]
    freqs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f in order:
            recs = [p["freqs"][f] for p in parts if f in p["freqs"]]
            spans = [r["span"] for r in recs if r["span"] is not None]
            axis, has = None, False
            if spans:
                firsts = pd.Series([s[0] for s in spans], dtype="str")
                lasts = pd.Series([s[1] for s in spans], dtype="str")
                axis = P.period_range(firsts.iloc[int(np.argmin(P.period_ordinal(firsts)))],
                                      lasts.iloc[int(np.argmax(P.period_ordinal(lasts)))])
                need = {lb for lb, n in zip(axis, _needed_positions(axis, params, f, periods)) if n}
                has = any(r["rows_at"] & need for r in recs)
            g = {"axis": axis, "has": has, "n_tested": sum(r["n_tested"] for r in recs), "z": {}, "hub": None}
            if has:
                for name, (_, floor) in MEASURES.items():
                    g["z"][name] = z_table([r["z"].get(name) for r in recs], ["period", "d", "level"],
                                            getattr(params, floor))
                for i, ev in enumerate(params.tariff_events):
                    at = event_positions(axis, params, f, str(ev))
                    if at is None:
                        continue
                    want = (axis[at[0]], axis[at[1]])
                    g["z"][("ss", i)] = z_table([r["ss"][i][2] for r in recs if i in r["ss"]
                                                  and r["ss"][i][:2] == want], ["d", "level"], params.share_floor)
            elif "hub_share" in params.signals:
                legs = [r["legs"] for r in recs if r["legs"] is not None]
                if legs:
                    every = legs[0] if len(legs) == 1 else pd.concat(legs, ignore_index=True)
                    if len(legs) > 1 and every.duplicated(["period", "d", "hs", "src"]).any():
                        raise ConfigError(f"entrepot: hub_share at share_level {params.share_level} sums products "
                                          "that the engine put in different partitions (its key is the product "
                                          "code's first 6 digits): use share_level 6 or more, or the pandas "
                                          "engine")
                    g["hub"] = _hub_scores(every, params)
            freqs[f] = g
    return {"order": order, "freqs": freqs}


def run_part(flows: pd.DataFrame, params: EntrepotParams | None, periods: list[str] | None,
             stats: dict) -> CheckResult:
    """The findings of one part of the table split by product, with the whole table's statistics (``stats``:
    :func:`combine_stats`); the hub_share findings are the reduce step's (:func:`combine_parts` adds them)."""
    params = params or EntrepotParams()
    periods = None if periods is None else list(periods)
    out = []
    tables = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        work = recall(flows, params, periods)
        prep, built = work if work is not None else (prepare(flows, params), {})
        led, freqs = prep[1], prep[4]
        for freq in stats["order"]:
            g = stats["freqs"][freq]
            if not g["has"]:
                led.notes.append(_NO_LEGS.format(freq))
                if "hub_share" in params.signals and g["hub"] is not None:
                    led.notes.append(_HUB_NOTE)
                continue
            if freq not in freqs:
                continue
            tr, labels, memo = built.get(freq, (None, None, None))
            if freq not in built or labels != g["axis"]:
                tr, labels = legs_of(flows, prep, params, periods, freq, axis=g["axis"])
                memo = None
            if tr is None or tr.empty:
                continue
            test = period_mask(labels, periods)
            tr.attrs["n_tested"] = int(g["n_tested"])
            zs = g["z"]
            if "pass_through" in params.signals or "thin_hub" in params.signals:
                pt = _pass_through(tr, params, labels, freq, test, zs, memo)
                if "pass_through" in params.signals:
                    out.append(pt)
            if "comovement" in params.signals:
                out.append(_comovement(tr, params, labels, freq, test, zs, memo))
            if "share_shift" in params.signals:
                out.append(_share_shift(tr, params, labels, freq, test, zs))
            if "thin_hub" in params.signals:
                out.append(_thin_hub(tr, params, labels, freq, test, zs))
            if "origin_washing" in params.signals:
                out.append(_origin_washing(tr, params, labels, freq, test, zs, memo))
            keep = ["period", "o", "h", "d", "hs", "oh", "oh0", "hd", "hd0", "od", "od0", "hx", "hm"]
            tables[f"triples_{freq}"] = tr.loc[test[tr["t"]], keep].sort_values(
                ["period", "o", "h", "d", "hs"]).reset_index(drop=True)
    return CheckResult(check=CHECK, findings=finish(out, CHECK), tables=tables, ledgers=[led])


def combine_parts(results: list[CheckResult], stats: dict) -> CheckResult:
    """One result from the parts' results: findings (with the reduce step's hub_share findings) and the triples
    tables in the whole table's order, ledgers summed (examples of the first rows of the input)."""
    hub = [stats["freqs"][f]["hub"] for f in stats["order"]]
    tables = {}
    for f in stats["order"]:
        name = f"triples_{f}"
        got = [r.tables[name] for r in results if name in r.tables]
        if not got:
            continue
        if len(got) == 1:  # one part's table is in order already
            tables[name] = got[0]
            continue
        full = [t for t in got if len(t)] or got[:1]
        t = full[0] if len(full) == 1 else pd.concat(full, ignore_index=True)
        tables[name] = t.sort_values(["period", "o", "h", "d", "hs"]).reset_index(drop=True)
    found = [r.findings for r in results] + [h for h in hub if h is not None]
    # one part's findings are finished already (sorted on explicit keys)
    findings = found[0] if len(found) == 1 else finish(found, CHECK)
    return CheckResult(check=CHECK, findings=findings, tables=tables,
                       ledgers=merge_ledgers([led for r in results for led in r.ledgers]))


def run(flows: pd.DataFrame, *, params: EntrepotParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None, stats: dict | None = None) -> CheckResult:
    """Entrepôt rerouting signals for the ``periods`` under test (all when ``None``); ``mirror_gaps`` is accepted
    and not needed (the check reads both sides of each leg itself). ``stats``: the whole table's
    :func:`combine_stats` when ``flows`` is a part of the table split by product (the engines' partitions; the
    result is then one part's, for :func:`combine_parts`); without it, the table is the whole table."""
    params = params or EntrepotParams()
    if stats is not None:
        return run_part(flows, params, periods, stats)
    stats = combine_stats([part_stats(flows, params, periods)])
    return combine_parts([run_part(flows, params, periods, stats)], stats)
