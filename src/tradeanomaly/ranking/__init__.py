"""Findings + scores -> ranked cases, one per cause, materiality and change first.

The steps (each in its own module):

1. **Triage** (:func:`split_aggregates`, :func:`tradeanomaly.scoring.split_structural`): findings that name known
   structure (entrepôt re-exports, publisher estimates, the freight band) are listed apart and explain the same
   check's other findings on the subject-period; findings about an aggregate (``WLD``, ``NES``, or any code that is
   not an economy) are never a fraud subject: a reporter's world total is context, a province against the world is
   the province.
2. **Evidence and materiality** per subject-period (:mod:`.evidence`): each finding's tail probability against
   what its signal assessed in the run, families' surprisals added up, ``evidence = prior * surprise / log10(N)``
   (the prior: the families' priors weighted by their surprisals; a break both reports show alike counts less);
   the defensible dollars (the excess over the band or the pair's norm, the rerouted amount; never a whole flow).
3. **Cases** (:mod:`.cases`): episodes of one case key, the legs of a route, the pairs of a reporter whose digits
   fail, and a reporter's reports flagged against a third of its partners at once, each become one case.
4. **Score**: ``score = (1 - exp(-evidence / s)) * (materiality_base + (1 - materiality_base) * materiality)``,
   where a case's evidence combines its members per family (harmonic mean p), its materiality is the log-scale of
   its dollars (per period, the largest view of each pair; summed over the pairs and periods of the case), and the
   scale ``s`` falls from ``evidence_scale`` to ``evidence_scale_full`` with ``materiality ** evidence_scale_power``:
   a 100 bn break needs less rarity to lead than a 0.3 bn ratio, while a strong case of a few millions still ranks
   (and a few billions lean little on their dollars). ``confidence`` is
   ``high`` (evidence >= 1.5: rarer than the rarest subject-period of the run on one family), ``medium`` (>= 1) or
   ``low``.
5. **Chronic** cases (flagged in at least ``chronic_share`` of every period the findings span) are listed apart with
   label ``chronic``: a standing difference is not news. Structural causes follow with label ``structural``. Flags of
   the previous run that no longer appear are appended as ``resolved``.

Subject-periods with a score of at least ``min_score`` form the cases; the ranked list holds at most ``top_k`` cases
with a score of at least ``min_score``; ties break by subject,
then period. :func:`rank` returns the flags; :func:`rank_cases` also returns the members of every case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..codes import GROUPS
from ..schema import validate_findings
from ..scoring import KEY_COLUMNS, ScoreResult, split_structural
from . import words
from .cases import _with_order, assign_cases, base_keys, digit_side_hits
from .evidence import combine_ensemble, harmonic_mean_p, materiality, mix_priors, orientation, subject_periods
from .flags import (
    FLAG_COLUMNS, MEMBER_COLUMNS, empty_flags, finish, period_range, read_flags_csv, with_status, write_flags_csv,
)
from .params import RankingParams

__all__ = [
    "FLAG_COLUMNS", "MEMBER_COLUMNS", "RankingParams", "Ranking", "rank", "rank_cases", "read_flags_csv",
    "write_flags_csv", "split_aggregates", "country_name",
]
country_name = words.country_name


@dataclass
class Ranking:
    """``flags``: the ranked cases, then chronic and structural rows and resolved flags (:data:`FLAG_COLUMNS`);
    ``members``: every subject-period finding behind each ranked or chronic case (:data:`MEMBER_COLUMNS`)."""

    flags: pd.DataFrame
    members: pd.DataFrame


#: checks whose destinations may be groups of economies (``destinations: [USA, EU27]``), each summed from its
#: members' reports by the check
GROUP_CHECKS: tuple[str, ...] = ("entrepot", "rush")


def split_aggregates(findings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings about economies, findings about an aggregate). A finding is about an aggregate when its reporter,
    partner or hub is not an economy (``WLD``, ``NES``), unless it names a region (a province against the world) or
    its partner is a destination group a check of :data:`GROUP_CHECKS` summed from its members (``CHN>TUR>EU27``)."""
    from ..codes import is_country

    codes = pd.unique(pd.concat([findings[c].astype("str") for c in ("reporter", "partner", "hub")]))
    codes = pd.Series([c for c in codes if c], dtype="str")
    bad = set(codes[~is_country(codes).to_numpy(dtype=bool)]) if len(codes) else set()
    if not bad:
        return findings, findings.iloc[0:0]
    agg = np.zeros(len(findings), dtype=bool)
    for c in ("reporter", "partner", "hub"):
        agg |= findings[c].astype("str").isin(bad).to_numpy()
    agg &= (findings["region"].astype("str") == "").to_numpy()
    # a destination group that a check summed from its members' own reports (the EU27 a route or a rush ships to)
    # is a market, not a publisher's aggregate row
    summed = findings["check"].astype("str").isin(GROUP_CHECKS).to_numpy() & findings["partner"].astype(
        "str").isin(list(GROUPS)).to_numpy() & np.isin(findings["reporter"].astype("str").to_numpy(),
                                                       list(bad), invert=True)
    summed &= np.isin(findings["hub"].astype("str").to_numpy(), list(bad), invert=True)
    agg &= ~summed
    return findings.loc[~agg], findings.loc[agg]


