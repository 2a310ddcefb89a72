"""Reference codes: country crosswalk, groups, provinces, HS codes."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pycountry
import pytest
from conftest import shared_file

from tradeanomaly.codes import (
    AGGREGATE_CODES,
    ASEAN,
    COASTAL,
    EU27,
    GROUPS,
    HS2_NAMES,
    HS_SECTIONS,
    HUBS,
    PROVINCES,
    country_name,
    country_names,
    crosswalk,
    expand,
    group_members,
    hs_level,
    hs_name,
    hs_section,
    is_country,
    normalise_hs,
    province_name,
    resolve_countries,
    resolve_provinces,
    rollup,
)
from tradeanomaly.codes.countries import aliases, name_key
from tradeanomaly.errors import ConfigError


def _resolve(values, system="auto"):
    out = resolve_countries(pd.Series(values, dtype="str"), system)
    return list(zip(out["iso3"], out["kind"]))


# --------------------------------------------------------------------------------------------- countries


@pytest.mark.parametrize(
    ("value", "system", "iso3"),
    [
        ("842", "comtrade", "USA"), ("840", "comtrade", "USA"), ("842", "m49", "USA"), ("840", "m49", "USA"),
        ("699", "comtrade", "IND"), ("356", "m49", "IND"), ("757", "comtrade", "CHE"), ("756", "m49", "CHE"),
        ("251", "comtrade", "FRA"), ("250", "m49", "FRA"), ("579", "comtrade", "NOR"), ("578", "m49", "NOR"),
        ("490", "comtrade", "TWN"), ("344", "comtrade", "HKG"), ("156", "comtrade", "CHN"), ("036", "m49", "AUS"),
        ("36", "m49", "AUS"), ("924", "imf", "CHN"), ("532", "imf", "HKG"), ("546", "imf", "MAC"),
        ("528", "imf", "TWN"), ("111", "imf", "USA"), ("112", "imf", "GBR"), ("134", "imf", "DEU"),
        ("542", "imf", "KOR"), ("576", "imf", "SGP"), ("582", "imf", "VNM"), ("578", "imf", "THA"),
        ("466", "imf", "ARE"), ("283", "imf", "PAN"), ("922", "imf", "RUS"), ("5700", "census", "CHN"),
        ("5820", "census", "HKG"), ("5520", "census", "VNM"), ("2010", "census", "MEX"), ("5830", "census", "TWN"),
        ("China, P.R.: Mainland", "auto", "CHN"), ("China, P.R.: Hong Kong", "auto", "HKG"),
        ("China, P.R.: Macao", "auto", "MAC"), ("Taiwan Province of China", "auto", "TWN"),
        ("Korea, Rep. of", "auto", "KOR"), ("Korea, Republic of", "name", "KOR"), ("South Korea", "auto", "KOR"),
        ("KOREA, SOUTH", "auto", "KOR"), ("Korea, Rep Of", "auto", "KOR"), ("Netherlands, The", "auto", "NLD"),
        ("Viet Nam", "auto", "VNM"), ("Vietnam", "auto", "VNM"), ("United States", "auto", "USA"),
        ("USA", "auto", "USA"), ("usa", "auto", "USA"), ("Russian Federation", "auto", "RUS"),
        ("Türkiye", "auto", "TUR"), ("Turkey", "auto", "TUR"), ("Iran, Islamic Rep. of", "auto", "IRN"),
        ("Egypt, Arab Rep. of", "auto", "EGY"), ("Congo, Dem. Rep. of the", "auto", "COD"),
        ("Congo, Rep. of", "auto", "COG"), ("Côte d'Ivoire", "auto", "CIV"), ("COTE D'IVOIRE", "auto", "CIV"),
        ("Bahamas, The", "auto", "BHS"), ("Gambia, The", "auto", "GMB"), ("Lao People's Dem. Rep.", "auto", "LAO"),
        ("Yemen, Republic of", "auto", "YEM"), ("Venezuela, Rep. Bolivariana de", "auto", "VEN"),
        ("Kyrgyz Rep.", "auto", "KGZ"), ("Slovak Rep.", "auto", "SVK"), ("Czech Rep.", "auto", "CZE"),
        ("São Tomé & Príncipe", "auto", "STP"), ("  saint   lucia ", "auto", "LCA"),
        ("中国", "auto", "CHN"), ("香港", "auto", "HKG"), ("澳门", "auto", "MAC"), ("台湾", "auto", "TWN"),
        ("美国", "auto", "USA"), ("越南", "auto", "VNM"), ("日本", "auto", "JPN"), ("韩国", "auto", "KOR"),
        ("德国", "auto", "DEU"), ("荷兰", "auto", "NLD"), ("阿联酋", "auto", "ARE"), ("印度尼西亚", "auto", "IDN"),
        ("NA", "auto", "NAM"), ("NA", "iso2", "NAM"), ("NAM", "iso3", "NAM"), ("Namibia", "name", "NAM"),
        ("Yugoslavia, SFR", "auto", "YUG"), ("USSR", "auto", "SUN"), ("Czechoslovakia", "auto", "CSK"),
        ("Serbia and Montenegro", "auto", "SCG"), ("Netherlands Antilles", "auto", "ANT"),
    ],
)
def test_resolve_country_codes_and_names(value, system, iso3):
    assert _resolve([value], system) == [(iso3, "country")]


@pytest.mark.parametrize(
    ("value", "system", "expected"),
    [
        ("World", "auto", ("WLD", "world")), ("0", "comtrade", ("WLD", "world")), ("001", "imf", ("WLD", "world")),
        ("Total All Markets", "auto", ("WLD", "world")), ("899", "comtrade", ("NES", "nes")),
        ("Areas, nes", "auto", ("NES", "nes")), ("Countries & Areas not specified", "auto", ("NES", "nes")),
        ("Other Countries not included elsewhere", "auto", ("", "aggregate")),  # DOTS residual: double counts NES
        ("Not Specified", "auto", ("NES", "nes")), ("97", "comtrade", ("", "aggregate")),
        ("EU", "auto", ("", "aggregate")), ("European Union", "auto", ("", "aggregate")),
        ("Euro Area", "auto", ("", "aggregate")), ("Advanced Economies", "auto", ("", "aggregate")),
        ("Emerging and Developing Economies", "auto", ("", "aggregate")),
        ("Sub-Saharan Africa", "auto", ("", "aggregate")), ("Asia", "auto", ("", "aggregate")),
        ("Oceania", "auto", ("", "aggregate")), ("ASEAN", "auto", ("", "aggregate")),
        ("Export earnings: fuel", "auto", ("", "aggregate")), ("0003", "census", ("", "aggregate")),
        ("EUROPEAN UNION", "name", ("", "aggregate")), ("Oceania not specified", "auto", ("NES", "nes")),
        ("Other Oceania, nes", "name", ("NES", "nes")), ("Other Asia, nes", "auto", ("TWN", "country")),
        ("Philippines", "name", ("PHL", "country")), ("Atlantis", "auto", ("", "unknown")),
        ("12345", "auto", ("", "unknown")), ("", "auto", ("", "unknown")), ("999", "imf", ("", "unknown")),
    ],
)
def test_resolve_aggregates_and_unknowns(value, system, expected):
    assert _resolve([value], system) == [expected]


def test_resolve_keeps_index_and_missing_values():
    values = pd.Series(["CHN", None, "842", np.nan], index=[10, 11, 12, 13])
    out = resolve_countries(values)
    assert list(out.index) == [10, 11, 12, 13]
    assert out["iso3"].tolist() == ["CHN", "", "USA", ""]
    assert out["kind"].tolist() == ["country", "unknown", "country", "unknown"]
    numeric = resolve_countries(pd.Series([842, 699, 0]), "comtrade")
    assert numeric["iso3"].tolist() == ["USA", "IND", "WLD"]
    with pytest.raises(ConfigError):
        resolve_countries(values, "fips")


def test_resolve_is_fast_on_ten_million_rows():
    values = pd.Series(["China, P.R.: Mainland", "842", "Korea, Rep. of", "World"] * 2_500_000)
    resolve_countries(values.iloc[:4])  # load tables once
    start = time.perf_counter()
    out = resolve_countries(values)
    elapsed = time.perf_counter() - start
    assert out["iso3"].iloc[:4].tolist() == ["CHN", "USA", "KOR", "WLD"]
    assert (out["iso3"] == "USA").sum() == 2_500_000
    assert elapsed < 5.0  # about 0.5 s on an idle core; a per-row Python loop takes far longer


def test_crosswalk_columns_and_text_codes():
    cw = crosswalk()
    for column in ("iso3", "iso2", "m49", "imf", "name_en", "name_imf", "name_zh"):
        assert column in cw.columns
    assert cw["iso3"].is_unique
    assert (cw.loc[cw["iso3"] == "AFG", "m49"] == "004").all()
    assert (cw.loc[cw["iso3"] == "NAM", "iso2"] == "NA").all()
    imf = cw.loc[cw["imf"] != "", "imf"]
    assert imf.is_unique
    assert len(cw.loc[cw["historic"] == "0"]) >= len(pycountry.countries)


def test_aliases_do_not_conflict():
    table = aliases().assign(key=lambda d: d["alias"].map(name_key))
    targets = table.drop_duplicates(["key", "iso3", "kind"]).groupby("key").size()
    assert targets.max() == 1, targets[targets > 1]


def test_chinese_names_cover_main_partners():
    partners = ["中国", "香港", "澳门", "台湾", "美国", "越南", "日本", "韩国", "德国", "荷兰", "新加坡", "马来西亚", "泰国",
                "墨西哥", "印度", "英国", "法国", "意大利", "加拿大", "澳大利亚", "俄罗斯", "巴西", "印度尼西亚",
                "菲律宾", "阿联酋", "瑞士", "比利时", "沙特阿拉伯", "南非", "西班牙", "智利", "土耳其", "波兰",
                "伊拉克", "伊朗", "巴基斯坦", "孟加拉国", "尼日利亚", "埃及", "以色列", "秘鲁", "阿根廷", "哥伦比亚",
                "哈萨克斯坦", "新西兰", "阿曼", "科威特", "卡塔尔", "安哥拉", "瑞典", "奥地利", "丹麦", "芬兰",
                "挪威", "爱尔兰", "捷克", "匈牙利", "乌克兰", "柬埔寨", "缅甸", "老挝", "蒙古"]
    out = resolve_countries(pd.Series(partners))
    assert (out["kind"] == "country").all(), [p for p, k in zip(partners, out["kind"]) if k != "country"]
    assert out["iso3"].is_unique


def test_country_names_for_reports():
    assert country_name("HKG") == "Hong Kong"
    assert country_name("USA") == "United States"
    assert country_name("CHN") == "China"
    assert country_name("VNM") == "Vietnam"
    assert country_name("WLD") == "World"
    assert country_name("CHN", lang="zh") == "中国"
    assert country_name("QQQ") == "QQQ"
    names = country_names(pd.Series(["KOR", "TWN", None], index=[5, 6, 7]))
    assert names.tolist() == ["South Korea", "Taiwan", ""]
    assert list(names.index) == [5, 6, 7]
    assert is_country(pd.Series(["CHN", "WLD", "NES", "", "YUG", "XXX"])).tolist() == [
        True, False, False, False, True, False]


# --------------------------------------------------------------------------------------------- real files


def test_dots_annual_names_all_resolve(shared_data):
    path = shared_file(shared_data, "imf_dots_annual_1960_2020", "dots_annual_bilateral_1960_2020.csv.gz")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], usecols=["reporter", "partner"],
                     engine="pyarrow")
    names = pd.Series(sorted(set(df["reporter"]) | set(df["partner"])))
    out = resolve_countries(names, "name")
    unknown = names[out["kind"] == "unknown"].tolist()
    assert unknown == []
    assert len(names) == 243
    assert (out["kind"] == "country").sum() == 219
    by_name = dict(zip(names, out["iso3"]))
    assert by_name["China, P.R.: Mainland"] == "CHN"
    assert by_name["Eastern Germany"] == "DDR"
    assert by_name["Yemen Arab Rep."] == "YAR"
    assert by_name["World"] == "WLD"
    assert by_name["Countries & Areas not specified"] == "NES"
    # Two names for one economy would double its trade.
    countries = out.loc[out["kind"] == "country", "iso3"]
    assert countries.is_unique


def test_imf_codes_agree_with_names_in_gfi_and_dots_monthly(shared_data):
    path = shared_file(shared_data, "gfi_dots_misinvoicing_2015_2018", "gfi_dots_orphaned_lost_2015_2018.csv.gz")
    gfi = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    pairs = pd.concat([
        gfi[["ctyname", "ctycode"]].set_axis(["name", "code"], axis=1),
        gfi[["pctyname", "pctycode"]].set_axis(["name", "code"], axis=1),
    ]).drop_duplicates()
    by_name = resolve_countries(pairs["name"], "name")["iso3"].to_numpy()
    by_code = resolve_countries(pairs["code"], "imf")["iso3"].to_numpy()
    assert (by_name != "").all()
    assert pairs[by_name != by_code].empty
    path = shared_file(shared_data, "imf_dots_monthly_g7_2024m2", "DOTS_G7_2024M2.csv")
    monthly = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    codes = resolve_countries(monthly["Counterpart Country Code"], "imf")["iso3"]
    names = resolve_countries(monthly["Counterpart Country Name"], "name")["iso3"]
    assert (codes == names).all()
    assert set(resolve_countries(monthly["Country Code"], "imf")["iso3"]) == {
        "USA", "GBR", "FRA", "DEU", "ITA", "CAN", "JPN"}


def test_comtrade_codes_agree_with_published_iso(shared_data):
    folder = "comtrade_china_sitc2_2010_2018"
    path = shared_file(shared_data, folder, "comtrade_world_exports_selected_sitc2_2010_2018.csv")
    ct = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    pairs = ct[["Reporter Code", "Reporter", "Reporter ISO"]].drop_duplicates()
    by_code = resolve_countries(pairs["Reporter Code"], "comtrade")["iso3"].to_numpy()
    by_name = resolve_countries(pairs["Reporter"], "name")["iso3"].to_numpy()
    # Comtrade leaves the ISO of 490 "Other Asia, nes" blank; its figures are Taiwan's.
    published = pairs["Reporter ISO"].where(pairs["Reporter Code"] != "490", "TWN").to_numpy()
    assert len(pairs) == 177
    assert (by_code == published).all()
    assert (by_name == by_code).all()


def test_census_codes_agree_with_names(shared_data):
    path = shared_file(shared_data, "us_census_hs10_imports_by_country_2024", "us_imports_hs2_2024_all_countries.csv")
    census = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], usecols=["cty_code", "cty_name"])
    pairs = census.drop_duplicates()
    by_code = resolve_countries(pairs["cty_code"], "census")
    by_name = resolve_countries(pairs["cty_name"], "name")
    assert len(pairs) == 226
    assert (by_code["kind"] != "unknown").all()
    assert (by_code["iso3"].to_numpy() == by_name["iso3"].to_numpy()).all()
    assert (by_code["kind"] == "aggregate").sum() == 1  # 0003 EUROPEAN UNION


def test_singstat_markets_all_resolve(shared_data):
    path = shared_file(shared_data, "singstat_singapore_monthly_trade_by_market_2003_2025",
                       "singapore_monthly_trade_by_market_tidy.csv")
    sg = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], usecols=["market", "level"])
    markets = sg.drop_duplicates()
    out = resolve_countries(markets["market"])
    assert (out["kind"] != "unknown").all(), markets.loc[out["kind"].eq("unknown").to_numpy(), "market"].tolist()
    regions = markets["level"].eq("region").to_numpy()
    assert (out.loc[regions, "kind"] == "aggregate").all()
    assert (out.loc[markets["level"].eq("total").to_numpy(), "iso3"] == "WLD").all()


# --------------------------------------------------------------------------------------------- groups


def test_groups():
    assert len(ASEAN) == 10 and len(set(ASEAN)) == 10
    assert len(EU27) == 27 and "GBR" not in EU27 and "HRV" in EU27
    assert HUBS == ("HKG", "SGP", "NLD", "BEL", "ARE", "PAN", "CHE", "MAC")
    assert AGGREGATE_CODES == ("WLD", "NES")
    assert group_members("eu27") == EU27 == GROUPS["EU27"]
    assert group_members("Asean") == ASEAN
    known = set(crosswalk()["iso3"])
    assert all(set(members) <= known for members in GROUPS.values())
    expanded = expand(["USA", "EU27", "Germany", "hubs"])
    assert expanded[:2] == ("USA", "AUT")
    assert len(expanded) == 1 + 27 + 6  # Germany and the hubs NLD, BEL are already EU27 members
    assert expand("EU") == EU27
    with pytest.raises(ConfigError, match="Atlantis"):
        expand(["Atlantis"])
    with pytest.raises(ConfigError):
        group_members("nowhere")


# --------------------------------------------------------------------------------------------- provinces


def test_provinces_match_iso_3166_2():
    iso = {s.code for s in pycountry.subdivisions.get(country_code="CN")} - {"CN-HK", "CN-MO", "CN-TW"}
    assert len(PROVINCES) == 31
    assert PROVINCES["code"].is_unique
    assert set(PROVINCES["code"]) == iso
    assert PROVINCES["type"].value_counts().to_dict() == {
        "province": 22, "autonomous region": 5, "municipality": 4}
    assert set(COASTAL) == {"CN-LN", "CN-HE", "CN-TJ", "CN-SD", "CN-JS", "CN-SH", "CN-ZJ", "CN-FJ", "CN-GD",
                            "CN-GX", "CN-HI"}


@pytest.mark.parametrize("column", ["code", "name_en", "name_zh", "name_zh_short"])
def test_every_province_resolves_from_each_name(column):
    assert resolve_provinces(PROVINCES[column]).tolist() == PROVINCES["code"].tolist()


def test_province_spellings():
    values = pd.Series(["北京市", "北京", "广东省", "Guangdong Province", "内蒙古自治区", "内蒙古", "Nei Mongol",
                        "Inner Mongolia", "Tibet", "Xizang", "Shaanxi", "shanxi", "Henan", "Hong Kong", None])
    assert resolve_provinces(values).tolist() == [
        "CN-BJ", "CN-BJ", "CN-GD", "CN-GD", "CN-NM", "CN-NM", "CN-NM", "CN-NM", "CN-XZ", "CN-XZ", "CN-SN",
        "CN-SX", "CN-HA", "", ""]
    assert province_name("CN-NM") == "Inner Mongolia"
    assert province_name("cn-gd", lang="zh") == "广东"


# --------------------------------------------------------------------------------------------- HS


def test_normalise_hs_restores_zeros_and_totals():
    values = pd.Series(["8542.31", "10121", "101", "1", "TOTAL", "all", "AG0", "", "85 42", "x12", None,
                        "12345678901", "0101210000"])
    assert normalise_hs(values).tolist() == [
        "854231", "010121", "0101", "01", "TOTAL", "TOTAL", "TOTAL", "TOTAL", "8542", "", "", "", "0101210000"]
    assert normalise_hs(pd.Series([10121, 8542, 1])).tolist() == ["010121", "8542", "01"]
    assert normalise_hs(pd.Series([10121.0, np.nan])).tolist() == ["010121", ""]
    assert normalise_hs(pd.Series(["854231", "85", "TOTAL"]), digits=4).tolist() == ["8542", "", "TOTAL"]


def test_rollup_level_section_and_names():
    codes = pd.Series(["8542310000", "010121", "TOTAL", "71", "bad"])
    assert rollup(codes, 2).tolist() == ["85", "01", "TOTAL", "71", ""]
    assert rollup(codes, 6).tolist() == ["854231", "010121", "TOTAL", "", ""]
    assert hs_level(codes).tolist() == [10, 6, 0, 2, -1]
    assert hs_section(codes).tolist() == [16, 1, 0, 14, 0]
    assert hs_name("8542.31") == "electrical machinery and electronics"
    assert hs_name("84") == "machinery and computers"
    assert hs_name("27") == "mineral fuels"
    assert "gold" in hs_name("710812")
    with pytest.raises(ConfigError):
        rollup(codes, 3)


def test_hs_tables_are_complete():
    chapters = {f"{c:02d}" for c in range(1, 98)} - {"77"}
    assert set(HS_SECTIONS) == chapters
    assert set(range(1, 22)) == set(HS_SECTIONS.values())
    assert chapters <= set(HS2_NAMES)
    assert HS_SECTIONS["27"] == 5 and HS_SECTIONS["85"] == 16 and HS_SECTIONS["97"] == 21
