"""Ranking: one case per cause (episodes, products rolled up to the pair, a fabricating reporter's pairs inside its
case), chronic differences and structure kept out of the ranked list, aggregates never a subject, status against the
previous run, explanations in trade terms, byte-identical output."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from findings_fixture import make_findings_fixture
from tradeanomaly import ranking, scoring
from tradeanomaly.errors import ConfigError
from tradeanomaly.ranking.params import RankingParams
from tradeanomaly.schema import make_findings


@pytest.fixture(scope="module")
def findings():
    return make_findings_fixture(0)


@pytest.fixture(scope="module")
def scores(findings):
    return scoring.score(findings, random_state=0)


@pytest.fixture(scope="module")
def result(findings, scores):
    return ranking.rank_cases(findings, scores)


@pytest.fixture(scope="module")
def flags(result):
    return result.flags


def ranked(flags):
    return flags.loc[flags["rank"].notna()]


def by_case(flags):
    return ranked(flags).set_index("case_id")


def test_columns_ranks_and_budget(flags, findings):
    assert list(flags.columns) == list(ranking.FLAG_COLUMNS)
    r = ranked(flags)
    assert r["rank"].tolist() == list(range(1, len(r) + 1))
    assert 6 <= len(r) <= 50  # the five planted cases and what else reaches min_score, at most the budget
    assert r["score"].is_monotonic_decreasing and (r["score"] >= ranking.RankingParams().min_score).all()
    assert set(r["label"]) == {"fraud_signal"} and set(r["confidence"]) <= {"high", "medium", "low"}
    small = ranking.rank(findings, scoring.score(findings), params=ranking.RankingParams(top_k=5))
    assert ranked(small)["rank"].tolist() == [1, 2, 3, 4, 5]
    assert ranked(small)["case_id"].tolist() == r["case_id"].head(5).tolist()


def test_planted_cases_lead_the_list(flags):
    top = ranked(flags).head(5)
    assert top.iloc[0]["case_id"] == "CHN>HKG:71@2023-03"
    assert set(top["case_id"]) >= {"CHN>HKG:71@2023-03", "CN-HA@2023-10", "CHN>VNM>USA:85@2023-01",
                                   "KOR>USA:85@2023-09", "VNM@2023"}
    # the lead case is sure and large; the list's scores spread
    assert top.iloc[0]["confidence"] == "high" and top.iloc[0]["score"] > 0.85
    r = ranked(flags)
    assert r["score"].iloc[0] - r["score"].iloc[-1] > 0.4


def test_structural_findings_are_never_ranked_as_fraud(flags):
    st = flags.loc[flags["label"] == "structural"]
    assert set(zip(st["subject"], st["period"])) == {("DEU>NLD", "2023-02:2023-04"), ("USA>MEX", "2023-07")}
    assert st["rank"].isna().all()
    assert st["explanation"].str.startswith("Structural, not ranked as fraud").all()
    assert "Rotterdam" in st.loc[st["subject"] == "DEU>NLD", "explanation"].iloc[0]
    r = ranked(flags)
    assert not r["signals"].str.contains(r"\.entrepot|\.freight_band").any()
    deu = r.loc[r["subject"] == "DEU>NLD"]
    assert not any(p.startswith("2023-0" + m) for p in deu["period"] for m in "234")


def test_the_end_of_an_anomaly_joins_its_case():
    # a province pads its exports for four months; when the padding stops, its series falls back: a weaker break
    # the other way, seven months later, is the same case (within the aftermath of a year), not a second flag
    rng = np.random.default_rng(9)
    months = [f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13)]
    rows = _background(rng, months)
    for t in months[3:7]:
        rows.append(dict(check="series", signal="series.own_history", reporter="CHN", region="CN-HA", subject="CN-HA",
                         period=t, score=8.0, usd_at_stake=4e9, n_tested=5000.0, detail="Henan's exports rose"))
    for t in months[14:16]:
        rows.append(dict(check="series", signal="series.own_history", reporter="CHN", region="CN-HA", subject="CN-HA",
                         period=t, score=4.0, usd_at_stake=1e9, n_tested=5000.0, detail="Henan's exports fell"))
    # (a flagging scale at which the fall is flagged on its own: what is tested is that it then joins the padding)
    out = ranking.rank(make_findings(rows), None, params=ranking.RankingParams(flag_evidence_scale=0.4))
    r = ranked(out)
    assert r["subject"].eq("CN-HA").sum() == 1
    assert r.loc[r["subject"] == "CN-HA", "period"].iloc[0] == "2022-04:2023-04"  # the padding and its end
    assert int(r.loc[r["subject"] == "CN-HA", "members"].iloc[0]) == 6


def test_one_case_per_anomaly_with_its_products_and_periods(result):
    r = ranked(result.flags)
    # CHN>HKG's pair total and its HS 71 rows, March to June, are one case
    assert r["subject"].str.startswith("CHN>HKG").sum() == 1
    hk = by_case(result.flags).loc["CHN>HKG:71@2023-03"]
    assert hk["kind"] == "mirror_gap" and hk["period"] == "2023-03:2023-06"
    m = result.members.loc[result.members["case_id"] == "CHN>HKG:71@2023-03"]
    assert {"CHN>HKG", "CHN>HKG:71"} <= set(m["subject"])
    assert {"mirror.log_gap_z", "invoice_export.quarter_opening"} <= set(m["signal"])
    assert int(hk["members"]) == m[["subject", "period"]].drop_duplicates().shape[0]
    # dollars: per month the larger of the pair total and its products (4 x 32 bn), not their sum
    assert hk["usd_at_stake"] == pytest.approx(4 * 3.2e10, rel=0.01)
    # the rerouting: four months of HS 85 through Vietnam, each 1.5 bn, one case
    vn = by_case(result.flags).loc["CHN>VNM>USA:85@2023-01"]
    assert vn["kind"] == "rerouting" and vn["hub"] == "VNM" and vn["usd_at_stake"] >= 4 * 1.5e9
    assert r["subject"].str.contains(">VNM>").sum() == 1


def test_headlines_are_short_and_speak_trade(flags):
    r = ranked(flags)
    words = r["headline"].str.split().str.len()
    assert words.max() <= 30, r.loc[words.idxmax(), "headline"]
    hk = by_case(flags).loc["CHN>HKG:71@2023-03"]
    assert hk["headline"].startswith("Mirror gap: China's exports of HS 71")
    assert "128.0 bn USD at stake" in hk["headline"] and "(high confidence)" in hk["headline"]
    assert "exports to Hong Kong exceed Hong Kong's imports" in hk["explanation"]
    assert "The case also holds 4 finding(s) on CHN>HKG." in hk["explanation"]


def _gap(reporter, partner, period, score, usd=5e7, signal="mirror.log_gap_z", hs="", check="mirror"):
    subj = f"{reporter}>{partner}" + (f":{hs}" if hs else "")
    return dict(check=check, signal=signal, reporter=reporter, partner=partner, subject=subj, hs=hs, period=period,
                score=float(score), usd_at_stake=usd, detail=f"{subj} moved", n_tested=2000.0)


def _background(rng, months, n_pairs=40):
    rows = []
    eco = ["AUS", "AUT", "BEL", "CAN", "CZE", "DNK", "ESP", "FIN", "GRC", "HUN", "IRL", "ISR"]
    pairs = [(a, b) for a in eco for b in eco if a != b][:n_pairs]
    for a, b in pairs:
        for t in months:
            if rng.random() < 0.15:
                rows.append(_gap(a, b, t, 2.0 + abs(rng.normal(0, 0.8)), usd=float(rng.uniform(1e6, 5e7))))
    return rows


PARTNERS8 = ("PER", "COL", "CHL", "BRA", "ARG", "MEX", "PAN", "URY")


def test_a_fabricating_reporter_is_one_case():
    rng = np.random.default_rng(5)
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    # Ecuador invents its import figures for 2023-04..2023-09: its digits window fails, and its reports disagree with
    # eight partners' in those months
    rows.append(dict(check="benford", signal="benford.window_first_two", reporter="ECU", subject="ECU[M]",
                     period="2023-09", period_start="2023-04", score=12.0, n_tested=48.0,
                     detail="Ecuador's import figures depart from Benford's law"))
    for k, partner in enumerate(PARTNERS8):
        for t in months[3:9]:
            rows.append(_gap(partner, "ECU", t, 3.0 + 0.1 * k, usd=2e8))
    out = ranking.rank_cases(make_findings(rows), None)
    r = ranked(out.flags)
    aaa = r.loc[r["reporter"].eq("ECU") | r["partner"].eq("ECU") | r["subject"].str.contains("ECU")]
    assert len(aaa) == 1, aaa[["case_id", "subject"]]
    case = aaa.iloc[0]
    assert case["subject"] == "ECU[M]" and case["kind"] == "fabrication" and case["rank"] == 1
    members = out.members.loc[out.members["case_id"] == case["case_id"]]
    assert {f"{p}>ECU" for p in PARTNERS8} <= set(members["subject"])
    # its dollars are the excess of its pairs' gaps, 8 pairs x 6 months x 0.2 bn
    assert case["usd_at_stake"] == pytest.approx(8 * 6 * 2e8)


def test_a_reporter_side_case_leaves_out_the_pair_that_carries_the_money():
    """Ecuador's import reports disagree with eight partners' at once (no digit test fails): one case about its
    imports. China -> Ecuador, flagged in the same months with 40 bn (more than all eight together), is a cause of
    its own and stays its own case; without that rule it is one member among nine."""
    rng = np.random.default_rng(8)
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    for k, partner in enumerate(PARTNERS8):
        for t in months[3:9]:
            rows.append(_gap(partner, "ECU", t, 4.0 + 0.1 * k, usd=2e8))
    rows += [_gap("CHN", "ECU", t, 4.5, usd=4e10 / 6) for t in months[3:9]]
    r = ranked(ranking.rank(make_findings(rows), None))
    ecu = r.loc[r["partner"].eq("ECU") | r["subject"].str.contains("ECU")]
    assert sorted(ecu["subject"]) == ["CHN>ECU", "ECU[M]"], ecu[["case_id", "subject"]]
    assert ecu.set_index("subject").loc["CHN>ECU", "usd_at_stake"] == pytest.approx(4e10)
    together = ranked(ranking.rank(make_findings(rows), None,
                                   params=ranking.RankingParams(reporter_case_max_share=1.01)))
    assert not together["subject"].eq("CHN>ECU").any()


def test_scattered_flags_of_a_long_window_weigh_less_than_a_sustained_break():
    """Two pairs with the same six findings (same scores, same dollars): Peru -> Chile in six consecutive months,
    Colombia -> Chile every fifth month over 26 (one episode, its gaps bridged: 2022-05..2024-06). Counted over the months from
    first to last flag, the scattered one is the best of 26 tests, not of 6, and ranks below; counted over its
    flags alone the two tie."""
    rng = np.random.default_rng(9)
    months = [f"{y}-{m:02d}" for y in (2022, 2023, 2024) for m in range(1, 13)]
    rows = _background(rng, months)
    rows += [_gap("PER", "CHL", t, 6.0, usd=1e9) for t in months[4:10]]
    rows += [_gap("COL", "CHL", t, 6.0, usd=1e9) for t in months[4:30:5]]
    on = ranked(ranking.rank(make_findings(rows), None)).set_index("subject")
    off = ranked(ranking.rank(make_findings(rows), None, params=ranking.RankingParams(case_span_tests=False)))
    off = off.set_index("subject")
    assert on.loc["COL>CHL", "period"] == "2022-05:2024-06"
    assert off.loc["PER>CHL", "score"] == pytest.approx(off.loc["COL>CHL", "score"])
    assert on.loc["PER>CHL", "rank"] < on.loc["COL>CHL", "rank"]
    assert on.loc["COL>CHL", "score"] < 0.95 * on.loc["PER>CHL", "score"]


def test_a_chronic_gap_is_not_ranked_as_news():
    rng = np.random.default_rng(6)
    months = [f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13)]
    rows = _background(rng, months)
    # Norway -> Sweden outside the band in every month of two years (a standing difference); Poland -> Portugal breaks for four months
    rows += [_gap("NOR", "SWE", t, 9.0, usd=3e9) for t in months]
    rows += [_gap("POL", "PRT", t, 6.0, usd=3e8) for t in months[14:18]]
    out = ranking.rank(make_findings(rows), None)
    r = ranked(out)
    assert r.iloc[0]["subject"] == "POL>PRT" and r.iloc[0]["period"] == "2023-03:2023-06"
    assert not r["subject"].eq("NOR>SWE").any()
    ch = out.loc[out["label"] == "chronic"]
    assert ch["subject"].tolist()[:1] == ["NOR>SWE"] and ch["period"].iloc[0] == "2022-01:2023-12"
    assert ch["rank"].isna().all() and ch["explanation"].iloc[0].startswith("Chronic, not ranked")


def test_aggregates_are_never_a_subject():
    rng = np.random.default_rng(7)
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    rows += [_gap("RUS", "WLD", t, 9.0, usd=8e11) for t in months[:3]]    # a world total
    rows += [_gap("CHN", "NES", t, 9.0, usd=5e10) for t in months[:3]]    # areas not specified
    rows += [_gap("CHN", "HKG", t, 7.0, usd=4e10) for t in months[:3]]
    out = ranking.rank(make_findings(rows), None)
    keys = set(out["reporter"]) | set(out["partner"]) | set(out["hub"])
    assert not keys & {"WLD", "NES"}
    assert ranked(out).iloc[0]["subject"] == "CHN>HKG"


def test_status_against_previous_flags(findings, scores, flags):
    prev = pd.DataFrame([
        {"rank": 1, "subject": "CHN>HKG:71", "period": "2023-01:2023-02", "label": "fraud_signal", "score": 0.9,
         "reporter": "CHN", "partner": "HKG", "status": "new"},  # touches 2023-03: persisting
        {"rank": 2, "subject": "JPN>FRA", "period": "2022-11", "label": "fraud_signal", "score": 0.8,
         "reporter": "JPN", "partner": "FRA", "status": "new"},  # gone now: resolved
        {"rank": "", "subject": "DEU>NLD", "period": "2023-01", "label": "structural", "score": 0.4,
         "status": "new"},  # structural, touches 2023-02: persisting
        {"rank": "", "subject": "OLD>ONE", "period": "2020-01", "label": "fraud_signal", "score": 0.5,
         "status": "resolved"},  # resolved before: not carried again
    ])
    out = ranking.rank(findings, scores, previous_flags=prev)
    status = dict(zip(zip(out["subject"], out["period"], out["label"]), out["status"]))
    assert status[("CHN>HKG:71", "2023-03:2023-06", "fraud_signal")] == "persisting"
    assert status[("DEU>NLD", "2023-02:2023-04", "structural")] == "persisting"
    assert status[("CN-HA", "2023-10", "fraud_signal")] == "new"
    resolved = out.loc[out["status"] == "resolved"]
    assert resolved["subject"].tolist() == ["JPN>FRA"] and resolved["rank"].isna().all()
    assert out.index[out["subject"] == "JPN>FRA"][0] == len(out) - 1  # appended last
    pd.testing.assert_frame_equal(ranked(out).drop(columns="status"), ranked(flags).drop(columns="status"))


def test_output_is_byte_identical(findings):
    def csv_bytes():
        s = scoring.score(findings, random_state=7)
        buf = io.StringIO()
        ranking.write_flags_csv(ranking.rank(findings, s), buf)
        return buf.getvalue().encode()

    a, b = csv_bytes(), csv_bytes()
    assert a == b
    back = ranking.read_flags_csv(io.StringIO(a.decode()))
    n = int(back["rank"].notna().sum())
    assert n >= 6 and back["rank"].dropna().tolist() == list(range(1, n + 1))


def test_ties_break_by_subject_then_period_and_imports_are_turned_round():
    # Argentina -> Chile twice, more than the aftermath of a year apart: two cases
    rows = [_gap("BRA", "CHL", "2023-01", 6.0), _gap("ARG", "CHL", "2024-06", 6.0),
            _gap("ARG", "CHL", "2023-01", 6.0)]
    imp = _gap("USA", "CHN", "2023-03", 7.0, hs="48")
    imp["subject"] = "USA>CHN:48[M]"  # the USA's report of its imports from China
    f = make_findings(rows + [imp])
    out = ranking.rank(f, None)
    assert list(zip(out["subject"], out["period"])) == [("CHN>USA:48", "2023-03"), ("ARG>CHL", "2023-01"),
                                                        ("ARG>CHL", "2024-06"), ("BRA>CHL", "2023-01")]
    # the USA's imports from China are China's exports to the USA
    assert out.iloc[0][["reporter", "partner", "hs"]].tolist() == ["CHN", "USA", "48"]


def test_params_are_checked():
    with pytest.raises(ConfigError, match="top_k"):
        ranking.RankingParams(top_k=0)
    with pytest.raises(ConfigError, match="usd_floor"):
        ranking.RankingParams(usd_floor=1e12, usd_full=1e6)
    with pytest.raises(ConfigError, match="unknown setting.*w_rules.*known: "):
        ranking.RankingParams.from_mapping({"w_rules": 0.5})
    p = ranking.RankingParams.from_mapping({"signal_priors": {"series.peer": 0.5}})
    assert p.to_dict()["signal_priors"]["series.peer"] == 0.5


def test_a_pair_outside_the_band_in_most_earlier_years_is_listed_as_chronic():
    rng = np.random.default_rng(8)
    rows = _background(rng, [f"2023-{m:02d}" for m in range(1, 13)])
    rows.append(_gap("ZAF", "CHN", "2023-12", 4.0, usd=3.4e10, signal="mirror.chronic"))
    rows.append(_gap("ZAF", "CHN", "2023-12", 4.0, usd=3.4e10))  # its mirror gap of the same month
    out = ranking.rank(make_findings(rows), None)
    assert not ranked(out)["subject"].eq("ZAF>CHN").any()
    ch = out.loc[out["subject"] == "ZAF>CHN"]
    assert ch["label"].tolist() == ["chronic"] and ch["rank"].isna().all()
    assert ch["headline"].iloc[0].startswith("Chronic difference: ZAF>CHN")


def _route(origin, hub, dest, period, score, usd, signal="entrepot.pass_through"):
    return dict(check="entrepot", signal=signal, reporter=origin, partner=dest, hub=hub,
                subject=f"{origin}>{hub}>{dest}", hs="", period=period, score=float(score), usd_at_stake=usd,
                detail=f"goods from {origin} pass through {hub} to {dest}", n_tested=500.0)


def test_growth_without_share_shift_and_comovement_is_not_rerouting():
    rng = np.random.default_rng(7)
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    # a route with all three marks of rerouting: the pass-through bound, D's imports shifting from O to H, the
    # legs moving together
    china = [_route("CHN", "VNM", "USA", t, 6.0, 2e9, s) for t in months[4:8]
             for s in ("entrepot.pass_through", "entrepot.share_shift", "entrepot.comovement")]
    # a large economy whose exports simply grew: the same pass-through bound, stronger and larger, nothing else
    grew = [_route("MEX", "CAN", "USA", t, 7.0, 5e9) for t in months[4:8]]
    # the same route once the share shift and the co-movement are there
    shifted = grew + [_route("MEX", "CAN", "USA", t, 6.0, 5e9, s) for t in months[4:8]
                      for s in ("entrepot.share_shift", "entrepot.comovement")]

    def routes(extra):
        r = ranked(ranking.rank(make_findings(rows + china + extra), None))
        return r.loc[r["kind"] == "rerouting"].set_index("subject")

    alone, corroborated = routes(grew), routes(shifted)
    # alone, the grown economy ranks below the real route or not at all (its score under min_score)
    assert "CHN>VNM>USA" in alone.index
    if "MEX>CAN>USA" in alone.index:
        assert alone.loc["CHN>VNM>USA", "rank"] < alone.loc["MEX>CAN>USA", "rank"]
    alone_score = alone["score"].get("MEX>CAN>USA", RankingParams().min_score)
    assert corroborated.loc["MEX>CAN>USA", "rank"] < corroborated.loc["CHN>VNM>USA", "rank"]
    assert corroborated.loc["MEX>CAN>USA", "score"] > alone_score


def _rush(exporter, importer, hs, period, score, usd, signal="rush.pre_tariff_surge", check="rush"):
    return dict(check=check, signal=signal, reporter=exporter, partner=importer, subject=f"{exporter}>{importer}:{hs}",
                hs=hs, period=period, score=float(score), usd_at_stake=usd, n_tested=3000.0,
                detail=f"{exporter}'s shipments of HS {hs} to {importer} ran above their seasonal expectation")


def test_a_rush_ahead_of_one_date_is_one_case_whatever_the_chapters():
    """Korea front-loads three chapters to China ahead of one tariff date (two seen as a surge, one as the fall
    after it): one case. China's rushes to the US ahead of two dates (two tariff lists, other chapters) are two."""
    rng = np.random.default_rng(11)
    months = [f"{y}-{m:02d}" for y in (2018, 2019) for m in range(1, 13)]
    rows = _background(rng, months)
    rows += [_rush("KOR", "CHN", "85", "2018-07", 9.0, 4e9), _rush("KOR", "CHN", "87", "2018-07", 8.0, 8e8),
             _rush("KOR", "CHN", "84", "2018-07", 8.5, 2e9, signal="series.own_history", check="series")]
    rows += [_rush("CHN", "USA", "85", "2018-08", 9.5, 3e10), _rush("CHN", "USA", "40", "2019-05", 9.0, 2e9)]
    r = ranked(ranking.rank(make_findings(rows), None))
    kor = r.loc[r["reporter"].eq("KOR") & r["partner"].eq("CHN")]
    assert len(kor) == 1, kor[["case_id", "kind", "period"]]
    assert kor.iloc[0]["kind"] == "rush" and kor.iloc[0]["hs"] == "85"
    assert kor.iloc[0]["usd_at_stake"] == pytest.approx(4e9 + 8e8 + 2e9)
    chn = r.loc[r["reporter"].eq("CHN") & r["partner"].eq("USA")].sort_values("period")
    assert chn["hs"].tolist() == ["85", "40"] and chn["period"].tolist() == ["2018-08", "2019-05"]


