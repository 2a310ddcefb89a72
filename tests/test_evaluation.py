"""Evaluation: metrics against hand-computed values, matching rules, the CLI, and the end-to-end figures the issue
asks for on the generator's panel (five seeds) and on IMF DOTS 2013."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from tradeanomaly import evaluation
from tradeanomaly.cli import main

TRUTH = pd.DataFrame([
    dict(anomaly_id="a1", kind="X", negative_control="false", reporter="CHN", partner="USA", hub="", region="",
         hs="85", period_start="2023-01", period_end="2023-03", usd="1e9", note=""),
    dict(anomaly_id="a2", kind="X", negative_control="false", reporter="DEU", partner="ITA", hub="", region="",
         hs="", period_start="2023-05", period_end="2023-06", usd="2e9", note=""),
    dict(anomaly_id="a3", kind="Y", negative_control="false", reporter="CHN", partner="WLD", hub="",
         region="CN-HA", hs="", period_start="2023-02", period_end="", usd="3e9", note=""),
    dict(anomaly_id="c1", kind="hub_gap", negative_control="true", reporter="HKG", partner="CHN", hub="",
         region="", hs="", period_start="2023-01", period_end="2023-12", usd="4e9", note=""),
])

FLAGS = pd.DataFrame([
    # rank, subject, reporter, partner, hub, region, hs, period, label
    (1, "CHN>USA:8517", "CHN", "USA", "", "", "8517", "2023-02:2023-04", "fraud_signal"),  # a1 (finer product)
    (2, "HKG>CHN", "HKG", "CHN", "HKG", "", "TOTAL", "2023-01:2023-12", "fraud_signal"),  # negative control
    (3, "CHN>USA:85", "CHN", "USA", "", "", "85", "2023-03", "fraud_signal"),  # a1 again
    (4, "DEU>ITA:27", "DEU", "ITA", "", "", "27", "2023-07", "fraud_signal"),  # a2's pair, too late
    (5, "CN-HA", "CHN", "WLD", "", "CN-HA", "", "2023-02", "fraud_signal"),  # a3
    (6, "CHN>USA", "CHN", "USA", "", "", "TOTAL", "2023-01", "fraud_signal"),  # all products: not a1's HS 85
    (None, "DEU>ITA", "DEU", "ITA", "", "", "", "2023-05", "structural"),  # not ranked: ignored
], columns=["rank", "subject", "reporter", "partner", "hub", "region", "hs", "period", "label"])


def test_metrics_match_hand_computed_values():
    r = evaluation.evaluate(TRUTH, FLAGS, ks=(2, 5))
    o = r.overall
    assert r.n_flags == 6 and r.n_anomalies == 3 and r.n_controls == 1
    # hits by rank: 1 0 1 0 1 0
    assert o["precision@2"] == 0.5 and o["precision@5"] == 0.6
    assert o["recall@2"] == pytest.approx(1 / 3) and o["recall@5"] == pytest.approx(2 / 3)
    # a1 first found at rank 1 (precision 1), a3 at rank 5 (3/5), a2 never (0)
    assert o["average_precision"] == pytest.approx((1 + 3 / 5 + 0) / 3)
    assert o["found"] == 2
    assert o["negative_controls@2"] == 1 and o["negative_controls@5"] == 1
    k = r.per_kind.set_index("kind")
    assert list(k.index) == ["X", "Y"]
    assert k.loc["X", "precision@2"] == 0.5 and k.loc["X", "precision@5"] == 0.4
    assert k.loc["X", "recall@5"] == 0.5 and k.loc["X", "average_precision"] == 0.5 and k.loc["X", "found"] == 1
    assert k.loc["Y", "precision@2"] == 0.0 and k.loc["Y", "precision@5"] == 0.2
    assert k.loc["Y", "recall@5"] == 1.0 and k.loc["Y", "average_precision"] == pytest.approx(0.2)
    assert set(r.matches["anomaly_id"]) == {"a1", "a3", "c1"}


def test_matching_rules():
    t = evaluation.normalise_truth(TRUTH)
    f = evaluation.normalise_flags(FLAGS)
    m = evaluation.match(t, f)
    pairs = {(int(f["rank"].iloc[i]), t["anomaly_id"].iloc[j]) for i, j in zip(m["flag"], m["truth"])}
    assert pairs == {(1, "a1"), (2, "c1"), (3, "a1"), (5, "a3")}
    # an annual flag overlaps the months of its year; a truth hub must be named by the flag
    route = pd.DataFrame([dict(anomaly_id="r", kind="t", negative_control=False, reporter="CHN", partner="USA",
                               hub="VNM", hs="84", period_start="2023-03")])
    fl = pd.DataFrame([(1, "CHN>VNM>USA:8471", "CHN", "USA", "VNM", "", "8471", "2023"),
                       (2, "CHN>USA:84", "CHN", "USA", "", "", "84", "2023-03")],
                      columns=["rank", "subject", "reporter", "partner", "hub", "region", "hs", "period"])
    m = evaluation.match(evaluation.normalise_truth(route), evaluation.normalise_flags(fl))
    assert m["flag"].tolist() == [0]


def test_a_short_list_is_charged_for_missing_places():
    r = evaluation.evaluate(TRUTH, FLAGS.head(1), ks=(10,))
    assert r.overall["precision@10"] == 0.1


def test_cli_prints_table_and_json(tmp_path):
    truth_p, flags_p = tmp_path / "truth.csv", tmp_path / "flags.csv"
    TRUTH.to_csv(truth_p, index=False)
    FLAGS.to_csv(flags_p, index=False)
    runner = CliRunner()
    res = runner.invoke(main, ["evaluate", "--truth", str(truth_p), "--flags", str(flags_p), "--k", "2", "--k", "5"],
                        catch_exceptions=False)
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].split() == ["kind", "n", "precision@2", "precision@5", "recall@2", "recall@5", "ap", "found"]
    assert lines[2].split() == ["overall", "3", "0.500", "0.600", "0.333", "0.667", "0.533", "2"]
    assert "negative controls in the top 2: 1, 5: 1" in res.output
    res = runner.invoke(main, ["evaluate", "--truth", str(truth_p), "--flags", str(flags_p), "--json"],
                        catch_exceptions=False)
    d = json.loads(res.output)
    assert d["ks"] == [10, 20, 50] and d["overall"]["precision@10"] == 0.3
    assert [k["kind"] for k in d["per_kind"]] == ["X", "Y"]


def test_cli_explains_a_bad_truth_file(tmp_path):
    bad = tmp_path / "truth.csv"
    bad.write_text("id,what\n1,2\n")
    flags_p = tmp_path / "flags.csv"
    FLAGS.to_csv(flags_p, index=False)
    res = CliRunner().invoke(main, ["evaluate", "--truth", str(bad), "--flags", str(flags_p)])
    assert res.exit_code == 1
    assert "missing column(s)" in res.output and "anomaly_id" in res.output


# ---------------------------------------------------------------------------------------------------------------
# End to end: the figures of the issue
# ---------------------------------------------------------------------------------------------------------------

SEEDS = range(5)


@pytest.mark.slow
def test_end_to_end_on_synth_panels():
    """The generator's evaluation panels (23 planted anomalies of six kinds), seeds 0..4, every check on every
    period: measured 2026-12-08 mean precision@20 0.98 and recall@50 0.991 (asserted with a margin: 0.90 and 0.95), every
    kind found within the top 50 in most seeds, no negative control in any top 20, and at most one place in any
    top 50 taken by a planted anomaly already listed (measured 0 in every seed)."""
    synth = pytest.importorskip("tradeanomaly.synth")
    from tradeanomaly import ranking, scoring

    results, repeats = [], []
    for seed in SEEDS:
        panel = synth.generate(seed, counts=synth.EVALUATION_COUNTS)
        findings, missing = evaluation.run_available_checks(panel.flows, None, random_state=seed)
        assert not missing, missing
        flags = ranking.rank(findings, scoring.score(findings, random_state=seed))
        results.append(evaluation.evaluate(panel.truth, flags))
        repeats.append(evaluation.repeat_places(panel.truth, flags))
    overall = pd.DataFrame([r.overall for r in results])
    assert overall["precision@20"].mean() >= 0.90, overall
    assert overall["recall@50"].mean() >= 0.95, overall
    per_kind = pd.concat([r.per_kind for r in results])
    assert (per_kind.groupby("kind")["recall@50"].mean() >= 0.8).all(), per_kind
    assert all(r.overall["negative_controls@20"] == 0 for r in results), overall
    assert max(repeats) <= 1, repeats


@pytest.mark.slow
def test_end_to_end_on_heldout_panels():
    """The held-out generator (benchmarks/heldout_panel.py, evaluation only), seeds 0..4: a guard against a change
    that fits the project's generator at the expense of data it was not written for. Measured 2026-12-08: mean
    precision@20 0.77, recall@50 0.833, at most one place in any top 50 taken by a planted anomaly already listed
    (asserted with a margin: 0.70, 0.78, 2). These are below the project generator's figures: see the README."""
    import sys

    from conftest import REPO
    from tradeanomaly import ranking, scoring

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import heldout_panel
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    p20, r50, repeats = [], [], []
    for seed in SEEDS:
        flows, truth = heldout_panel.generate(seed)
        findings, missing = evaluation.run_available_checks(flows, None, random_state=seed)
        assert not missing, missing
        flags = ranking.rank(findings, scoring.score(findings, random_state=seed))
        o = evaluation.evaluate(truth, flags).overall
        p20.append(o["precision@20"])
        r50.append(o["recall@50"])
        repeats.append(evaluation.repeat_places(truth, flags))
    assert sum(p20) / len(p20) >= 0.70, p20
    assert sum(r50) / len(r50) >= 0.78, r50
    assert max(repeats) <= 2, repeats


