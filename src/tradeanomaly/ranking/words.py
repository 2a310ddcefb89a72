"""Cases in trade words: the kind of a case, its one-line headline and its explanation."""

from __future__ import annotations

import numpy as np

from ..scoring import ALL_PRODUCTS

#: how a feature of the scoring matrix reads; ``{v}`` is the feature's value
SIGNAL_PHRASES: dict[str, str] = {
    "mirror.log_gap_z": "mirror gap {v:.1f} robust SD from the pair's norm",
    "mirror.peer_z": "mirror gap {v:.1f} robust SD beyond its peers'",
    "unit_value.outlier": "unit value {v:.1f} robust SD from the product's norm",
    "benford.first_digit": "first digits {v:.1f} away from Benford's law",
    "benford.first_two_digits": "first-two digits {v:.1f} away from Benford's law",
    "series.own_history": "growth {v:.1f} robust SD beyond its own history",
    "series.level_shift": "a level shift of {v:.1f} robust SD",
    "series.peer": "growth {v:.1f} robust SD beyond its peers'",
    "invoice_export.mirror_band": "exports {v:.1f} above the partner's mirror band",
    "invoice_export.quarter_opening": "exports bunched in quarter-opening months (score {v:.1f})",
    "invoice_export.round_numbers": "an excess of round-number figures (score {v:.1f})",
    "entrepot.pass_through": "goods passing straight through the hub (score {v:.1f})",
    "entrepot.share_shift": "a shift of market share onto the route (score {v:.1f})",
    "rush.pre_tariff_surge": "a surge ahead of a tariff (score {v:.1f})",
    "rush.surge_then_fall": "a surge then a fall of the same shipments (score {v:.1f})",
}
CHECK_NOUNS: dict[str, str] = {
    "mirror": "mirror gaps", "benford": "digit tests", "unit_value": "unit values", "series": "series breaks",
    "invoice_export": "invoice-export signs", "entrepot": "rerouting signs", "rush": "export rushing",
}
KIND_WORDS: dict[str, str] = {
    "invoice_export": "Invoice exports", "mirror_gap": "Mirror gap", "rerouting": "Rerouting",
    "rush": "Export rush", "mispricing": "Mispricing", "fabrication": "Invented figures",
    "reporting": "Reports out of line", "series_break": "Series break",
}
_LEAD_KIND = {"invoice_export": "invoice_export", "mirror": "mirror_gap", "rush": "rush", "unit_value": "mispricing",
              "series": "series_break", "entrepot": "rerouting", "benford": "fabrication"}


def country_name(code: str) -> str:
    """The readable name of an ISO3 code (the crosswalk's), the code itself when unknown."""
    if not code:
        return ""
    from ..codes import country_name as crosswalk_name

    try:
        name = crosswalk_name(code)
    except (KeyError, LookupError, ValueError):
        name = ""
    return name or code


from ..fmt import fmt_usd  # noqa: E402,F401  (the one dollar formatter; importable from here)


def case_kind(key: str, shape: str, lead_check: str, families: str) -> str:
    if key.startswith("C:"):
        return "fabrication" if "digits" in families.split(";") else "reporting"
    if shape == "route" or key.startswith("R:"):
        return "rerouting"
    return _LEAD_KIND.get(lead_check, lead_check or "series_break")


def _product(hs: str) -> str:
    if not hs or hs in ALL_PRODUCTS:
        return ""
    from ..codes import hs_name

    try:
        name = hs_name(hs)
    except (KeyError, LookupError, ValueError):
        name = ""
    return f"HS {hs} ({name})" if name else f"HS {hs}"


def headline(kind: str, row: dict, side: str = "") -> str:
    """One sentence of at most about 25 words: the kind, who, what, when, how much, how sure."""
    exp, imp = country_name(row["exporter"]), country_name(row["importer"])
    prod = _product(row["hs"])
    of = f" of {prod}" if prod else ""
    per = str(row["period"]).replace(":", " to ")
    usd = float(row["usd_at_stake"] or 0.0)
    money = f", {fmt_usd(usd)} USD at stake" if usd >= 1e5 else ""
    conf = f" ({row['confidence']} confidence)."
    if kind == "rerouting":
        hub = country_name(row["hub"])
        return f"Rerouting: {exp}'s exports{of} to {imp} passing through {hub}, {per}{money}{conf}"
    if kind in ("fabrication", "reporting"):
        rep = country_name(row["reporter"])
        what = {"X": "export", "M": "import"}.get(side, "")
        n = int(row.get("partners", 0) or 0)
        with_n = f" against {n} partners" if n else ""
        if kind == "fabrication":
            return f"Invented figures: {rep}'s {what + ' ' if what else ''}reports depart from Benford's law" \
                   f"{with_n}, {per}{money}{conf}"
        return f"Reports out of line: {rep}'s {what + ' ' if what else ''}figures disagree{with_n} at once, " \
               f"{per}{money}{conf}"
    if row.get("region"):
        from ..codes import province_name

        try:
            name = province_name(row["region"])
        except (KeyError, LookupError, ValueError):
            name = row["region"]
        return f"{KIND_WORDS.get(kind, kind)}: {name}'s exports, {per}{money}{conf}"
    return f"{KIND_WORDS.get(kind, kind)}: {exp}'s exports{of} to {imp}, {per}{money}{conf}"


def feature_phrase(feature: str, value: float) -> str:
    """A feature of the scoring matrix in trade words."""
    if feature.startswith("ctx.detail:"):
        check = feature.split(":", 1)[1]
        return f"product-level {CHECK_NOUNS.get(check, check)} up to {value:.1f}"
    if feature.startswith("ctx.reporter:"):
        check = feature.split(":", 1)[1]
        return f"the reporter's figures as a whole show {CHECK_NOUNS.get(check, check)} ({value:.1f})"
    if feature == "any.max":
        return f"its strongest signal at {value:.1f}"
    if feature == "any.strong":
        return f"{value:.0f} strong signal(s) at once"
    if feature.endswith(":excess"):
        return f"{feature[: -len(':excess')]} {value:+.2f} against its expected value"
    tmpl = SIGNAL_PHRASES.get(feature)
    return tmpl.format(v=value) if tmpl else f"{feature} {value:.1f}"


def members_sentence(members, lead_subject: str) -> str:
    """What else the case holds: products, partners, other views, periods."""
    others = members.loc[members["subject"] != lead_subject]
    if others.empty:
        return ""
    subj = list(dict.fromkeys(others["subject"]))
    shown = ", ".join(subj[:6]) + (f" and {len(subj) - 6} more" if len(subj) > 6 else "")
    return f" The case also holds {len(others)} finding(s) on {shown}."


def ensemble_sentence(ensemble: float, feats: list) -> str:
    if not feats or not np.isfinite(ensemble):
        return ""
    plain = [t for t in feats if not t[0].endswith(":excess")] or feats
    words = [feature_phrase(f, v) for f, v, _ in plain[:2]]
    pct = max(1, int(np.ceil((1.0 - ensemble) * 100)))
    return f" The ensemble puts it in the top {pct}% of subject-periods of its kind, driven by {' and '.join(words)}."