def test_a_route_flagged_in_every_period_is_sustained_rerouting_not_chronic():
    rng = np.random.default_rng(12)
    months = [f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13)]
    rows = _background(rng, months)
    # China's goods pass through Vietnam in every month of the run (the route check compares each month with the
    # same month two years earlier: a route flagged throughout is a sustained change, not a standing difference)
    rows += [{**_route("CHN", "VNM", "USA", t, 6.0 + 0.1 * i, 2e9, s), "n_tested": 20000.0}
             for i, t in enumerate(months) for s in ("entrepot.pass_through", "entrepot.share_shift")]
    out = ranking.rank(make_findings(rows), None)
    route = out.loc[out["subject"] == "CHN>VNM>USA"]
    assert route["label"].tolist() == ["fraud_signal"] and route["rank"].iloc[0] == 1
    assert route["period"].iloc[0] == "2022-01:2023-12"


def _break(reporter, partner, period, score, value, expected, side="X", hs="84", signal="series.own_history",
           mirror=None):
    subj = f"{reporter}>{partner}:{hs}" + ("[M]" if side == "M" else "")
    return dict(check="series", signal=signal, reporter=reporter, partner=partner, subject=subj, hs=hs,
                period=period, score=float(score), value=float(value), expected=float(expected),
                usd_at_stake=float(abs(value - expected)), detail=f"{subj} broke", n_tested=5000.0)


