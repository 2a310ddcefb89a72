"""Invoice exports: planted pairs and provinces at the top of the family, structural gaps and CIF/FOB margins
not; China -> Hong Kong 2013 in the IMF DOTS file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from signatures_support import check_run, dots_flows, subject_ranks, synth_panel, truth_subject
from tradeanomaly.checks import invoice_export

TOP_K = 10


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_planted_invoice_exports_are_at_the_top(seed):
    panel = synth_panel(seed)
    f = check_run("invoice_export", seed).findings
    ranks = subject_ranks(f)
    truth = panel.truth
    for _, t in truth.loc[truth["kind"].isin(["invoice_export_pair", "invoice_export_province"])].iterrows():
        subj = truth_subject(t)
        assert subj in ranks.index and ranks[subj] < TOP_K, (subj, ranks.head(12))
    # negative controls: entrepôt re-export gaps and publisher estimates are never flagged
    for _, t in truth.loc[truth["negative_control"].astype(str) == "True"].iterrows():
        assert f"{t['reporter']}>{t['partner']}" not in set(f["subject"].str.split(":").str[0]) or \
            t["kind"] == "publisher_estimate" and ranks.get(f"{t['reporter']}>{t['partner']}", 99) >= TOP_K
    assert not f["subject"].isin(["HKG>CHN", "SGP>CHN"]).any()


def _pair_frame(ratios, start=2005):
    rows = []
    for i, r in enumerate(ratios):
        x = 100e9 * 1.05 ** i
        rows += [dict(period=str(start + i), reporter="AAA", partner="BBB", flow="X", hs="TOTAL", value_usd=x),
                 dict(period=str(start + i), reporter="BBB", partner="AAA", flow="M", hs="TOTAL",
                      value_usd=x / r * 1.06)]
    return pd.DataFrame(rows).assign(region="", valuation=lambda d: np.where(d.flow == "X", "FOB", "CIF"),
                                     estimated=False, source="test", quantity=np.nan, quantity_unit="")


def test_margins_and_structural_gaps_are_not_flagged_a_surge_is():
    wobble = [1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.0, 1.02]
    # ordinary CIF/FOB margin: importer's CIF 6% above the exporter's FOB
    assert invoice_export.run(_pair_frame(wobble)).findings.empty
    # a structural gap (ratio 1.8 every year, like an entrepôt) is its own history
    assert invoice_export.run(_pair_frame([1.8 * w for w in wobble])).findings.empty
    # the 2013-style episode: ratio from about 1.15 to 1.63
    f = invoice_export.run(_pair_frame([1.15 * w for w in wobble] + [1.63])).findings
    assert list(f["period"]) == ["2014"] and f["value"].iloc[0] == pytest.approx(1.63, rel=1e-6)
    assert f["score"].iloc[0] > 5 and "above the 1.4 band" in f["detail"].iloc[0]


@pytest.mark.slow
def test_dots_china_hong_kong_2013(shared_data):
    path = shared_file(shared_data, "imf_dots_annual_1960_2020", "dots_annual_bilateral_1960_2020.csv.gz")
    flows = dots_flows(str(path))
    sub = flows.loc[flows["reporter"].isin(["CHN", "HKG"]) & flows["partner"].isin(["CHN", "HKG"])]
    f = invoice_export.run(sub, periods=["2013"]).findings
    row = f.loc[(f["subject"] == "CHN>HKG") & (f["signal"] == "invoice_export.mirror_band")].iloc[0]
    # China reports 384.9 bn of exports, Hong Kong 250.6 bn of imports (236.4 bn FOB): ratio 1.63
    assert row["value"] == pytest.approx(384.877 / (250.625 / 1.06), rel=0.002)
    assert row["score"] > 3.5
    assert "384.9 bn" in row["detail"] and "250.6 bn" in row["detail"]


def _province_frame(seed=3, years=5, pad=None, factor=1.6):
    """12 provinces' monthly exports to the world: each with its own position of a quarter's exports within the
    quarter (some always ship more in the opening month), a common season and noise; ``pad`` = (province,
    months) multiplies those months' figures by ``factor``. The national row is the sum of the true figures."""
    rng = np.random.default_rng(seed)
    periods = [f"{2016 + t // 12}-{t % 12 + 1:02d}" for t in range(12 * years)]
    common = rng.uniform(0.85, 1.15, 12)
    rows = []
    for p in range(12):
        region = f"CN-P{p:02d}"
        level = 1e9 * rng.uniform(0.5, 5)
        own = rng.uniform(0.8, 1.3, 12)  # this province's own month pattern, the same every year
        for t, per in enumerate(periods):
            v = level * common[t % 12] * own[t % 12] * 1.004 ** t * np.exp(rng.normal(0, 0.03))
            true = v
            if pad and region == pad[0] and per in pad[1]:
                v *= factor
            rows.append(dict(period=per, reporter="CHN", region=region, partner="WLD", flow="X", hs="TOTAL",
                             value_usd=v, true=true))
    df = pd.DataFrame(rows)
    # the national row holds the true figures: the padding is booked in the province only
    nat = df.groupby("period", as_index=False)["true"].sum().rename(columns={"true": "value_usd"}).assign(
        reporter="CHN", region="", partner="WLD", flow="X", hs="TOTAL")
    df = df.drop(columns="true")
    return pd.concat([df, nat], ignore_index=True).assign(
        valuation="FOB", estimated=False, source="test", quantity=np.nan, quantity_unit="")


