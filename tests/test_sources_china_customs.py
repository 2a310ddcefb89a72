"""China Customs (GACC) reader: wide and long tables, year-to-date -> monthly, units, provinces and countries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tradeanomaly.errors import MissingExtraError, SourceFormatError
from tradeanomaly.schema import FLOW_COLUMNS
from tradeanomaly.sources import china_customs, read_source

FIX = Path(__file__).parent / "fixtures" / "china_customs"
PROVINCE_FILES = [FIX / "gacc_province_2024_01-02.csv", FIX / "gacc_province_2024_03.csv",
                  FIX / "gacc_province_2024_07_en.csv", FIX / "gacc_province_2024_long.csv"]
COUNTRY_CNY = FIX / "gacc_country_2024_03_cny.csv"
RATES = FIX / "cny_per_usd_2024.csv"
K = 1000.0  # the province tables are in thousands of USD


def _value(flows, period, flow, region="", partner="WLD") -> pd.Series:
    m = ((flows["period"] == period) & (flows["flow"] == flow) & (flows["region"] == region)
         & (flows["partner"] == partner))
    assert m.sum() == 1, f"{period} {flow} {region} {partner}: {m.sum()} rows"
    return flows.loc[m].iloc[0]


@pytest.fixture(scope="module")
def provinces():
    return read_source("china-customs", PROVINCE_FILES)


def test_year_to_date_becomes_monthly(provinces):
    f = provinces.flows
    assert list(f.columns) == list(FLOW_COLUMNS)
    assert set(f["reporter"]) == {"CHN"} and set(f["partner"]) == {"WLD"} and set(f["hs"]) == {"TOTAL"}
    # January-February published together, no separate January: split evenly, estimated
    jan, feb = _value(f, "2024-01", "X", "CN-GD"), _value(f, "2024-02", "X", "CN-GD")
    assert jan["value_usd"] == feb["value_usd"] == 102_345_678 * K / 2
    assert jan["estimated"] and feb["estimated"]
    assert _value(f, "2024-02", "M", "CN-XJ")["value_usd"] == 1_753_086 * K / 2
    # March = cum(Mar) - cum(Jan-Feb), not the month column (60,123,456: earlier months were revised)
    mar = _value(f, "2024-03", "X", "CN-GD")
    assert mar["value_usd"] == (162_470_000 - 102_345_678) * K and not mar["estimated"]
    # a month cell "-" does not stop the derivation from the year-to-date figures
    assert _value(f, "2024-03", "M", "CN-ZJ")["value_usd"] == (50_000_000 - 33_000_000) * K
    # national total row (总值) -> CHN, no region
    assert _value(f, "2024-03", "X")["value_usd"] == (807_700_000 - 528_012_345) * K
    # July from the English table minus June's year-to-date from the long form
    assert _value(f, "2024-07", "X", "CN-GD")["value_usd"] == (413_000_000 - 347_500_000) * K
    assert _value(f, "2024-07", "X", "CN-ZJ")["value_usd"] == (322_000_000 - 273_500_000) * K
    # without June's year-to-date figure, the July month column is used
    assert _value(f, "2024-07", "X", "CN-HA")["value_usd"] == 5_900_000 * K
    # December = cum(Dec) - cum(Nov); November (no October) from its month column
    assert _value(f, "2024-12", "X", "CN-GD")["value_usd"] == (767_900_000 - 701_000_000) * K
    assert _value(f, "2024-12", "M", "CN-GD")["value_usd"] == (438_000_000 - 398_000_000) * K
    assert _value(f, "2024-11", "X", "CN-GD")["value_usd"] == 64_000_000 * K
    assert set(f.loc[f["flow"] == "M", "valuation"]) == {"CIF"}
    assert set(f.loc[f["flow"] == "X", "valuation"]) == {"FOB"}
    assert f.loc[f["estimated"], "period"].isin(["2024-01", "2024-02"]).all()


def test_province_ledger_is_exact(provinces):
    led = provinces.ledger
    assert led.unit == "cell" and led.stage == "read:china-customs"
    # 15 + 30 + 24 + 18 value cells, plus one per Jan-Feb figure split into two rows (5 locations x 2 flows)
    assert led.rows_in == 87 + 10
    assert dict(led.counts) == {
        "not_a_flow": 25, "unknown_region": 2, "cumulative_without_previous_month": 10,
        "month_column_superseded": 14, "missing_value": 1, "kept": 45}
    assert led.kept == len(provinces.flows)
    assert any("10 January-February combined" in n for n in led.notes)


def test_monthly_from_month_column():
    res = read_source("china-customs", PROVINCE_FILES[:2], monthly_from="month")
    f = res.flows
    assert _value(f, "2024-03", "X", "CN-GD")["value_usd"] == 60_123_456 * K
    # the missing month cell falls back to the year-to-date difference
    assert _value(f, "2024-03", "M", "CN-ZJ")["value_usd"] == (50_000_000 - 33_000_000) * K
    assert res.ledger.counts["cumulative_superseded"] == 9
    assert res.ledger.rows_in == sum(res.ledger.counts.values())


def test_january_separately_published_is_not_split(tmp_path):
    jan = tmp_path / "gacc_2024_01.csv"
    jan.write_text("2024年1月进出口商品收发货人所在地总值表\n单位：千美元\n收发货人所在地,出口,进口\n"
                   "广东省,\"50,000,000\",\"30,000,000\"\n", encoding="utf-8")
    res = read_source("china-customs", [jan, PROVINCE_FILES[0]])
    f = res.flows
    assert _value(f, "2024-01", "X", "CN-GD")["value_usd"] == 50_000_000 * K
    assert _value(f, "2024-02", "X", "CN-GD")["value_usd"] == (102_345_678 - 50_000_000) * K
    assert not f.loc[f["region"] == "CN-GD", "estimated"].any()
    # the other provinces have no January figure: they are split
    assert f.loc[f["region"] == "CN-BJ", "estimated"].all()


def test_country_table_in_yuan_with_monthly_rates():
    res = read_source("china-customs", COUNTRY_CNY, cny_per_usd=RATES)
    f, led = res.flows, res.ledger
    rate = 7.0950  # March 2024 in the rate file
    assert _value(f, "2024-03", "X", partner="USA")["value_usd"] == pytest.approx(20_000_000 * 1e4 / rate,
                                                                                  rel=1e-12)
    assert _value(f, "2024-03", "X", partner="HKG")["value_usd"] == pytest.approx(17_900_000 * 1e4 / rate,
                                                                                  rel=1e-12)
    assert _value(f, "2024-03", "M", partner="WLD")["value_usd"] == pytest.approx(159_600_000 * 1e4 / rate,
                                                                                  rel=1e-12)
    assert _value(f, "2024-03", "M", partner="NES")["value_usd"] == pytest.approx(1_200 * 1e4 / rate, rel=1e-12)
    assert set(f["region"]) == {""}
    assert sorted(set(f["partner"])) == ["DEU", "HKG", "JPN", "NES", "USA", "VNM", "WLD"]
    # 12 lines x 6 value cells; 亚洲 欧洲 北美洲 东盟 欧盟 are groupings
    assert led.rows_in == 72
    assert dict(led.counts) == {"not_a_flow": 24, "aggregate_area": 20, "cumulative_without_previous_month": 13,
                                "missing_value": 2, "kept": 13}
    one_rate = read_source("china-customs", COUNTRY_CNY, cny_per_usd=7.0950).flows
    pd.testing.assert_frame_equal(one_rate, f)


def test_yuan_without_rate_says_how_to_give_one():
    with pytest.raises(SourceFormatError, match=r"gacc_country_2024_03_cny.csv.*cny_per_usd"):
        read_source("china-customs", COUNTRY_CNY)


def test_rate_file_without_the_month(tmp_path):
    rates = tmp_path / "rates.csv"
    rates.write_text("period,cny_per_usd\n2024-01,7.1\n")
    with pytest.raises(SourceFormatError, match=r"rates.csv.*2024-03"):
        read_source("china-customs", COUNTRY_CNY, cny_per_usd=rates)


def test_gb18030_and_utf8_read_alike(tmp_path):
    utf8 = tmp_path / "gacc_province_2024_01-02_utf8.csv"
    utf8.write_text(PROVINCE_FILES[0].read_bytes().decode("gb18030"), encoding="utf-8")
    a = read_source("china-customs", PROVINCE_FILES[0])
    b = read_source("china-customs", utf8)
    pd.testing.assert_frame_equal(a.flows, b.flows)
    assert dict(a.ledger.counts) == dict(b.ledger.counts) == {"not_a_flow": 5, "kept": 20}


def test_not_a_gacc_table(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes("Lorem ipsum\n1,2,3\n".encode("latin-1"))
    with pytest.raises(SourceFormatError, match="notes.csv.*no header row"):
        read_source("china-customs", path)


def test_unit_missing_or_given(tmp_path):
    path = tmp_path / "gacc_2024_05.csv"
    path.write_text("2024年5月\n地区,出口,进口\n广东省,100,50\n", encoding="utf-8")
    with pytest.raises(SourceFormatError, match="gacc_2024_05.csv.*unit"):
        read_source("china-customs", path)
    res = read_source("china-customs", path, unit="千美元")
    assert _value(res.flows, "2024-05", "X", "CN-GD")["value_usd"] == 100 * K


def test_excel_needs_the_extra(tmp_path):
    path = tmp_path / "gacc_2024_03.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        with pytest.raises(MissingExtraError, match=r"tradeanomaly\[excel\]"):
            read_source("china-customs", path)
    else:
        with pytest.raises(SourceFormatError, match="gacc_2024_03.xlsx"):
            read_source("china-customs", path)


def test_parse_unit_spellings():
    assert china_customs.parse_unit("单位：千美元") == ("USD", 1e3)
    assert china_customs.parse_unit("Unit: USD 1,000") == ("USD", 1e3)
    assert china_customs.parse_unit("单位：万元") == ("CNY", 1e4)
    assert china_customs.parse_unit("Unit: CNY 10,000") == ("CNY", 1e4)
    assert china_customs.parse_unit("单位：亿美元") == ("USD", 1e8)
    assert china_customs.parse_unit("单位：美元") == ("USD", 1.0)
    assert china_customs.parse_unit("单位：吨") is None