def test_a_break_both_reports_show_alike_is_trade_not_misreporting():
    """Italy's machinery exports to Germany triple in one month and Germany's imports from Italy triple alike (a
    delivery both agencies recorded): that pair ranks below France's identical jump that Germany's imports do not
    show (only the exporter's report moved), and its amount at stake is the difference of the two reports, not the
    jump. The same pair ranks as high as France's with the rule off."""
    rng = np.random.default_rng(5)
    months = [f"2022-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    both = [_break("ITA", "DEU", "2022-06", 9.0, 21e9, 7e9), _break("DEU", "ITA", "2022-06", 8.8, 20e9, 6.8e9, "M"),
            _break("ITA", "DEU", "2022-06", 12.0, 21e9, 7e9, signal="series.peer")]
    one = [_break("FRA", "DEU", "2022-06", 9.0, 21e9, 7e9), _break("FRA", "DEU", "2022-06", 12.0, 21e9, 7e9,
                                                                  signal="series.peer")]
    f = make_findings(rows + both + one)
    from tradeanomaly.ranking.evidence import mirrored_breaks

    alike = mirrored_breaks(f, RankingParams())
    subj = f["subject"].astype("str")
    assert alike[subj.isin(["ITA>DEU:84", "DEU>ITA:84[M]"]).to_numpy() & (f["check"] == "series").to_numpy()].all()
    assert not alike[subj.eq("FRA>DEU:84").to_numpy()].any()
    r = ranked(ranking.rank(f, None)).set_index("subject")
    off = ranked(ranking.rank(f, None, params=RankingParams(mirrored_break_tolerance=1.001,
                                                            mirrored_break_share=1.0))).set_index("subject")
    assert r.loc["FRA>DEU:84", "score"] > r["score"].get("ITA>DEU:84", 0.0) + 0.1
    assert off.loc["ITA>DEU:84", "score"] >= off.loc["FRA>DEU:84", "score"] - 0.02
    # the jump both agencies recorded is not at stake, the difference of their reports is (21 bn against 20 bn)
    from tradeanomaly.ranking.evidence import subject_periods

    sp = subject_periods(f, None, RankingParams())[0].set_index("subject")
    assert sp.loc["ITA>DEU:84", "usd"] == pytest.approx(1e9)
    assert sp.loc["FRA>DEU:84", "usd"] == pytest.approx(14e9)
    # two reports that jump by different factors (x3 and x1.5) are not alike
    apart = make_findings([_break("ITA", "DEU", "2022-06", 9.0, 21e9, 7e9),
                           _break("DEU", "ITA", "2022-06", 8.8, 10e9, 6.8e9, "M")])
    assert not mirrored_breaks(apart, RankingParams()).any()
    # a fourfold jump against a threefold one (log ratios 1.39 and 1.10, the smaller 0.79 of the larger): one large
    # delivery recorded twice against two expectations; off when the share asked is above 0.8
    big = make_findings([_break("ITA", "DEU", "2022-06", 9.0, 28e9, 7e9),
                         _break("DEU", "ITA", "2022-06", 8.8, 21e9, 7e9, "M")])
    assert mirrored_breaks(big, RankingParams()).all()
    assert not mirrored_breaks(big, RankingParams(mirrored_break_share=0.8)).any()


