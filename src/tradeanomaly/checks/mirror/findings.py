"""Findings of the mirror check and their explanations: the pairs of the periods under test whose own-history
or peer z, entrepôt or chronic label makes a finding, each with a sentence that gives both sides of the gap."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...fmt import fmt_usd
from ...schema import make_findings
from ..pair_history import _names, _period_axes
from .pairing import Pairing, _hs_level
from .params import CHECK, MirrorParams


# ----------------------------------------------------------------------------------------------------------------
# Findings
# ----------------------------------------------------------------------------------------------------------------


def _pct(t: float) -> str:
    s = f"{100 * t:.1f}".rstrip("0").rstrip(".")
    return f"{s}%"


def _label_tables(gaps: pd.DataFrame, pairing: Pairing) -> pd.DataFrame:
    """Replace integer codes by labels (categoricals: cheap on millions of rows)."""
    out = pd.DataFrame({
        "period": pd.Categorical.from_codes(gaps["p"].to_numpy(), categories=pd.Index(pairing.period_labels)),
        "exporter": pd.Categorical.from_codes(gaps["e"].to_numpy(), categories=pd.Index(pairing.countries)),
        "importer": pd.Categorical.from_codes(gaps["i"].to_numpy(), categories=pd.Index(pairing.countries)),
        "hs": pd.Categorical.from_codes(gaps["h"].to_numpy(), categories=pd.Index(pairing.hs)),
    })
    rest = gaps.drop(columns=["p", "e", "i", "h"])
    return pd.concat([out, rest.reset_index(drop=True)], axis=1)


def _ordinal_label(ordinals: np.ndarray, pairing: Pairing, periods_of_row: np.ndarray) -> np.ndarray:
    """Period label of an ordinal on the frequency of the row's period."""
    ordinal_l, _, _ = _period_axes(pairing.period_labels)
    lut = {}
    for lab, o in zip(pairing.period_labels, ordinal_l):
        lut[(len(str(lab)), "Q" in str(lab), int(o))] = str(lab)
    kind = {}
    for lab in set(periods_of_row.tolist()):
        lab = str(lab)
        kind[lab] = (len(lab), "Q" in lab)
    out = [lut.get((*kind[str(lab)], o), "") for o, lab in zip(np.asarray(ordinals).tolist(), periods_of_row.tolist())]
    return np.array(out, dtype=object)


def _subjects(ex, im, hs) -> list[str]:
    return [f"{a}>{b}" if h == "TOTAL" else f"{a}>{b}:{h}" for a, b, h in zip(ex, im, hs)]


