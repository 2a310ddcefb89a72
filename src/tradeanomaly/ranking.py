"""Scores + findings -> ranked, explained flags; the diff against the previous run.

The composite score of a subject-period is

    composite = reliability * (w_ensemble * ensemble + w_rules * (1 - exp(-rule / rule_scale)))
                + w_corroboration * corroboration + w_usd * dollars

* ``ensemble``: the pyod rank average from :func:`tradeanomaly.scoring.score` (in [0, 1]; 0.5 where it abstains,
  for a subject level too small to fit);
* ``rule``: the strongest finding score, times its signal's weight (``signal_weights``; series breaks weigh 0.4,
  everything else 1 by default);
* ``reliability``: tempers the mirror evidence of a reporter whose figures disagree with far more of its partners
  than other reporters' do (:func:`reporter_reliability`);
* ``corroboration``: further check families, beyond the first, with a score of at least ``corroboration_min``
  (0, 0.5 or 1);
* ``dollars``: the amount at stake on a log scale, 0 at ``usd_floor`` and 1 at ``usd_full`` (0 for a reporter as a
  whole, which is not a case with an amount).

A subject-period is flagged when its composite reaches ``min_score``. Flagged periods of one subject form an
*episode* (``period`` ``2023-03:2023-06``; up to ``episode_gap`` unflagged periods are bridged) whose score is its
peak plus ``w_persistence`` (in full at ``persistence_full`` periods), whose ``usd_at_stake`` is the sum of the
per-period amounts (the largest amount a finding names in each period, so one gap is never counted twice) and whose
``persistence`` is its length in periods. Episodes then form *cases*, best first: an episode of the same pair,
route or region (:func:`case_key`) that overlaps a case in time joins it instead of taking a place of its own, as
does a pair-level episode that is a leg of a flagged route; so one anomaly spread over twenty products or seen from
three angles uses one place of the budget, and its explanation lists the rest. Exceptions both ways: episodes led
by a check in ``product_specific_checks`` (export rushes, which follow the chapters a tariff list names) stay apart
per product, and when cases of at least ``reporter_case_min`` partners of one reporter are open at the same time,
they become one case about the reporter (subject ``DEU``: made-up figures in all its exports). Cases are ranked by
score (ties by subject, then period) and the first ``top_k`` are kept.

Known structure is labelled ``structural``, gets an empty ``rank`` and is listed after the ranked flags; it never
takes a place in the fraud ranking: findings whose signal names a structural cause (see
:data:`tradeanomaly.scoring.STRUCTURAL_SUFFIXES`), and episodes covering at least ``chronic_share`` of every period
the findings span (a standing difference since the data begins, such as an entrepôt's re-export gap). Flags of
``previous_flags`` that no longer appear are appended last with ``status`` ``resolved``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .errors import ConfigError
from .periods import frequencies, period_ordinal
from .schema import validate_findings
from .scoring import ALL_PRODUCTS, KEY_COLUMNS, ScoreResult, split_structural

FLAG_COLUMNS: tuple[str, ...] = (
    "rank", "subject", "reporter", "partner", "hub", "region", "hs", "period", "score", "signals",
    "usd_at_stake", "persistence", "status", "label", "explanation",
)

#: how a signal reads in an explanation; ``{v}`` is the finding's score (or the feature's value)
SIGNAL_PHRASES: dict[str, str] = {
    "mirror.log_gap_z": "mirror gap {v:.1f} robust SD above the pair's norm",
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
}
CHECK_NOUNS: dict[str, str] = {
    "mirror": "mirror gaps", "benford": "digit tests", "unit_value": "unit values", "series": "series breaks",
    "invoice_export": "invoice-export signs", "entrepot": "rerouting signs", "rush": "export rushing",
}


@dataclass(frozen=True)
class RankingParams:
    """Weights of the composite, the budget and the flagging threshold."""

    w_ensemble: float = 0.4
    w_rules: float = 0.5
    w_corroboration: float = 0.1
    w_usd: float = 0.4  # dollars at stake, on a log scale from usd_floor (0) to usd_full (the whole weight)
    usd_floor: float = 1e6
    usd_full: float = 1e11
    rule_scale: float = 4.0  # a rule score of this size gives 63% of the rule weight
    corroboration_min: float = 2.0
    # (signal, weight); unnamed signals weigh 1. Series breaks happen for many innocent reasons (a new plant, a
    # lost contract), so on their own they weigh less than a disagreement between two reports
    signal_weights: tuple[tuple[str, float], ...] = (
        ("series.level_shift", 0.4), ("series.own_history", 0.4), ("series.peer", 0.4))
    top_k: int = 50
    min_score: float = 0.5
    episode_gap: int = 1  # unflagged periods an episode may bridge
    reporter_case_min: int = 5  # partners flagged at once that make a reporter-wide case (0: never)
    product_specific_checks: tuple[str, ...] = ("rush",)  # cases led by these checks are kept apart per product
    route_margin: float = 0.02  # show a case as its route when the route scores within this of the case's lead
    w_persistence: float = 0.1  # added to an episode's score, in full at persistence_full periods in a row
    persistence_full: int = 6
    chronic_share: float = 0.9  # an episode covering this share of the whole span is structural (> 1: never)
    chronic_min: int = 12
    reliability_k: float = 3.0  # see reporter_reliability; <= 0 turns the tempering off
    reliability_checks: tuple[str, ...] = ("mirror",)
    max_structural: int = 50

    def __post_init__(self):
        for name in ("w_ensemble", "w_rules", "w_corroboration", "w_usd", "w_persistence"):
            if float(getattr(self, name)) < 0:
                raise ConfigError(f"ranking.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.w_ensemble + self.w_rules + self.w_corroboration <= 0:
            raise ConfigError("ranking weights are all zero: give w_ensemble or w_rules a positive weight")
        if int(self.top_k) < 1:
            raise ConfigError(f"ranking.top_k must be a positive integer, got {self.top_k!r}")
        if not 0 < self.usd_floor < self.usd_full:
            raise ConfigError("ranking.usd_floor must be > 0 and below ranking.usd_full")
        if self.rule_scale <= 0:
            raise ConfigError(f"ranking.rule_scale must be > 0, got {self.rule_scale!r}")
        if isinstance(self.product_specific_checks, (list, str)):
            pc = self.product_specific_checks
            object.__setattr__(self, "product_specific_checks", (pc,) if isinstance(pc, str) else tuple(pc))
        if isinstance(self.reliability_checks, (list, str)):
            rc = (self.reliability_checks,) if isinstance(self.reliability_checks, str) else self.reliability_checks
            object.__setattr__(self, "reliability_checks", tuple(rc))
        if isinstance(self.signal_weights, dict):
            object.__setattr__(self, "signal_weights", tuple(sorted(self.signal_weights.items())))

    def weight_of(self, signals: pd.Series) -> np.ndarray:
        w = dict(self.signal_weights)
        # one look-up per distinct signal, not per finding
        codes, uniques = pd.factorize(signals, use_na_sentinel=False)
        return np.array([float(w.get(s, 1.0)) for s in uniques], dtype=float)[codes] if len(codes) \
            else np.zeros(0, dtype=float)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["signal_weights"] = dict(self.signal_weights)
        d["reliability_checks"] = list(self.reliability_checks)
        d["product_specific_checks"] = list(self.product_specific_checks)
        return d


# ------------------------------------------------------------------------------------------------------------
# Words
# ------------------------------------------------------------------------------------------------------------

_NAME_OVERRIDES = {
    "HKG": "Hong Kong", "MAC": "Macao", "TWN": "Taiwan", "KOR": "South Korea", "PRK": "North Korea",
    "RUS": "Russia", "IRN": "Iran", "VNM": "Vietnam", "USA": "the United States", "GBR": "the United Kingdom",
    "NLD": "the Netherlands", "ARE": "the United Arab Emirates", "CHN": "China", "LAO": "Laos",
    "SYR": "Syria", "TZA": "Tanzania", "BOL": "Bolivia", "VEN": "Venezuela", "MDA": "Moldova",
    "WLD": "the world", "NES": "areas not specified",
}


def country_name(code: str) -> str:
    if not code:
        return ""
    if code in _NAME_OVERRIDES:
        return _NAME_OVERRIDES[code]
    try:
        import pycountry

        c = pycountry.countries.get(alpha_3=code)
    except (ImportError, LookupError, KeyError):  # pragma: no cover - pycountry is a dependency
        c = None
    return getattr(c, "common_name", None) or getattr(c, "name", None) or code


def feature_phrase(feature: str, value: float, detail_hs: str = "") -> str:
    """A feature of the scoring matrix in trade words."""
    if feature.startswith("ctx.detail:"):
        check = feature.split(":", 1)[1]
        where = f", strongest in HS {detail_hs}" if detail_hs else ""
        return f"product-level {CHECK_NOUNS.get(check, check)} up to {value:.1f}{where}"
    if feature.startswith("ctx.reporter:"):
        check = feature.split(":", 1)[1]
        return f"the reporter's figures as a whole show {CHECK_NOUNS.get(check, check)} ({value:.1f})"
    if feature == "any.max":
        return f"its strongest signal at {value:.1f}"
    if feature == "any.strong":
        return f"{value:.0f} strong signal(s) at once"
    if feature.endswith(":excess"):
        sig = feature[: -len(":excess")]
        return f"{sig} {value:+.2f} against its expected value"
    tmpl = SIGNAL_PHRASES.get(feature)
    return tmpl.format(v=value) if tmpl else f"{feature} {value:.1f}"


# ------------------------------------------------------------------------------------------------------------
# Episodes
# ------------------------------------------------------------------------------------------------------------


def _episode_ids(df: pd.DataFrame, gap: int = 0) -> np.ndarray:
    """Episode number per row of ``df`` sorted by subject, frequency, ordinal: a new one wherever more than ``gap``
    periods are missing."""
    if df.empty:
        return np.zeros(0, dtype=np.int64)
    subj = df["subject"].to_numpy()
    freq = df["_freq"].to_numpy()
    ordn = df["_ord"].to_numpy()
    brk = np.ones(len(df), dtype=bool)
    brk[1:] = (subj[1:] != subj[:-1]) | (freq[1:] != freq[:-1]) | (ordn[1:] - ordn[:-1] > gap + 1)
    return np.cumsum(brk) - 1


def _with_order(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    per = df["period"].astype("str")
    has = per != ""
    df["_freq"] = np.where(has, frequencies(per.where(has, "2000")), "")
    df["_ord"] = np.where(has, period_ordinal(per.where(has, "2000")), 0)
    return df.sort_values(["subject", "_freq", "_ord", "period"], kind="mergesort").reset_index(drop=True)


def _range(first: str, last: str) -> str:
    return first if first == last else f"{first}:{last}"


def _split_range(period: str) -> tuple[str, str]:
    a, _, b = str(period).partition(":")
    return a, (b or a)


# ------------------------------------------------------------------------------------------------------------
# Ranking
# ------------------------------------------------------------------------------------------------------------


def _subject_periods(f: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    """One row per subject-period of ``f``: rule strength, corroboration, usd, signals, strongest detail."""
    keys = list(KEY_COLUMNS)
    factor = reporter_reliability(f, params.reliability_k, params.reliability_checks)
    f = f.assign(_w=params.weight_of(f["signal"]) * f["score"].fillna(0.0).clip(lower=0.0) * factor,
                 _rel=factor)
    f = f.sort_values(["subject", "period", "_w", "signal"], ascending=[True, True, False, True],
                      kind="mergesort")
    g = f.groupby(["subject", "period"], sort=True)
    top = g.head(1).set_index(["subject", "period"])
    sp = top[[k for k in keys if k not in ("subject", "period")]].copy()
    sp["rule"] = top["_w"]
    sp["reliability"] = top["_rel"]
    sp["detail"] = top["detail"]
    sp["top_check"] = top["check"]
    sp["usd"] = g["usd_at_stake"].max().fillna(0.0)
    strong = f.loc[f["score"] >= params.corroboration_min]
    n_checks = strong.groupby(["subject", "period"])["check"].nunique().reindex(sp.index).fillna(0)
    sp["corroboration"] = np.clip(n_checks - 1, 0, 2) / 2.0
    # signals, strongest first, each once
    best = f.drop_duplicates(["subject", "period", "signal"])
    sp = sp.reset_index()
    sig = best[["subject", "period", "signal", "_w"]].rename(columns={"_w": "w"}).reset_index(drop=True)
    return sp, sig


def reporter_reliability(f: pd.DataFrame, k: float, checks=("mirror",)) -> np.ndarray:
    """Per finding, a factor in (0, 1] that tempers a check's evidence about a reporter that the check flags against
    a far larger share of its counterparts than other reporters are flagged against.

    Breadth of a (reporter, check) = partners of the reporter with findings of the check / partners of the reporter
    with findings of any check (bilateral findings only: regions and world totals are not counterparts). Above
    ``median + k * 1.4826 * MAD`` of the breadths of all reporters the check flags, the factor is that limit divided
    by the breadth: a reporter whose figures disagree with nearly every partner says more about its own reporting
    (re-exports counted as exports, coverage, valuation) than about any one pair. Only ``checks`` that compare a
    reporter with its counterparts (the mirror check) are tempered; ``k <= 0`` turns this off.
    """
    if k <= 0 or f.empty:
        return np.ones(len(f))
    bilateral = ((f["region"] == "") & ~f["partner"].isin(("", "WLD", "NES"))).to_numpy()
    b = f.loc[bilateral, ["reporter", "partner", "check"]].drop_duplicates()
    if b.empty:
        return np.ones(len(f))
    every = b.groupby("reporter")["partner"].nunique()
    b = b.loc[b["check"].isin(checks)]
    if b.empty:
        return np.ones(len(f))
    breadth = b.groupby(["check", "reporter"])["partner"].nunique().rename("n").reset_index()
    breadth["share"] = breadth["n"] / breadth["reporter"].map(every)
    stats = breadth.groupby("check")["share"].agg(
        med="median", mad=lambda x: float(np.median(np.abs(x - np.median(x)))))
    breadth = breadth.merge(stats.reset_index(), on="check")
    limit = breadth["med"] + k * 1.4826 * breadth["mad"]
    breadth["factor"] = np.clip(limit / breadth["share"], 0.0, 1.0)
    out = pd.DataFrame({"check": f["check"].to_numpy(), "reporter": f["reporter"].to_numpy()}).merge(
        breadth[["check", "reporter", "factor"]], on=["check", "reporter"], how="left")
    return out["factor"].fillna(1.0).to_numpy()


def _explain(peak: pd.Series, contrib: dict, detail_hs: dict, explained: dict) -> str:
    """The strongest finding's own sentence, then what the ensemble saw, then known structure."""
    parts = []
    d = str(peak["detail"]).strip()
    if d:
        parts.append(d if d.endswith(".") else d + ".")
    key = (peak["subject"], peak["period"])
    feats = contrib.get(key, [])
    # value features (x:excess) repeat what the score features say in less readable units; name them only alone
    plain = [t for t in feats if not t[0].endswith(":excess")]
    feats = plain or feats
    if feats and np.isfinite(peak["ensemble"]):
        words = [feature_phrase(feat, val, detail_hs.get((key, feat), "")) for feat, val, _ in feats[:2]]
        pct = max(1, int(np.ceil((1.0 - peak["ensemble"]) * 100)))
        parts.append(f"The ensemble puts it in the top {pct}% of subject-periods, driven by "
                     + " and ".join(words) + ".")
    if key in explained:
        parts.append(f"Known structure on the same subject: {explained[key]}")
    return " ".join(parts)