def test_a_route_to_a_group_of_economies_is_a_market_and_takes_its_members_legs():
    """China's electronics rerouted through Turkey to the EU (the entrepot check sums the members' imports):
    the route is ranked, not dropped as an aggregate, and Turkey's exports of the same chapter to Germany are one
    of its legs. A route of all products to the EU does not take the hub's every flow to a member; a world total
    stays an aggregate."""
    rng = np.random.default_rng(9)
    months = [f"2021-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)

    def route(o, h, d, t, hs, s, usd):
        r = _route(o, h, d, t, s, usd, signal="entrepot.comovement")
        r.update(subject=f"{o}>{h}>{d}" + (f":{hs}" if hs else ""), hs=hs)
        return r

    rows += [route("CHN", "TUR", "EU27", t, "85", 30.0, 5e9) for t in months[3:9]]
    rows += [_gap("TUR", "DEU", t, 6.0, usd=2e9, hs="85") for t in months[4:6]]
    rows += [route("CHN", "LBY", "EU27", t, "", 8.0, 2e9) for t in months[3:5]]
    rows += [_gap("LBY", "ITA", t, 9.0, usd=1.6e10, hs="27") for t in months[3:5]]
    rows += [_gap("CHN", "WLD", t, 9.0, usd=8e11) for t in months[3:5]]
    result = ranking.rank_cases(make_findings(rows), None)
    r = ranked(result.flags)
    tur = r.loc[r["subject"] == "CHN>TUR>EU27:85"]
    assert len(tur) == 1 and tur["partner"].iloc[0] == "EU27"
    members = result.members.loc[result.members["case_id"] == tur["case_id"].iloc[0], "subject"]
    assert "TUR>DEU:85" in set(members)
    assert not r["subject"].astype("str").str.startswith("TUR>DEU").any()
    lby = r.loc[r["subject"].astype("str").str.startswith("CHN>LBY>EU27")]
    lby_members = result.members.loc[result.members["case_id"].isin(lby["case_id"]), "subject"]
    assert "LBY>ITA:27" not in set(lby_members)
    assert not r["partner"].astype("str").eq("WLD").any()


def test_family_priors_weigh_by_what_each_family_says():
    """A break (prior 0.25, 3 decades of surprise) beside a faint mirror gap (prior 1, 0.1 decade): weighted, the
    prior stays near the break's (0.27); "any" (the chance that one family points at misreporting) gives 1."""
    from tradeanomaly.ranking.evidence import mix_priors

    prior, surprise, by = pd.Series([0.25, 1.0]), pd.Series([3.0, 0.1]), [np.array(["a", "a"])]
    w = mix_priors(prior, surprise, by, RankingParams())
    assert w.iloc[0] == pytest.approx((0.25 * 3.0 + 1.0 * 0.1) / 3.1)
    assert mix_priors(prior, surprise, by, RankingParams(prior_mix="any")).iloc[0] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="prior_mix"):
        RankingParams(prior_mix="max")


