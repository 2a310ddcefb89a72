"""CEPII BACI reader: year files t,i,j,k,v,q with or without the country-code file; streaming."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.errors import SourceFormatError
from tradeanomaly.schema import FLOW_COLUMNS
from tradeanomaly.sources import baci, read_source

FIX = Path(__file__).parent / "fixtures" / "baci"
DATA = FIX / "BACI_HS17_Y2019_V202401.csv"
CODES = FIX / "country_codes_V202401.csv"
OLD_CODES = FIX / "country_codes_V202102.csv"


def _row(flows: pd.DataFrame, reporter: str, partner: str, hs: str) -> pd.Series:
    m = (flows["reporter"] == reporter) & (flows["partner"] == partner) & (flows["hs"] == hs)
    assert m.sum() == 1
    return flows.loc[m].iloc[0]


def test_read_with_code_file_among_paths():
    res = read_source("baci", [DATA, CODES])
    f, led = res.flows, res.ledger
    assert list(f.columns) == list(FLOW_COLUMNS)
    assert led.rows_in == 15 and dict(led.counts) == {"kept": 15}
    assert led.inputs == ["BACI_HS17_Y2019_V202401.csv"]
    assert any("not an independent report" in n for n in led.notes)
    assert any("country_codes_V202401.csv" in n for n in led.notes)
    assert set(f["flow"]) == {"X"} and set(f["valuation"]) == {"FOB"} and set(f["source"]) == {"baci"}
    assert set(f["period"]) == {"2019"} and not f["estimated"].any()
    # value in thousands of USD -> USD; HS6 leading zero restored; tons -> kg
    horses = _row(f, "CHN", "USA", "010121")
    assert horses["value_usd"] == pytest.approx(1234.0, rel=1e-12)
    assert horses["quantity"] == pytest.approx(500.0) and horses["quantity_unit"] == "kg"
    laptops = _row(f, "CHN", "USA", "847130")
    assert laptops["value_usd"] == pytest.approx(43210987654.0, rel=1e-12)
    assert _row(f, "CHN", "USA", "030617")["quantity"] == pytest.approx(1234500.0)
    # "NA" and blank quantities stay empty, with no unit
    phones = _row(f, "CHN", "VNM", "851712")
    assert np.isnan(phones["quantity"]) and phones["quantity_unit"] == ""
    assert np.isnan(_row(f, "VNM", "USA", "851712")["quantity"])
    # Namibia's ISO2 "NA" does not break the code file; BACI's placeholder S19 falls back to the crosswalk
    assert _row(f, "NAM", "CHN", "261210")["value_usd"] == pytest.approx(45678900.0)
    assert _row(f, "TWN", "USA", "854231")["value_usd"] == pytest.approx(12345678900.0)
    with open(DATA, newline="") as fh:
        raw_total = sum(float(r["v"]) for r in csv.DictReader(fh))
    assert f["value_usd"].sum() == pytest.approx(1000 * raw_total, rel=1e-12)


@pytest.mark.parametrize("kwargs, paths", [
    ({"country_codes": OLD_CODES}, [DATA]),
    ({}, [DATA]),
])
def test_old_code_file_and_crosswalk_give_the_same_table(kwargs, paths):
    ref = read_source("baci", [DATA, CODES]).flows
    other = read_source("baci", paths, **kwargs)
    pd.testing.assert_frame_equal(other.flows, ref)
    note = "country_codes_V202102.csv" if kwargs else "shipped crosswalk"
    assert any(note in n for n in other.ledger.notes)


def test_iter_chunks_streams_and_adds_up_to_read():
    chunks = list(baci.iter_chunks([DATA, CODES], chunk_rows=4))
    assert [len(c.flows) for c in chunks] == [4, 4, 4, 3]
    assert sum(c.ledger.rows_in for c in chunks) == 15
    whole = read_source("baci", [DATA, CODES], chunk_rows=4).flows
    pd.testing.assert_frame_equal(pd.concat([c.flows for c in chunks], ignore_index=True), whole)


def test_malformed_rows_are_accounted(tmp_path):
    path = tmp_path / "BACI_HS92_Y1999_V202401.csv"
    path.write_text(
        "t,i,j,k,v,q\n"
        "1999,156,842,10121,1.5,2\n"       # kept
        "1999,156,842,10121,1.5,2\n"       # duplicate
        "1999,156,842,20110,abc,2\n"       # non-numeric value
        "1999,156,842,20120,-3,2\n"        # negative value
        "1999,156,842,20130,,2\n"          # missing value
        "1999,156,842,ABCDEF,7,2\n"        # bad product code
        "1999,999,842,20140,7,2\n"         # unknown exporter
        "1999,156,998,20150,7,2\n"         # unknown importer
        "1999,58,842,20160,7,-1\n"         # Belgium-Luxembourg: kept, negative quantity dropped
        "19xx,156,842,20170,7,2\n"         # bad period
    )
    res = read_source("baci", path)
    assert dict(res.ledger.counts) == {
        "missing_value": 1, "non_numeric_value": 1, "negative_value": 1, "bad_product_code": 1,
        "unknown_reporter": 1, "unknown_country": 1, "bad_period": 1, "duplicate": 1, "kept": 2}
    assert res.ledger.rows_in == 10
    blx = res.flows.loc[res.flows["reporter"] == "BLX"].iloc[0]
    assert blx["value_usd"] == 7000.0 and np.isnan(blx["quantity"])


def test_missing_columns_and_only_code_files_are_errors(tmp_path):
    bad = tmp_path / "BACI_bad.csv"
    bad.write_text("year,exporter,importer,product,value\n2019,156,842,10121,1\n")
    with pytest.raises(SourceFormatError, match="BACI_bad.csv.*t,i,j,k,v,q"):
        read_source("baci", bad)
    with pytest.raises(SourceFormatError, match="no BACI data file"):
        read_source("baci", [CODES])
    empty = tmp_path / "BACI_empty.csv"
    empty.write_text("")
    with pytest.raises(SourceFormatError, match="BACI_empty.csv.*empty"):
        read_source("baci", empty)


def test_header_only_file_is_an_empty_table(tmp_path):
    path = tmp_path / "BACI_HS17_Y2020_V202401.csv"
    path.write_text("t,i,j,k,v,q\n")
    res = read_source("baci", path)
    assert len(res.flows) == 0 and res.ledger.rows_in == 0
