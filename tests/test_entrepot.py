"""Entrepôt rerouting: planted transshipments found at the top, structural hubs not; China -> Vietnam -> US."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from signatures_support import (census_flows, check_run, dots_flows, subject_ranks, synth_panel,
                                truth_subject)
from tradeanomaly.checks import entrepot

TOP_K = 5


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_planted_transshipments_are_at_the_top(seed):
    panel = synth_panel(seed)
    res = check_run("entrepot", seed)
    f = res.findings
    assert (f["check"] == "entrepot").all() and (f["score"] >= 0).all()
    ranks = subject_ranks(f)
    truth = panel.truth
    for _, t in truth.loc[truth["kind"] == "transshipment"].iterrows():
        subj = truth_subject(t)
        assert subj in ranks.index and ranks[subj] < TOP_K, (subj, ranks.head(8))
        hit = f.loc[f["subject"] == subj]
        # found after the rerouting began, with the bound in dollars and the detail naming the hub
        assert (hit["period"] >= t["period_start"]).all()
        # the rerouted amount per month (bounded by both legs' increases and the direct shortfall) reaches a
        # fair share of the planted monthly amount
        months = (int(t["period_end"][:4]) - int(t["period_start"][:4])) * 12 + int(t["period_end"][5:]) - int(
            t["period_start"][5:]) + 1
        assert hit["usd_at_stake"].max() > 0.3 * float(t["usd"]) / months, (subj, hit["usd_at_stake"].max())
    # Hong Kong and Singapore re-export to China structurally: they are never an origin-washing hub for CHN
    assert not f["subject"].str.contains(r">(?:HKG|SGP)>CHN").any()


def test_detail_speaks_trade():
    f = check_run("entrepot", 0).findings
    top = f.loc[f["signal"] == "entrepot.pass_through"].iloc[0]
    assert "exports" in top["detail"] and " bn" in top["detail"] and "pass-through bound" in top["detail"]
    assert top["subject"] == f"{top['reporter']}>{top['hub']}>{top['partner']}:{top['hs']}"


def test_stable_structural_hub_is_not_flagged():
    """A hub that always passes 90% of O's goods on to D (a structural entrepôt) gives no finding; the same hub
    multiplying its pass-through by five after a tariff date does."""
    rows = []
    hubs = ["H%02d" % i for i in range(12)]
    codes = ["VNM", "MYS", "THA", "MEX", "KOR", "JPN", "IND", "IDN", "PHL", "SGP", "HKG", "TWN"]
    for year in range(2012, 2021):
        for code in codes:
            grow = 1.03 ** (year - 2012)
            oh = 10e9 * grow
            hd = 9e9 * grow
            if code == "THA" and year >= 2019:
                oh, hd = oh * 5.0, hd * 5.0
            rows += [dict(period=str(year), reporter="CHN", partner=code, flow="X", hs="TOTAL", value_usd=oh),
                     dict(period=str(year), reporter="USA", partner=code, flow="M", hs="TOTAL", value_usd=hd * 1.06)]
        od = 400e9 * (0.9 if year >= 2019 else 1.0)
        rows.append(dict(period=str(year), reporter="USA", partner="CHN", flow="M", hs="TOTAL", value_usd=od))
    flows = pd.DataFrame(rows).assign(region="", valuation=lambda d: np.where(d.flow == "X", "FOB", "CIF"),
                                      estimated=False, source="test", quantity=np.nan, quantity_unit="")
    f = entrepot.run(flows, periods=["2019", "2020"]).findings
    assert set(f["subject"]) == {"CHN>THA>USA"}
    pt = f.loc[f["signal"] == "entrepot.pass_through"]
    assert len(pt) >= 1 and pt["score"].min() >= 3.5


@pytest.mark.slow
def test_dots_china_vietnam_us_2019_2020(shared_data):
    path = shared_file(shared_data, "imf_dots_annual_1960_2020", "dots_annual_bilateral_1960_2020.csv.gz")
    flows = dots_flows(str(path))
    res = entrepot.run(flows, periods=["2019", "2020"])
    f = res.findings
    for signal in ("entrepot.pass_through", "entrepot.share_shift"):
        top = f.loc[f["signal"] == signal].head(5)
        assert "CHN>VNM>USA" in set(top["subject"]), (signal, top[["subject", "period", "score"]])
    tri = res.tables["triples_A"]
    vnm = tri.loc[(tri["h"] == "VNM") & (tri["d"] == "USA") & (tri["hs"] == "TOTAL")].set_index("period")
    # US imports from Vietnam, CIF as published: 46.5 bn (2017) -> 79.6 bn (2020)
    assert vnm.loc["2020", "hd"] * 1.06 == pytest.approx(79.645e9, rel=0.002)
    assert vnm.loc["2019", "hd0"] * 1.06 == pytest.approx(46.483e9, rel=0.002)
    row = f.loc[(f["subject"] == "CHN>VNM>USA") & (f["signal"] == "entrepot.pass_through")
                & (f["period"] == "2020")].iloc[0]
    # rerouted: the smallest of the rise of Vietnam's exports to the US (28.7 bn), of China's exports to Vietnam
    # (29.9 bn) and of the shortfall of China's direct exports to the US, 2018 -> 2020
    assert row["usd_at_stake"] == pytest.approx(28.71e9, rel=0.01)
    assert "Vietnam's exports to the United States rose" in row["detail"]


def test_census_2024_hub_share_finds_the_solar_module_circumvention(shared_data):
    """One year of US imports by HS10 and partner: no origin -> hub leg and no history, so only the
    cross-sectional hub_share screen applies. Its top product is HS 854143 (photovoltaic modules), which US
    Commerce found in 2023 to be Chinese production routed through Cambodia, Malaysia, Thailand and Vietnam; the
    next are car tyres (HS 401110) and kitchen cabinets (HS 940340), both under US anti-dumping orders on China."""
    path = shared_file(shared_data, "us_census_hs10_imports_by_country_2024", "us_imports_hs10_2024_51partners.csv.gz")
    flows = census_flows(str(path))
    res = entrepot.run(flows)
    f = res.findings
    assert set(f["signal"]) == {"entrepot.hub_share"}
    assert any("hub_share screen was run" in n for n in res.ledgers[0].notes)
    # measured: 854143 z 6.0, 401110 5.2, 271019 4.0, 940340 3.8, 852721 (car radios) 3.7
    assert list(f["hs"].head(2)) == ["854143", "401110"]
    assert {"940340", "271019"} <= set(f["hs"].head(5))
    top = f.iloc[0]
    assert top["score"] == pytest.approx(6.0, abs=0.3)
    assert top["hub"].split("+")[:3] == ["VNM", "THA", "MYS"] and "KHM" in top["hub"].split("+")
    assert top["value"] > 0.99 and top["expected"] == pytest.approx(0.24, abs=0.05)
    # Census: 5.5 bn from Vietnam, 3.0 bn from Thailand, 2.0 bn from Malaysia, 40.0 mn from China
    hs6 = flows.loc[flows["hs"].str.startswith("854143")].groupby("partner")["value_usd"].sum()
    assert hs6["VNM"] == pytest.approx(5.505e9, rel=0.002) and hs6["CHN"] == pytest.approx(40.0e6, rel=0.01)
    assert "5.5 bn from Vietnam" in top["detail"] and "only 40.0 mn from China" in top["detail"]
    assert top["usd_at_stake"] == pytest.approx(13.84e9, rel=0.01)
