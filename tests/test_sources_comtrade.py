"""UN Comtrade reader: Comtrade Plus JSON / CSV / bulk files and the legacy website export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.errors import SourceFormatError, TradeAnomalyError
from tradeanomaly.schema import FLOW_COLUMNS
from tradeanomaly.sources import read_source
from tradeanomaly.sources import comtrade

from conftest import shared_file

FIX = Path(__file__).parent / "fixtures" / "comtrade"


def _row(flows: pd.DataFrame, **key) -> pd.Series:
    m = np.ones(len(flows), dtype=bool)
    for k, v in key.items():
        m &= (flows[k] == v).to_numpy()
    assert m.sum() == 1, f"expected one row for {key}, found {m.sum()}"
    return flows.loc[m].iloc[0]


def test_plus_api_json_breakdowns_valuation_and_ledger():
    res = read_source("comtrade", FIX / "plus_api_chn_2023_annual.json")
    f, led = res.flows, res.ledger
    assert list(f.columns) == list(FLOW_COLUMNS)
    assert dict(led.counts) == {
        "second_partner_breakdown": 1, "mode_breakdown": 1, "procedure_breakdown": 1, "other_flow": 2,
        "aggregate_area": 1, "missing_value": 1, "negative_value": 1, "unknown_country": 1, "duplicate": 1,
        "kept": 7,
    }
    assert led.rows_in == 17 == sum(led.counts.values())
    assert led.stage == "read:comtrade" and led.inputs == ["plus_api_chn_2023_annual.json"]
    x = _row(f, partner="USA", flow="X", hs="TOTAL")
    assert x["value_usd"] == 500291234567.12 and x["valuation"] == "FOB" and x["period"] == "2023"
    m = _row(f, partner="USA", flow="M", hs="TOTAL")
    assert m["value_usd"] == 164158123456.5 and m["valuation"] == "CIF"
    assert _row(f, partner="WLD", flow="X")["value_usd"] == 3379000000000.0
    assert _row(f, partner="NES", flow="X")["value_usd"] == 1234567.0
    # an import valued FOB by the reporter (no cifvalue) keeps valuation FOB
    fob_import = _row(f, partner="VNM", flow="M", hs="851712")
    assert fob_import["valuation"] == "FOB" and fob_import["value_usd"] == 2000.0
    # net weight preferred to the quantity in units; else quantity with its unit
    kg = _row(f, partner="VNM", flow="X", hs="851712")
    assert kg["quantity"] == 123456.7 and kg["quantity_unit"] == "kg"
    u = _row(f, partner="VNM", flow="X", hs="010121")
    assert u["quantity"] == 12.0 and u["quantity_unit"] == "u"
    # quantity estimates do not make the value an estimate
    assert not f["estimated"].any()
    assert set(f["reporter"]) == {"CHN"} and set(f["source"]) == {"comtrade"}


def test_api_csv_restores_lost_leading_zeros():
    res = read_source("comtrade", FIX / "plus_api_vnm_202403_monthly.csv")
    f, led = res.flows, res.ledger
    assert dict(led.counts) == {"mode_breakdown": 1, "non_numeric_value": 1, "kept": 5}
    assert sorted(f["hs"]) == ["010121", "030617", "847130", "847130", "TOTAL"]
    assert set(f["period"]) == {"2024-03"}
    assert any("2 cmdCode value(s) had lost their leading zero" in n for n in led.notes)
    horses = _row(f, hs="010121")
    assert horses["value_usd"] == 183500.0 and horses["quantity"] == 3 and horses["quantity_unit"] == "u"
    cif = _row(f, flow="M", hs="847130")
    assert cif["partner"] == "CHN" and cif["valuation"] == "CIF" and cif["value_usd"] == 610000.0


def test_bulk_tab_separated_gzip_with_ref_year_and_month():
    res = read_source("comtrade", FIX / "bulk_fra_2022_H6.txt.gz")
    f, led = res.flows, res.ledger
    assert dict(led.counts) == {"mode_breakdown": 1, "other_flow": 1, "non_hs_classification": 1, "kept": 4}
    assert set(f["reporter"]) == {"FRA"} and set(f["period"]) == {"2022"}
    assert _row(f, flow="M", partner="WLD")["value_usd"] == 818172000000.0
    assert _row(f, flow="RX", partner="WLD")["value_usd"] == 0.0
    wine = _row(f, flow="X", partner="CHN", hs="220421")
    assert wine["value_usd"] == 1312000000.25 and wine["quantity"] == 52000000.0
    assert any("allow_sitc" in n for n in led.notes)


def test_allow_sitc_keeps_sitc_codes():
    res = read_source("comtrade", FIX / "bulk_fra_2022_H6.txt.gz", allow_sitc=True)
    assert dict(res.ledger.counts) == {"mode_breakdown": 1, "other_flow": 1, "kept": 5}
    assert _row(res.flows, hs="11")["value_usd"] == 4000000000.0
    assert any("SITC" in n for n in res.ledger.notes)
    # the option also arrives as text from the command line
    assert read_source("comtrade", FIX / "bulk_fra_2022_H6.txt.gz", allow_sitc="true").ledger.kept == 5


def test_legacy_website_export():
    res = read_source("comtrade", FIX / "legacy_usa_201805_hs.csv")
    f, led = res.flows, res.ledger
    assert dict(led.counts) == {"second_partner_breakdown": 1, "non_hs_classification": 1, "kept": 5}
    assert set(f["period"]) == {"2018-05"} and set(f["reporter"]) == {"USA"}
    assert _row(f, flow="M", partner="CHN")["value_usd"] == 38912345678.0
    assert _row(f, flow="RX", partner="CHN")["value_usd"] == 45678901.0
    horses = _row(f, partner="HKG")
    assert horses["hs"] == "0101" and horses["quantity"] == 2100.0 and horses["quantity_unit"] == "kg"


def test_several_files_merge_ledgers_and_count_cross_file_duplicates():
    one = FIX / "plus_api_vnm_202403_monthly.csv"
    res = read_source("comtrade", [one, one, FIX / "bulk_fra_2022_H6.txt.gz"])
    led = res.ledger
    assert led.rows_in == 7 + 7 + 7 == sum(led.counts.values())
    assert led.counts["duplicate"] == 5 and led.kept == 5 + 4 == len(res.flows)
    assert led.inputs == ["plus_api_vnm_202403_monthly.csv", "bulk_fra_2022_H6.txt.gz"]


@pytest.mark.parametrize("content, expect", [
    ("", "empty"),
    ("{not json", "not valid JSON"),
    (json.dumps({"elapsedTime": "0", "count": 0, "data": [], "error": "Invalid subscription key"}), "error"),
    (json.dumps({"results": []}), "`data`"),
    ("reporterCode,partnerCode,flowCode\n156,842,X\n", "cmdCode"),
])
def test_bad_files_raise_source_format_error_naming_the_file(tmp_path, content, expect):
    path = tmp_path / ("bad.json" if content.startswith("{") else "bad.csv")
    path.write_text(content)
    with pytest.raises(SourceFormatError) as err:
        read_source("comtrade", path)
    assert "bad." in str(err.value) and expect in str(err.value)


def test_unknown_option_and_column_map_are_refused():
    with pytest.raises(TradeAnomalyError, match="unknown option"):
        read_source("comtrade", FIX / "legacy_usa_201805_hs.csv", allow_hs=True)
    with pytest.raises(TradeAnomalyError, match="column map"):
        read_source("comtrade", FIX / "legacy_usa_201805_hs.csv", column_map="x.yaml")


def test_header_only_file_gives_an_empty_balanced_ledger(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("period,reporterCode,partnerCode,flowCode,cmdCode,primaryValue\n")
    res = read_source("comtrade", path)
    assert len(res.flows) == 0 and res.ledger.rows_in == 0 and sum(res.ledger.counts.values()) == 0


# -- real data: the legacy website export of China's SITC trade ----------------------------------------------

def _independent_total(path: Path, year: str, flow: str, partner_iso: str) -> int:
    total = 0
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            if rec["Year"] == year and rec["Trade Flow"] == flow and rec["Partner ISO"] == partner_iso:
                total += int(rec["Trade Value (US$)"])
    return total


def test_real_china_sitc_export_totals_and_ledger(shared_data):
    path = shared_file(shared_data, "comtrade_china_sitc2_2010_2018",
                       "comtrade_china_reported_sitc2_10partners_2010_2018.csv")
    res = read_source("comtrade", path, allow_sitc=True)
    f, led = res.flows, res.ledger
    assert led.rows_in == 11345 and dict(led.counts) == {"kept": 11345}
    x_usa_2018 = f.loc[(f["period"] == "2018") & (f["flow"] == "X") & (f["partner"] == "USA"), "value_usd"].sum()
    assert x_usa_2018 == _independent_total(path, "2018", "Export", "USA")
    assert abs(x_usa_2018 - 479.7e9) < 0.1e9  # PROVENANCE.md spot check (DOTS: 480.7 bn)
    x_hkg_2012 = f.loc[(f["period"] == "2012") & (f["flow"] == "X") & (f["partner"] == "HKG"), "value_usd"].sum()
    assert x_hkg_2012 == _independent_total(path, "2012", "Export", "HKG")
    assert abs(x_hkg_2012 - 323.4e9) < 0.1e9
    m_deu_2015 = f.loc[(f["period"] == "2015") & (f["flow"] == "M") & (f["partner"] == "DEU")]
    assert set(m_deu_2015["valuation"]) == {"CIF"}
    assert m_deu_2015["value_usd"].sum() == _independent_total(path, "2015", "Import", "DEU")
    # without allow_sitc nothing is analysed, and the ledger says why
    plain = read_source("comtrade", path)
    assert dict(plain.ledger.counts) == {"non_hs_classification": 11345} and len(plain.flows) == 0


def test_real_world_exports_other_asia_nes(shared_data):
    path = shared_file(shared_data, "comtrade_china_sitc2_2010_2018",
                       "comtrade_world_exports_selected_sitc2_2010_2018.csv")
    res = read_source("comtrade", path, allow_sitc=True)
    assert res.ledger.rows_in == 12033 and dict(res.ledger.counts) == {"kept": 12033}
    # "Other Asia, nes" (Comtrade 490, no ISO in the file) is Taiwan in the shipped crosswalk
    assert (res.flows["reporter"] == "TWN").sum() == 81
    assert set(res.flows["partner"]) == {"WLD"}


def test_comtrade_module_reads_one_file_directly():
    res = comtrade.read_one(FIX / "legacy_usa_201805_hs.csv", allow_sitc=True)
    assert res.ledger.kept == 6 and "77" in set(res.flows["hs"])
