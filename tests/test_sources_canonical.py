"""The canonical reader and writer: exact columns, chunked reading, ledger accounting, round trips."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.errors import ConfigError, SchemaError, SourceFormatError
from tradeanomaly.schema import FLOW_COLUMNS
from tradeanomaly.sources import read_source
from tradeanomaly.sources.canonical import iter_chunks, read, write_flows

HEADER = ",".join(FLOW_COLUMNS)


def _row(period="2024-01", reporter="CHN", partner="USA", flow="X", hs="TOTAL", value="100", valuation="FOB",
         quantity="", unit="", estimated="false", source="test", region=""):
    return ",".join([period, reporter, region, partner, flow, hs, value, valuation, quantity, unit, estimated,
                     source])


def _write(tmp_path: Path, rows: list[str], name="flows.csv", encoding="utf-8", header=HEADER) -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


def _flows(n=5) -> pd.DataFrame:
    return pd.DataFrame({
        "period": ["2024-01", "2024-02", "2024", "2024-Q1", "2023-12"][:n],
        "reporter": ["CHN", "CHN", "NAM", "USA", "HKG"][:n],
        "region": ["CN-GD", "", "", "", ""][:n],
        "partner": ["USA", "NAM", "WLD", "NES", "CHN"][:n],
        "flow": ["X", "M", "X", "M", "RX"][:n],
        "hs": ["010121", "85", "TOTAL", "8542310000", "TOTAL"][:n],
        "value_usd": [1.5, 2e9, 0.0, 123456789.125, 7.0][:n],
        "valuation": ["FOB", "CIF", "FOB", "FOB", "FOB"][:n],
        "quantity": [10.0, np.nan, np.nan, 3.5, np.nan][:n],
        "quantity_unit": ["kg", "", "", "u", ""][:n],
        "estimated": [False, True, False, False, True][:n],
        "source": ["synth", "synth", "imf-dots", "census", "synth"][:n],
    })


# -- round trips through write_flows --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "out.csv.gz"])
@pytest.mark.parametrize("kind", ["str", "path"])
def test_write_then_read_round_trips(tmp_path, name, kind):
    df = _flows()
    target = tmp_path / name
    write_flows(df, str(target) if kind == "str" else target)
    assert target.stat().st_size > 0
    back = read_source("canonical", target)
    pd.testing.assert_frame_equal(back.flows, read_source("canonical", target).flows)
    assert back.flows["hs"].tolist() == ["010121", "85", "TOTAL", "8542310000", "TOTAL"]
    assert back.flows["reporter"].tolist()[2] == "NAM"  # Namibia survives text parsing
    assert back.flows["value_usd"].tolist() == df["value_usd"].tolist()
    assert back.flows["estimated"].tolist() == df["estimated"].tolist()
    assert back.flows["quantity"].isna().tolist() == [False, True, True, False, True]
    assert back.ledger.rows_in == 5 and dict(back.ledger.counts) == {"kept": 5}
    if name.endswith(".gz"):
        with gzip.open(target, "rt") as fh:
            assert fh.readline().strip() == HEADER


@pytest.mark.parametrize("fmt,suffix", [("parquet", ".parquet"), ("csv", ".csv")])
def test_write_to_open_binary_stream(tmp_path, fmt, suffix):
    df = _flows()
    buf = io.BytesIO()
    write_flows(df, buf, format=fmt)
    data = buf.getvalue()
    assert len(data) > 100  # a writer that silently wrote nothing to a stream would fail here
    path = tmp_path / f"from_stream{suffix}"
    path.write_bytes(data)
    back = read(path)
    assert back.flows["value_usd"].sum() == pytest.approx(df["value_usd"].sum())
    assert back.ledger.kept == 5
    # a named stream picks the format from its name
    with open(tmp_path / f"named{suffix}", "wb") as fh:
        write_flows(df, fh)
    assert (tmp_path / f"named{suffix}").read_bytes() == data


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_write_is_deterministic(tmp_path, suffix):
    import time

    write_flows(_flows(), tmp_path / f"a{suffix}")
    if suffix.endswith(".gz"):
        time.sleep(1.1)  # gzip headers hold a timestamp in seconds
    write_flows(_flows().copy(), tmp_path / f"b{suffix}")
    assert (tmp_path / f"a{suffix}").read_bytes() == (tmp_path / f"b{suffix}").read_bytes()


def test_write_validates(tmp_path):
    df = _flows()
    bad = df.assign(hs=["10121", "85", "TOTAL", "85", "TOTAL"])
    with pytest.raises(SchemaError, match="hs"):
        write_flows(bad, tmp_path / "bad.csv")
    with pytest.raises(ConfigError, match="format"):
        write_flows(df, tmp_path / "out.xlsx")


# -- chunked reading ------------------------------------------------------------------------------------------

def test_chunks_balance_and_duplicates_across_chunks(tmp_path):
    rows = [_row(period=f"2024-{m:02d}", value=str(m)) for m in range(1, 8)]
    rows.append(_row(period="2024-01", value="99"))  # same key as the first row, in another chunk
    path = _write(tmp_path, rows)
    chunks = list(iter_chunks(path, chunk_rows=3))
    assert [len(f) for f, _ in chunks] == [3, 3, 2]
    for flows, led in chunks:
        led.check()
        assert led.rows_in == sum(led.counts.values())
    res = read(path, chunk_rows=3)
    assert res.ledger.rows_in == 8
    assert dict(res.ledger.counts) == {"kept": 7, "duplicate": 1}
    assert res.ledger.examples["duplicate"][0]["value_usd"] == 99.0
    assert res.flows["value_usd"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    # the same in one chunk
    assert dict(read(path).ledger.counts) == {"kept": 7, "duplicate": 1}


def test_parquet_is_read_in_batches(tmp_path):
    df = pd.concat([_flows()] * 4, ignore_index=True)
    df["period"] = [f"20{10 + i}" for i in range(len(df))]
    write_flows(df, tmp_path / "f.parquet")
    sizes = [len(f) for f, _ in iter_chunks(tmp_path / "f.parquet", chunk_rows=6)]
    assert sizes == [6, 6, 6, 2]
    res = read(tmp_path / "f.parquet", chunk_rows=6)
    assert res.ledger.kept == 20
    assert res.flows["value_usd"].sum() == pytest.approx(df["value_usd"].sum())


# -- cells the reader sets aside, with exact accounting -------------------------------------------------------

def test_ledger_reasons_are_exact(tmp_path):
    rows = [
        _row(),                                         # kept
        _row(partner="DEU", value='"1,234.5"'),         # kept, thousands separator
        _row(partner="FRA", value="12 kg"),             # non_numeric_value
        _row(partner="ITA", value="-5"),                # negative_value
        _row(partner="JPN", value=""),                  # missing_value
        _row(),                                         # duplicate of the first
        _row(partner="KOR", estimated="maybe"),         # bad_estimated_flag
        _row(partner="GBR", period="", value="3"),      # bad_period
        _row(partner="CAN", estimated="YES", valuation=""),  # kept, estimated, default valuation
        _row(partner="MEX", flow="M", valuation="", source=""),  # kept, CIF by default, source canonical
    ]
    res = read(_write(tmp_path, rows))
    led = res.ledger
    assert led.rows_in == 10
    assert dict(led.counts) == {"bad_estimated_flag": 1, "missing_value": 1, "non_numeric_value": 1,
                                "negative_value": 1, "bad_period": 1, "duplicate": 1, "kept": 4}
    assert led.examples["non_numeric_value"][0]["partner"] == "FRA"
    assert led.examples["bad_estimated_flag"][0]["estimated"] == "maybe"
    f = res.flows.set_index("partner")
    assert f.loc["DEU", "value_usd"] == 1234.5
    assert bool(f.loc["CAN", "estimated"]) and f.loc["CAN", "valuation"] == "FOB"
    assert f.loc["MEX", "valuation"] == "CIF" and f.loc["MEX", "source"] == "canonical"


@pytest.mark.parametrize("text,flag", [("true", True), ("FALSE", False), ("1", True), ("0", False),
                                       ("yes", True), ("No", False), ("True", True), ("", False)])
def test_estimated_spellings(tmp_path, text, flag):
    res = read(_write(tmp_path, [_row(estimated=text)]))
    assert res.flows["estimated"].tolist() == [flag]


def test_periods_are_normalised_and_bad_ones_named(tmp_path):
    res = read(_write(tmp_path, [_row(period="2024M2"), _row(period="2013Q1", partner="DEU")]))
    assert res.flows["period"].tolist() == ["2024-02", "2013-Q1"]
    with pytest.raises(SourceFormatError, match=r"row 3.*period.*'Feb 24'"):
        read(_write(tmp_path, [_row(), _row(period="Feb 24")], name="bad.csv"))


def test_codes_that_are_not_iso3_are_set_aside_with_their_text(tmp_path):
    # one bad code must not stop a long load: the row goes to the ledger, its text in the examples
    res = read(_write(tmp_path, [_row(reporter="China"), _row(partner="U.S."), _row(partner="DEU", hs="85x"),
                                 _row(partner="FRA", flow="E"), _row(partner="ITA")]))
    assert dict(res.ledger.counts) == {"unknown_reporter": 1, "unknown_country": 1, "bad_flow": 1,
                                       "bad_product_code": 1, "kept": 1}
    assert res.ledger.examples["unknown_reporter"][0]["reporter"] == "China"
    assert res.ledger.examples["unknown_country"][0]["partner"] == "U.S."


# -- malformed files ------------------------------------------------------------------------------------------

def test_missing_and_extra_columns(tmp_path):
    header = HEADER.replace(",hs", "")
    path = _write(tmp_path, ["2024,CHN,,USA,X,1,FOB,,,false,t"], header=header)
    with pytest.raises(SourceFormatError, match="missing column.*`hs`"):
        read(path)
    path = _write(tmp_path, [_row() + ",note"], name="extra.csv", header=HEADER + ",comment")
    with pytest.raises(SourceFormatError, match="`comment`.*allow_extra"):
        read(path)
    res = read(path, allow_extra=True)
    assert res.ledger.kept == 1 and any("comment" in n for n in res.ledger.notes)
    assert list(res.flows.columns) == list(FLOW_COLUMNS)


def test_empty_and_unreadable_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SourceFormatError, match="empty"):
        read(tmp_path / "empty.csv")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(SourceFormatError, match="Parquet"):
        read(tmp_path / "junk.parquet")
    with pytest.raises(SourceFormatError, match="not found"):
        read(tmp_path / "absent.csv")
    with pytest.raises(ConfigError, match="column map"):
        read(tmp_path / "empty.csv", column_map={"renames": {}})


@pytest.mark.parametrize("encoding,source", [("gb18030", "海关总署"), ("latin-1", "douane française")])
def test_other_encodings(tmp_path, encoding, source):
    res = read(_write(tmp_path, [_row(source=source), _row(partner="DEU", source=source)], encoding=encoding))
    assert res.flows["source"].tolist() == [source, source]
    assert res.ledger.kept == 2


def test_multiple_files_merge_ledgers(tmp_path):
    a = _write(tmp_path, [_row(), _row(partner="DEU", value="x")], name="a.csv")
    b = _write(tmp_path, [_row(), _row(partner="FRA")], name="b.csv")
    res = read_source("canonical", [a, b])
    assert res.ledger.inputs == ["a.csv", "b.csv"]
    assert dict(res.ledger.counts) == {"non_numeric_value": 1, "kept": 2, "duplicate": 1}
    assert res.ledger.rows_in == 4


def test_a_decimal_comma_is_never_rescaled(tmp_path):
    # values quoted so that the comma stays inside the field, as a spreadsheet writes them
    rows = [_row(partner="USA", value='"1,234,567"'), _row(partner="FRA", value='"12,5"'),
            _row(partner="DEU", value='"1.234,56"'), _row(partner="JPN", value='"2 000"'),
            _row(partner="KOR", value='"1,23"')]
    res = read(_write(tmp_path, rows))
    led = res.ledger
    led.check()
    assert led.rows_in == 5 and dict(led.counts) == {"kept": 2, "non_numeric_value": 3}
    f = res.flows.set_index("partner")["value_usd"]
    assert f.to_dict() == {"USA": 1234567.0, "JPN": 2000.0}
    shown = {e["partner"]: e["value_usd"] for e in led.examples["non_numeric_value"]}
    assert shown == {"FRA": "12,5", "DEU": "1.234,56", "KOR": "1,23"}


def test_an_unbalanced_quote_is_refused_not_merged(tmp_path):
    # a `source` field opens a quote that closes three lines later: the parser would make one record of four lines
    rows = [_row(partner="USA"), _row(partner="FRA", source='"test'), _row(partner="DEU"), _row(partner="JPN"),
            _row(partner="KOR", source='x"'), _row(partner="ITA")]
    path = _write(tmp_path, rows)
    with pytest.raises(SourceFormatError, match=r"data record 2, column `source`, spans several lines") as exc:
        read(path)
    assert "remove the stray quote" in str(exc.value) and str(path) in str(exc.value)