def _dots_cases(shared_data, period: str, since: str):
    from conftest import REPO, shared_file
    from tradeanomaly import ranking, scoring
    from tradeanomaly.sources import read_source

    path = shared_file(shared_data, "imf_dots_annual_1960_2020", "dots_annual_bilateral_1960_2020.csv.gz")
    read = read_source("table", [path], column_map=REPO / "configs" / "maps" / "imf-dots-long.yaml")
    flows = read.flows.loc[read.flows["period"] >= since].reset_index(drop=True)
    findings, missing = evaluation.run_available_checks(flows, [period])
    assert not missing, missing
    flags = ranking.rank(findings, scoring.score(findings, random_state=0))
    return flags.loc[flags["rank"].notna()]


def _no_aggregate(top: pd.DataFrame) -> None:
    """No subject is a publisher's aggregate (WLD, NES, a region's total). The one group allowed is a route's
    destination market (CHN>LBY>EU27: the entrepot check sums the EU members' own imports, as EU duties apply)."""
    from tradeanomaly.codes import GROUPS, is_country

    route = top["hub"].astype("str") != ""
    partners = top["partner"].where(~(route & top["partner"].isin(list(GROUPS))), "")
    codes = pd.Series(sorted({c for c in pd.concat([top["reporter"], partners, top["hub"]]) if c}))
    assert bool(is_country(codes).all()), list(codes[~is_country(codes).to_numpy(dtype=bool)])


