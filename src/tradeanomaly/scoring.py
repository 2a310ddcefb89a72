"""Findings -> feature matrix -> pyod ensemble -> anomaly score and per-feature contributions.

One row of the feature matrix is one *subject-period*: a ``subject`` of the findings table (``CHN>HKG``,
``CHN>HKG:71``, ``CN-HA``, ``CHN>VNM>USA:85``, ``CHN``) in one ``period``. The features are generic over signals,
so a new check needs no change here:

* ``<signal>`` — the finding's ``score`` (>= 0, higher is more anomalous; the largest when a check reports the
  same signal twice for one subject-period);
* ``<signal>:excess`` — ``value - expected`` for signals whose findings carry both numbers (the log gap against
  the pair's norm, the share against its expected share, ...);
* ``ctx.reporter:<check>`` — the strongest finding of that check about the subject's reporter as a whole (Benford
  on all of China's figures, the reporter's reliability) in the same period or its year;
* ``ctx.detail:<check>`` — for an all-products subject (``CHN>HKG``), the strongest finding of that check on one of
  its products (``CHN>HKG:71``) in the same period;
* ``any.max`` and ``any.strong`` — the strongest score of any signal and the number of signals of at least
  ``strong_score``: dense summaries the forest can split on when a signal is carried by a handful of subjects.

Missing features are explicit: a subject a check did not assess (or found nothing on) gets the neutral value 0
(no evidence) and the indicator ``has:<check>`` is 0. Indicators are part of the matrix for audit and explanation
but are not fed to the detectors: how widely a check could look is not evidence of fraud. Every detector input is
robustly scaled (median and 1.4826·MAD, falling back to IQR/1.349 and then to the standard deviation when half of
a column is zeros).

**Structural causes.** A finding whose ``signal`` ends in one of :data:`STRUCTURAL_SUFFIXES` (``.entrepot``,
``.structural``, ``.estimate``, ``.freight_band``, ``.chronic``) explains a gap by known structure or a standing
difference (entrepôt re-exports, publisher estimates, the CIF/FOB freight band, a pair outside the mirror band
through most of its history). Checks mark structure by this signal suffix, not by the
``detail`` text. Such findings never enter the feature matrix, and they also explain the *same check's* other
findings on the same subject and period (see :func:`split_structural`); :mod:`ranking` lists them labelled
``structural`` and keeps them out of the fraud ranking.

**Ensemble.** pyod's ``IForest`` (isolation by random splits), ``ECOD`` and ``COPOD`` (tail probabilities of the
empirical marginals and copula; optionally ``KNN``), fitted per subject level (:func:`subject_level`) and combined by
averaging their rank percentiles; higher is more anomalous. ``random_state`` seeds every random component (the
forest, or several forests averaged with ``n_forests``); with the two deterministic detectors beside it, the top of
the ranking is stable across seeds (Spearman rank correlation of the ensemble over the union of two seeds' top 50
subject-periods >= 0.95 for every pair of five seeds, tested).

**Contributions.** For each subject-period and feature, the share of the anomaly attributed to the feature: the
average of ECOD's per-dimension tail scores (``-log`` tail probabilities, :func:`ecod_tails`) normalised per row, and a
path-based attribution for the forest (how often each feature splits on the path that isolates the row, weighted by
the inverse path length). Rows sum to 1 (or 0 when nothing stands out).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .errors import ConfigError
from .schema import validate_findings

KEY_COLUMNS: tuple[str, ...] = ("subject", "reporter", "partner", "hub", "region", "hs", "period")
STRUCTURAL_SUFFIXES: tuple[str, ...] = (".entrepot", ".structural", ".estimate", ".freight_band", ".chronic")
DETECTORS = ("iforest", "ecod", "copod", "knn")
ALL_PRODUCTS = ("", "TOTAL")  # hs values that mean "all products"


def is_structural(signals: pd.Series) -> pd.Series:
    """True where a finding's signal names a structural cause (see :data:`STRUCTURAL_SUFFIXES`)."""
    s = signals.astype("str")
    out = pd.Series(False, index=s.index)
    for suffix in STRUCTURAL_SUFFIXES:
        out |= s.str.endswith(suffix)
    return out