def _quarter_opening(flows):
    params = invoice_export.InvoiceExportParams(signals=("quarter_opening",))
    f = invoice_export.run(flows, params=params).findings
    return f.loc[f["signal"] == "invoice_export.quarter_opening"]


def test_quarter_opening_is_judged_against_the_provinces_own_seasons():
    # a province that always books much of each quarter in its opening month is its own norm: nothing flagged
    assert _quarter_opening(_province_frame()).empty
    # a province padding the opening months of two quarters in the FIRST year of the panel (no history before
    # them) is found there and nowhere else, the padded province first
    pad = ("CN-P04", ["2016-04", "2016-07"])
    f = _quarter_opening(_province_frame(pad=pad))
    assert set(f["subject"]) == {"CN-P04"}
    assert sorted(f["period"]) == ["2016-04", "2016-07"]
    assert (f["score"] > 4.5).all()
    # the same padding later in the panel, against the years before and after it
    pad = ("CN-P09", ["2019-01", "2019-10"])
    f = _quarter_opening(_province_frame(pad=pad))
    assert set(f["subject"]) == {"CN-P09"} and sorted(f["period"]) == ["2019-01", "2019-10"]


def test_provinces_summing_above_the_national_total_name_the_padded_province():
    params = invoice_export.InvoiceExportParams(signals=("province_excess",))
    assert invoice_export.run(_province_frame(), params=params).findings.empty
    # a small province padded by 30% for three months (well inside its peers' noise in dollars)
    months = ["2018-05", "2018-06", "2018-07"]
    flows = _province_frame(pad=("CN-P07", months), factor=1.3)
    f = invoice_export.run(flows, params=params).findings
    assert set(f["subject"]) == {"CN-P07"} and sorted(f["period"]) == months
    pv = flows.loc[(flows["region"] == "CN-P07") & flows["period"].isin(months)].sort_values("period")
    # the amount at stake is the padding: 0.3 / 1.3 of the reported figure, within the noise of the norm
    assert np.allclose(f.sort_values("period")["usd_at_stake"].to_numpy(),
                       pv["value_usd"].to_numpy() * 0.3 / 1.3, rtol=0.15)
    assert "more than the national total" in f["detail"].iloc[0]


def test_each_pair_total_names_the_products_of_its_own_excess():
    """Two pairs over-invoice in their last year, each in one product: the pair total's explanation names where its
    own excess sits (the second pair's once named products looked up in the first pair's rows)."""
    wobble = [1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.0, 1.02, 1.0]
    rows = []
    for exp, imp, hot, cold in (("AAA", "BBB", "71", "85"), ("CCC", "DDD", "27", "84")):
        for i, w in enumerate(wobble):
            period = str(2005 + i)
            inflate = 1.7 if i == len(wobble) - 1 else 1.0
            hot_x, cold_x = 60e9 * 1.05 ** i, 40e9 * 1.05 ** i
            for hs, x in (("TOTAL", hot_x * inflate + cold_x), (hot, hot_x * inflate), (cold, cold_x)):
                m = (hot_x + cold_x if hs == "TOTAL" else (hot_x if hs == hot else cold_x)) * 1.06 * w
                rows += [dict(period=period, reporter=exp, partner=imp, flow="X", hs=hs, value_usd=x),
                         dict(period=period, reporter=imp, partner=exp, flow="M", hs=hs, value_usd=m)]
    flows = pd.DataFrame(rows).assign(region="", valuation=lambda d: np.where(d.flow == "X", "FOB", "CIF"),
                                      estimated=False, source="test", quantity=np.nan, quantity_unit="")
    f = invoice_export.run(flows).findings
    tot = f.loc[~f["subject"].str.contains(":") & f["period"].eq("2014")].set_index("subject")
    assert {"AAA>BBB", "CCC>DDD"} <= set(tot.index), f[["subject", "period", "signal"]]
    assert "the excess sits in HS 71" in tot.loc["AAA>BBB", "detail"]
    assert "the excess sits in HS 27" in tot.loc["CCC>DDD", "detail"]