def build_findings(table: pd.DataFrame, pairing: Pairing, params: MirrorParams,
                   test_mask: np.ndarray, *, total_x: np.ndarray | None = None,
                   tested: dict | None = None) -> pd.DataFrame:
    """Findings of the periods under test: own-history z, peer z, entrepôt label (see the package docstring).

    ``total_x``: for each row under test, the exporter's paired exports in its period at its product level over
    all pairs of the run (summed over these rows when not given); ``tested`` receives each signal's count of tests
    among these rows."""
    t = table.loc[test_mask]  # a new frame already: read only below
    if t.empty:
        if tested is not None:
            tested.update(dict.fromkeys(("mirror.log_gap_z", "mirror.peer_z", "mirror.entrepot", "mirror.chronic"), 0))
        return make_findings()
    temper = t["temper"].to_numpy()
    beyond = t["usd_beyond_band"].to_numpy()
    level = _hs_level(np.asarray(t["hs"].cat.categories.astype(str)))[t["hs"].cat.codes.to_numpy()]
    p_codes = t["period"].cat.codes.to_numpy().astype(np.int64)
    # the exporter's paired exports in the period, same product level
    if total_x is None:
        tot_key = (p_codes * 16 + level) * len(pairing.countries) + t["exporter"].cat.codes.to_numpy()
        total_x = pd.Series(t["x_usd"].to_numpy()).groupby(tot_key).transform("sum").to_numpy()
    material = beyond >= params.min_usd_share * total_x

    recs = []
    z_own = t["z_own"].to_numpy()
    z_peer = t["z_peer"].to_numpy()
    ent = t["entrepot"].to_numpy()
    chronic = t["chronic"].to_numpy()
    s_own = np.minimum(np.abs(z_own) * temper, params.z_cap)
    s_peer = np.minimum(np.abs(z_peer) * temper, params.z_cap)
    # a chronic pair is judged against its own (chronic) norm only: its distance from its peers is the standing
    # asymmetry itself, not news
    pick_own = np.isfinite(s_own) & (s_own >= params.min_score) & material & ~ent & (beyond > 0)
    material_rep = t["usd_beyond_band_reported"].to_numpy() >= params.min_usd_share * total_x
    s_ent = np.where(np.isfinite(s_own), s_own, 0.0)
    pick_ent = ent & (material_rep | material) & (t["usd_beyond_band_reported"].to_numpy() > 0)
    pick_peer = np.isfinite(s_peer) & (s_peer >= params.min_score) & material & ~ent & ~chronic & (beyond > 0)
    pick_chronic = chronic & ~ent & ~pick_own & (beyond > 0)
    s_chronic = np.abs(t["log_gap"].to_numpy()) / params.chronic_log_gap
    n_tested = {"mirror.log_gap_z": int(np.isfinite(z_own).sum()), "mirror.peer_z": int(np.isfinite(z_peer).sum()),
                "mirror.entrepot": int(len(t)), "mirror.chronic": int(len(t))}
    if tested is not None:
        tested.update(n_tested)
    for signal, pick, score, zcol in (("mirror.log_gap_z", pick_own, s_own, z_own),
                                      ("mirror.entrepot", pick_ent, s_ent, z_own),
                                      ("mirror.peer_z", pick_peer, s_peer, z_peer),
                                      ("mirror.chronic", pick_chronic, s_chronic, z_own)):
        if not pick.any():
            continue
        sub = t.loc[pick]
        rec = _records(sub, pairing, signal, score[pick], zcol[pick], params)
        rec["n_tested"] = n_tested[signal]
        recs.append(rec)
    if not recs:
        return make_findings()
    out = pd.concat(recs, ignore_index=True)
    out = out.sort_values(["score", "signal", "subject", "period"], ascending=[False, True, True, True],
                          kind="stable").reset_index(drop=True)
    return make_findings(out)


