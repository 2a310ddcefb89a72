"""The US Census trade API reader: imports/exports fields, year-to-date periods, group codes, HS text."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest

from conftest import shared_file
from tradeanomaly.errors import ConfigError, SourceFormatError
from tradeanomaly.sources import read_source
from tradeanomaly.sources.census import read

FOLDER = "us_census_hs10_imports_by_country_2024"


def _csv(tmp_path: Path, text: str, name="census.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(scope="module")
def hs2(shared_data):
    return read_source("census", shared_file(shared_data, FOLDER, "us_imports_hs2_2024_all_countries.csv"))


@pytest.fixture(scope="module")
def hs10(shared_data):
    return read_source("census", shared_file(shared_data, FOLDER, "us_imports_hs10_2024_51partners.csv.gz"))


def _independent_totals(path: Path) -> dict[str, float]:
    """Totals by Census country name with the csv module, no pandas and no reader code."""
    opener = gzip.open if path.suffix == ".gz" else open
    out: dict[str, float] = {}
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["cty_name"]] = out.get(row["cty_name"], 0.0) + float(row["con_val_yr_usd"])
    return out


@pytest.mark.shared
def test_hs2_totals_by_partner(hs2, shared_data):
    f = hs2.flows
    assert set(f["reporter"]) == {"USA"} and set(f["flow"]) == {"M"} and set(f["valuation"]) == {"FOB"}
    assert set(f["period"]) == {"2024"} and set(f["source"]) == {"census"}
    by_partner = f.groupby("partner")["value_usd"].sum()
    ref = _independent_totals(shared_file(shared_data, FOLDER, "us_imports_hs2_2024_all_countries.csv"))
    for iso, name in [("CHN", "CHINA"), ("MEX", "MEXICO"), ("VNM", "VIETNAM"), ("CAN", "CANADA"),
                      ("DEU", "GERMANY"), ("NAM", "NAMIBIA")]:
        assert by_partner[iso] == pytest.approx(ref[name], rel=1e-3), iso
    # PROVENANCE: China 429.4 bn on the consumption basis; Census *general* imports from China 2024 are
    # about 438.9 bn, and consumption imports run a little below general imports (goods entering bonded
    # warehouses and zones are counted later or never)
    assert by_partner["CHN"] / 1e9 == pytest.approx(429.43, abs=0.01)
    assert 0.97 < by_partner["CHN"] / 438.9e9 < 1.0
    # the EU aggregate (0003) is set aside, its members are kept: no double counting
    total_countries = sum(v for k, v in ref.items() if k != "EUROPEAN UNION")
    assert f["value_usd"].sum() == pytest.approx(total_countries, rel=1e-12)
    assert f["hs"].str.len().eq(2).all() and "01" in set(f["hs"])


@pytest.mark.shared
def test_hs2_ledger_is_exact(hs2):
    led = hs2.ledger
    assert led.rows_in == 11_251
    # 98 chapters of the EU aggregate; Gaza Strip and West Bank both map to PSE, one chapter overlaps
    assert dict(led.counts) == {"aggregate_area": 98, "merged_codes": 1, "kept": 11_152}
    assert led.examples["aggregate_area"][0]["cty_name"] == "EUROPEAN UNION"
    assert any("period 2024 taken from the file name" in n for n in led.notes)


@pytest.mark.shared
def test_hs10_rolls_up_to_hs2(hs10, hs2):
    led = hs10.ledger
    assert led.rows_in == 209_616
    assert dict(led.counts) == {"aggregate_area": 15_777, "kept": 193_839}  # EU aggregate lines set aside
    f10 = hs10.flows
    assert f10["hs"].str.len().eq(10).all()
    assert f10["hs"].str.startswith("0").any()  # leading zeros kept
    rolled = f10.assign(hs=f10["hs"].str.slice(0, 2)).groupby(["partner", "hs"])["value_usd"].sum()
    chapters = hs2.flows.set_index(["partner", "hs"])["value_usd"]
    for iso in ("CHN", "VNM", "MEX", "KHM"):
        a, b = rolled.loc[iso], chapters.loc[iso]
        common = a.index.intersection(b.index)
        assert len(common) > 60, iso
        # PROVENANCE checked every partner x chapter: the HS10 lines sum exactly to the HS2 value (to the dollar)
        assert (a[common] - b[common]).abs().max() < 1.0, iso
    assert f10.loc[f10.partner == "CHN", "value_usd"].sum() / 1e9 == pytest.approx(429.43, abs=0.01)


# -- API-style extracts made by hand -------------------------------------------------------------------------

IMPORTS = """CTY_CODE,CTY_NAME,I_COMMODITY,CON_VAL_MO,CON_VAL_YR,GEN_VAL_MO,GEN_VAL_YR,time
5700,CHINA,8542310000,100,1200,110,1300,2024-12
5700,CHINA,0101210010,5,60,5,60,2024-12
-,TOTAL FOR ALL COUNTRIES,8542310000,900,9000,950,9500,2024-12
0014,PACIFIC RIM COUNTRIES,8542310000,300,3000,300,3000,2024-12
1XXX,NORTH AMERICA,8542310000,200,2000,200,2000,2024-12
9999,ATLANTIS,8542310000,1,1,1,1,2024-12
5520,VIETNAM,8542310000,7,(D),7,70,2024-12
5520,VIETNAM,0101210010,7,-4,7,70,2024-12
5700,CHINA,8542310000,100,1200,110,1300,2024-12
5880,JAPAN,-,50,500,50,500,2024-12
5880,JAPAN,8542310000,50,500,50,500,2024-06
"""


def test_imports_api_fields_exact_ledger(tmp_path):
    res = read(_csv(tmp_path, IMPORTS))
    led = res.ledger
    assert led.rows_in == 11
    assert dict(led.counts) == {"year_to_date_partial": 1, "duplicate": 1, "aggregate_area": 2,
                                "unknown_country": 1, "non_numeric_value": 1, "negative_value": 1, "kept": 4}
    assert led.examples["unknown_country"][0]["unknown"] == "9999"
    assert led.examples["unknown_country"][0]["cty_name"] == "ATLANTIS"
    assert led.examples["non_numeric_value"][0]["value_usd"] == "(D)"
    f = res.flows.set_index(["partner", "hs"])
    assert f.loc[("CHN", "8542310000"), "value_usd"] == 1200  # consumption, year to date = calendar 2024
    assert f.loc[("CHN", "0101210010"), "value_usd"] == 60
    assert f.loc[("WLD", "8542310000"), "value_usd"] == 9000
    assert f.loc[("JPN", "TOTAL"), "value_usd"] == 500
    assert set(res.flows["period"]) == {"2024"} and set(res.flows["valuation"]) == {"FOB"}


def test_imports_general_basis_and_monthly(tmp_path):
    path = _csv(tmp_path, IMPORTS)
    gen = read(path, basis="general")
    assert gen.flows.set_index(["partner", "hs"]).loc[("CHN", "8542310000"), "value_usd"] == 1300
    monthly = read(path, frequency="M")
    f = monthly.flows
    assert set(f["period"]) == {"2024-12", "2024-06"}
    assert f[(f.partner == "JPN") & (f.period == "2024-06")]["value_usd"].tolist() == [50]
    assert "year_to_date_partial" not in monthly.ledger.counts
    chosen = read(path, value_column="CON_VAL_MO", flow="M")
    assert chosen.ledger.notes[0].endswith("value from `CON_VAL_MO` (imports, FOB, monthly)")


def test_exports_endpoint(tmp_path):
    text = ("CTY_CODE,CTY_NAME,E_COMMODITY,ALL_VAL_MO,time\n"
            "5700,CHINA,1201900095,1000,2024-03\n"
            "5700,CHINA,1201900095,2000,2024-04\n"
            "0003,EUROPEAN UNION,1201900095,50,2024-03\n")
    res = read(_csv(tmp_path, text))
    assert set(res.flows["flow"]) == {"X"} and set(res.flows["valuation"]) == {"FOB"}
    assert res.flows["period"].tolist() == ["2024-03", "2024-04"]
    assert res.flows["value_usd"].tolist() == [1000, 2000]
    assert dict(res.ledger.counts) == {"aggregate_area": 1, "kept": 2}


def test_lowercase_names_period_option_and_cif(tmp_path):
    text = "cty_code,cty_name,hs6,con_cif_yr_usd\n5820,HONG KONG,854231,10\n"
    res = read(_csv(tmp_path, text, name="extract.csv"), period="2023", value_column="con_cif_yr_usd")
    assert res.flows[["partner", "hs", "period", "valuation"]].values.tolist() == [["HKG", "854231", "2023", "CIF"]]


@pytest.mark.parametrize("encoding,name,iso", [("latin-1", "CÔTE D'IVOIRE", "CIV"), ("gb18030", "中国", "CHN")])
def test_encodings_and_name_fallback(tmp_path, encoding, name, iso):
    text = f"CTY_CODE,CTY_NAME,I_COMMODITY,CON_VAL_YR,time\n8888,{name},09,5,2024-12\n8888,{name},18,6,2024-12\n"
    res = read(_csv(tmp_path, text, encoding=encoding))
    assert res.flows["partner"].tolist() == [iso, iso]
    assert res.flows["hs"].tolist() == ["09", "18"]


def test_malformed_files(tmp_path):
    with pytest.raises(SourceFormatError, match="empty"):
        read(_csv(tmp_path, "", name="empty.csv"))
    with pytest.raises(SourceFormatError, match="`CTY_CODE`"):
        read(_csv(tmp_path, "CTY_NAME,CON_VAL_YR\nCHINA,5\n", name="nocode.csv"))
    with pytest.raises(SourceFormatError, match="no Census value column"):
        read(_csv(tmp_path, "CTY_CODE,CTY_NAME,I_COMMODITY\n5700,CHINA,01\n", name="novalue.csv"))
    with pytest.raises(SourceFormatError, match=r"row 2, column `time`.*'Dec 24'"):
        read(_csv(tmp_path, "CTY_CODE,CON_VAL_YR,time\n5700,5,Dec 24\n", name="badtime.csv"))
    with pytest.raises(SourceFormatError, match="pass period="):
        read(_csv(tmp_path, "CTY_CODE,CON_VAL_YR\n5700,5\n", name="noyear.csv"))
    with pytest.raises(ConfigError, match="basis"):
        read(_csv(tmp_path, "CTY_CODE,CON_VAL_YR\n5700,5\n", name="x_2024.csv"), basis="customs")