def test_a_routes_product_leg_joins_it_when_a_gap_of_another_chapter_leads_the_pair():
    """China's machinery exports to Turkey jump while Turkey's machinery exports to the US rise in China's place
    (the route CHN>TUR>USA:84). The pair China -> Turkey's strongest episode is a sharp gap in another chapter
    (beverages, HS 22), so the pair's group is led by it; the machinery leg still joins the route, and the pair
    keeps only the beverages gap."""
    rng = np.random.default_rng(21)
    months = [f"2019-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    route = []
    for t in months[5:11]:
        for s in ("entrepot.pass_through", "entrepot.share_shift", "entrepot.comovement"):
            r = _route("CHN", "TUR", "USA", t, 12.0, 3e9, s)
            r.update(subject="CHN>TUR>USA:84", hs="84")
            route.append(r)
    legs = [_break("CHN", "TUR", t, 6.0, 6e9, 2e9) for t in months[3:10]]
    bev = [_gap("CHN", "TUR", months[2], 10.0, usd=2.5e9, hs="22"), _gap("CHN", "TUR", months[2], 9.0, usd=2.5e9,
                                                                       hs="22", signal="mirror.peer_z")]
    result = ranking.rank_cases(make_findings(rows + route + legs + bev), None)
    m = result.members
    route_case = m.loc[m["subject"] == "CHN>TUR>USA:84", "case_id"].unique()
    assert len(route_case) == 1
    leg_cases = set(m.loc[m["subject"] == "CHN>TUR:84", "case_id"])
    assert leg_cases == set(route_case)
    bev_cases = set(m.loc[m["subject"] == "CHN>TUR:22", "case_id"])
    assert bev_cases and not bev_cases & leg_cases


def test_an_established_supplier_gaining_share_is_diversion_more_than_rerouting():
    """Two routes with the same findings: the US's imports shift from China to Cambodia, which supplied 5% of
    what the US bought from the two, and to Canada, which supplied 40%. Canada's gain is mostly trade diversion:
    its prior is 1 - (0.40 - 0.2) / 0.3 * 0.6 = 0.6 of Cambodia's, and it ranks below; with the rule off they tie."""
    rng = np.random.default_rng(23)
    months = [f"2019-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    for hub, before in (("KHM", 0.05), ("CAN", 0.40)):
        for t in months[4:8]:
            for s in ("entrepot.pass_through", "entrepot.share_shift", "entrepot.comovement"):
                r = _route("CHN", hub, "USA", t, 6.0, 3e9, s)
                if s == "entrepot.share_shift":
                    r.update(value=before + 0.08, expected=before)
                rows.append(r)
    f = make_findings(rows)
    r = ranked(ranking.rank(f, None)).set_index("subject")
    assert r.loc["CHN>KHM>USA", "rank"] < r.loc["CHN>CAN>USA", "rank"]
    assert r.loc["CHN>CAN>USA", "score"] < r.loc["CHN>KHM>USA", "score"] - 0.05
    off = ranked(ranking.rank(f, None, params=RankingParams(route_incumbent_prior=1.0))).set_index("subject")
    assert off.loc["CHN>CAN>USA", "score"] == pytest.approx(off.loc["CHN>KHM>USA", "score"])
    with pytest.raises(ConfigError, match="route_incumbent_share"):
        RankingParams(route_incumbent_share=(0.5, 0.2))


def test_a_pair_goes_to_the_digit_test_that_covers_its_months():
    """Ecuador invents its export figures in 2023-03..2023-07 and Brazil its import figures in 2023-10..2023-12;
    Ecuador -> Brazil disagrees in 2023-03..2023-06, with Ecuador's other partners. Both reporters' tests reach the pair
    (Brazil's within the episode gap), but the months are Ecuador's: the pair is a member of Ecuador's case."""
    rng = np.random.default_rng(25)
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    rows = _background(rng, months)
    rows.append(dict(check="benford", signal="benford.window_first_two", reporter="BRA", subject="BRA[M]",
                     period="2023-12", period_start="2023-10", score=8.0, n_tested=48.0,
                     detail="Brazil's import figures depart from Benford's law"))
    rows.append(dict(check="benford", signal="benford.window_first_two", reporter="ECU", subject="ECU[X]",
                     period="2023-07", period_start="2023-03", score=8.0, n_tested=48.0,
                     detail="Ecuador's export figures depart from Benford's law"))
    for k, partner in enumerate(PARTNERS8):
        for t in months[2:6]:
            rows.append(_gap("ECU", partner, t, 3.0 + 0.1 * k, usd=2e8))
        if partner != "BRA":
            for t in months[9:12]:
                rows.append(_gap(partner, "BRA", t, 3.0 + 0.1 * k, usd=2e8))
    for t in months[9:12]:
        rows.append(_gap("CHN", "BRA", t, 3.3, usd=2e8))
    out = ranking.rank_cases(make_findings(rows), None)
    m = out.members
    ecu_case = m.loc[m["subject"] == "ECU[X]", "case_id"].unique()
    per_case = m.loc[m["subject"] == "BRA[M]", "case_id"].unique()
    assert len(ecu_case) == 1 and len(per_case) == 1 and ecu_case[0] != per_case[0]
    assert set(m.loc[m["subject"] == "ECU>BRA", "case_id"]) == set(ecu_case)


def test_the_importers_figure_in_a_mirror_gap_witnesses_a_jump_its_series_did_not_flag():
    """Italy's exports to Germany jump from 7 to 21 bn; Germany's imports have no break finding of their own, but the
    month's mirror gap carries them: 19 bn at FOB (the jump seen by both: mirrored, 2 bn at stake). France's jump
    to 21 bn beside Germany's 7.5 bn (an invoice export) is not."""
    from tradeanomaly.ranking.evidence import mirrored_breaks

    def gap(exporter, x, m_fob):
        g = _gap(exporter, "DEU", "2022-06", 4.0, usd=x - m_fob, hs="84")
        g.update(value=x, expected=m_fob)
        return g

    rows = [_break("ITA", "DEU", "2022-06", 9.0, 21e9, 7e9), gap("ITA", 21e9, 19e9),
            _break("FRA", "DEU", "2022-06", 9.0, 21e9, 7e9), gap("FRA", 21e9, 7.5e9)]
    f = make_findings(rows)
    alike, diff = mirrored_breaks(f, RankingParams(), amounts=True)
    brk = (f["check"] == "series").to_numpy()
    ita = (f["reporter"] == "ITA").to_numpy()
    assert alike[brk & ita].all() and not alike[brk & ~ita].any() and not alike[~brk].any()
    assert diff[brk & ita] == pytest.approx([2e9])
    assert not mirrored_breaks(f, RankingParams(mirrored_break_from_gaps=False)).any()


def test_a_rush_seen_in_the_pairs_total_a_month_off_is_the_chapters_case():
    """China front-loads electronics to the US ahead of one date (the chapter peaks in 2018-02); the pair's total,
    the sum of all chapters, peaks in 2018-01. One case, not two; a total rush five months away stays apart."""
    rng = np.random.default_rng(27)
    months = [f"{y}-{m:02d}" for y in (2017, 2018) for m in range(1, 13)]
    rows = _background(rng, months)
    total = _rush("CHN", "USA", "", "2018-01", 8.5, 1.2e10)
    total.update(subject="CHN>USA")
    rows += [_rush("CHN", "USA", "85", "2018-02", 9.5, 1.5e10), total]
    r = ranked(ranking.rank(make_findings(rows), None))
    chn = r.loc[r["reporter"].eq("CHN") & r["partner"].eq("USA")]
    assert len(chn) == 1 and chn.iloc[0]["hs"] == "85", chn[["case_id", "subject", "period"]]
    far = dict(total, period="2018-07")
    r2 = ranked(ranking.rank(make_findings(rows[:-1] + [far]), None))
    assert len(r2.loc[r2["reporter"].eq("CHN") & r2["partner"].eq("USA")]) == 2
    off = ranked(ranking.rank(make_findings(rows), None, params=RankingParams(total_date_tolerance=0)))
    assert len(off.loc[off["reporter"].eq("CHN") & off["partner"].eq("USA")]) == 2


def test_the_year_on_year_echo_of_a_padded_quarter_is_its_aftermath():
    """Zhejiang pads 2019-01; fourteen months later its exports of 2020-01..2020-03 fall against that padded base
    (a year-on-year comparison over three months): the echo is the case's aftermath, not a second case; with a
    year's aftermath it would be."""
    rng = np.random.default_rng(29)
    months = [f"{y}-{m:02d}" for y in (2018, 2019, 2020) for m in range(1, 13)]
    rows = _background(rng, months)

    def province(signal, period, score, usd):
        return dict(check="invoice_export", signal=signal, reporter="CHN", partner="", region="CN-ZJ",
                    subject="CN-ZJ", hs="", period=period, score=score, usd_at_stake=usd, n_tested=3000.0,
                    detail="Zhejiang's exports")

    rows += [province("invoice_export.province_excess", "2019-01", 30.0, 2e10),
             province("invoice_export.quarter_opening", "2019-01", 6.0, 1.3e10),
             province("invoice_export.decoupling", "2020-03", 5.0, 2.2e10)]
    f = make_findings(rows)
    zj = ranked(ranking.rank(f, None)).query("subject == 'CN-ZJ'")
    assert zj["period"].tolist() == ["2019-01:2020-03"]
    year = ranked(ranking.rank(f, None, params=RankingParams(aftermath_months=12))).query("subject == 'CN-ZJ'")
    assert len(year) == 2