def rank(findings: pd.DataFrame, scores: ScoreResult, *, params: RankingParams | None = None,
         previous_flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ranked flags (see :data:`FLAG_COLUMNS` and the module docstring)."""
    params = params or RankingParams()
    findings = validate_findings(findings)
    fraud, structural, explained_f = split_structural(findings)

    flags, chronic = _rank_fraud(fraud, scores, explained_f, structural, params)
    struct = _structural_rows(structural, params)
    extra = [t for t in (struct, chronic) if len(t)]
    if extra:
        extra = pd.concat(extra, ignore_index=True).sort_values(["score", "subject", "period"],
                                                                ascending=[False, True, True], kind="mergesort")
        out = pd.concat([flags, extra.head(int(params.max_structural))], ignore_index=True)
    else:
        out = flags
    out = _with_status(out, previous_flags)
    out["rank"] = out["rank"].astype("Int64")
    out["persistence"] = out["persistence"].astype("int64")
    out["score"] = out["score"].astype(float).round(6)
    out["usd_at_stake"] = out["usd_at_stake"].astype(float).round(2)
    return out[list(FLAG_COLUMNS)].reset_index(drop=True)


def _empty_flags() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="str") for c in FLAG_COLUMNS})
    for c in ("score", "usd_at_stake"):
        df[c] = df[c].astype(float)
    df["persistence"] = df["persistence"].astype("int64") if len(df) else pd.Series(dtype="int64")
    df["rank"] = pd.Series(dtype="Int64")
    return df


def subject_period_scores(fraud: pd.DataFrame, scores: ScoreResult, params: RankingParams):
    """(one row per subject-period of the fraud evidence with its ``composite`` score, long table of its signals)."""
    sp, sig_long = _subject_periods(fraud, params)
    ens = scores.scores[["subject", "period", "ensemble"]] if len(scores.scores) else None
    if ens is not None:
        sp = sp.merge(ens, on=["subject", "period"], how="left")
    else:
        sp["ensemble"] = np.nan
    rule = 1.0 - np.exp(-sp["rule"] / params.rule_scale)
    # where the ensemble abstains (a subject level too small to fit) it counts as neutral (0.5)
    sp["composite"] = params.w_ensemble * sp["ensemble"].fillna(0.5) + params.w_rules * rule
    # evidence from a check that flags the reporter against nearly every partner is tempered as a whole
    sp["composite"] *= sp["reliability"]
    sp["composite"] += params.w_corroboration * sp["corroboration"]
    # dollars at stake: an investigator's budget goes further on large amounts (log scale between usd_floor,
    # worth nothing, and usd_full, worth the whole weight)
    # (a reporter as a whole is not a case with an amount at stake: a digit test's total is what it examined)
    lo, hi = np.log10(params.usd_floor), np.log10(params.usd_full)
    usd = np.log10(sp["usd"].clip(lower=1.0).fillna(1.0))
    whole = ((sp["partner"] == "") & (sp["hub"] == "") & (sp["region"] == "")).to_numpy()
    sp["composite"] += params.w_usd * np.where(whole, 0.0, ((usd - lo) / (hi - lo)).clip(0.0, 1.0))
    return sp, sig_long


def _rank_fraud(fraud: pd.DataFrame, scores: ScoreResult, explained_f: pd.DataFrame, structural: pd.DataFrame,
                params: RankingParams) -> pd.DataFrame:
    if fraud.empty:
        return _empty_flags(), _empty_flags().iloc[0:0]
    sp, sig_long = subject_period_scores(fraud, scores, params)
    sp = sp.loc[sp["composite"] >= params.min_score]
    if sp.empty:
        return _empty_flags(), _empty_flags().iloc[0:0]
    sp = _with_order(sp)
    sp["_ep"] = _episode_ids(sp, params.episode_gap)

    # peak row of each episode (highest composite; earliest period on ties)
    peak = sp.sort_values(["_ep", "composite", "_ord"], ascending=[True, False, True], kind="mergesort")
    peak = peak.drop_duplicates("_ep").set_index("_ep").sort_index()
    g = sp.groupby("_ep", sort=True)
    ep = peak[list(KEY_COLUMNS)].copy()
    ep["first"] = g["period"].first()
    ep["last"] = g["period"].last()
    ep["_freq"] = peak["_freq"]
    ep["_lo"] = g["_ord"].min()
    ep["_hi"] = g["_ord"].max()
    ep["persistence"] = g.size()
    bonus = np.clip((ep["persistence"] - 1) / max(int(params.persistence_full) - 1, 1), 0.0, 1.0)
    ep["score"] = peak["composite"] + params.w_persistence * bonus
    ep["usd_at_stake"] = g["usd"].sum()
    ep["case"] = case_key(ep["subject"])
    # rushes and rerouting hit the chapters a tariff list names: each product is its own case
    own = peak["top_check"].isin(params.product_specific_checks).to_numpy() & ~ep["hs"].isin(ALL_PRODUCTS).to_numpy()
    ep.loc[own, "case"] = ep.loc[own, "case"] + ":" + ep.loc[own, "hs"]
    chronic = _chronic(ep, fraud, params)
    chronic_rows = ep.loc[chronic].copy()
    ep = ep.loc[~chronic]
    if ep.empty:
        return _empty_flags(), _chronic_rows(chronic_rows, peak, sig_long)
    ep["case"] = _route_legs(ep)
    ep = ep.reset_index().sort_values(["score", "subject", "first"], ascending=[False, True, True],
                                      kind="mergesort").reset_index(drop=True)
    lead = _group_cases(ep, params)
    # one reporter's exports flagged against many partners at once are one case about the reporter
    wide = _reporter_wide(ep, lead, params)
    if wide is not None:
        ep["case"] = wide
        lead = _group_cases(ep, params)
    ep["lead"] = lead

    # signals across each case, strongest first
    sig = sig_long.merge(sp[["subject", "period", "_ep"]], on=["subject", "period"])
    sig = sig.merge(ep[["_ep", "lead"]], on="_ep")
    sig = sig.loc[sig["lead"] >= 0].groupby(["lead", "signal"], sort=True)["w"].max().reset_index()
    sig = sig.sort_values(["lead", "w", "signal"], ascending=[True, False, True], kind="mergesort")
    signals = sig.groupby("lead", sort=True)["signal"].agg("; ".join)

    members = ep.loc[ep["lead"] >= 0]
    leads = ep.loc[ep.index.isin(members["lead"].unique())].copy()
    # a case holding a route (A>hub>B) nearly as strong as its lead is shown as the route: the pair-level members
    # are then its legs, and the route names origin, hub and destination at once
    routes = members.loc[(members["subject"].str.count(">") >= 2)
                         & (members["score"] >= members["lead"].map(ep["score"]) - params.route_margin)]
    if len(routes):
        best = routes.sort_values(["lead", "score", "subject"], ascending=[True, False, True],
                                  kind="mergesort").drop_duplicates("lead").set_index("lead")
        swap = leads.index.intersection(best.index)
        swap = swap[leads.loc[swap, "subject"].str.count(">") < 2]
        cols = [*KEY_COLUMNS, "first", "last", "_ep", "persistence"]
        leads.loc[swap, cols] = best.loc[swap, cols].to_numpy()
    # a reporter-wide case is shown as the reporter over the whole window of its members
    rep = leads.index[leads["case"].str.startswith("REP:")]
    if len(rep):
        hull = members.loc[members["lead"].isin(rep)].groupby("lead").agg(first=("first", "min"), last=("last", "max"))
        leads.loc[rep, ["partner", "hub", "region", "hs"]] = ""
        leads.loc[rep, "subject"] = leads.loc[rep, "reporter"]
        leads.loc[rep, "first"] = hull.loc[rep, "first"].to_numpy()
        leads.loc[rep, "last"] = hull.loc[rep, "last"].to_numpy()
    leads = leads.sort_values(["score", "subject", "first"], ascending=[False, True, True], kind="mergesort")
    leads["signals"] = signals.reindex(leads.index).to_numpy()
    leads["period"] = [_range(a, b) for a, b in zip(leads["first"], leads["last"])]
    # dollars of a case: its products' episodes, or its all-products episodes when it has no product-level ones
    # (the views of one product, a pair and its route, count once: the largest of them)
    fine = members.loc[~members["hs"].isin(ALL_PRODUCTS)].groupby(["lead", "hs"])["usd_at_stake"].max()
    fine = fine.groupby(level="lead").sum()
    coarse = members.loc[members["hs"].isin(ALL_PRODUCTS)].groupby("lead")["usd_at_stake"].max()
    leads["usd_at_stake"] = np.fmax(fine.reindex(leads.index).to_numpy(), coarse.reindex(leads.index).to_numpy())
    also = {i: grp for i, grp in members.loc[members.index != members["lead"]].groupby("lead")}

    # explanations only for the cases kept
    keep = set(zip(peak.loc[leads["_ep"], "subject"], peak.loc[leads["_ep"], "period"]))
    contrib = _top_features(scores, keep)
    detail_hs = _detail_products(fraud, keep)
    explained = _explained_text(explained_f, structural, keep)
    leads["explanation"] = [
        _explain(peak.loc[e], contrib, detail_hs, explained)
        + (_partners_text(also.get(i), r, peak.loc[e, "partner"]) if c.startswith("REP:") else _also_text(also.get(i), h))
        for i, e, h, c, r in zip(leads.index, leads["_ep"], leads["hs"], leads["case"], leads["reporter"])]
    leads = _exporter_oriented(leads)
    leads["rank"] = np.arange(1, len(leads) + 1)
    leads["status"] = "new"
    leads["label"] = "fraud_signal"
    return leads.reset_index(drop=True), _chronic_rows(chronic_rows, peak, sig_long)


def _exporter_oriented(df: pd.DataFrame) -> pd.DataFrame:
    """Flags name the direction of the goods (``reporter`` exporter, ``partner`` importer), as mirror findings do;
    a subject seen from the importer's side (``USA>CHN:48[M]``, the USA's imports from China) is turned round."""
    imports = (df["subject"].astype("str").str.endswith("[M]") & (df["subject"].str.count(">") == 1)).to_numpy()
    if imports.any():
        df = df.copy()
        rep = df["reporter"].to_numpy().copy()
        df.loc[imports, "reporter"] = df.loc[imports, "partner"].to_numpy()
        df.loc[imports, "partner"] = rep[imports]
    return df


def _chronic(ep: pd.DataFrame, fraud: pd.DataFrame, params: RankingParams) -> np.ndarray:
    """Episodes that cover at least ``chronic_share`` of every period the findings span (and ``chronic_min``
    periods): a standing difference since the data begins is structure (an entrepôt, a valuation convention), not an
    event, and is labelled structural rather than ranked."""
    if params.chronic_share > 1 or ep.empty:
        return np.zeros(len(ep), dtype=bool)
    per = pd.Series(pd.unique(fraud["period"].astype("str")))
    per = per.loc[per != ""]
    if per.empty:
        return np.zeros(len(ep), dtype=bool)
    o = pd.DataFrame({"freq": frequencies(per).to_numpy(), "ord": period_ordinal(per)})
    span = o.groupby("freq")["ord"].agg(lambda x: x.max() - x.min() + 1)
    total = ep["_freq"].map(span).fillna(0).to_numpy()
    length = (ep["_hi"] - ep["_lo"] + 1).to_numpy()
    return (length >= params.chronic_min) & (length >= params.chronic_share * total)


def _chronic_rows(rows: pd.DataFrame, peak: pd.DataFrame, sig_long: pd.DataFrame) -> pd.DataFrame:
    if rows.empty:
        return _empty_flags().iloc[0:0]
    out = rows.copy()
    out["period"] = [_range(a, b) for a, b in zip(out["first"], out["last"])]
    top = sig_long.sort_values(["subject", "period", "w", "signal"], ascending=[True, True, False, True],
                               kind="mergesort").drop_duplicates(["subject", "period"])
    top = dict(zip(zip(top["subject"], top["period"]), top["signal"]))
    out["signals"] = [top.get((peak.loc[e, "subject"], peak.loc[e, "period"]), "") for e in out.index]
    out["explanation"] = [
        f"Structural, not ranked as fraud: flagged in every period from {a} to {b}, a standing difference rather "
        f"than an event. " + (str(peak.loc[e, "detail"]).strip() if str(peak.loc[e, "detail"]).strip() else "")
        for e, a, b in zip(out.index, out["first"], out["last"])]
    out["explanation"] = out["explanation"].str.strip()
    out["rank"] = pd.NA
    out["status"] = "new"
    out["label"] = "structural"
    return out.sort_values(["score", "subject", "period"], ascending=[False, True, True],
                           kind="mergesort").reset_index(drop=True)


def _route_legs(ep: pd.DataFrame) -> pd.Series:
    """Case keys with the other views of a flagged product route moved into the route's case:
    its legs (pair-level episodes of the same product whose two economies are on the route: the hub's imports from
    the origin and its exports to the destination rise, the destination's imports from the origin fall) and the
    same origin and hub at all products, when they overlap it in time."""
    case = ep["case"].copy()
    nparts = ep["subject"].str.count(">")
    product = ~ep["hs"].isin(ALL_PRODUCTS)
    routes = ep.loc[(nparts >= 2) & product, ["case", "reporter", "hub", "partner", "hs", "_freq", "_lo", "_hi",
                                              "score"]]
    if routes.empty:
        return case
    routes = routes.rename(columns={"reporter": "A", "hub": "H", "partner": "B", "_lo": "rlo", "_hi": "rhi",
                                    "case": "rcase"})
    found = []
    pairs = ep.loc[(nparts == 1) & product, ["reporter", "partner", "hs", "_freq", "_lo", "_hi"]]
    if len(pairs):
        m = pairs.rename_axis("_i").reset_index().merge(routes, on=["hs", "_freq"])
        on_route = [({r, p} <= {a, h, b}) and r != p for r, p, a, h, b in
                    zip(m["reporter"], m["partner"], m["A"], m["H"], m["B"])]
        found.append(m.loc[np.asarray(on_route, dtype=bool)])
    totals = ep.loc[(nparts >= 2) & ~product, ["reporter", "hub", "_freq", "_lo", "_hi"]]
    if len(totals):
        m = totals.rename(columns={"reporter": "A", "hub": "H"}).rename_axis("_i").reset_index()
        found.append(m.merge(routes, on=["A", "H", "_freq"]))
    m = pd.concat(found, ignore_index=True) if found else pd.DataFrame()
    if m.empty:
        return case
    m = m.loc[(m["_lo"] <= m["rhi"] + 1) & (m["rlo"] <= m["_hi"] + 1)]
    if m.empty:
        return case
    m = m.sort_values(["_i", "score", "rcase"], ascending=[True, False, True], kind="mergesort")
    m = m.drop_duplicates("_i")
    case.loc[m["_i"].to_numpy()] = m["rcase"].to_numpy()
    return case


def case_key(subjects: pd.Series) -> pd.Series:
    """The pair, route, region or reporter a subject belongs to: the subject without its product and flow marks,
    oriented exporter>importer (``CHN>HKG:71`` and ``CHN>HKG`` -> ``CHN>HKG``; ``USA>VNM:84[M]``, the USA's
    imports from Vietnam, -> ``VNM>USA``); routes keep origin, hub and product (``CHN>VNM>USA:85`` ->
    ``CHN>VNM>*:85``)."""
    s = subjects.astype("str")
    base = s.str.extract(r"^([^:\[]*)", expand=False).fillna("")
    # a route's case is its origin, hub and product, whatever the destination: goods of one chapter passing
    # through one hub to several markets are one rerouting
    route = base.str.count(">") >= 2
    if route.any():
        base = base.copy()
        parts = base.loc[route].str.split(">")
        prod = s.loc[route].str.extract(r":([^\[]*)", expand=False).fillna("")
        base.loc[route] = parts.str[0] + ">" + parts.str[1] + ">*:" + prod
    imports = s.str.endswith("[M]") & (base.str.count(">") == 1)
    if imports.any():
        base = base.copy()
        base.loc[imports] = base.loc[imports].str.split(">").str[::-1].str.join(">")
    return base


def _group_cases(ep: pd.DataFrame, params: RankingParams) -> np.ndarray:
    """Greedy grouping of episodes (sorted best first) into cases: an episode whose pair/route/region already has a
    case overlapping it in time (within ``episode_gap`` periods) joins that case instead of taking a place of its
    own, so that one anomaly spread over many products does not fill the list. Returns, per episode, the position
    of its case's lead episode (-1 for episodes beyond the budget)."""
    lead = np.full(len(ep), -1, dtype=np.int64)
    windows: dict[tuple, list[list]] = {}
    n_cases = 0
    gap = int(params.episode_gap) + 1
    for i, (case, freq, lo, hi) in enumerate(zip(ep["case"], ep["_freq"], ep["_lo"], ep["_hi"])):
        wins = windows.setdefault((case, freq), [])
        hit = next((w for w in wins if lo <= w[1] + gap and w[0] <= hi + gap), None)
        if hit is not None:
            hit[0], hit[1] = min(hit[0], lo), max(hit[1], hi)
            lead[i] = hit[2]
            continue
        if n_cases >= int(params.top_k):
            continue
        wins.append([lo, hi, i])
        lead[i] = i
        n_cases += 1
    return lead


def _reporter_wide(ep: pd.DataFrame, lead: np.ndarray, params: RankingParams) -> pd.Series | None:
    """Case keys with the pair-level episodes of one reporter merged into a reporter case (``REP:<reporter>:<start>``)
    over the periods in which cases of at least ``reporter_case_min`` distinct partners of that reporter are open at
    the same time: a reporter whose exports to many partners go wrong at once (made-up figures, a change of method)
    is one anomaly, not many."""
    if params.reporter_case_min <= 0:
        return None
    is_lead = lead == np.arange(len(ep))
    pair = ((ep["subject"].str.count(">") == 1) & (ep["region"] == "")
            & ~ep["partner"].isin(("", "WLD", "NES"))).to_numpy()
    c = ep.loc[is_lead & pair, ["reporter", "partner", "_freq", "_lo", "_hi"]]
    if c.empty:
        return None
    span = (c["_hi"] - c["_lo"] + 1).to_numpy()
    cover = pd.DataFrame({"reporter": np.repeat(c["reporter"].to_numpy(), span),
                          "partner": np.repeat(c["partner"].to_numpy(), span),
                          "freq": np.repeat(c["_freq"].to_numpy(), span),
                          "ord": np.concatenate([np.arange(lo, hi + 1) for lo, hi in zip(c["_lo"], c["_hi"])])})
    open_ = cover.groupby(["reporter", "freq", "ord"])["partner"].nunique().reset_index()
    open_ = open_.loc[open_["partner"] >= params.reporter_case_min].sort_values(["reporter", "freq", "ord"])
    if open_.empty:
        return None
    rep, fr, o = (open_[k].to_numpy() for k in ("reporter", "freq", "ord"))
    brk = np.ones(len(open_), dtype=bool)
    brk[1:] = (rep[1:] != rep[:-1]) | (fr[1:] != fr[:-1]) | (o[1:] - o[:-1] > 1)
    run = np.cumsum(brk)
    runs = open_.assign(run=run).groupby("run").agg(reporter=("reporter", "first"), freq=("freq", "first"),
                                                    lo=("ord", "min"), hi=("ord", "max"))
    case = ep["case"].copy()
    for r in runs.itertuples(index=False):
        inside = (pair & (ep["reporter"] == r.reporter).to_numpy() & (ep["_freq"] == r.freq).to_numpy()
                  & (ep["_lo"] <= r.hi).to_numpy() & (ep["_hi"] >= r.lo).to_numpy())
        case.loc[inside] = f"REP:{r.reporter}:{r.freq}{r.lo}"
    return case


def _partners_text(members: pd.DataFrame | None, reporter: str, lead_partner: str) -> str:
    if members is None or members.empty:
        return ""
    partners = [p for p in dict.fromkeys(members["partner"]) if p and p != lead_partner]
    if not partners:
        return ""
    shown = ", ".join(country_name(p) for p in partners[:6]) + (f" and {len(partners) - 6} more"
                                                                 if len(partners) > 6 else "")
    first, last = min(members["first"]), max(members["last"])
    return (f" The same pattern shows in {country_name(reporter)}'s figures with {shown} "
            f"({_range(first, last)}): one case about the reporter.")


def _also_text(members: pd.DataFrame | None, lead_hs: str = "") -> str:
    if members is None or members.empty:
        return ""
    prods = [h for h in dict.fromkeys(members["hs"]) if h not in ALL_PRODUCTS and h != lead_hs]
    first, last = min(members["first"]), max(members["last"])
    bits = []
    if prods:
        shown = ", ".join(prods[:6]) + (f" and {len(prods) - 6} more" if len(prods) > 6 else "")
        bits.append(f"HS {shown}")
    n_other = int((members["hs"].isin(ALL_PRODUCTS)).sum())
    if n_other:
        bits.append(f"{n_other} all-products episode(s)")
    n_same = int((members["hs"] == lead_hs).sum()) if lead_hs not in ALL_PRODUCTS else 0
    if n_same:
        bits.append(f"{n_same} more episode(s) of the same product")
    if not bits:
        return ""
    return f" The same case also covers {' and '.join(bits)} ({_range(first, last)})."


def _top_features(scores: ScoreResult, keep: set) -> dict:
    tc = scores.top_contributions(3) if len(scores.features) else None
    if tc is None or tc.empty:
        return {}
    tc = tc.loc[[k in keep for k in zip(tc["subject"], tc["period"])]]
    out: dict = {}
    for row in tc.itertuples(index=False):
        out.setdefault((row.subject, row.period), []).append((row.feature, float(row.value), float(row.share)))
    return out


def _detail_products(fraud: pd.DataFrame, keep: set) -> dict:
    """(subject-period, ctx.detail:<check>) -> the HS code of the strongest product-level finding of that check."""
    fine = fraud.loc[~fraud["hs"].isin(ALL_PRODUCTS)]
    coarse = fraud.loc[fraud["hs"].isin(ALL_PRODUCTS), ["subject", "reporter", "partner", "hub", "region", "period"]]
    coarse = coarse.drop_duplicates()
    coarse = coarse.loc[[k in keep for k in zip(coarse["subject"], coarse["period"])]]
    if fine.empty or coarse.empty:
        return {}
    m = coarse.merge(fine[["reporter", "partner", "hub", "region", "period", "check", "hs", "score"]],
                     on=["reporter", "partner", "hub", "region", "period"])
    m = m.sort_values(["subject", "period", "check", "score", "hs"], ascending=[True, True, True, False, True],
                      kind="mergesort").drop_duplicates(["subject", "period", "check"])
    return {((r.subject, r.period), f"ctx.detail:{r.check}"): r.hs for r in m.itertuples(index=False)}


def _explained_text(explained_f: pd.DataFrame, structural: pd.DataFrame, keep: set) -> dict:
    s = structural.sort_values(["subject", "period", "score", "signal"], ascending=[True, True, False, True],
                               kind="mergesort").drop_duplicates(["subject", "period"])
    out = {}
    for r in s.itertuples(index=False):
        if (r.subject, r.period) in keep and str(r.detail).strip():
            d = str(r.detail).strip()
            out[(r.subject, r.period)] = d if d.endswith(".") else d + "."
    return out


def _structural_rows(structural: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    """Structural causes: one row per episode, strongest first, no rank."""
    if structural.empty:
        return _empty_flags().iloc[0:0]
    st = structural.assign(_w=structural["score"].fillna(0.0).clip(lower=0.0))
    st = st.sort_values(["subject", "period", "_w", "signal"], ascending=[True, True, False, True],
                        kind="mergesort")
    g = st.groupby(["subject", "period"], sort=True)
    top = g.head(1).set_index(["subject", "period"])
    sp = top[[k for k in KEY_COLUMNS if k not in ("subject", "period")]].copy()
    sp["composite"] = params.w_rules * (1.0 - np.exp(-top["_w"] / params.rule_scale))
    sp["usd"] = g["usd_at_stake"].max().fillna(0.0)
    sp["detail"] = top["detail"]
    sp["sigs"] = g["signal"].agg(lambda s: "; ".join(dict.fromkeys(s)))
    sp = _with_order(sp.reset_index())
    sp["_ep"] = _episode_ids(sp, params.episode_gap)
    peak = sp.sort_values(["_ep", "composite", "_ord"], ascending=[True, False, True], kind="mergesort")
    peak = peak.drop_duplicates("_ep").set_index("_ep").sort_index()
    g = sp.groupby("_ep", sort=True)
    ep = peak[list(KEY_COLUMNS)].copy()
    ep["period"] = [_range(a, b) for a, b in zip(g["period"].first(), g["period"].last())]
    ep["score"] = peak["composite"]
    ep["signals"] = peak["sigs"]
    ep["usd_at_stake"] = g["usd"].sum()
    ep["persistence"] = g.size()
    ep["explanation"] = [f"Structural, not ranked as fraud: {d}" if d else "Structural, not ranked as fraud."
                         for d in peak["detail"].astype("str").str.strip()]
    ep = ep.sort_values(["score", "subject", "period"], ascending=[False, True, True],
                        kind="mergesort").head(int(params.max_structural))
    ep["rank"] = pd.NA
    ep["status"] = "new"
    ep["label"] = "structural"
    return ep.reset_index(drop=True)


# ------------------------------------------------------------------------------------------------------------
# Status versus the previous run
# ------------------------------------------------------------------------------------------------------------


def _bounds(periods: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    first, last = zip(*[_split_range(p) for p in periods.astype("str")]) if len(periods) else ((), ())
    first = pd.Series(first, dtype="str")
    last = pd.Series(last, dtype="str")
    ok = (first != "").to_numpy()
    f = np.where(ok, period_ordinal(first.where(first != "", "2000")), 0)
    la = np.where(ok, period_ordinal(last.where(last != "", "2000")), 0)
    fr = np.where(ok, frequencies(first.where(first != "", "2000")), "")
    return f, la, fr


def _with_status(flags: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """``persisting`` when the previous run flagged the same subject with the same label in a period range that
    overlaps or touches this one; ``new`` otherwise. Previous flags (not themselves resolved) that match nothing now
    are appended as ``resolved`` with an empty rank."""
    flags = flags.copy()
    flags["status"] = "new"
    if previous is None or len(previous) == 0:
        return flags
    prev = previous.copy()
    for c in FLAG_COLUMNS:
        if c not in prev.columns:
            prev[c] = "" if c not in ("score", "usd_at_stake", "persistence", "rank") else np.nan
    prev = prev.loc[prev["status"].astype("str") != "resolved"].reset_index(drop=True)
    for c in ("subject", "period", "label", "reporter", "partner", "hub", "region", "hs", "signals",
              "explanation"):
        prev[c] = prev[c].astype("str").where(prev[c].notna(), "")
    cf, cl, cfr = _bounds(flags["period"])
    pf, pl, pfr = _bounds(prev["period"])
    a = flags[["subject", "label"]].assign(_i=np.arange(len(flags)), _f=cf, _l=cl, _fr=cfr)
    b = prev[["subject", "label"]].assign(_j=np.arange(len(prev)), _pf=pf, _pl=pl, _pfr=pfr)
    m = a.merge(b, on=["subject", "label"])
    m = m.loc[(m["_fr"] == m["_pfr"]) & (m["_f"] <= m["_pl"] + 1) & (m["_pf"] <= m["_l"] + 1)]
    flags.loc[flags.index[np.unique(m["_i"].to_numpy())], "status"] = "persisting"
    gone = prev.loc[~prev.index.isin(np.unique(m["_j"].to_numpy()))].copy()
    if gone.empty:
        return flags
    gone["status"] = "resolved"
    gone["rank"] = pd.NA
    gone["score"] = pd.to_numeric(gone["score"], errors="coerce")
    gone["usd_at_stake"] = pd.to_numeric(gone["usd_at_stake"], errors="coerce")
    gone["persistence"] = pd.to_numeric(gone["persistence"], errors="coerce").fillna(0).astype("int64")
    gone = gone.sort_values(["subject", "period"], kind="mergesort")
    return pd.concat([flags, gone[list(FLAG_COLUMNS)]], ignore_index=True)


def write_flags_csv(flags: pd.DataFrame, path_or_buf) -> None:
    """Write flags as CSV with fixed formatting (byte-identical for identical flags)."""
    flags[list(FLAG_COLUMNS)].to_csv(path_or_buf, index=False, lineterminator="\n")


def read_flags_csv(path_or_buf) -> pd.DataFrame:
    """Read a flags CSV written by :func:`write_flags_csv` (codes as text, ``NA`` kept as Namibia)."""
    df = pd.read_csv(path_or_buf, dtype=str, keep_default_na=False, na_values=[])
    for c in ("score", "usd_at_stake"):
        if c in df:
            df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="coerce")
    if "persistence" in df:
        df["persistence"] = pd.to_numeric(df["persistence"].replace("", "0"), errors="coerce").fillna(0).astype(
            "int64")
    if "rank" in df:
        df["rank"] = pd.to_numeric(df["rank"].replace("", np.nan), errors="coerce").astype("Int64")
    return df
