"""Evidence and materiality of each subject-period.

Every finding's ``score`` becomes an empirical **tail probability** ``p`` against the run's own subject-periods:
the share of the subject-periods the signal assessed (``n_tested``) whose score on it is at least as high; a score
far beyond the signal's other findings gains up to ``tail_decades`` more from an exponential tail fitted to them
(peaks over threshold), so that a rare check firing far out is not capped at its rank. Checks' scores are robust z values or ``-log10`` of
q-values whose null distributions differ by signal and by data (trade data are heavy-tailed: a robust z of 5 is
common, not one in a million), so each signal is calibrated against what the run itself shows; a subject-period a
signal did not flag counts as scoring below every finding.

Findings of one subject-period are grouped by **family** (signals that read the same data: the two reports of a flow;
one reporter's series; its digits; a route's legs; unit values). Within a family the smallest ``p`` counts, times the
number of the family's signals present (Bonferroni); the families' surprisals ``-log10 p`` add up (Fisher's method
without the chi-square step), so that a mirror gap corroborated by a series break and by digit failures is stronger
evidence than any one of them. The pyod ensemble's percentile against the subject-periods of its kind enters as a
weighted mean of surprisals (``w_ensemble``; not for kinds with fewer than ``ensemble_min_rows`` subject-periods).
Then

    evidence = prior * surprise / log10(N + 1)

where ``N`` is the number of subject-periods the lead signal assessed, so that 1 is the rarest subject-period of the
run on one family and 2 that on two independent families, whatever the size of the run; ``prior``
(``signal_priors``) says how much the families say about misreporting rather than an innocent change (a series break
alone: 0.5; a break the flow's other report shows alike, times ``mirrored_break_prior``: two agencies recorded the
goods moving, see :func:`mirrored_breaks`), the families' priors averaged with their surprisals as weights
(:func:`mix_priors`), so that a faint mirror gap beside a large break does not lend the break its own prior. A case's evidence combines its members per family with the harmonic mean p (valid under dependence,
Wilson 2019) before the same step; :func:`tradeanomaly.ranking.confidence_of` maps evidence to ``[0, 1)`` with
diminishing returns.

**Materiality** is the defensible dollar amount of the subject-period: the amount its strongest finding of each
family names (the excess over the band or the pair's norm, the rerouted amount), the largest over the families
other than the digit tests (whose amount is what they examined, not what is wrong), on a log scale from
``usd_floor`` (0) to ``usd_full`` (1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..scoring import ALL_PRODUCTS, KEY_COLUMNS
from .params import RankingParams


def _by_prefix(signals: pd.Series, table: tuple, default):
    """Look up each signal in ``table`` ((prefix, value), ...) by its longest matching prefix, once per distinct
    signal."""
    codes, uniques = pd.factorize(signals.astype("str"), use_na_sentinel=False)
    ordered = sorted(table, key=lambda kv: -len(kv[0]))
    vals = []
    for s in uniques:
        vals.append(next((v for k, v in ordered if str(s).startswith(k)), default))
    return np.asarray(vals, dtype=object)[codes] if len(codes) else np.asarray([], dtype=object)


def family_of(signals: pd.Series, params: RankingParams) -> np.ndarray:
    fam = _by_prefix(signals, params.families, None)
    # a signal of an unknown check is its own family, named after the check
    checks = signals.astype("str").str.split(".", n=1).str[0].to_numpy(dtype=object)
    return np.where(pd.isna(fam), checks, fam).astype(object)


def prior_of(signals: pd.Series, params: RankingParams) -> np.ndarray:
    return _by_prefix(signals, params.signal_priors, 1.0).astype(float)


def subject_shape(keys: pd.DataFrame) -> np.ndarray:
    """The kind of subject (:func:`tradeanomaly.scoring.subject_level`): route, pair, region or reporter, each
    ``+hs`` when it names a product."""
    from ..scoring import subject_level

    return subject_level(keys).to_numpy(dtype=object)


def tail_probability(findings: pd.DataFrame, params: RankingParams) -> tuple[np.ndarray, np.ndarray]:
    """(``p``, ``N``) of each finding: ``p = (k + 1) / (N + 1)`` where ``k`` is the number of findings of the same
    signal scoring at least as high and ``N`` the subject-periods the signal assessed in the run (``n_tested``;
    where a check does not say, all subject-periods of the run: the run assessed at least those)."""
    score = findings["score"].to_numpy(dtype=float)
    score = np.where(np.isfinite(score), np.maximum(score, 0.0), 0.0)
    shape = subject_shape(findings)
    sp = pd.DataFrame({"shape": shape, "subject": findings["subject"].to_numpy(),
                       "period": findings["period"].to_numpy()}).drop_duplicates()
    n_shape = sp.groupby("shape").size()
    signal = findings["signal"].astype("str").to_numpy()
    t = pd.DataFrame({"signal": signal, "score": score})
    # ties share the count of all tied (the most conservative rank)
    k = t.groupby("signal")["score"].rank(method="max", ascending=False).to_numpy()
    n_sig = t.groupby("signal")["score"].transform("size").to_numpy()
    told = pd.to_numeric(findings["n_tested"], errors="coerce").to_numpy(dtype=float) \
        if "n_tested" in findings else np.full(len(findings), np.nan)
    told = pd.Series(told).groupby(signal).transform("max").to_numpy()
    fallback = np.full(len(findings), float(n_shape.sum()))
    n = np.where(np.isfinite(told) & (told >= n_sig), told, np.maximum(fallback, n_sig))
    p_emp = (k + 1.0) / (n + 1.0)
    # beyond the ranks, how far out a score lies: an exponential tail fitted to the signal's findings (peaks over
    # the lowest finding), worth at most ``tail_decades`` more than the rank says
    u = t.groupby("signal")["score"].transform("min").to_numpy()
    beta = t.assign(_e=score - u).groupby("signal")["_e"].transform("mean").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p_tail = (n_sig + 1.0) / (n + 1.0) * np.exp(-(score - u) / np.where(beta > 0, beta, np.inf))
    p_tail = np.where(n_sig >= params.tail_min_findings, p_tail, 1.0)
    p = np.maximum(np.minimum(p_emp, p_tail), p_emp * 10.0 ** -params.tail_decades)
    return np.clip(p, 1e-300, 1.0), n


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (monotone step-up), in the order of ``p``."""
    p = np.asarray(p, dtype=float)
    n = len(p)
    if n == 0:
        return p
    order = np.argsort(p, kind="stable")
    q = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(q[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def materiality(usd: np.ndarray, params: RankingParams) -> np.ndarray:
    """Dollars on a log scale: 0 at ``usd_floor`` and below, 1 at ``usd_full`` and above."""
    lo, hi = np.log10(params.usd_floor), np.log10(params.usd_full)
    u = np.log10(np.clip(np.nan_to_num(np.asarray(usd, dtype=float), nan=0.0), 1.0, None))
    return np.clip((u - lo) / (hi - lo), 0.0, 1.0)


def subject_periods(fraud: pd.DataFrame, ensemble: pd.DataFrame | None,
                    params: RankingParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per subject-period of the fraud evidence, one row per subject-period and family).

    The first has the keys, ``p`` (families combined with Fisher's method and the ensemble), ``q``, ``prior``,
    ``evidence``, ``usd``, ``families`` (strongest first), ``n_families``, the strongest finding's ``top_check``,
    ``top_signal``, ``top_score`` and ``detail``, and ``ensemble``; the second has ``subject``, ``period``,
    ``family``, ``p_fam``, ``prior``, and ``p_ens`` (the ensemble's tail probability) on every row of the
    subject-period."""
    keys = list(KEY_COLUMNS)
    if fraud.empty:
        sp = pd.DataFrame(columns=[*keys, "p", "q", "prior", "evidence", "usd", "families", "n_families",
                                   "top_check", "top_signal", "detail", "top_score", "ensemble"])
        return sp, pd.DataFrame(columns=["subject", "period", "family", "p_fam", "prior", "p_ens"])
    p, n = tail_probability(fraud, params)
    prior = prior_of(fraud["signal"], params)
    # a break both reporters show alike is a change in the goods (a delivery, a lost contract), not in the reporting
    alike, apart = mirrored_breaks(fraud, params, amounts=True)
    prior = np.where(alike, prior * params.mirrored_break_prior, prior)
    # and the jump both recorded is not at stake: what one report alone shows (their difference) is
    usd = fraud["usd_at_stake"].to_numpy(dtype=float)
    usd = np.where(alike, np.fmin(usd, apart), usd)
    f = fraud.assign(_p=p, _n=n, _fam=family_of(fraud["signal"], params), _prior=prior,
                     usd_at_stake=usd).reset_index(drop=True)
    f = f.sort_values(["subject", "period", "_fam", "_p", "signal"], kind="mergesort")
    # per family: its strongest finding, and how many of its signals are present
    fam = f.groupby(["subject", "period", "_fam"], sort=True)
    best = fam.head(1).set_index(["subject", "period", "_fam"])
    n_sig = fam["signal"].nunique()
    fam_t = best[[*[k for k in keys if k not in ("subject", "period")], "check", "signal", "detail", "score",
                  "usd_at_stake", "_p", "_n", "_prior"]].copy()
    fam_t["p_fam"] = np.minimum(fam_t["_p"].to_numpy() * n_sig.reindex(fam_t.index).to_numpy(), 1.0)
    fam_t["usd_fam"] = np.where(fam_t.index.get_level_values("_fam") == "digits", 0.0,
                                fam_t["usd_at_stake"].fillna(0.0).clip(lower=0.0).to_numpy())
    fam_t = fam_t.reset_index()
    # surprisals add up over families (Fisher's method); the strongest family names the lead finding
    fam_t["_s"] = -np.log10(fam_t["p_fam"].to_numpy())
    fam_t = fam_t.sort_values(["subject", "period", "p_fam", "_fam"], kind="mergesort")
    g = fam_t.groupby(["subject", "period"], sort=True)
    lead = g.head(1).set_index(["subject", "period"])
    sp = lead[[c for c in keys if c not in ("subject", "period")]].copy()
    sp["s_rules"] = g["_s"].sum().reindex(sp.index).to_numpy()
    sp["prior"] = mix_priors(fam_t["_prior"], fam_t["_s"], [fam_t["subject"], fam_t["period"]],
                             params).reindex(sp.index).to_numpy()
    sp["usd"] = g["usd_fam"].max().reindex(sp.index).to_numpy()
    sp["families"] = g["_fam"].agg(lambda s: ";".join(s)).reindex(sp.index).to_numpy()
    sp["n_families"] = g.size().reindex(sp.index).to_numpy()
    sp["top_check"] = lead["check"]
    sp["top_signal"] = lead["signal"]
    sp["top_score"] = lead["score"]
    sp["detail"] = lead["detail"]
    sp["n_ref"] = lead["_n"]
    # a route seen by the pass-through bound alone (no share shift at the destination, no co-movement of the legs)
    # may be a large economy whose exports simply grew
    rt = f["signal"].astype("str").str.startswith(("entrepot.share_shift", "entrepot.comovement")).to_numpy()
    sp["corroborated"] = pd.Series(rt).groupby([f["subject"].to_numpy(), f["period"].to_numpy()]).any().reindex(
        sp.index).to_numpy(dtype=bool)
    # the hub's share of what the destination bought from the origin and the hub together before the shift (the
    # share shift's expected value): an established supplier gaining share is trade diversion more than rerouting
    share = f["signal"].astype("str").eq("entrepot.share_shift").to_numpy()
    sp["hub_share"] = pd.Series(np.where(share, pd.to_numeric(f["expected"], errors="coerce"), np.nan)).groupby(
        [f["subject"].to_numpy(), f["period"].to_numpy()]).max().reindex(sp.index).to_numpy(dtype=float)
    sp["period_start"] = f.drop_duplicates(["subject", "period"]).set_index(["subject", "period"])[
        "period_start"].reindex(sp.index).to_numpy() if "period_start" in f else ""
    sp = sp.reset_index()
    if ensemble is not None and len(ensemble):
        sp = sp.merge(ensemble[["subject", "period", "ensemble"]], on=["subject", "period"], how="left")
    else:
        sp["ensemble"] = np.nan
    # the ensemble's percentile against the subject-periods of its kind, as a tail probability; where it abstains
    # (a kind with too few subject-periods to fit) the rules decide alone
    ens = sp["ensemble"].to_numpy(dtype=float)
    # an ensemble fitted on a handful of subject-periods of a kind (reporters as a whole) ranks noise
    shape = subject_shape(sp)
    n_kind = pd.Series(shape).map(pd.Series(shape).value_counts()).to_numpy()
    ens = np.where(n_kind >= params.ensemble_min_rows, ens, np.nan)
    sp["p_ens"] = np.where(np.isfinite(ens), np.clip(1.0 - ens, 1.0 / max(len(sp), 1), 1.0), np.nan)
    sp["surprise"] = combine_ensemble(sp["s_rules"].to_numpy(), sp["p_ens"].to_numpy(), params.w_ensemble)
    # surprise relative to the most a signal can say about a subject-period of this kind in this run: 1 is the
    # rarest subject-period of its kind on one signal, 2 that on two independent families
    sp["scale"] = np.log10(sp["n_ref"].to_numpy(dtype=float) + 1.0)
    sp["evidence"] = sp["prior"].to_numpy() * sp["surprise"].to_numpy() / sp["scale"].to_numpy()
    long = fam_t[["subject", "period", "_fam", "p_fam", "_prior"]].rename(columns={"_fam": "family",
                                                                                   "_prior": "prior"})
    return sp, long.reset_index(drop=True)


def mix_priors(prior: pd.Series, surprise: pd.Series, by, params: RankingParams) -> pd.Series:
    """The prior of a subject-period or a case from those of its families. ``weighted``: the mean of the families'
    priors weighted by their surprisals, so that a family counts by what it says (a faint mirror gap beside a large
    series break leaves the break's prior); ``any``: the chance that at least one family points at misreporting,
    ``1 - prod(1 - prior)``."""
    prior = pd.Series(np.asarray(prior, dtype=float), index=np.arange(len(prior)))
    if params.prior_mix == "any":
        return 1.0 - (1.0 - prior).groupby([np.asarray(b) for b in by], sort=True).prod()
    w = pd.Series(np.clip(np.asarray(surprise, dtype=float), 1e-12, None), index=prior.index)
    keys = [np.asarray(b) for b in by]
    num = (prior * w).groupby(keys, sort=True).sum()
    return num / w.groupby(keys, sort=True).sum()


def mirrored_breaks(findings: pd.DataFrame, params: RankingParams, amounts: bool = False):
    """Which findings are series breaks (``series.*``) of a flow whose other report breaks alike in the same
    period: the exporter's report of A to B and the importer's report of the same goods (``B>A[M]``, same product),
    both above (or both below) their expectation, the two ratios ``value / expected`` within a factor of
    ``mirrored_break_tolerance`` of each other, or the smaller log ratio at least ``mirrored_break_share`` of the
    larger. Two agencies that record the same jump saw the goods move: the
    break says nothing about misreporting (an invoice export, a padded province or a fabricated month shows on one
    side only). A jump of a flow that both sides misprice alike is the price family's to see.

    With ``amounts``: ``(mask, difference)``, the second the absolute difference of the two reports' values (each
    side's median over its signals) on the rows of the mask, NaN elsewhere: what one report alone shows."""
    out = np.zeros(len(findings), dtype=bool)
    diff = np.full(len(findings), np.nan)
    sig = findings["signal"].astype("str")
    sel = (sig.str.startswith("series.") & (findings["region"].astype("str") == "")
           & (findings["hub"].astype("str") == "") & (findings["partner"].astype("str") != "")).to_numpy()
    if not sel.any():
        return (out, diff) if amounts else out
    d = findings.loc[sel]
    value = d["value"].to_numpy(dtype=float)
    expected = d["expected"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log(value / expected)
    ok = np.isfinite(lr)
    subj = d["subject"].astype("str")
    side = np.where(subj.str.endswith("[M]").to_numpy(), "M", "X")
    exp_, imp_ = orientation(subj, d["reporter"].astype("str"), d["partner"].astype("str"))
    t = pd.DataFrame({"k": pd.Series(exp_).astype("str").to_numpy() + ">" + pd.Series(imp_).astype("str").to_numpy()
                      + ":" + d["hs"].astype("str").to_numpy() + "@" + d["period"].astype("str").to_numpy(),
                      "side": side, "lr": lr, "v": value, "i": np.flatnonzero(sel)})[ok]
    # per flow-period and side, the break of the strongest signal's ratio (the median over the signals: they read
    # the same series)
    per = t.groupby(["k", "side"], sort=True)["lr"].median().unstack("side").reindex(columns=["X", "M"])
    vals = t.groupby(["k", "side"], sort=True)["v"].median().unstack("side").reindex(columns=["X", "M"])
    if params.mirrored_break_from_gaps:
        per, vals = _other_report_from_gaps(findings, t, per, vals)
    x, m = per["X"].to_numpy(dtype=float), per["M"].to_numpy(dtype=float)
    # alike: the two ratios within a factor of mirrored_break_tolerance, or, for large jumps, the smaller log ratio
    # at least mirrored_break_share of the larger (a fourfold and a threefold jump are one delivery recorded twice
    # against two expectations; a doubling beside a 20% rise is not)
    lo, hi = np.minimum(np.abs(x), np.abs(m)), np.maximum(np.abs(x), np.abs(m))
    with np.errstate(divide="ignore", invalid="ignore"):
        near = (np.abs(x - m) <= np.log(params.mirrored_break_tolerance)) | (lo >= params.mirrored_break_share * hi)
    alike = (np.sign(x) == np.sign(m)) & near
    keys = set(per.index[np.isfinite(x) & np.isfinite(m) & alike])
    hit = t["k"].isin(keys).to_numpy()
    out[t["i"].to_numpy()[hit]] = True
    if not amounts:
        return out
    gap = (vals["X"] - vals["M"]).abs()
    diff[t["i"].to_numpy()[hit]] = gap.reindex(t["k"].to_numpy()[hit]).to_numpy(dtype=float)
    return out, diff


def _other_report_from_gaps(findings: pd.DataFrame, t: pd.DataFrame, per: pd.DataFrame, vals: pd.DataFrame):
    """Where one side's report of a flow-period has no break finding of its own, its value from the flow's mirror
    gap of that period (``mirror.log_gap_z``: the exporter's report and the importer's at FOB), read against the
    other side's expectation: the importer's figure tells whether it saw the jump even when its own series did
    not break (a short history, a noisy series)."""
    sig = findings["signal"].astype("str")
    g = findings.loc[(sig == "mirror.log_gap_z").to_numpy() & (findings["region"].astype("str") == "").to_numpy()]
    if g.empty:
        return per, vals
    gs = g["subject"].astype("str")
    ge, gi = orientation(gs, g["reporter"].astype("str"), g["partner"].astype("str"))
    gk = (pd.Series(ge).astype("str").to_numpy() + ">" + pd.Series(gi).astype("str").to_numpy() + ":"
          + g["hs"].astype("str").to_numpy() + "@" + g["period"].astype("str").to_numpy())
    rep = pd.DataFrame({"X": g["value"].to_numpy(dtype=float), "M": g["expected"].to_numpy(dtype=float)},
                       index=gk).groupby(level=0).median()
    exp_side = t.assign(e=t["v"] / np.exp(t["lr"])).groupby(["k", "side"], sort=True)["e"].median().unstack(
        "side").reindex(columns=["X", "M"])
    per, vals = per.copy(), vals.copy()
    for side, other in (("M", "X"), ("X", "M")):
        need = per[side].isna() & per[other].notna()
        keys = per.index[need.to_numpy()].intersection(rep.index)
        if len(keys) == 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            per.loc[keys, side] = np.log(rep.loc[keys, side].to_numpy() / exp_side.loc[keys, other].to_numpy())
        vals.loc[keys, side] = rep.loc[keys, side].to_numpy()
    return per, vals


def combine_ensemble(s_rules: np.ndarray, p_ens: np.ndarray, w: float) -> np.ndarray:
    """Surprisal (``-log10 p``) of the rules and of the ensemble, weighted (the rules alone where the ensemble
    abstains)."""
    ok = np.isfinite(p_ens)
    ww = np.where(ok, w, 0.0)
    return (1.0 - ww) * s_rules + ww * -np.log10(np.where(ok, p_ens, 1.0))


def harmonic_mean_p(p: np.ndarray, groups: np.ndarray, n: pd.Series) -> pd.Series:
    """Harmonic mean p-value (Wilson 2019) per group over ``n[group]`` tests, of which the rows given carry ``p``
    and the rest count as ``p = 1``: valid under dependence, near the smallest ``p`` times the number of tests when
    one member stands out, and near the common ``p`` when all members agree."""
    g = pd.Series(1.0 / np.asarray(p, dtype=float)).groupby(np.asarray(groups))
    s, k = g.sum(), g.size()
    nn = n.reindex(s.index).astype(float)
    return np.minimum(nn / (s + (nn - k)), 1.0)


def orientation(subjects: pd.Series, reporter: pd.Series, partner: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(exporter, importer) of each subject: the direction of the goods. A subject seen from the importer's side
    (``USA>CHN:48[M]``, the USA's imports from China) is turned round."""
    imports = (subjects.astype("str").str.endswith("[M]") & (subjects.astype("str").str.count(">") == 1)).to_numpy()
    rep = reporter.to_numpy(dtype=object)
    par = partner.to_numpy(dtype=object)
    return np.where(imports, par, rep), np.where(imports, rep, par)


def is_product(hs: pd.Series) -> np.ndarray:
    return (~hs.astype("str").isin(ALL_PRODUCTS)).to_numpy()
