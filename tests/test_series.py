"""Series breaks: planted shifts at the top, Chinese New Year and rounding not flagged; Singapore's markets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from signatures_support import check_run, comtrade_flows, subject_ranks, synth_panel
from tradeanomaly.checks import series


def _monthly(values, partner="BBB", start="2015-01"):
    from tradeanomaly.periods import shift

    return pd.DataFrame({"period": [shift(start, i) for i in range(len(values))], "reporter": "AAA", "region": "",
                         "partner": partner, "flow": "X", "hs": "TOTAL", "value_usd": values, "valuation": "FOB",
                         "estimated": False, "source": "test"})


def test_planted_rerouting_shows_as_level_shifts():
    panel = synth_panel(0)
    # level shifts do not depend on the other two signals: run that one alone
    ls = check_run("series", 0, signals=("level_shift",)).findings
    ranks = subject_ranks(ls)
    truth = panel.truth
    # a 2018 start has too little history in a panel that begins in 2017-01 (12 year-on-year changes needed)
    for _, t in truth.loc[(truth["kind"] == "transshipment") & (truth["period_start"] >= "2019-01")].iterrows():
        # the destination's imports from the hub jump when the rerouting starts
        subj = f"{t['partner']}>{t['hub']}:{t['hs']}[M]"
        assert subj in ranks.index and ranks[subj] < 10, (subj, ranks.head(10))
    # the hubs' structural re-export gaps are stable series: no level shift
    assert not ls["subject"].isin(["HKG>CHN", "SGP>CHN"]).any()


def test_chinese_new_year_is_not_a_break():
    rng = np.random.default_rng(1)
    vals = []
    for year in range(8):
        months = 1e9 * 1.05 ** year * np.exp(rng.normal(0, 0.02, 12))
        jan_share = 0.3 if year % 2 else 0.7  # the holiday falls in January one year, February the next
        jf = months[0] + months[1]
        months[0], months[1] = jf * jan_share, jf * (1 - jan_share)
        vals += list(months)
    f = series.run(_monthly(vals)).findings
    assert f.empty
    # without the January-February reading the moving holiday is a break
    raw = series.run(_monthly(vals), params=series.SeriesParams(combine_jan_feb=False)).findings
    assert len(raw) > 0


def test_rounding_noise_of_a_tiny_series_is_not_flagged():
    rng = np.random.default_rng(2)
    vals = np.round(0.2 + rng.uniform(0, 0.3, 120), 1)  # published to 0.1: jumps 0.2 <-> 0.5 are rounding
    f = series.run(_monthly(list(vals))).findings
    assert f.empty
    vals[100:] = vals[100:] + 40.0  # a real step
    f = series.run(_monthly(list(vals))).findings
    assert "series.level_shift" in set(f["signal"]) and (f["period"] >= "2023-05").all()


def _singstat(shared_data):
    path = shared_file(shared_data, "singstat_singapore_monthly_trade_by_market_2003_2025",
                       "singapore_monthly_trade_by_market_tidy.csv")
    from tradeanomaly.codes import resolve_countries

    d = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    d = d.loc[d["level"] == "market"]
    markets = pd.Series(d["market"].unique())
    iso = resolve_countries(markets)["iso3"]
    iso.index = markets
    # values are S$ million, not USD: unit-free growth and z scores do not depend on the currency
    return pd.DataFrame({"period": d["month"].to_numpy(), "reporter": "SGP", "region": "",
                         "partner": d["market"].map(iso).to_numpy(), "flow": d["flow"].to_numpy(), "hs": "TOTAL",
                         "value_usd": pd.to_numeric(d["value_sgd_million"]).to_numpy(),
                         "valuation": np.where(d["flow"] == "X", "FOB", "CIF"), "estimated": False,
                         "source": "singstat"})


def test_singapore_markets_few_alarms_none_from_rounding(shared_data):
    flows = _singstat(shared_data)
    assert flows["partner"].str.len().eq(3).all() and flows["partner"].nunique() >= 150
    f = series.run(flows).findings
    cells = len(flows)
    rates = f.groupby("signal").size() / cells
    # measured: own_history 2.8%, peer 2.7%, level_shift 0.08% of market-months (2008-09 and 2020 included)
    assert rates.get("series.own_history", 0) < 0.04
    assert rates.get("series.peer", 0) < 0.04
    assert rates.get("series.level_shift", 0) < 0.005
    # no alarm is a move of a few rounding steps (0.1 m S$) alone
    own = f.loc[f["signal"] == "series.own_history"]
    lagged = flows.assign(period=flows["period"].map(lambda p: f"{int(p[:4]) + 1}{p[4:]}"))
    key = ["period", "partner", "flow"]
    own = own.assign(flow=np.where(own["subject"].str.endswith("[M]"), "M", "X"))
    j = own.merge(lagged.rename(columns={"value_usd": "prev"})[key + ["prev"]], on=key, how="left")
    step = (j["value"] - j["prev"]).abs()
    jan_feb = j["period"].str.endswith("-02")  # January-February are read as their mean
    assert (step[~jan_feb] > 0.35).all(), j.loc[~jan_feb & (step <= 0.35), ["subject", "period", "value", "prev"]]


def test_comtrade_china_sitc_divisions(shared_data):
    """China's reports by SITC division to its ten partners, 2010-2018 (annual). The strongest breaks are in
    division 93 (special transactions, not classified): exports to Hong Kong fell from 2.1 bn USD (2014) to
    207 thousand (2015), and imports from the US from 7.9 bn to 42 mn the same year. China -> Vietnam in
    divisions 76/77 grew 62% in 2017, within the swings of their own history (+91% and +30% in 2013): no break."""
    path = shared_file(shared_data, "comtrade_china_sitc2_2010_2018",
                       "comtrade_china_reported_sitc2_10partners_2010_2018.csv")
    flows = comtrade_flows(str(path))
    f = series.run(flows, params=series.SeriesParams(classification="SITC")).findings
    own = f.loc[f["signal"] == "series.own_history"]
    top = own.iloc[0]
    assert (top["subject"], top["period"]) == ("CHN>HKG:93", "2015")
    assert top["detail"].startswith("China's exports of SITC 93 to Hong Kong fell 100% in 2015 (207,458 USD")
    assert top["value"] == pytest.approx(207458.0) and top["score"] == pytest.approx(48.1, abs=1.0)
    assert "against 2.1 bn in 2014" in top["detail"]
    us = own.loc[(own["subject"] == "CHN>USA:93[M]") & (own["period"] == "2015")].iloc[0]
    assert us["value"] == pytest.approx(42.134e6, rel=1e-3) and us["score"] > 20
    # measured: 448 own-history, 257 level-shift and 430 peer findings
    assert 350 <= (f["signal"] == "series.own_history").sum() <= 550
    vnm = flows.loc[(flows["partner"] == "VNM") & (flows["flow"] == "X") & flows["hs"].isin(["76", "77"])]
    by = vnm.pivot_table(index="period", columns="hs", values="value_usd", aggfunc="sum")
    assert by.loc["2017", "76"] / by.loc["2016", "76"] == pytest.approx(1.62, abs=0.02)
    assert not f["subject"].isin(["CHN>VNM:76", "CHN>VNM:77"]).any()
    # China's imports of division 42 from Germany: 190.4 mn in 2013, 5.1 mn a year over 2016-18; the erratic
    # history's trend (+1,292% a year) expects 193.6 bn, but the dollars at stake are what moved per period, capped at
    # what was traded: the 2013-15 average (71.8 mn) less the 2016-18 average (5.1 mn)
    de = f.loc[(f["subject"] == "CHN>DEU:42[M]") & (f["signal"] == "series.level_shift")].iloc[0]
    assert de["period"] == "2016" and de["expected"] == pytest.approx(193.6e9, rel=0.01)
    assert de["usd_at_stake"] == pytest.approx((190.389824e6 + 1.178262e6 + 23.858268e6) / 3 - 5.0716e6, rel=1e-3)
