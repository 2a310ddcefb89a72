"""The table reader: YAML column maps, their validation, and the shipped IMF DOTS long-form map."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, shared_file
from tradeanomaly.errors import ConfigError, SourceFormatError
from tradeanomaly.sources import read_source
from tradeanomaly.sources.table import load_column_map, read

DOTS_MAP = REPO / "configs" / "maps" / "imf-dots-long.yaml"

BASE_MAP = {
    "source": "test-table",
    "renames": {"rep": "reporter", "par": "partner", "dir": "flow", "val": "value_usd"},
    "period": {"year": "yr", "month": "mo"},
    "value_multiplier": 1000,
    "country_system": "name",
    "flow_labels": {"Exports": "X", "Imports": "M"},
    "estimate_flag": {"column": "flag", "values": ["e", "E"]},
    "constants": {"hs": "TOTAL"},
}


def _csv(tmp_path: Path, text: str, name="t.csv", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# -- the real IMF DOTS annual file through the shipped map ----------------------------------------------------

@pytest.fixture(scope="module")
def dots(shared_data):
    path = shared_file(shared_data, "imf_dots_annual_1960_2020", "dots_annual_bilateral_1960_2020.csv.gz")
    return read_source("table", path, column_map=DOTS_MAP)


@pytest.fixture(scope="module")
def dots_few(dots):
    """The rows of the reporters the tests look at (one filter over two million rows, not one per lookup)."""
    f = dots.flows
    return f[f["reporter"].isin(["CHN", "USA", "HKG"])]


def _bn(flows, reporter, partner, flow, period):
    sel = flows[(flows.reporter == reporter) & (flows.partner == partner) & (flows.flow == flow)
                & (flows.period == period)]
    assert len(sel) == 1, (reporter, partner, flow, period, len(sel))
    return float(sel["value_usd"].iloc[0]) / 1e9


@pytest.mark.shared
@pytest.mark.slow  # reads 2.58 M rows (about 7 s of CPU)
def test_dots_annual_published_figures(dots, dots_few):
    f = dots_few
    assert _bn(f, "CHN", "USA", "X", "2019") == pytest.approx(418.6, abs=0.05)
    assert _bn(f, "USA", "CHN", "M", "2019") == pytest.approx(452.2, abs=0.05)
    assert _bn(f, "CHN", "HKG", "X", "2013") == pytest.approx(384.9, abs=0.05)
    assert _bn(f, "HKG", "CHN", "M", "2013") == pytest.approx(250.6, abs=0.05)
    assert _bn(f, "USA", "VNM", "M", "2017") == pytest.approx(46.5, abs=0.05)
    assert _bn(f, "USA", "VNM", "M", "2020") == pytest.approx(79.6, abs=0.05)
    assert _bn(f, "CHN", "WLD", "X", "2019") == pytest.approx(2498.5, abs=0.05)
    # millions in the file become dollars exactly (418,584.24966 million)
    assert _bn(f, "CHN", "USA", "X", "2019") * 1e9 == pytest.approx(418_584_249_660.0, rel=1e-12)
    row = f[(f.reporter == "USA") & (f.partner == "CHN") & (f.period == "2019")]
    assert set(zip(row.flow, row.valuation)) == {("X", "FOB"), ("M", "CIF")}
    assert dots.flows["source"].unique().tolist() == ["imf-dots-annual"]
    assert dots.flows["hs"].unique().tolist() == ["TOTAL"]


@pytest.mark.shared
@pytest.mark.slow
def test_dots_annual_ledger_is_exact(dots):
    led = dots.ledger
    assert led.rows_in == 2_581_017  # PROVENANCE: 2,581,017 rows
    assert dict(led.counts) == {
        "negative_value": 13,
        "aggregate_area": 618_095,   # IMF aggregates (World, Advanced Economies, EU ...) as reporter or partner
        "nes_merged": 36_575,        # regional "... not specified" buckets folded into one NES row
        "kept": 1_926_334,
    }
    assert int(dots.flows["estimated"].sum()) == 172_226  # "e" rows kept (174,005 in the file incl. aggregates)
    assert int((dots.flows["partner"] == "WLD").sum()) > 20_000
    assert dots.flows.duplicated(["period", "reporter", "partner", "flow"]).sum() == 0
    ex = led.examples["aggregate_area"][0]
    assert ex["reporter"] == "Advanced Economies" and ex["aggregate"] == "reporter"


# -- hand-made tables -----------------------------------------------------------------------------------------

HANDMADE = """rep,par,dir,yr,mo,val,flag,comment
China,United States,Exports,2024,1,"1,500",,a
China,United States,Exports,2024,2,2000,e,b
United States,China,Imports,2024,1,1700,,c
China,United States,Balance,2024,1,-500,,d
China,Atlantis,Exports,2024,1,10,,e
World,China,Imports,2024,1,99,,f
China,Euro Area,Exports,2024,1,50,,g
China,Namibia,Exports,2024,1,n.a.x,,h
China,Namibia,Exports,2024,2,-3,,i
China,Namibia,Exports,2024,3,,,j
China,United States,Exports,2024,1,1500,,k
China,World,Exports,2024,1,9000,E,l
"""


def test_handmade_table_exact_ledger(tmp_path):
    res = read(_csv(tmp_path, HANDMADE), column_map=BASE_MAP)
    led = res.ledger
    assert led.stage == "read:test-table" and led.rows_in == 12
    assert dict(led.counts) == {"other_flow": 1, "missing_value": 1, "non_numeric_value": 1, "negative_value": 1,
                                "aggregate_area": 2, "unknown_country": 1, "duplicate": 1, "kept": 4}
    assert led.examples["unknown_country"][0]["unknown"] == "Atlantis"
    assert led.examples["non_numeric_value"][0]["value_usd"] == "n.a.x"
    assert led.examples["other_flow"][0]["flow"] == "Balance"
    f = res.flows.set_index(["reporter", "partner", "flow", "period"])
    assert f.loc[("CHN", "USA", "X", "2024-01"), "value_usd"] == 1_500_000
    assert f.loc[("CHN", "USA", "X", "2024-02"), "estimated"]
    assert f.loc[("CHN", "WLD", "X", "2024-01"), "estimated"]  # "E" is listed too
    assert f.loc[("USA", "CHN", "M", "2024-01"), "valuation"] == "CIF"
    assert not f.loc[("CHN", "USA", "X", "2024-01"), "estimated"]
    assert set(res.flows["source"]) == {"test-table"}


def test_parquet_input_and_single_period_column(tmp_path):
    df = pd.DataFrame({"reporter": ["USA", "USA", "NAM"], "partner": ["CHN", "VNM", "ZAF"],
                       "flow": ["M", "M", "X"], "period": ["2024M1", "2024M1", "2024M2"],
                       "value": [1.0, 2.0, 3.0], "hs6": ["010121", "854231", "71"]})
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    cmap = {"renames": {"reporter": "reporter", "partner": "partner", "flow": "flow", "period": "period",
                        "value": "value_usd", "hs6": "hs"},
            "country_system": "iso3", "valuation": {"M": "FOB"}}
    res = read(path, column_map=cmap)
    assert res.flows["period"].tolist() == ["2024-01", "2024-01", "2024-02"]
    assert res.flows["reporter"].tolist() == ["USA", "USA", "NAM"]  # Namibia's NA code survives
    assert res.flows["hs"].tolist() == ["010121", "854231", "71"]
    assert res.flows["valuation"].tolist() == ["FOB", "FOB", "FOB"]
    assert res.ledger.kept == 3


def test_strptime_periods_and_per_column_systems(tmp_path):
    text = "reporter,partner_m49,month,usd\nCHN,842,Jan 2024,5\nCHN,842,Feb 2024,6\n"
    cmap = {"renames": {"reporter": "reporter", "partner_m49": "partner", "usd": "value_usd"},
            "period": {"column": "month", "format": "%b %Y", "frequency": "Q"},
            "country_system": {"reporter": "iso3", "partner": "m49"}, "constants": {"flow": "X"}}
    res = read(_csv(tmp_path, text), column_map=cmap)
    # both months fall in 2024-Q1: the second row is a duplicate of the first quarter figure
    assert res.flows["period"].tolist() == ["2024-Q1"]
    assert res.flows["partner"].tolist() == ["USA"]
    assert dict(res.ledger.counts) == {"duplicate": 1, "kept": 1}


@pytest.mark.parametrize("encoding,name,iso", [("gb18030", "美国", "USA"), ("latin-1", "Côte d'Ivoire", "CIV")])
def test_encodings(tmp_path, encoding, name, iso):
    text = f"rep,par,dir,yr,mo,val,flag\nChina,{name},Exports,2024,1,5,\nChina,{name},Exports,2024,2,6,\n"
    res = read(_csv(tmp_path, text, encoding=encoding), column_map=BASE_MAP)
    assert res.flows["partner"].tolist() == [iso, iso]
    assert res.ledger.kept == 2


def test_regions_through_the_province_crosswalk(tmp_path):
    text = ("province,partner,usd\n广东省,USA,10\nCN-ZJ,USA,20\nGuangdong,JPN,30\nAtlantis Province,USA,40\n"
            ",USA,50\n")
    cmap = {"renames": {"province": "region", "partner": "partner", "usd": "value_usd"},
            "period": {"value": "2024-03"}, "country_system": "iso3",
            "constants": {"reporter": "CHN", "flow": "X"}}
    res = read(_csv(tmp_path, text), column_map=cmap)
    assert res.flows["region"].tolist() == ["CN-GD", "CN-ZJ", "CN-GD", ""]
    assert dict(res.ledger.counts) == {"unknown_region": 1, "kept": 4}
    assert res.ledger.examples["unknown_region"][0]["unknown"] == "Atlantis Province"


def test_yaml_map_file_and_options_override(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(BASE_MAP))
    data = _csv(tmp_path, "rep,par,dir,yr,mo,val,flag\nChina,Japan,Exports,2024,1,5,\n")
    assert read(data, column_map=str(path)).flows["value_usd"].tolist() == [5000.0]
    assert read(data, column_map=path, value_multiplier=1e6).flows["value_usd"].tolist() == [5e6]


def test_multiple_files(tmp_path):
    a = _csv(tmp_path, "rep,par,dir,yr,mo,val,flag\nChina,Japan,Exports,2024,1,5,\n", name="a.csv")
    b = _csv(tmp_path, "rep,par,dir,yr,mo,val,flag\nChina,Japan,Exports,2024,1,5,\nChina,Japan,Exports,2024,2,1,\n",
             name="b.csv")
    res = read_source("table", [a, b], column_map=BASE_MAP)
    assert dict(res.ledger.counts) == {"kept": 2, "duplicate": 1} and res.ledger.rows_in == 3


# -- errors ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("change,match", [
    ({"colour": "red"}, r"key `colour`: unknown key"),
    ({"flow_labels": {"Exports": "E"}}, r"key `flow_labels`.*X, M, RX or RM"),
    ({"renames": {"rep": "reporter", "par": "partner", "val": "value_usd"}}, r"no source for \['flow'\]"),
    ({"country_system": "fips"}, r"key `country_system`.*unknown country system `fips`"),
    ({"value_multiplier": 0}, r"key `value_multiplier`"),
    ({"valuation": {"X": "DAT"}}, r"key `valuation`.*FOB or CIF"),
    ({"renames": {"rep": "reporter", "par": "partner", "dir": "flow", "val": "value_usd", "x": "colour"}},
     r"key `renames`.*unknown flows column"),
    ({"period": {"column": "yr", "format": "%Y"}}, r"key `period`.*frequency"),
    ({"period": None}, r"no period"),
])
def test_map_validation_names_the_key(change, match):
    with pytest.raises(ConfigError, match=match):
        load_column_map(BASE_MAP | change)


def test_map_file_problems(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_column_map(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("renames: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_column_map(bad)
    with pytest.raises(ConfigError, match="needs a column map"):
        read(bad)


def test_file_problems(tmp_path):
    with pytest.raises(SourceFormatError, match=r"missing column.*`flag`"):
        read(_csv(tmp_path, "rep,par,dir,yr,mo,val\nChina,Japan,Exports,2024,1,5\n"), column_map=BASE_MAP)
    with pytest.raises(SourceFormatError, match="empty"):
        read(_csv(tmp_path, "", name="e.csv"), column_map=BASE_MAP)
    wrong = _csv(tmp_path, "rep,par,dir,yr,mo,val,flag\nChina,美国,Exports,2024,1,5,\n", name="g.csv",
                 encoding="gb18030")
    with pytest.raises(SourceFormatError, match="cannot decode"):
        read(wrong, column_map=BASE_MAP | {"encoding": "utf-8"})
    text = "rep,par,dir,yr,mo,val,flag\nChina,Japan,Exports,2024,1,5,\nChina,Japan,Exports,2024,13,5,\n"
    with pytest.raises(SourceFormatError, match=r"row 3, column `yr/mo`.*'2024-13'"):
        read(_csv(tmp_path, text, name="p.csv"), column_map=BASE_MAP)


def test_dots_map_is_valid_and_documented():
    cmap = load_column_map(DOTS_MAP)
    assert cmap.value_multiplier == 1e6 and cmap.country_system == "name"
    assert cmap.flow_labels["Exports, FOB"] == "X" and cmap.estimate_flag.values == ["e"]
    readme = (REPO / "configs" / "maps" / "README.md").read_text()
    for key in ("renames", "period", "value_multiplier", "country_system", "flow_labels", "valuation",
                "estimate_flag", "constants", "sep", "encoding", "skiprows"):
        assert f"`{key}`" in readme, key
