"""Streaming Comtrade files: ``comtrade.iter_chunks`` and ``ingest --partitioned --source comtrade`` give the
rows and ledger of the whole read, whatever the chunk size."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.errors import ConfigError, SourceFormatError
from tradeanomaly.ingest import ingest_partitioned
from tradeanomaly.schema import FLOW_COLUMNS, Ledger
from tradeanomaly.sources import comtrade, read_source
from tradeanomaly.sources.base import FLOW_KEY

FIX = Path(__file__).parent / "fixtures" / "comtrade"
KEY = FLOW_KEY + ["valuation"]

# -- a generated Comtrade Plus bulk file with planted defects ------------------------------------------------

BULK_HEADER = ["typeCode", "freqCode", "refPeriodId", "refYear", "refMonth", "period", "reporterCode",
               "reporterDesc", "flowCode", "flowDesc", "partnerCode", "partnerDesc", "partner2Code",
               "classificationCode", "isOriginalClassification", "cmdCode", "cmdDesc", "aggrLevel", "isLeaf",
               "customsCode", "mosCode", "motCode", "qtyUnitCode", "qtyUnitAbbr", "qty", "isQtyEstimated",
               "altQty", "netWgt", "isNetWgtEstimated", "grossWgt", "cifvalue", "fobvalue", "primaryValue",
               "legacyEstimationFlag", "isReported", "isAggregate"]
REPORTERS = np.array(["251", "276", "392", "704", "36", "124", "484", "410"])  # FRA DEU JPN VNM AUS CAN MEX KOR
PARTNERS = np.array(["156", "842", "356", "76", "710", "528", "380", "724", "756", "0"])  # ..., World
FLOWS = np.array(["X", "M", "RX", "RM"])
YEARS = 8
#: residue of the row number modulo 50 -> what the row is (the other residues are plain, kept rows)
DEFECTS = {0: "second_partner_breakdown", 1: "mode_breakdown", 2: "procedure_breakdown", 3: "other_flow",
           4: "non_hs_classification", 5: "bad_product_code", 6: "aggregate_reporter", 7: "aggregate_area",
           8: "missing_value", 9: "non_numeric_value", 10: "negative_value", 11: "unknown_country",
           13: "duplicate"}
LOST_ZERO, EMPTY_MODE = 15, 21  # cmdCode written as a number; motCode left empty (not broken down)


def _products(n: int) -> np.ndarray:
    k = np.arange(n)
    return np.array([f"{1 + a % 97:02d}{(a // 97) % 100:02d}{a // 9700:02d}" for a in k])


def bulk_frame(n: int, n_products: int = 100, seed: int = 7) -> pd.DataFrame:
    """``n`` Comtrade Plus bulk records. Every clean row has its own key (mixed radix of the row number); row
    ``i`` carries the defect ``DEFECTS[i % 50]``; a duplicate row repeats the key of an earlier clean row, up to
    250 rows back, with the value 999."""
    if n > n_products * len(FLOWS) * len(PARTNERS) * len(REPORTERS) * YEARS:
        raise ValueError("too many rows for unique keys: raise n_products")
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    c = i % 50
    src = i.copy()
    dup = (c == 13) & (i >= 250)
    src[dup] = i[dup] - 1 - 50 * ((i[dup] // 50) % 5)  # a row with residue 12: clean, 1 to 201 rows back
    prod = _products(n_products)
    j = src
    cmd = prod[(j % n_products + 13 * (j // n_products)) % n_products]  # varies within a residue class
    flow = FLOWS[(j // n_products) % 4]
    partner = PARTNERS[(j // (4 * n_products)) % len(PARTNERS)]
    reporter = REPORTERS[(j // (4 * n_products * len(PARTNERS))) % len(REPORTERS)]
    year = (2015 + (j // (4 * n_products * len(PARTNERS) * len(REPORTERS))) % YEARS).astype(str)
    value = np.round(np.exp(rng.normal(12, 2.5, n)), 2).astype(str)
    value[dup] = "999"
    imports = np.isin(flow, ["M", "RM"])
    with_cif = imports & (j % 3 != 0)  # as the repeated row, so a duplicate has the same valuation
    with_fob = ~imports | (j % 3 == 0)
    net = np.where(i % 4 == 0, "", np.round(rng.gamma(2.0, 5e4, n), 1).astype(str))
    qty = np.round(rng.gamma(2.0, 100.0, n)).astype(int).astype(str)
    df = pd.DataFrame({
        "typeCode": "C", "freqCode": "A", "refPeriodId": np.char.add(year, "0101"), "refYear": year,
        "refMonth": "52", "period": year, "reporterCode": reporter, "reporterDesc": "Some country, nes",
        "flowCode": flow, "flowDesc": "Export", "partnerCode": partner, "partnerDesc": "Partner",
        "partner2Code": "0", "classificationCode": "H6", "isOriginalClassification": "True", "cmdCode": cmd,
        "cmdDesc": "Goods, other", "aggrLevel": "6", "isLeaf": "True", "customsCode": "C00", "mosCode": "0",
        "motCode": "0", "qtyUnitCode": "5", "qtyUnitAbbr": "u", "qty": qty, "isQtyEstimated": "False",
        "altQty": "", "netWgt": net, "isNetWgtEstimated": "False", "grossWgt": "",
        "cifvalue": np.where(with_cif, value, ""), "fobvalue": np.where(with_fob, value, ""),
        "primaryValue": value, "legacyEstimationFlag": "0", "isReported": "True", "isAggregate": "False",
    }, columns=BULK_HEADER)
    empty_value = np.isin(c, [8, 9, 10])
    df.loc[empty_value, ["cifvalue", "fobvalue"]] = ""
    df.loc[c == 0, "partner2Code"] = "251"
    df.loc[c == 1, "motCode"] = "2100"
    df.loc[c == 2, "customsCode"] = "C01"
    df.loc[c == 3, "flowCode"] = "FM"
    df.loc[c == 4, ["classificationCode", "cmdCode"]] = ["S4", "334"]
    df.loc[c == 5, "cmdCode"] = "85AB"
    df.loc[c == 6, "reporterCode"] = "97"   # EU-27
    df.loc[c == 7, "partnerCode"] = "97"
    df.loc[c == 8, "primaryValue"] = ""
    df.loc[c == 9, "primaryValue"] = "n/a"
    df.loc[c == 10, "primaryValue"] = "-5"
    df.loc[c == 11, "partnerCode"] = "999"  # no such code, no ISO column
    lost = (c == LOST_ZERO) & df["cmdCode"].str.startswith("0")
    df.loc[lost, "cmdCode"] = df.loc[lost, "cmdCode"].str.slice(1)
    df.loc[c == EMPTY_MODE, "motCode"] = ""
    return df


def write_bulk(path: Path, n: int, n_products: int = 100, seed: int = 7) -> Path:
    """Write :func:`bulk_frame` as a tab-separated, gzipped bulk file (``.txt.gz``)."""
    df = bulk_frame(n, n_products, seed)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as fh:
        df.to_csv(fh, sep="\t", index=False, lineterminator="\n")
    return path


def expected_counts(n: int) -> dict[str, int]:
    """The ledger of :func:`bulk_frame`, counted from the construction (not by the reader)."""
    c = np.arange(n) % 50
    counts = {reason: int((c == r).sum()) for r, reason in DEFECTS.items()}
    early_dups = int(((c == 13) & (np.arange(n) < 250)).sum())  # no earlier row to repeat: plain rows
    counts["duplicate"] -= early_dups
    counts["kept"] = n - sum(counts.values())
    return {k: v for k, v in counts.items() if v}


# -- helpers --------------------------------------------------------------------------------------------------

def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(KEY, kind="stable").reset_index(drop=True)


def _chunked(path: Path, chunk_rows: int, **options):
    """Merge ``iter_chunks`` as the ingest does: the first occurrence of a key across chunks is kept."""
    chunks = list(comtrade.iter_chunks(path, chunk_rows=chunk_rows, **options))
    for res in chunks:
        assert res.ledger.rows_in == sum(res.ledger.counts.values())  # each chunk balances on its own
        assert res.ledger.rows_in <= chunk_rows
    ledger = Ledger(stage="read:comtrade")
    for res in chunks:
        ledger.merge(res.ledger)
    flows = pd.concat([r.flows for r in chunks], ignore_index=True)
    dup = flows.duplicated(KEY, keep="first").to_numpy()
    if dup.any():
        ledger.counts["kept"] -= int(dup.sum())
        ledger.add("duplicate", int(dup.sum()))
        flows = flows.loc[~dup].reset_index(drop=True)
    ledger.check()
    return chunks, flows, ledger


def _assert_same(whole, flows: pd.DataFrame, ledger) -> None:
    assert dict(ledger.counts) == dict(whole.ledger.counts)
    assert ledger.rows_in == whole.ledger.rows_in and ledger.kept == len(flows) == len(whole.flows)
    assert ledger.notes == whole.ledger.notes and ledger.inputs == whole.ledger.inputs
    # the examples of every set-aside reason are the first rows of the file with it (duplicates excepted:
    # the ingest finds those across chunks after the chunk's own)
    for reason, examples in whole.ledger.examples.items():
        if reason != "duplicate":
            assert ledger.examples.get(reason) == examples, reason
    pd.testing.assert_frame_equal(_sorted(flows), _sorted(whole.flows), check_exact=True)


FIXTURES = ["bulk_fra_2022_H6.txt.gz", "plus_api_vnm_202403_monthly.csv", "legacy_usa_201805_hs.csv",
            "plus_api_chn_2023_annual.json"]


# -- the fixtures, chunk by chunk -----------------------------------------------------------------------------

@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 1000])
@pytest.mark.parametrize("name, allow_sitc", [(name, False) for name in FIXTURES] + [
    ("bulk_fra_2022_H6.txt.gz", True), ("legacy_usa_201805_hs.csv", True)])
def test_fixture_chunks_equal_the_whole_read(name, chunk_rows, allow_sitc):
    whole = read_source("comtrade", FIX / name, allow_sitc=allow_sitc)
    chunks, flows, ledger = _chunked(FIX / name, chunk_rows, allow_sitc=allow_sitc)
    assert len(chunks) == -(-whole.ledger.rows_in // chunk_rows)
    _assert_same(whole, flows, ledger)
    # the file's notes are written once, in the last chunk's ledger
    assert all(not r.ledger.notes for r in chunks[:-1]) and chunks[-1].ledger.notes == whole.ledger.notes


def test_fixture_ledgers_by_chunk_of_seven_and_one_thousand():
    bulk = FIX / "bulk_fra_2022_H6.txt.gz"
    for chunk_rows in (7, 1000):  # one chunk: the whole ledger, reason by reason
        (res,) = comtrade.iter_chunks(bulk, chunk_rows=chunk_rows)
        assert res.ledger.rows_in == 7 == 4 + 1 + 1 + 1
        assert dict(res.ledger.counts) == {"mode_breakdown": 1, "other_flow": 1, "non_hs_classification": 1,
                                           "kept": 4}
    vnm = list(comtrade.iter_chunks(FIX / "plus_api_vnm_202403_monthly.csv", chunk_rows=3))
    assert [r.ledger.rows_in for r in vnm] == [3, 3, 1]
    assert [dict(r.ledger.counts) for r in vnm] == [{"kept": 3}, {"mode_breakdown": 1, "kept": 2},
                                                    {"non_numeric_value": 1}]
    # both lost leading zeros are in the first chunk; the note about them is in the last one
    assert vnm[-1].ledger.notes == ["2 cmdCode value(s) had lost their leading zero (read as numbers) and were "
                                    "restored, e.g. 10121 -> 010121"]
    assert sorted(vnm[0].flows["hs"]) == ["010121", "030617", "847130"]
    assert vnm[1].flows["value_usd"].tolist() == [610000.0, 9876543210.0]


@pytest.mark.parametrize("chunk_rows", [7, 1000])
def test_fixture_ingest_equals_read(tmp_path, chunk_rows):
    for name in FIXTURES:
        whole = read_source("comtrade", FIX / name)
        out = tmp_path / f"{name}-{chunk_rows}"
        res = ingest_partitioned("comtrade", [FIX / name], out, chunk_rows=chunk_rows)
        assert res.chunks_written == -(-whole.ledger.rows_in // chunk_rows)
        assert dict(res.ledger.counts) == dict(whole.ledger.counts)
        assert res.ledger.notes == whole.ledger.notes and res.rows_written == whole.ledger.kept
        back = read_source("canonical", [out]).flows
        pd.testing.assert_frame_equal(_sorted(back), _sorted(whole.flows), check_exact=True)
    # the JSON fixture has a repeated key 2 records apart: in two chunks of 7 it is found by the ingest
    json_res = ingest_partitioned("comtrade", [FIX / "plus_api_chn_2023_annual.json"], tmp_path / "j",
                                  chunk_rows=7)
    assert json_res.ledger.counts["duplicate"] == 1 and json_res.ledger.kept == 7


# -- awkward boundaries ---------------------------------------------------------------------------------------

def test_a_code_resolves_in_later_chunks_as_it_did_first(tmp_path):
    """Code 999 is unknown: it resolves through the ISO of its first record (DEU), in every chunk."""
    lines = ["period,reporterCode,reporterISO,flowCode,partnerCode,partnerISO,cmdCode,primaryValue"]
    for k in range(9):
        iso = "DEU" if k == 0 else "FRA"
        lines.append(f"2023,842,USA,X,999,{iso},{10 + k:02d},{1000 + k}")
    path = tmp_path / "iso.csv"
    path.write_text("\n".join(lines) + "\n")
    whole = read_source("comtrade", path)
    assert set(whole.flows["partner"]) == {"DEU"} and whole.ledger.kept == 9
    for chunk_rows in (1, 2, 4):
        _, flows, ledger = _chunked(path, chunk_rows)
        _assert_same(whole, flows, ledger)
        assert set(flows["partner"]) == {"DEU"}


def test_legacy_quoted_newlines_and_duplicates_across_a_boundary(tmp_path):
    head = ("Classification,Year,Period,Trade Flow Code,Trade Flow,Reporter Code,Reporter ISO,Partner Code,"
            "Partner ISO,Commodity Code,Commodity,Trade Value (US$),Flag")
    rows = [
        'H4,2018,2018,1,Import,842,USA,156,CHN,85,"Electrical machinery,\nequipment",100,0',
        'H4,2018,2018,2,Export,842,USA,156,CHN,85,"Electrical, ""quoted""",200,0',
        'H4,2018,2018,1,Import,842,USA,156,CHN,85,"the same key again",300,0',   # duplicate of row 1
        'S4,2018,2018,1,Import,842,USA,156,CHN,77,SITC,400,0',
        'H4,2018,2018,1,Import,842,USA,276,DEU,10121,"horses\nand mules",500,4',  # lost leading zero
        'H4,2018,2018,2,Export,842,USA,156,CHN,85,"again",600,0',                # duplicate of row 2
    ]
    path = tmp_path / "legacy.csv"
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    whole = read_source("comtrade", path)
    assert dict(whole.ledger.counts) == {"non_hs_classification": 1, "duplicate": 2, "kept": 3}
    assert sorted(whole.flows["value_usd"]) == [100.0, 200.0, 500.0]
    for chunk_rows in (1, 2, 3, 4, 5):
        chunks, flows, ledger = _chunked(path, chunk_rows)
        assert sum(r.ledger.rows_in for r in chunks) == 6
        _assert_same(whole, flows, ledger)
    with_sitc = read_source("comtrade", path, allow_sitc=True)
    _, flows, ledger = _chunked(path, 2, allow_sitc=True)
    _assert_same(with_sitc, flows, ledger)
    assert ledger.notes[0] == ("1 SITC record(s) kept with the SITC code in `hs` (allow_sitc=True); they are not "
                               "HS codes")