def split_structural(findings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(fraud evidence, structural findings, explained findings).

    A structural finding of check C on a subject-period explains that check's other findings there (the mirror
    check saying a gap is entrepôt structure explains the gap it measured): those move to *explained* and are not
    evidence of fraud. Findings of other checks on the same subject-period remain evidence.
    """
    st = is_structural(findings["signal"])
    structural = findings.loc[st]
    rest = findings.loc[~st]
    if structural.empty:
        return rest, structural, rest.iloc[0:0]
    marks = structural[["subject", "period", "check"]].drop_duplicates().assign(_explained=True)
    m = rest.merge(marks, on=["subject", "period", "check"], how="left")
    explained = m["_explained"].fillna(False).astype(bool).to_numpy()
    return rest.loc[~explained], structural, rest.loc[explained]


@dataclass(frozen=True)
class ScoringParams:
    """Settings of the feature building and the ensemble."""

    detectors: tuple[str, ...] = ("iforest", "ecod", "copod")
    n_estimators: int = 200  # trees per forest
    n_forests: int = 1  # forests averaged, each seeded from random_state
    max_samples: int = 256
    knn_neighbours: int = 10
    min_rows: int = 20  # smallest subject level the detectors are fitted on
    explain_rows: int = 500  # per level, the most anomalous rows that get per-feature contributions
    strong_score: float = 3.0  # a signal at least this strong counts in the any.strong feature
    value_features: bool = True  # add <signal>:excess where findings carry value and expected
    context_features: bool = True  # add ctx.reporter:<check> and ctx.detail:<check>

    def __post_init__(self):
        unknown = [d for d in self.detectors if d not in DETECTORS]
        if unknown or not self.detectors:
            raise ConfigError(f"scoring.detectors: unknown detector(s) {unknown}; choose from {list(DETECTORS)}")
        for name in ("n_estimators", "n_forests", "max_samples", "knn_neighbours", "min_rows", "explain_rows"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"scoring.{name} must be a positive integer, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["detectors"] = list(self.detectors)
        return d


@dataclass
class ScoreResult:
    """What :func:`score` returns.

    ``features``: keys (:data:`KEY_COLUMNS`) plus every feature and indicator, one row per subject-period, sorted
    by subject and period. ``detector_features``: the columns fed to the detectors. ``scaled``: those columns after
    robust scaling. ``scores``: keys plus ``ensemble`` (rank average in [0, 1], higher is more anomalous) and one
    rank column per detector. ``contributions``: keys plus one column per detector feature, rows summing to 1.
    """

    features: pd.DataFrame
    detector_features: list[str]
    indicators: list[str]
    scaled: pd.DataFrame
    scores: pd.DataFrame
    contributions: pd.DataFrame
    params: ScoringParams
    random_state: int
    detectors_used: list[str] = field(default_factory=list)

    def top_contributions(self, n: int = 3) -> pd.DataFrame:
        """Long table: keys, ``feature``, ``share``, ``value`` (raw feature), ``order`` (1 = strongest)."""
        feats = self.detector_features
        if not feats or self.contributions.empty:
            return pd.DataFrame(columns=[*KEY_COLUMNS, "feature", "share", "value", "order"])
        share = self.contributions[feats].to_numpy()
        raw = self.features[feats].to_numpy()
        # stable order: by share desc, then feature name
        order = np.lexsort((np.tile(np.arange(len(feats)), (len(share), 1)), -share), axis=1)[:, :n]
        rows = np.repeat(np.arange(len(share)), order.shape[1])
        cols = order.ravel()
        out = self.contributions.loc[:, list(KEY_COLUMNS)].iloc[rows].reset_index(drop=True)
        out["feature"] = np.asarray(feats, dtype=object)[cols]
        out["share"] = share[rows, cols]
        out["value"] = raw[rows, cols]
        out["order"] = np.tile(np.arange(1, order.shape[1] + 1), len(share))
        return out[out["share"] > 0].reset_index(drop=True)


# ------------------------------------------------------------------------------------------------------------
# Features
# ------------------------------------------------------------------------------------------------------------


def _period_match(row_period: pd.Series, ctx_period: pd.Series) -> np.ndarray:
    """A context finding about period ``p`` applies to rows of ``p``, of any sub-period of year ``p`` and, when
    ``p`` is empty (a whole-sample finding), to every row."""
    rp = row_period.astype("str").reset_index(drop=True)
    cp = ctx_period.astype("str").reset_index(drop=True)
    year = (cp.str.len() == 4) & (rp.str.len() > 4) & (rp.str.slice(0, 4) == cp)
    return ((rp == cp) | year | (cp == "")).to_numpy()


def build_features(findings: pd.DataFrame, params: ScoringParams | None = None) -> tuple[pd.DataFrame, list, list]:
    """Feature matrix of the non-structural findings: (frame with keys + features, detector columns, indicators)."""
    params = params or ScoringParams()
    f = split_structural(findings)[0].copy()
    keys = list(KEY_COLUMNS)
    if f.empty:
        return pd.DataFrame(columns=keys), [], []
    f["score"] = f["score"].fillna(0.0).clip(lower=0.0)
    f = f.sort_values([*keys, "signal", "score"], kind="mergesort")

    # one key row per subject-period; keys are taken from the first finding (checks agree on a subject's keys)
    base = f.drop_duplicates(["subject", "period"], keep="first")[keys].reset_index(drop=True)
    base = base.sort_values(["subject", "period"], kind="mergesort").reset_index(drop=True)

    sig = f.pivot_table(index=["subject", "period"], columns="signal", values="score", aggfunc="max")
    sig.columns = [str(c) for c in sig.columns]
    blocks = [sig]

    if params.value_features:
        v = f.dropna(subset=["value", "expected"])
        v = v.loc[np.isfinite(v["value"]) & np.isfinite(v["expected"])]
        if not v.empty:
            v = v.assign(excess=v["value"] - v["expected"])
            # the finding with the largest score carries the excess for its signal
            v = v.sort_values(["subject", "period", "signal", "score"], ascending=[True, True, True, False],
                              kind="mergesort").drop_duplicates(["subject", "period", "signal"])
            ex = v.pivot_table(index=["subject", "period"], columns="signal", values="excess", aggfunc="first")
            ex.columns = [f"{c}:excess" for c in ex.columns]
            blocks.append(ex)

    feat = base.merge(pd.concat(blocks, axis=1).reset_index(), on=["subject", "period"], how="left")

    if params.context_features:
        feat = _add_context(feat, f)
    # dense summaries: a signal that few subjects carry is all zeros in most of the forest's subsamples, so the
    # trees rarely split on it; the strongest score and the count of strong signals let them isolate such rows
    sig_cols = list(sig.columns)
    vals = feat[sig_cols].to_numpy(dtype=float)
    feat["any.max"] = np.nan_to_num(vals, nan=0.0).max(axis=1) if sig_cols else 0.0
    feat["any.strong"] = (np.nan_to_num(vals, nan=0.0) >= params.strong_score).sum(axis=1).astype(float)

    det_cols = sorted(c for c in feat.columns if c not in keys)
    # explicit missing handling: neutral 0 plus an indicator per check
    checks = sorted(f["check"].unique())
    # which checks found something on each subject-period: one crosstab of integer codes, no per-group Python
    sp_keys = pd.MultiIndex.from_frame(feat[["subject", "period"]])
    row_of = sp_keys.get_indexer(pd.MultiIndex.from_frame(f[["subject", "period"]]))
    check_of = pd.Index(checks).get_indexer(f["check"])
    have = np.zeros((len(feat), len(checks)), dtype=bool)
    ok = row_of >= 0
    have[row_of[ok], check_of[ok]] = True
    indicators = []
    for j, c in enumerate(checks):
        name = f"has:{c}"
        feat[name] = have[:, j].astype(float)
        indicators.append(name)
    for c in det_cols:
        feat[c] = feat[c].astype(float).fillna(0.0)
    feat = feat[[*keys, *det_cols, *indicators]]
    return feat, det_cols, indicators


def _add_context(feat: pd.DataFrame, f: pd.DataFrame) -> pd.DataFrame:
    keys = list(KEY_COLUMNS)
    rows = feat[keys].reset_index().rename(columns={"index": "_row"})
    # reporter-level findings: about the reporter as a whole (no partner, hub, region, product)
    empty = (f["partner"] == "") & (f["hub"] == "") & (f["region"] == "") & f["hs"].isin(ALL_PRODUCTS)
    rep = f.loc[empty & (f["reporter"] != ""), ["reporter", "period", "check", "score"]]
    new_cols = {}
    if not rep.empty:
        m = rows.merge(rep.rename(columns={"period": "ctx_period"}), on="reporter", how="inner")
        m = m.loc[_period_match(m["period"], m["ctx_period"])]
        if not m.empty:
            t = m.pivot_table(index="_row", columns="check", values="score", aggfunc="max")
            for c in t.columns:
                new_cols[f"ctx.reporter:{c}"] = t[c].reindex(feat.index)
    # product-level findings under an all-products subject (same reporter, partner, hub, region and period)
    fine = f.loc[~f["hs"].isin(ALL_PRODUCTS), ["reporter", "partner", "hub", "region", "period", "check", "score"]]
    if not fine.empty:
        coarse = rows.loc[rows["hs"].isin(ALL_PRODUCTS)]
        m = coarse.merge(fine, on=["reporter", "partner", "hub", "region", "period"], how="inner")
        if not m.empty:
            t = m.pivot_table(index="_row", columns="check", values="score", aggfunc="max")
            for c in t.columns:
                new_cols[f"ctx.detail:{c}"] = t[c].reindex(feat.index)
    if new_cols:
        feat = pd.concat([feat, pd.DataFrame(new_cols, index=feat.index)], axis=1)
    return feat


def robust_scale(X: np.ndarray) -> np.ndarray:
    """Centre on the median and divide by 1.4826·MAD (IQR/1.349, then the standard deviation, then 1 when a
    column is mostly one value)."""
    X = np.asarray(X, dtype=float)
    if X.size == 0:
        return X
    med = np.median(X, axis=0)
    mad = 1.4826 * np.median(np.abs(X - med), axis=0)
    q75, q25 = np.percentile(X, [75, 25], axis=0)
    iqr = (q75 - q25) / 1.349
    sd = X.std(axis=0)
    scale = np.where(mad > 0, mad, np.where(iqr > 0, iqr, np.where(sd > 0, sd, 1.0)))
    return (X - med) / scale


# ------------------------------------------------------------------------------------------------------------
# Ensemble
# ------------------------------------------------------------------------------------------------------------


def _rank01(x: np.ndarray) -> np.ndarray:
    """Rank percentile in (0, 1], ties sharing their average rank."""
    from scipy.stats import rankdata

    return rankdata(x, method="average") / len(x)


def _forest_attribution(forest, X: np.ndarray) -> np.ndarray:
    """Per-row, per-feature share of the splits on the isolation paths, each path weighted by 1/length."""
    n, d = X.shape
    out = np.zeros(n * d)
    est = forest.detector_
    # the trees read float32 (their own input check would convert the same way, once per tree)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    for tree, feats in zip(est.estimators_, est.estimators_features_):
        path = tree.decision_path(np.ascontiguousarray(X32[:, feats]), check_input=False)  # rows x nodes (csr)
        node_feat = tree.tree_.feature[path.indices]
        rows = np.repeat(np.arange(n), np.diff(path.indptr))
        split = node_feat >= 0
        rows, cols = rows[split], np.asarray(feats)[node_feat[split]]
        length = np.bincount(rows, minlength=n).astype(float)
        w = 1.0 / np.maximum(length[rows], 1.0) ** 2
        out += np.bincount(rows * d + cols, weights=w, minlength=n * d)
    return out.reshape(n, d)


def _normalise_rows(a: np.ndarray) -> np.ndarray:
    s = a.sum(axis=1, keepdims=True)
    return np.divide(a, s, out=np.zeros_like(a), where=s > 0)


def subject_level(keys: pd.DataFrame) -> pd.Series:
    """The kind of subject: ``reporter``, ``region``, ``pair``, ``route`` (``A>hub>B``), each ``+hs`` when it names
    a product (``TOTAL`` and empty mean all products).

    Read from the subject's shape rather than the key columns, since checks fill ``hub`` differently (the mirror
    check names the hub economy of a pair that involves one). Subjects of different kinds carry different features
    (a country's digit test, a pair's mirror gap, a route's pass-through share), so each kind is scored against its
    own kind.
    """
    subj = keys["subject"].astype("str").str.replace(r"\[[^\]]*\]$", "", regex=True)
    arrows = subj.str.count(">").to_numpy()
    region = (keys["region"].astype("str") != "").to_numpy()
    product = (~keys["hs"].astype("str").isin(ALL_PRODUCTS)).to_numpy()
    base = np.where(arrows >= 2, "route", np.where(arrows == 1, "pair", np.where(region, "region", "reporter")))
    return pd.Series(np.where(product, np.char.add(base.astype(str), "+hs"), base), index=keys.index)


def ecod_tails(X: np.ndarray) -> np.ndarray:
    """ECOD's per-dimension outlier scores (Li et al. 2022, eq. 5), computed here rather than read from pyod's
    undocumented ``ECOD.O``: per column the left and right tail scores ``-log F(x)`` and ``-log F(-x)`` with the
    empirical distribution ``F(x) = #(X <= x) / n`` (the probabilities on pyod's ``linspace`` grid, so the numbers
    are pyod's to the bit), the tail the column's skewness points to, and the largest of the three."""
    from scipy.stats import skew

    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    grid = np.linspace(1.0 / n, 1.0, n)

    def ecdf(M: np.ndarray) -> np.ndarray:
        s = np.sort(M, axis=0)
        out = np.empty_like(M)
        for k in range(M.shape[1]):  # one pass per feature (a handful)
            out[:, k] = grid[np.searchsorted(s[:, k], M[:, k], side="right") - 1]
        return out

    u_l, u_r = -np.log(ecdf(X)), -np.log(ecdf(-X))
    with np.errstate(invalid="ignore", divide="ignore"):
        sign = np.sign(np.nan_to_num(skew(X, axis=0)))  # a constant column has no skew: 0, as in pyod
    u_skew = u_l * -1 * np.sign(sign - 1) + u_r * np.sign(sign + 1)
    return np.maximum(u_skew, np.maximum(u_l, u_r))


def _fit_level(Xv: np.ndarray, params: ScoringParams, rng: np.random.RandomState):
    """Rank percentiles per detector and contribution shares (rows x columns of ``Xv``).

    Contributions are computed for the ``explain_rows`` most anomalous rows of the level (the only ones a ranking
    can show); the others keep zeros.
    """
    n = len(Xv)
    ranks: dict[str, np.ndarray] = {}
    forests = []
    ecod_tail = None
    for name in params.detectors:
        if name == "iforest":
            from pyod.models.iforest import IForest

            acc = np.zeros(n)
            for seed in rng.randint(0, 2**31 - 1, size=params.n_forests):
                det = IForest(n_estimators=params.n_estimators, max_samples=min(params.max_samples, n),
                              random_state=int(seed)).fit(Xv)
                acc += det.decision_scores_
                forests.append(det)
            ranks[name] = _rank01(acc)
        elif name == "ecod":
            from pyod.models.ecod import ECOD

            det = ECOD().fit(Xv)
            ranks[name] = _rank01(det.decision_scores_)
            # per-dimension tail scores (-log tail probability), counted where the row lies above the median
            ecod_tail = ecod_tails(Xv) * (Xv > np.median(Xv, axis=0))
        elif name == "copod":
            from pyod.models.copod import COPOD

            ranks[name] = _rank01(COPOD().fit(Xv).decision_scores_)
        elif name == "knn":
            from pyod.models.knn import KNN

            ranks[name] = _rank01(KNN(n_neighbors=min(params.knn_neighbours, n - 1)).fit(Xv).decision_scores_)
    ensemble = np.mean(list(ranks.values()), axis=0)
    top = np.sort(np.argsort(-ensemble, kind="stable")[: params.explain_rows])
    parts = []
    if forests:
        attr = np.zeros((len(top), Xv.shape[1]))
        for det in forests:
            attr += _forest_attribution(det, Xv[top])
        parts.append(_normalise_rows(attr))
    if ecod_tail is not None:
        parts.append(_normalise_rows(ecod_tail[top]))
    contrib = np.zeros(Xv.shape)
    if parts:
        contrib[top] = _normalise_rows(np.mean(parts, axis=0))
    return ranks, ensemble, contrib


def score(findings: pd.DataFrame, *, params: ScoringParams | None = None, random_state: int = 0) -> ScoreResult:
    """Score every subject-period of ``findings`` with the pyod ensemble.

    Higher ``ensemble`` is more anomalous. Structural findings (signal suffixes in :data:`STRUCTURAL_SUFFIXES`) are
    left out. A findings table that lacks some checks is fine: features are built from what is there. Each subject
    level (:func:`subject_level`) is scored against its own kind; a level with fewer than ``min_rows``
    subject-periods is too small for the detectors, and its ``ensemble`` is NaN (the ranking then abstains from
    the ensemble and relies on the rules).
    """
    params = params or ScoringParams()
    findings = validate_findings(findings)
    feat, det_cols, indicators = build_features(findings, params)
    keys = list(KEY_COLUMNS)
    n = len(feat)
    X = feat[det_cols].to_numpy(dtype=float) if n else np.zeros((0, len(det_cols)))
    Xs = np.zeros_like(X)
    levels = subject_level(feat) if n else pd.Series([], dtype="str")
    ensemble = np.full(n, np.nan)
    ranks = {d: np.full(n, np.nan) for d in params.detectors}
    contrib = np.zeros((n, len(det_cols)))
    rng = np.random.RandomState(random_state)
    used: list[str] = []
    for level in sorted(levels.unique()) if n else []:
        idx = np.flatnonzero(levels.to_numpy() == level)
        Xl = robust_scale(X[idx])
        Xs[idx] = Xl
        # only columns that vary within the level carry information for the detectors
        varying = np.flatnonzero(Xl.std(axis=0) > 0)
        if len(idx) < params.min_rows or not len(varying):
            continue
        r, e, c = _fit_level(Xl[:, varying], params, rng)
        for d, v in r.items():
            ranks[d][idx] = v
        ensemble[idx] = e
        contrib[np.ix_(idx, varying)] = c
        used = list(r)
    scaled = pd.concat([feat[keys], pd.DataFrame(Xs, columns=det_cols, index=feat.index)], axis=1)
    scores = feat[keys].copy()
    scores["level"] = levels.to_numpy() if n else []
    scores["ensemble"] = ensemble
    for d in params.detectors:
        scores[f"rank.{d}"] = ranks[d]
    contributions = pd.concat([feat[keys], pd.DataFrame(contrib, columns=det_cols, index=feat.index)], axis=1)
    return ScoreResult(features=feat, detector_features=det_cols, indicators=indicators, scaled=scaled,
                       scores=scores, contributions=contributions, params=params, random_state=random_state,
                       detectors_used=used or list(params.detectors))
