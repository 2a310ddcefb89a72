"""Scoring: features generic over signals, explicit missing values, structural findings left out, the pyod ensemble
finds the planted combinations, contributions name the right features, and the top of the ranking is stable
across seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from findings_fixture import make_findings_fixture
from tradeanomaly import scoring
from tradeanomaly.errors import ConfigError


@pytest.fixture(scope="module")
def findings():
    return make_findings_fixture(0)


@pytest.fixture(scope="module")
def runs(findings):
    """Scores of the fixture with random_state 0..4 (one fit each, shared by the tests)."""
    return {seed: scoring.score(findings, random_state=seed) for seed in range(5)}


@pytest.fixture(scope="module")
def result(runs):
    return runs[0]


def _row(res, subject, period):
    f = res.features
    return f.loc[(f["subject"] == subject) & (f["period"] == period)].iloc[0]


def test_features_are_generic_over_signals_with_context_and_indicators(result):
    cols = set(result.detector_features)
    assert {"mirror.log_gap_z", "series.own_history", "unit_value.outlier", "entrepot.pass_through",
            "invoice_export.quarter_opening", "benford.first_two_digits"} <= cols
    assert "mirror.log_gap_z:excess" in cols  # value - expected where the findings carry both
    assert {"ctx.detail:mirror", "ctx.reporter:benford"} <= cols
    assert result.indicators == ["has:benford", "has:entrepot", "has:invoice_export", "has:mirror", "has:series",
                                 "has:unit_value"]
    row = _row(result, "CHN>HKG", "2023-04")
    assert row["mirror.log_gap_z"] == pytest.approx(7.5)
    assert row["mirror.log_gap_z:excess"] == pytest.approx(0.43)
    assert row["ctx.detail:mirror"] == pytest.approx(6.5)  # CHN>HKG:71 in the same month
    assert row["has:invoice_export"] == 1.0
    # Vietnam's Benford finding for 2023 reaches every monthly subject of Vietnam as context
    f = result.features
    vnm = f.loc[(f["reporter"] == "VNM") & (f["partner"] != "")]
    assert len(vnm) > 10 and (vnm["ctx.reporter:benford"] == 5.0).all()
    # a check that did not look at a subject: neutral 0 and the indicator says so
    henan = _row(result, "CN-HA", "2023-10")
    assert henan["mirror.log_gap_z"] == 0.0 and henan["has:mirror"] == 0.0 and henan["has:series"] == 1.0


def test_structural_findings_and_what_they_explain_stay_out(findings, result):
    assert not any(c.endswith((".entrepot", ".freight_band")) for c in result.features.columns)
    # DEU>NLD's mirror gap is explained by the entrepôt finding of the same check, same months
    deu_nld = result.features.loc[result.features["subject"] == "DEU>NLD"].set_index("period")
    explained_months = deu_nld.loc[deu_nld.index.isin(["2023-02", "2023-03", "2023-04"])]
    assert (explained_months["mirror.log_gap_z"] == 0.0).all()
    assert (explained_months["has:series"] == 1.0).all()  # a row remains only for another check's evidence
    other = findings.loc[(findings["subject"] == "DEU>NLD") & (findings["signal"] == "mirror.log_gap_z")
                         & ~findings["period"].isin(["2023-02", "2023-03", "2023-04"])]
    assert len(other) and (deu_nld.loc[other["period"], "mirror.log_gap_z"].to_numpy() > 0).all()
    fraud, structural, explained = scoring.split_structural(findings)
    assert len(structural) == 4 and set(explained["subject"]) == {"DEU>NLD", "USA>MEX"}
    assert len(fraud) + len(structural) + len(explained) == len(findings)


def test_subject_levels_are_scored_apart(result):
    lv = result.scores.set_index(["subject", "period"])["level"]
    assert lv[("CHN>HKG", "2023-03")] == "pair"
    assert lv[("CHN>HKG:71", "2023-03")] == "pair+hs"
    assert lv[("CHN>VNM>USA:85", "2023-05")] == "route+hs"
    assert lv[("CN-HA", "2023-10")] == "region"
    assert lv[("VNM", "2023")] == "reporter"
    # levels with fewer rows than min_rows are left to the rules (ensemble NaN), others get a rank in (0, 1]
    small = result.scores["level"].isin(["reporter", "region", "route+hs"])
    assert result.scores.loc[small, "ensemble"].isna().all()
    assert result.scores.loc[~small, "ensemble"].between(0, 1).all()


def test_ensemble_finds_planted_cases_including_the_combination_of_moderate_signals(result):
    pairs = result.scores.loc[result.scores["level"] == "pair"].sort_values("ensemble", ascending=False)
    top = list(zip(pairs["subject"], pairs["period"]))[:8]
    for m in ("2023-03", "2023-04", "2023-05", "2023-06"):
        assert ("CHN>HKG", m) in top
    # no single signal of KOR>USA in 2023-09 exceeds 2.8, yet the ensemble puts it among the top pairs
    assert ("KOR>USA", "2023-09") in top
    assert pairs["ensemble"].iloc[0] > 0.99


def test_contributions_sum_to_one_and_name_the_driving_features(result):
    c = result.contributions.set_index(["subject", "period"])[result.detector_features]
    sums = c.sum(axis=1)
    assert np.allclose(sums[sums > 0], 1.0)
    top = result.top_contributions(2)
    hk = top.loc[(top["subject"] == "CHN>HKG") & (top["period"] == "2023-05")]
    assert set(hk["feature"]) & {"mirror.log_gap_z", "ctx.detail:mirror", "mirror.log_gap_z:excess"}
    kor = top.loc[(top["subject"] == "KOR>USA") & (top["period"] == "2023-09"), "feature"]
    assert set(kor) & {"invoice_export.round_numbers", "invoice_export.round_numbers:excess", "mirror.log_gap_z",
                       "series.own_history", "ctx.detail:unit_value"}


def test_a_findings_table_lacking_checks_is_scored(findings):
    only = findings.loc[findings["check"].isin(["mirror", "series"])]
    res = scoring.score(only, random_state=0)
    assert res.indicators == ["has:mirror", "has:series"]
    assert not any(c.startswith(("benford", "entrepot", "ctx.reporter")) for c in res.detector_features)
    pairs = res.scores.loc[res.scores["level"] == "pair"].sort_values("ensemble", ascending=False)
    assert pairs["subject"].iloc[0] == "CHN>HKG"
    empty = scoring.score(findings.iloc[0:0])
    assert empty.scores.empty and empty.detector_features == []


def test_same_seed_same_scores(findings, runs):
    again = scoring.score(findings, random_state=3)
    pd.testing.assert_frame_equal(again.scores, runs[3].scores)
    pd.testing.assert_frame_equal(again.contributions, runs[3].contributions)
    # and another seed does move the forest
    assert not runs[3].scores["rank.iforest"].equals(runs[4].scores["rank.iforest"])


def test_top50_rank_correlation_over_five_seeds_is_at_least_095(runs):
    """Spearman correlation of the ensemble ranks over the union of two seeds' top 50 subject-periods."""
    ens = {seed: r.scores.set_index(["subject", "period"])["ensemble"].dropna() for seed, r in runs.items()}
    worst = 1.0
    for a, b in itertools.combinations(ens, 2):
        top = sorted(set(ens[a].nlargest(50).index) | set(ens[b].nlargest(50).index))
        worst = min(worst, spearmanr(ens[a].loc[top], ens[b].loc[top]).statistic)
    assert worst >= 0.95, worst


def test_params_are_checked():
    with pytest.raises(ConfigError, match="unknown detector"):
        scoring.ScoringParams(detectors=("iforest", "lof"))
    with pytest.raises(ConfigError, match="n_estimators"):
        scoring.ScoringParams(n_estimators=0)


def test_pyod_is_imported_lazily():
    import subprocess
    import sys

    code = "import sys, tradeanomaly.scoring, tradeanomaly.ranking; print('pyod' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_ecod_tails_equal_pyod_to_the_bit():
    """Our ECOD per-dimension scores against pyod's own (``ECOD.O``, read here only as the reference)."""
    from pyod.models.ecod import ECOD

    from tradeanomaly.scoring import ecod_tails

    rng = np.random.default_rng(11)
    X = np.column_stack([rng.lognormal(0, 1, 400), np.round(rng.normal(0, 1, 400), 1),  # ties in column 2
                         -rng.exponential(1, 400), np.zeros(400)])
    ref = np.asarray(ECOD().fit(X).O, dtype=float)
    assert np.array_equal(ecod_tails(X), ref)
