"""Mirror check on the real IMF DOTS annual file (2022 vintage), and against GFI's pairs of the 2019 vintage.

Reads ../shared/data through the `shared_data` fixture; skips when it is absent. Slow (reading 2.6 million rows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks import mirror
from tradeanomaly.codes import is_country, resolve_countries
from tradeanomaly.sources import read_source

from conftest import REPO, shared_file

pytestmark = [pytest.mark.slow, pytest.mark.shared]

TEST_PERIODS = ["2012", "2013", "2014", "2017", "2018"]


@pytest.fixture(scope="module")
def dots(shared_data):
    path = shared_file(shared_data, "imf_dots_annual_1960_2020", "dots_annual_bilateral_1960_2020.csv.gz")
    read = read_source("table", [path], column_map=REPO / "configs" / "maps" / "imf-dots-long.yaml")
    # the 2012-2018 norms need 8 earlier years; older years only cost time
    flows = read.flows.loc[read.flows["period"] >= "2003"].reset_index(drop=True)
    return flows, mirror.run(flows, periods=TEST_PERIODS)


def fraud_list(findings: pd.DataFrame, period: str) -> pd.DataFrame:
    f = findings[(findings["check"] == "mirror") & (findings["signal"] != "mirror.entrepot")
                 & (findings["period"] == period)]
    return f.drop_duplicates("subject").reset_index(drop=True)


def test_china_hong_kong_2013_is_a_top_finding(dots):
    _, res = dots
    # mirror scores are rarity (the robust z, capped); the ranking weighs the dollars. By dollars beyond the band
    # and the pair's own norm, China -> Hong Kong is the first mirror finding of 2013
    top = fraud_list(res.findings.sort_values("usd_at_stake", ascending=False, kind="mergesort"), "2013")
    assert top["subject"].iloc[0] == "CHN>HKG"
    row = top[top["subject"] == "CHN>HKG"].iloc[0]
    assert row["detail"].startswith(
        "China reports 384.9 bn USD of exports to Hong Kong; Hong Kong reports 250.6 bn of imports from China "
        "(236.4 bn FOB at τ = 6%); the gap of 148.4 bn is")
    assert "above the pair's 2005–2012 norm" in row["detail"] and row["score"] > 4
    # at stake: the smaller of the excess over the CIF value (134.3 bn) and the excess over the pair's norm
    g = res.tables["mirror_gaps"]
    gr = g[(g["exporter"] == "CHN") & (g["importer"] == "HKG") & (g["period"].astype(str) == "2013")].iloc[0]
    assert gr["usd_beyond_band"] == pytest.approx(384.877e9 - 250.625e9, rel=1e-3)
    assert row["usd_at_stake"] == pytest.approx(min(gr["usd_beyond_band"], gr["usd_beyond_norm"]), rel=1e-9)
    assert 110e9 < row["usd_at_stake"] < 125e9


def test_the_rise_of_the_gap_is_visible_2012_2014(dots):
    _, res = dots
    g = res.tables["mirror_gaps"]
    ch = g[(g["exporter"] == "CHN") & (g["importer"] == "HKG")]
    ch = ch.set_index(ch["period"].astype(str))
    gap = ch["gap_usd"] / 1e9
    assert gap["2011"] < gap["2012"] < gap["2013"] > gap["2014"]
    assert gap["2013"] == pytest.approx(148.4, abs=0.1)
    z = ch["z_own"]
    assert z["2013"] > 4 and z["2012"] > 3 and z["2013"] > z["2012"] > z["2011"] and z["2014"] < z["2013"]
    assert (ch.loc[["2012", "2013", "2014"], "n_history"] == 8).all()


def test_hong_kong_to_china_is_an_entrepot_effect(dots):
    _, res = dots
    g = res.tables["mirror_gaps"]
    hk = g[(g["exporter"] == "HKG") & (g["importer"] == "CHN") & (g["period"].astype(str) == "2013")].iloc[0]
    assert bool(hk["entrepot"]) and hk["gap_usd"] > 200e9
    f = res.findings[(res.findings["subject"] == "HKG>CHN") & (res.findings["period"] == "2013")]
    assert list(f["signal"]) == ["mirror.entrepot"]
    assert "entrepôt effect" in f["detail"].iloc[0] and "not ranked as fraud" in f["detail"].iloc[0]
    assert "HKG>CHN" not in set(fraud_list(res.findings, "2013")["subject"].head(20))


def test_estimates_are_excluded_and_counted(dots):
    flows, res = dots
    led = next(l for l in res.ledgers if l.stage == "mirror.pairing")
    assert led.rows_in == len(flows) == sum(led.counts.values())
    both = is_country(flows["reporter"]).to_numpy() & is_country(flows["partner"]).to_numpy()
    national = both & (flows["reporter"] != flows["partner"]).to_numpy()
    expected = int((flows["estimated"].to_numpy() & national).sum())
    assert expected > 50_000 and led.counts["estimated"] == expected
    # no pair rests on an estimate
    est = flows[flows["estimated"]]
    exp_ = np.where(est["flow"] == "X", est["reporter"], est["partner"])
    imp_ = np.where(est["flow"] == "X", est["partner"], est["reporter"])
    est_keys = set(zip(est["period"], exp_, imp_))
    g = res.tables["mirror_gaps"]
    pair_keys = set(zip(g["period"].astype(str), g["exporter"].astype(str), g["importer"].astype(str)))
    assert not (est_keys & pair_keys)
    # the reliability table carries each reporter's share of estimated rows
    rel = res.tables["reliability"].set_index("country")
    assert rel.loc["CHN", "estimated_share"] < 0.05


def test_dollar_gaps_agree_with_gfi_2017_2018(dots, shared_data):
    _, res = dots
    path = shared_file(shared_data, "gfi_dots_misinvoicing_2015_2018", "gfi_dots_trade_misinvoicing_2015_2018.csv.gz")
    gfi = pd.read_csv(path, dtype={"ctycode_m": str, "ctycode_x": str, "year_m": str}, keep_default_na=False,
                      na_values=[""])
    # GFI divided CIF imports by 1.06 and made no Hong Kong adjustment in 2017-2018: the same as tau = 6%
    gfi = gfi[gfi["year_m"].isin(["2017", "2018"]) & (gfi["indcode_m"] == "TMG_CIF_USD")]
    codes = pd.unique(pd.concat([gfi["ctycode_m"], gfi["ctycode_x"]]))
    iso = dict(zip(codes, resolve_countries(pd.Series(codes), "imf")["iso3"]))
    gfi = gfi.assign(period=gfi["year_m"], exporter=gfi["ctycode_x"].map(iso), importer=gfi["ctycode_m"].map(iso),
                     gfi_gap=gfi["value_x"] - gfi["value_m"])
    g = res.tables["mirror_gaps"]
    g = g[g["period"].astype(str).isin(["2017", "2018"])]
    g = g.assign(**{c: g[c].astype(str) for c in ("period", "exporter", "importer")})
    j = gfi.merge(g, on=["period", "exporter", "importer"], how="inner")
    assert len(j) > 30_000
    rel = (j["gap_usd"] - j["gfi_gap"]).abs() / j["gfi_gap"].abs()
    assert rel.median() < 0.01
    # where the two vintages report the same figures, the gaps are the same; every pair that differs by more
    # than 1% has a figure revised between the May-2019 and the 2022 vintage, or differs by less than the
    # rounding of the 2022 file (values in millions with two decimals: 5,000 USD on each side)
    half_unit = 5_000.0
    revised = ((j["x_usd"] - j["value_x"]).abs() > half_unit) | (
        (j["m_usd"] - 1.06 * j["value_m"]).abs() > 1.06 * half_unit)
    rounding = (j["gap_usd"] - j["gfi_gap"]).abs() <= 2 * half_unit + 1
    differs = rel > 0.01
    assert differs.sum() > 0 and (revised | rounding)[differs].all()
    ch = j[(j["exporter"] == "CHN") & (j["importer"].isin(["USA", "HKG"]))]
    assert len(ch) == 4 and ((ch["gap_usd"] - ch["gfi_gap"]).abs() < 1.0).all()