def test_header_only_bad_header_and_options(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("refYear\trefMonth\treporterCode\tpartnerCode\tflowCode\tcmdCode\tprimaryValue\n")
    (res,) = comtrade.iter_chunks(empty, chunk_rows=10)
    assert len(res.flows) == 0 and res.ledger.rows_in == 0 and dict(res.ledger.counts) == {}
    assert list(res.flows.columns) == list(FLOW_COLUMNS)
    bad = tmp_path / "bad.csv"
    bad.write_text("reporterCode,partnerCode,flowCode\n156,842,X\n")
    with pytest.raises(SourceFormatError, match="cmdCode"):
        next(comtrade.iter_chunks(bad, chunk_rows=10))
    with pytest.raises(ConfigError, match="unknown option"):
        next(comtrade.iter_chunks(FIX / "legacy_usa_201805_hs.csv", allow_hs=True))
    with pytest.raises(ConfigError, match="chunk_rows"):
        next(comtrade.iter_chunks(FIX / "legacy_usa_201805_hs.csv", chunk_rows=0))


# -- a generated bulk file -----------------------------------------------------------------------------------

def test_generated_bulk_file_counts_by_construction(tmp_path):
    path = write_bulk(tmp_path / "small.txt.gz", 5_000)
    whole = read_source("comtrade", path)
    expect = expected_counts(5_000)
    assert expect == {"second_partner_breakdown": 100, "mode_breakdown": 100, "procedure_breakdown": 100,
                      "other_flow": 100, "non_hs_classification": 100, "bad_product_code": 100,
                      "aggregate_reporter": 100, "aggregate_area": 100, "missing_value": 100,
                      "non_numeric_value": 100, "negative_value": 100, "unknown_country": 100,
                      "duplicate": 95, "kept": 3_705}
    assert dict(whole.ledger.counts) == expect and whole.ledger.rows_in == 5_000
    lost = bulk_frame(5_000)["cmdCode"].str.len().eq(5).sum()
    assert lost == 12
    assert whole.ledger.notes[-1].startswith(f"{lost} cmdCode value(s) had lost their leading zero")
    assert not (whole.flows["value_usd"] == 999.0).any()  # the first of each key is kept
    for chunk_rows in (333, 1000, 4999):  # duplicates repeat keys 1 to 201 rows back: some across chunks
        _, flows, ledger = _chunked(path, chunk_rows)
        _assert_same(whole, flows, ledger)
    # chunks of 7 rows (the per-chunk cost is fixed: 600 rows are enough to cross many boundaries)
    small = write_bulk(tmp_path / "smaller.txt.gz", 600)
    whole = read_source("comtrade", small)
    assert dict(whole.ledger.counts) == expected_counts(600)
    _, flows, ledger = _chunked(small, 7)
    _assert_same(whole, flows, ledger)


def test_ingest_of_a_200k_row_bulk_file_equals_the_whole_read(tmp_path):
    n = 200_000
    path = write_bulk(tmp_path / "bulk_2019_H6.txt.gz", n, n_products=100)
    whole = read_source("comtrade", path)
    expect = expected_counts(n)
    assert expect["kept"] == 148_005 and expect["duplicate"] == 3_995
    assert dict(whole.ledger.counts) == expect
    res = ingest_partitioned("comtrade", [path], tmp_path / "out", chunk_rows=30_011)
    assert res.chunks_written == 7 and res.rows_written == 148_005
    assert dict(res.ledger.counts) == expect and res.ledger.rows_in == n
    assert res.ledger.notes == whole.ledger.notes
    back = read_source("canonical", [tmp_path / "out"]).flows
    pd.testing.assert_frame_equal(_sorted(back), _sorted(whole.flows), check_exact=True)
    assert back["value_usd"].sum() == whole.flows["value_usd"].sum()
    assert sorted(back["period"].unique()) == [str(y) for y in range(2015, 2022)]