@pytest.mark.slow
@pytest.mark.shared
def test_imf_dots_2013_china_hong_kong_in_top_three(shared_data):
    """IMF DOTS annual (2022 vintage), every check on 2013 with 2003-2012 as history: China's exports to Hong Kong
    are among the three best-ranked cases (measured: rank 3), with the mirror gap's dollars beyond the pair's norm,
    and no aggregate is a subject of the top 20."""
    ranked = _dots_cases(shared_data, "2013", "2003")
    top = ranked.head(3)
    hit = top.loc[(top["reporter"] == "CHN") & (top["partner"] == "HKG")]
    assert len(hit) == 1, ranked[["rank", "subject", "kind", "usd_at_stake"]].head(10)
    assert hit["kind"].iloc[0] == "mirror_gap" and 110e9 < hit["usd_at_stake"].iloc[0] < 125e9
    assert hit["explanation"].iloc[0].startswith("China reports 384.9 bn USD of exports to Hong Kong")
    _no_aggregate(ranked.head(20))


@pytest.mark.slow
@pytest.mark.shared
def test_imf_dots_2019_china_vietnam_us_in_top_ten(shared_data):
    """IMF DOTS 2019 with 2009-2018 as history: China -> Vietnam -> US is a rerouting case of the top ten
    (measured: rank 2), and no aggregate is a subject of the top 20."""
    ranked = _dots_cases(shared_data, "2019", "2009")
    top = ranked.head(10)
    hit = top.loc[(top["reporter"] == "CHN") & (top["hub"] == "VNM") & (top["partner"] == "USA")]
    assert len(hit) == 1 and hit["kind"].iloc[0] == "rerouting", top[["rank", "subject", "kind"]]
    _no_aggregate(ranked.head(20))


def test_a_flag_naming_a_group_matches_a_member_partner_and_nothing_else():
    truth = evaluation.normalise_truth(pd.DataFrame([
        dict(anomaly_id="t1", kind="transshipment", negative_control="false", reporter="CHN", partner="DEU",
             hub="TUR", region="", hs="85", period_start="2020-01", period_end="2020-12", usd=1e9, note=""),
        dict(anomaly_id="t2", kind="transshipment", negative_control="false", reporter="CHN", partner="USA",
             hub="TUR", region="", hs="85", period_start="2020-01", period_end="2020-12", usd=1e9, note="")]))
    flags = evaluation.normalise_flags(pd.DataFrame([
        dict(rank=1, subject="CHN>TUR>EU27:85", reporter="CHN", partner="EU27", hub="TUR", region="", hs="85",
             period="2020-03:2020-09"),
        dict(rank=2, subject="CHN>TUR>ASEAN:85", reporter="CHN", partner="ASEAN", hub="TUR", region="", hs="85",
             period="2020-03:2020-09")]))
    m = evaluation.match(truth, flags)
    assert m[["flag", "truth"]].values.tolist() == [[0, 0]]