def _records(sub: pd.DataFrame, pairing: Pairing, signal: str, score: np.ndarray, z: np.ndarray,
             params: MirrorParams) -> pd.DataFrame:
    ex = sub["exporter"].astype(str).to_numpy()
    im = sub["importer"].astype(str).to_numpy()
    hs = sub["hs"].astype(str).to_numpy()
    per = sub["period"].astype(str).to_numpy()
    names = dict(zip(pairing.countries, _names(pairing.countries)))
    first = _ordinal_label(sub["hist_first"].to_numpy(), pairing, per)
    last = _ordinal_label(sub["hist_last"].to_numpy(), pairing, per)
    hubs = set(params.hub_codes())
    details = []
    # plain Python scalars (lists) format faster than NumPy scalars, and the same
    cols = zip(*(np.asarray(c).tolist() for c in (
        ex, im, hs, per, sub["x_usd"].to_numpy(), sub["rx_usd"].to_numpy(), sub["m_usd"].to_numpy(),
        sub["m_fob_usd"].to_numpy(), sub["tau"].to_numpy(), sub["gap_usd"].to_numpy(),
        sub["log_gap"].to_numpy(), sub["hist_median"].to_numpy(), sub["peer_median"].to_numpy(),
        sub["n_peers"].to_numpy(), sub["temper"].to_numpy(), z, first, last, sub["m_valued_fob"].to_numpy(),
        sub["reexport_explained"].to_numpy(), sub["usd_beyond_band"].to_numpy())))
    for (a, b, h, p, x, rx, m, mf, tau, gap, lg, hmed, pmed, npeer, tmp, zz, f, la, mfob, rxe, bey) in cols:
        an, bn = names.get(a, a), names.get(b, b)
        what = "" if h == "TOTAL" else f" of HS {h}"
        s = f"{an} reports {fmt_usd(x)} USD of exports{what} to {bn}"
        if math.isfinite(rx) and rx > 0:
            s += f" (of which {fmt_usd(rx)} re-exports)"
        s += f"; {bn} reports {fmt_usd(m)} of imports{what} from {an}"
        s += " (valued FOB)" if mfob else f" ({fmt_usd(mf)} FOB at τ = {_pct(tau)})"
        side = "above" if zz >= 0 else "below"
        span = f"{f}–{la}" if f and la and f != la else (f or la)
        if signal == "mirror.log_gap_z":
            s += (f"; the gap of {fmt_usd(gap)} is {abs(zz):.1f} robust SD {side} the pair's {span} norm "
                  f"(log gap {lg:+.2f} against a median of {hmed:+.2f})")
        elif signal == "mirror.peer_z":
            s += (f"; the log gap of {lg:+.2f} ({fmt_usd(gap)}) is {abs(zz):.1f} robust SD {side} the median "
                  f"{pmed:+.2f} of {an}'s {int(npeer)} partners in {p}")
        elif signal == "mirror.chronic":
            s += (f"; the log gap of {lg:+.2f} has stood beyond the 1.4 mirror band through most of {span} "
                  f"(median {hmed:+.2f}): a standing asymmetry, not a change; listed apart from the ranked cases")
        elif rxe:
            s += (f"; the gap of {fmt_usd(gap)} is an entrepôt effect: {an}'s re-exports, which {bn} books under "
                  f"the goods' origin, explain all but {fmt_usd(bey)} of it; not ranked as fraud")
        else:
            hub = a if a in hubs else b
            if math.isfinite(hmed):
                hist = f"{hmed:+.2f} through {span}" if span else f"{hmed:+.2f}"
                now = f" ({abs(zz):.1f} robust SD {side} that norm now)" if math.isfinite(zz) else ""
                why = f"so the log gap has stayed near {hist}{now}"
            else:
                why = (f"and the log gap of {lg:+.2f} lies in the entrepôt direction (too little history yet to "
                       f"measure the pair's norm; its all-products figure or the hub's role says so)")
            s += (f"; the gap of {fmt_usd(gap)} is an entrepôt effect: {names.get(hub, hub)} re-exports and the "
                  f"importer records goods by origin, {why}; not ranked as fraud")
        if tmp < 1 and signal != "mirror.entrepot":
            s += f"; tempered ×{tmp:.2f} because {bn}'s import reports disagree with most partners"
        details.append(s)
    expected = np.where(sub["m_fob_usd"].to_numpy() > 0, sub["m_fob_usd"].to_numpy(), np.nan)
    at_stake = sub["usd_beyond_band"].to_numpy()
    if signal in ("mirror.log_gap_z", "mirror.peer_z"):
        # what changed: the dollars beyond both the freight band and the pair's own norm
        norm = sub["usd_beyond_norm"].to_numpy()
        at_stake = np.where(np.isfinite(sub["z_own"].to_numpy()) & np.isfinite(norm), np.minimum(at_stake, norm),
                            at_stake)
    if signal == "mirror.entrepot":
        at_stake = sub["usd_beyond_band_reported"].to_numpy()
    return pd.DataFrame({
        "check": CHECK, "signal": signal, "subject": _subjects(ex, im, hs), "reporter": ex, "partner": im,
        "hub": [a if a in hubs else (b if b in hubs else "") for a, b in zip(ex, im)],
        "region": "", "hs": hs, "period": per, "score": score, "value": sub["x_compared_usd"].to_numpy(),
        "expected": expected, "usd_at_stake": at_stake, "detail": details,
    })