def rank(findings: pd.DataFrame, scores: ScoreResult | None = None, *, params: RankingParams | None = None,
         previous_flags: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ranked, explained flags (see the module docstring and :data:`FLAG_COLUMNS`)."""
    return rank_cases(findings, scores, params=params, previous_flags=previous_flags).flags


def rank_cases(findings: pd.DataFrame, scores: ScoreResult | None = None, *, params: RankingParams | None = None,
               previous_flags: pd.DataFrame | None = None) -> Ranking:
    params = params or RankingParams()
    findings = validate_findings(findings)
    fraud, structural, explained = split_structural(findings)
    fraud, _aggregates = split_aggregates(fraud)
    ens = scores.scores if scores is not None and len(scores.scores) else None
    sp, long = subject_periods(fraud, ens, params)
    if sp.empty:
        flags = _append_structural(empty_flags(), structural, params)
        return Ranking(finish(with_status(flags, previous_flags)), _empty_members())
    base = params.materiality_base
    sp["materiality"] = materiality(sp["usd"].to_numpy(), params)
    # a pair whose reporter's digits fail in the same months is flagged on less evidence of its own: the cause is
    # established, and invented figures leave gaps of every size with every partner (they become the reporter's case)
    flag_scale = np.where(explained_by_digits(sp, params), params.explained_flag_evidence_scale,
                          params.flag_evidence_scale)
    sp["priority"] = confidence_of(sp["evidence"].to_numpy(), flag_scale) * (
        base + (1.0 - base) * sp["materiality"])
    # a subject-period is flagged when its score (evidence weighed by dollars) reaches min_score: a large amount
    # needs less rarity to be worth a look than a small one
    # (a subject-period whose findings name no amount, such as a reporter's digits, is judged on its evidence:
    # its case takes the dollars of the pairs it explains)
    no_amount = ~(sp["usd"].to_numpy(dtype=float) > 0)
    flagged = (sp["priority"].to_numpy() >= params.min_score) | (
        no_amount & (confidence_of(sp["evidence"].to_numpy(), params.no_amount_evidence_scale)
                     >= params.min_confidence_no_amount))
    sp = sp.loc[flagged].reset_index(drop=True)
    if sp.empty:
        flags = _append_structural(empty_flags(), structural, params)
        return Ranking(finish(with_status(flags, previous_flags)), _empty_members())
    sp = base_keys(sp, params)
    sp = assign_cases(sp, params)
    cases = _case_table(sp, long, params)
    chronic = _chronic(cases, sp, params)
    ranked = cases.loc[~chronic & (cases["score"] >= params.min_score)]
    ranked = ranked.sort_values(["score", "subject", "first"], ascending=[False, True, True], kind="mergesort")
    ranked = ranked.head(int(params.top_k))
    kept = pd.concat([ranked, cases.loc[chronic].sort_values(["score", "subject"], ascending=[False, True],
                                                                kind="mergesort").head(int(params.max_structural))])
    explained_text = _explained_text(structural, kept, sp)
    flags = _flag_rows(kept, sp, scores, explained_text, n_ranked=len(ranked))
    flags = _append_structural(flags, structural, params)
    members = _members(kept, sp, fraud, params)
    flags = with_status(flags, previous_flags)
    return Ranking(finish(flags), members)


# ------------------------------------------------------------------------------------------------------------
# Cases
# ------------------------------------------------------------------------------------------------------------


def _case_usd(sp: pd.DataFrame) -> pd.Series:
    """Dollars of each case: per period, the largest view of each pair (the sum of its products or its total) and,
    for a route, the largest of its views; summed over the pairs and periods of the case."""
    pair = sp["exporter"].astype("str") + ">" + sp["importer"].astype("str")
    route = sp["case"].astype("str").str.startswith("R:").to_numpy()
    pair = pair.where(~route, "route")
    pair = pair.where(sp["shape"] != "reporter", "reporter")
    pair = pair.where(sp["shape"] != "region", sp["region"].astype("str"))
    t = pd.DataFrame({"case": sp["case"].to_numpy(), "period": sp["period"].to_numpy(), "pair": pair.to_numpy(),
                      "product": sp["product"].to_numpy() & ~route, "usd": sp["usd"].fillna(0.0).to_numpy()})
    prod = t.loc[t["product"]].groupby(["case", "period", "pair"])["usd"].sum()
    tot = t.loc[~t["product"]].groupby(["case", "period", "pair"])["usd"].max()
    both = pd.concat([prod.rename("a"), tot.rename("b")], axis=1).fillna(0.0)
    per_pair = both.max(axis=1)
    return per_pair.groupby(level="case").sum()


def key_base(key: str) -> str:
    """A case's key without the number of its lead episode (``P:CHN>HKG#12`` -> ``P:CHN>HKG``)."""
    return str(key).split("#")[0]


def explained_by_digits(sp: pd.DataFrame, params: RankingParams) -> np.ndarray:
    """Per subject-period: a pair reported by an economy whose digit test fails on its own in overlapping months
    (a reporter's subject-period led by the digits family, of score at least ``digits_case_min_score`` and flagged
    by the no-amount rule), on the side the test covers (its exports, its imports, or both), when at least
    ``reporter_case_min`` partners are concerned."""
    out = np.zeros(len(sp), dtype=bool)
    subj = sp["subject"].astype("str")
    core = subj.str.replace(r"\[[^\]]*\]$", "", regex=True)
    arrows = core.str.count(">").to_numpy()
    is_rep = (arrows == 0) & (sp["region"].astype("str") == "").to_numpy()
    lead_digits = sp["families"].astype("str").str.split(";").str[0].eq("digits").to_numpy()
    no_amount = ~(sp["usd"].to_numpy(dtype=float) > 0)
    fails = is_rep & lead_digits & no_amount & (
        pd.to_numeric(sp["top_score"], errors="coerce").fillna(0.0).to_numpy() >= params.digits_case_min_score) & (
        confidence_of(sp["evidence"].to_numpy(), params.no_amount_evidence_scale) >= params.min_confidence_no_amount)
    if not fails.any():
        return out
    t = _with_order(sp[["subject", "period"] + (["period_start"] if "period_start" in sp else [])])
    exp, imp = orientation(subj, sp["reporter"], sp["partner"])
    d = pd.DataFrame({"d": np.flatnonzero(fails), "R": sp["reporter"].astype("str").to_numpy()[fails],
                      "side": subj[fails].str.extract(r"\[([XM])\]$", expand=False).fillna("").to_numpy(),
                      "dlo": t["m0"].to_numpy()[fails], "dhi": t["m1"].to_numpy()[fails]})
    pair = arrows == 1
    # months that overlap (no gap bridged: a gap of -1 months)
    cand = pd.DataFrame({"e": np.flatnonzero(pair), "exporter": exp[pair], "importer": imp[pair],
                         "lo": t["m0"].to_numpy()[pair], "hi": t["m1"].to_numpy()[pair], "gap": -1})
    h = digit_side_hits(cand, d, params)
    out[h["e"].to_numpy(dtype=np.int64)] = True
    return out


def confidence_of(evidence: np.ndarray, scale: float) -> np.ndarray:
    """Evidence with diminishing returns, in [0, 1): ``1 - exp(-evidence / scale)``. Once a case is clearly out of
    line, more surprise says little more about whether it matters; its dollars do."""
    return 1.0 - np.exp(-np.clip(np.asarray(evidence, dtype=float), 0.0, None) / scale)


def case_tests(sp: pd.DataFrame) -> pd.Series:
    """Per case, the subject-periods it stands for: for each subject of the case with its products rolled up (a
    pair, a route, a reporter's side), every period from the first to the last it is flagged in (the unflagged
    ones between count as tests that found nothing, ``p = 1``), plus each further product flagged in one of those
    periods, plus one per test over the whole sample. A pair flagged in 3 scattered months of 30 is then judged as
    the best of 30 months, not of 3: sustained breaks keep their evidence, the scattered exceedances of a noisy
    series lose it."""
    dated = (sp["period"].astype("str") != "").to_numpy()
    d = sp.loc[dated]
    d = d.assign(_s=d["subject"].astype("str").str.replace(r":[^\[\]>]*", "", regex=True).to_numpy())
    g = d.groupby(["case", "_s"], sort=True)["_ord"]
    span = (g.max() - g.min() + 1).groupby(level=0).sum()
    products = d.groupby("case").size() - d.drop_duplicates(["case", "_s", "_ord"]).groupby("case").size()
    undated = sp.loc[~dated].groupby("case").size()
    return span.add(products, fill_value=0).add(undated, fill_value=0).astype(float)


def case_evidence(sp: pd.DataFrame, long: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    """Per case: ``surprise`` (per family, ``-log10`` of the harmonic mean p over the case's subject-periods; summed
    over families; the ensemble's beside them), ``prior``, ``evidence = prior * surprise / log10(N)`` (N the
    subject-periods of the lead's kind in the run) and ``n_families``."""
    n = case_tests(sp) if params.case_span_tests else sp.groupby("case").size()
    lf = long.merge(sp[["subject", "period", "case"]], on=["subject", "period"])
    key = lf["case"].astype("str") + "\x1f" + lf["family"].astype("str")
    n_key = pd.Series(n.reindex(lf["case"]).to_numpy(), index=key.to_numpy()).groupby(level=0).first()
    hm = harmonic_mean_p(lf["p_fam"].to_numpy(), key.to_numpy(), n_key)
    fam = pd.DataFrame({"case": [k.split("\x1f")[0] for k in hm.index], "s": -np.log10(hm.to_numpy())})
    fam["prior"] = lf.groupby(key.to_numpy())["prior"].max().reindex(hm.index).to_numpy()
    g = fam.groupby("case", sort=True)
    s_rules = g["s"].sum()
    ens = sp.loc[np.isfinite(sp["p_ens"].to_numpy(dtype=float)), ["case", "p_ens"]]
    p_ens = harmonic_mean_p(ens["p_ens"].to_numpy(), ens["case"].to_numpy(), n) if len(ens) else pd.Series(
        dtype=float)
    out = pd.DataFrame(index=s_rules.index)
    out["surprise"] = combine_ensemble(s_rules.to_numpy(), p_ens.reindex(out.index).to_numpy(dtype=float),
                                       params.w_ensemble)
    out["prior"] = mix_priors(fam["prior"], fam["s"], [fam["case"]], params).reindex(out.index)
    # rerouting leaves a share shift and co-moving legs: a route case with neither (in any of its periods) is a
    # weaker lead, in its evidence and in its score (a large amount alone must not carry it)
    out["uncorroborated"] = False
    if "corroborated" in sp:
        route = out.index.to_series().str.startswith("R:")
        corr = sp.groupby("case")["corroborated"].any().reindex(out.index).fillna(False).astype(bool)
        out["uncorroborated"] = (route & ~corr).to_numpy()
        out.loc[out["uncorroborated"], "prior"] *= params.route_uncorroborated_prior
    # a hub that already supplied a large share of what the destination bought from the origin and the hub is an
    # established competitor: its gain of share is mostly trade diversion (the prior falls linearly from 1 at
    # route_incumbent_share[0] to route_incumbent_prior at route_incumbent_share[1] of the case's median share)
    out["hub_share"] = np.nan
    if "hub_share" in sp:
        out["hub_share"] = sp.groupby("case")["hub_share"].median().reindex(out.index).to_numpy(dtype=float)
        lo, hi = params.route_incumbent_share
        frac = np.clip((out["hub_share"].to_numpy(dtype=float) - lo) / (hi - lo), 0.0, 1.0)
        factor = 1.0 - frac * (1.0 - params.route_incumbent_prior)
        route = out.index.to_series().str.startswith("R:").to_numpy()
        out["prior"] = out["prior"] * np.where(route & np.isfinite(factor), factor, 1.0)
    scale = sp.sort_values(["case", "priority"], ascending=[True, False], kind="mergesort").groupby(
        "case")["scale"].first()
    out["evidence"] = out["prior"] * out["surprise"] / scale.reindex(out.index)
    out["n_families"] = g.size().reindex(out.index)
    return out


def _case_table(sp: pd.DataFrame, long: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    sp = sp.sort_values(["case", "priority", "subject", "period"], ascending=[True, False, True, True],
                        kind="mergesort")
    g = sp.groupby("case", sort=True)
    # the lead of a case names what an investigator opens first: a route's strongest route finding (its legs are
    # views of the same goods), and a product where the case has products (the pair's total is their sum)
    # (a reporter's case, its own test of the reporter: the pairs are its evidence)
    route_case = sp["case"].str.startswith("R:").to_numpy()
    rep_case = sp["case"].str.startswith("C:").to_numpy()
    rank_lead = np.where(route_case & (sp["shape"] != "route").to_numpy(), 2, 0) + np.where(
        rep_case & (sp["shape"] != "reporter").to_numpy(), 2, 0) + np.where(sp["product"].to_numpy(), 0, 1)
    # and among those, the subject that carries the case (the largest sum of priorities over its periods), at its
    # strongest period: a route case of ninety months of one product is named after that product, not after a
    # product seen once
    weight = sp.groupby(["case", "subject"])["priority"].transform("sum").to_numpy()
    pick = sp.assign(_r=rank_lead, _w=-weight).sort_values(["case", "_r", "_w", "priority", "subject", "period"],
                                                           ascending=[True, True, True, False, True, True],
                                                           kind="mergesort")
    lead = pick.groupby("case", sort=True).head(1).set_index("case").drop(columns=["_r", "_w"])
    ce = case_evidence(sp, long, params)
    evidence, n_fam = ce["evidence"], ce["n_families"]
    usd = _case_usd(sp)
    t = pd.DataFrame(index=lead.index)
    for c in (*[k for k in KEY_COLUMNS if k != "period"], "exporter", "importer", "shape", "top_check",
              "families", "detail", "ensemble"):
        t[c] = lead[c]
    t["lead_period"] = lead["period"]
    t["lead_subject"] = lead["subject"]
    t["evidence"] = evidence.reindex(t.index).to_numpy()
    t["n_families"] = n_fam.reindex(t.index).to_numpy()
    t["uncorroborated"] = ce["uncorroborated"].reindex(t.index).fillna(False).to_numpy(dtype=bool)
    t["usd_at_stake"] = usd.reindex(t.index).fillna(0.0).to_numpy()
    base = params.materiality_base
    t["materiality"] = materiality(t["usd_at_stake"].to_numpy(), params)
    # a large amount needs less rarity to be worth a look than a small one: the evidence scale runs from
    # evidence_scale (no materiality) down to evidence_scale_full (full materiality)
    scale = params.evidence_scale + (params.evidence_scale_full - params.evidence_scale) * t[
        "materiality"].to_numpy() ** params.evidence_scale_power
    t["score"] = confidence_of(t["evidence"].to_numpy(), scale) * (base + (1.0 - base) * t["materiality"])
    t.loc[t["uncorroborated"], "score"] *= params.route_uncorroborated_prior
    dated = sp["period"].astype("str").where(sp["period"].astype("str") != "")
    first = dated.groupby(sp["case"]).min().fillna("")
    last = dated.groupby(sp["case"]).max().fillna("")
    t["first"], t["last"] = first.reindex(t.index), last.reindex(t.index)
    t["_freq"] = lead["_freq"]
    # the months a case covers (its members may mix frequencies: a reporter's year and its pairs' months)
    # (a test over the whole sample, without a period, does not stretch the case over the run)
    has_p = sp["period"].astype("str").ne("").to_numpy()
    m0 = pd.Series(np.where(has_p, sp["m0"], np.nan)).groupby(sp["case"].to_numpy()).min()
    m1 = pd.Series(np.where(has_p, sp["m1"], np.nan)).groupby(sp["case"].to_numpy()).max()
    t["lo"] = m0.reindex(t.index).fillna(g["m0"].min().reindex(t.index)).to_numpy()
    t["hi"] = m1.reindex(t.index).fillna(g["m1"].max().reindex(t.index)).to_numpy()
    t["persistence"] = g["period"].nunique().reindex(t.index)
    t["n_members"] = g.size().reindex(t.index)
    t["partners"] = g.apply(lambda d: len(set(d["exporter"]) | set(d["importer"])) - 1, include_groups=False)
    t["kind"] = [words.case_kind(key_base(k), s, c, f) for k, s, c, f in
                 zip(t.index, t["shape"], t["top_check"], t["families"])]
    t["confidence"] = np.where(t["evidence"] >= 1.5, "high", np.where(t["evidence"] >= 1.0, "medium", "low"))
    # a case about a reporter as a whole names the reporter, not its lead pair
    rep = t.index.str.startswith("C:")
    bare = [key_base(k) for k in t.index[rep]]
    t.loc[rep, "reporter"] = [k.split(":")[1] for k in bare]
    t.loc[rep, ["partner", "hub", "region", "hs"]] = ""
    t.loc[rep, "subject"] = [k.split(":")[1] + (f"[{k.split(':')[2]}]" if k.count(":") >= 2 else "") for k in bare]
    # a pair case is shown from the exporter's side (the direction of the goods)
    pair = t["shape"].eq("pair").to_numpy() & ~rep
    t.loc[pair, "reporter"] = t.loc[pair, "exporter"]
    t.loc[pair, "partner"] = t.loc[pair, "importer"]
    t.loc[pair, "subject"] = [s.removesuffix("[M]") if s.endswith("[M]") else s for s in t.loc[pair, "subject"]]
    flip = pair & lead["subject"].str.endswith("[M]").reindex(t.index).to_numpy()
    t.loc[flip, "subject"] = [f"{a}>{b}" + (f":{h}" if h not in ("", "TOTAL") else "") for a, b, h in
                              zip(t.loc[flip, "exporter"], t.loc[flip, "importer"], t.loc[flip, "hs"])]
    t["period"] = [period_range(a, b) for a, b in zip(t["first"], t["last"])]
    t["case_id"] = [f"{s}@{a}" for s, a in zip(t["subject"], t["first"])]
    # two cases of one subject from the same period (a product's own case and its pair's) stay distinguishable
    dup = t["case_id"].duplicated(keep="first")
    if dup.any():
        n = t.groupby("case_id").cumcount()
        t.loc[dup, "case_id"] = t.loc[dup, "case_id"] + "#" + (n[dup] + 1).astype("str")
    return t


def _chronic(cases: pd.DataFrame, sp: pd.DataFrame, params: RankingParams) -> np.ndarray:
    """Cases flagged in at least ``chronic_share`` of the run's periods of their lead's frequency (the periods
    some subject was flagged in), and in at least ``chronic_min`` of them. A window (a digit test over twelve
    months) counts as the one period it ends in."""
    dated = sp.loc[sp["period"].astype("str") != ""]
    total = dated.groupby("_freq")["period"].nunique()
    own = dated.groupby(["case", "_freq"])["period"].nunique()
    key = pd.MultiIndex.from_arrays([cases.index, cases["_freq"].to_numpy()])
    length = own.reindex(key).fillna(0).to_numpy()
    span = cases["_freq"].map(total).fillna(0).to_numpy()
    # a route's signals are changes against a base period two years earlier (the rerouting check's lag): flagged
    # throughout, it is a sustained rerouting, not a standing difference
    route = cases.index.to_series().astype("str").str.startswith("R:").to_numpy()
    return (length >= params.chronic_min) & (length >= params.chronic_share * span) & (params.chronic_share <= 1) \
        & ~route


def _explained_text(structural: pd.DataFrame, kept: pd.DataFrame, sp: pd.DataFrame) -> dict:
    if structural.empty or kept.empty:
        return {}
    s = structural.sort_values(["subject", "period", "score", "signal"], ascending=[True, True, False, True],
                               kind="mergesort").drop_duplicates(["subject", "period"])
    lead = set(zip(kept["lead_subject"], kept["lead_period"]))
    out = {}
    for r in s.itertuples(index=False):
        if (r.subject, r.period) in lead and str(r.detail).strip():
            d = str(r.detail).strip()
            out[(r.subject, r.period)] = d if d.endswith(".") else d + "."
    return out


def _top_features(scores: ScoreResult | None, keep: set) -> dict:
    if scores is None or not len(scores.features):
        return {}
    tc = scores.top_contributions(3)
    if tc.empty:
        return {}
    tc = tc.loc[[k in keep for k in zip(tc["subject"], tc["period"])]]
    out: dict = {}
    for row in tc.itertuples(index=False):
        out.setdefault((row.subject, row.period), []).append((row.feature, float(row.value), float(row.share)))
    return out


def _flag_rows(kept: pd.DataFrame, sp: pd.DataFrame, scores: ScoreResult | None, explained: dict,
               n_ranked: int) -> pd.DataFrame:
    if kept.empty:
        return empty_flags()
    lead_keys = list(zip(kept["lead_subject"], kept["lead_period"]))
    feats = _top_features(scores, set(lead_keys))
    members = {c: d for c, d in sp.groupby("case", sort=False)}
    rows = []
    for i, (case, r) in enumerate(kept.iterrows()):
        d = r.to_dict()
        m = members[case]
        lead_subject = d["lead_subject"]
        bare = key_base(case)
        side = bare.split(":")[2] if bare.startswith("C:") and bare.count(":") >= 2 else ""
        detail = str(d["detail"]).strip()
        text = (detail if detail.endswith(".") or not detail else detail + ".")
        text += words.ensemble_sentence(float(d["ensemble"]) if pd.notna(d["ensemble"]) else np.nan,
                                        feats.get((lead_subject, d["lead_period"]), []))
        if (lead_subject, d["lead_period"]) in explained:
            text += f" Known structure on the same subject: {explained[(lead_subject, d['lead_period'])]}"
        text += words.members_sentence(m, lead_subject)
        chronic = i >= n_ranked
        if chronic:
            text = (f"Chronic, not ranked: flagged in every period from {d['first']} to {d['last']}, a standing "
                    f"difference rather than an event. " + text)
        fams = list(dict.fromkeys(";".join(m.sort_values("priority", ascending=False)["families"]).split(";")))
        sig = m.sort_values(["priority", "top_signal"], ascending=[False, True], kind="mergesort")["top_signal"]
        rows.append({
            "rank": i + 1 if not chronic else pd.NA, "case_id": d["case_id"], "subject": d["subject"],
            "reporter": d["reporter"], "partner": d["partner"], "hub": d["hub"], "region": d["region"],
            "hs": d["hs"], "period": d["period"], "kind": d["kind"], "score": d["score"], "evidence": d["evidence"],
            "confidence": d["confidence"], "signals": "; ".join(dict.fromkeys(sig)), "usd_at_stake": d["usd_at_stake"],
            "members": int(d["n_members"]), "persistence": int(d["persistence"]), "status": "new",
            "label": "chronic" if chronic else "fraud_signal",
            "headline": words.headline(d["kind"], {**d, "partners": d["partners"] if case.startswith("C:") else 0},
                                       side),
            "explanation": text.strip(), "_families": ";".join(fams),
        })
    return pd.DataFrame(rows).drop(columns="_families")


def _append_structural(flags: pd.DataFrame, structural: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    """Structural causes: one row per subject episode, strongest first, no rank."""
    if structural.empty:
        return flags
    st = structural.sort_values(["subject", "period", "score", "signal"], ascending=[True, True, False, True],
                                kind="mergesort")
    g = st.groupby(["subject", "period"], sort=True)
    top = g.head(1).set_index(["subject", "period"])
    t = top[[k for k in KEY_COLUMNS if k not in ("subject", "period")]].copy()
    t["usd"] = g["usd_at_stake"].max().fillna(0.0)
    t["detail"] = top["detail"]
    t["signal"] = top["signal"]
    t["score"] = top["score"]
    t = t.reset_index()
    from .cases import _with_order

    t = _with_order(t)
    t["_key"] = t["subject"]
    from .cases import episodes

    t["_ep"] = episodes(t, params, key="_key")
    g = t.sort_values(["_ep", "score", "_ord"], ascending=[True, False, True], kind="mergesort").groupby("_ep")
    peak = g.head(1).set_index("_ep").sort_index()
    rows = pd.DataFrame({
        "rank": pd.NA, "subject": peak["subject"], "reporter": peak["reporter"], "partner": peak["partner"],
        "hub": peak["hub"], "region": peak["region"], "hs": peak["hs"],
        "period": [period_range(a, b) for a, b in zip(g["period"].min(), g["period"].max())],
        "kind": "structural", "score": np.nan, "evidence": np.nan, "confidence": "",
        "signals": peak["signal"], "usd_at_stake": g["usd"].sum(), "members": g.size(),
        "persistence": g["_ord"].nunique(), "status": "new", "label": "structural",
    })
    # a pair outside the band through most of its history is a chronic difference, listed with the chronic cases
    chronic = rows["signals"].astype("str").str.endswith(".chronic").to_numpy()
    rows.loc[chronic, "label"] = "chronic"
    rows.loc[chronic, "kind"] = "mirror_gap"
    rows["case_id"] = [f"{s}@{p.split(':')[0]}" for s, p in zip(rows["subject"], rows["period"])]
    rows["explanation"] = [f"Structural, not ranked as fraud: {d}" if str(d).strip() else "Structural, not ranked."
                           for d in peak["detail"].astype("str").str.strip()]
    rows["headline"] = [f"{'Chronic difference' if c else 'Known structure'}: {s}, {p.replace(':', ' to ')}."
                        for s, p, c in zip(rows["subject"], rows["period"], chronic)]
    rows.loc[chronic, "explanation"] = [
        "Chronic, not ranked: outside the mirror band in most earlier periods. " + e.removeprefix(
            "Structural, not ranked as fraud: ") for e in rows.loc[chronic, "explanation"]]
    rows = rows.sort_values(["usd_at_stake", "subject", "period"], ascending=[False, True, True],
                            kind="mergesort").head(int(params.max_structural))
    return pd.concat([flags, rows], ignore_index=True) if len(flags) else rows.reset_index(drop=True)


def _empty_members() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("score", "evidence", "usd_at_stake") else "str")
                         for c in MEMBER_COLUMNS})


def _members(kept: pd.DataFrame, sp: pd.DataFrame, fraud: pd.DataFrame, params: RankingParams) -> pd.DataFrame:
    if kept.empty:
        return _empty_members()
    ids = kept["case_id"]
    m = sp.loc[sp["case"].isin(ids.index), ["case", "subject", "period", "evidence"]]
    m = m.assign(case_id=ids.reindex(m["case"]).to_numpy())
    f = fraud[["subject", "period", "check", "signal", "score", "usd_at_stake", "detail"]].merge(
        m[["case_id", "subject", "period", "evidence"]], on=["subject", "period"])
    f = f.sort_values(["case_id", "evidence", "score", "subject", "period", "signal"],
                      ascending=[True, False, False, True, True, True], kind="mergesort")
    f = f.groupby("case_id", sort=False).head(int(params.max_members))
    return f[list(MEMBER_COLUMNS)].reset_index(drop=True)
