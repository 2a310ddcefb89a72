"""Partitioned ingest: Parquet by period, exact ledger, duplicates across chunks and files, restart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from tradeanomaly.cli import main
from tradeanomaly.errors import ConfigError
from tradeanomaly.ingest import file_sha256, ingest_partitioned, partition_files
from tradeanomaly.schema import FLOW_COLUMNS
from tradeanomaly.sources import read_source
from tradeanomaly.sources.base import FLOW_KEY

KEY = FLOW_KEY + ["valuation"]
BACI = Path(__file__).parent / "fixtures" / "baci"


class Interrupt(Exception):
    pass


def _panel(seed: int = 3, n: int = 1200) -> pd.DataFrame:
    """Canonical rows over three years with known defects: 7 repeated keys (some far apart, in other chunks),
    2 bad estimated flags, 3 negative values, 1 empty value; Namibia (NA in ISO2, NAM here) among the codes."""
    rng = np.random.default_rng(seed)
    iso = np.array(["CHN", "USA", "HKG", "DEU", "NAM", "VNM", "MEX", "JPN"])
    hs = np.array(["010121", "847130", "851712", "TOTAL", "27", "8542"])
    r = rng.integers(0, len(iso), n)
    p = (r + rng.integers(1, len(iso), n)) % len(iso)
    df = pd.DataFrame({
        "period": rng.choice(["2019", "2020", "2021"], n), "reporter": iso[r], "region": "",
        "partner": iso[p], "flow": rng.choice(["X", "M"], n), "hs": rng.choice(hs, n),
        "value_usd": np.round(np.exp(rng.normal(12, 2, n)), 2).astype(str), "valuation": "",
        "quantity": "", "quantity_unit": "", "estimated": rng.choice(["false", "true"], n, p=[0.95, 0.05]),
        "source": "test",
    })
    df = df.drop_duplicates(["period", "reporter", "partner", "flow", "hs"]).reset_index(drop=True)
    dups = df.iloc[[3, 10, 50, 200, 400, 401, 5]].copy()  # the same keys again, other values
    dups["value_usd"] = "999"
    df = pd.concat([df, dups], ignore_index=True)
    df.loc[[20, 21], "estimated"] = "maybe"
    df.loc[[30, 31, 32], "value_usd"] = "-5"
    df.loc[40, "value_usd"] = ""
    return df[list(FLOW_COLUMNS)]


def _write_csv(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False)
    return path


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(KEY, kind="stable").reset_index(drop=True)


def test_partitioned_ingest_equals_whole_file_read(tmp_path):
    src = _write_csv(_panel(), tmp_path / "flows.csv")
    whole = read_source("canonical", [src])
    res = ingest_partitioned("canonical", [src], tmp_path / "out", chunk_rows=250)
    assert res.chunks_written == -(-len(_panel()) // 250) == 4
    # the same ledger as reading the file at once: duplicates across chunks found by key
    assert dict(res.ledger.counts) == dict(whole.ledger.counts)
    assert res.ledger.counts["duplicate"] == 7 and res.ledger.counts["bad_estimated_flag"] == 2
    assert res.ledger.counts["negative_value"] == 3 and res.ledger.counts["missing_value"] == 1
    assert res.ledger.rows_in == len(_panel()) and res.rows_written == whole.ledger.kept
    on_disk = json.loads((tmp_path / "out" / "ledger.json").read_text())
    assert on_disk[0]["counts"] == dict(whole.ledger.counts)
    # hive layout, one folder per period, no period column inside the parts
    root, files = partition_files(tmp_path / "out")
    assert sorted({f.parent.name for f in files}) == ["period=2019", "period=2020", "period=2021"]
    import pyarrow.parquet as pq

    assert "period" not in pq.ParquetFile(files[0]).schema_arrow.names
    # read back by the canonical reader (folder) and by pyarrow's hive reader: the same rows
    back = read_source("canonical", [tmp_path / "out"])
    assert back.ledger.kept == whole.ledger.kept and dict(back.ledger.counts) == {"kept": whole.ledger.kept}
    pd.testing.assert_frame_equal(_sorted(back.flows), _sorted(whole.flows))
    hive = pq.read_table(root, partitioning="hive").to_pandas()
    assert len(hive) == whole.ledger.kept
    # first occurrence kept, as the whole-file reader does: no kept row has the planted 999
    assert not (back.flows["value_usd"] == 999.0).any()


def test_interrupted_ingest_resumes_to_the_same_result(tmp_path):
    a = _write_csv(_panel(seed=3), tmp_path / "a.csv")
    b_df = _panel(seed=4)
    b_df = pd.concat([b_df, _panel(seed=3).iloc[[0, 1, 2]]], ignore_index=True)  # 3 keys already in a.csv
    b = _write_csv(b_df, tmp_path / "b.csv")
    ref = ingest_partitioned("canonical", [a, b], tmp_path / "ref", chunk_rows=300)

    seen = []

    def stop_after(n):
        def progress(msg):
            seen.append(msg)
            if len(seen) == n:
                raise Interrupt(msg)
        return progress

    out = tmp_path / "out"
    # a.csv has 4 chunks: stop inside b.csv, after its 2nd chunk is written
    with pytest.raises(Interrupt):
        ingest_partitioned("canonical", [a, b], out, chunk_rows=300, progress=stop_after(6))
    marks = sorted(m.name[64:] for m in (out / "_ingested").glob("*.json"))
    assert marks == [".chunk-00000.json", ".chunk-00001.json", ".json"]  # a.csv complete; b.csv 2 checkpoints
    assert not (out / "ledger.json").exists()
    b_prefix = file_sha256(b)[:16]
    assert any(b_prefix in p.name for p in (out / "flows").rglob("*.parquet"))  # b.csv half written
    seen.clear()
    res = ingest_partitioned("canonical", [a, b], out, chunk_rows=300, progress=seen.append)
    assert [f["status"] for f in res.files] == ["skipped", "resumed"]
    # b.csv resumes after its 2 complete chunks: only chunks 3 and 4 are converted again
    assert any("resuming after chunk 2 (600 rows already converted)" in m for m in seen), seen
    assert res.chunks_written == 2
    assert not list((out / "_ingested").glob("*.chunk-*"))  # checkpoints go once the file is complete
    # identical rows and ledger as the uninterrupted ingest
    assert (out / "ledger.json").read_text() == (tmp_path / "ref" / "ledger.json").read_text()
    assert res.ledger.to_dict() == ref.ledger.to_dict()
    whole = read_source("canonical", [a, b]).ledger  # duplicates across the two files too
    assert dict(res.ledger.counts) == dict(whole.counts) and res.ledger.counts["duplicate"] > 7 + 7 + 3
    files = sorted(p.relative_to(out).as_posix() for p in (out / "flows").rglob("*.parquet"))
    ref_files = sorted(p.relative_to(tmp_path / "ref").as_posix() for p in (tmp_path / "ref" / "flows").rglob("*.parquet"))
    assert files == ref_files
    got = read_source("canonical", [out]).flows
    pd.testing.assert_frame_equal(got, read_source("canonical", [tmp_path / "ref"]).flows)
    # a third run converts nothing
    again = ingest_partitioned("canonical", [a, b], out, chunk_rows=300)
    assert [f["status"] for f in again.files] == ["skipped", "skipped"] and again.chunks_written == 0
    assert again.ledger.to_dict() == ref.ledger.to_dict()


def test_interrupted_first_file_and_stale_parts(tmp_path):
    a = _write_csv(_panel(seed=5), tmp_path / "a.csv")
    with pytest.raises(Interrupt):
        ingest_partitioned("canonical", [a], tmp_path / "out", chunk_rows=200,
                           progress=lambda m: (_ for _ in ()).throw(Interrupt(m)))
    assert [m.name.split(".", 1)[1] for m in (tmp_path / "out" / "_ingested").glob("*.json")] == ["chunk-00000.json"]
    res = ingest_partitioned("canonical", [a], tmp_path / "out", chunk_rows=500)
    whole = read_source("canonical", [a])
    assert dict(res.ledger.counts) == dict(whole.ledger.counts)
    back = read_source("canonical", [tmp_path / "out"]).flows
    pd.testing.assert_frame_equal(_sorted(back), _sorted(whole.flows))
    # no part of the interrupted 200-row conversion survives: the parts are those of a fresh 500-row ingest
    fresh = tmp_path / "fresh"
    ingest_partitioned("canonical", [a], fresh, chunk_rows=500)
    assert (sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.parquet"))
            == sorted(p.relative_to(fresh).as_posix() for p in fresh.rglob("*.parquet")))


def test_folder_of_other_inputs_is_refused(tmp_path):
    a = _write_csv(_panel(seed=3), tmp_path / "a.csv")
    b = _write_csv(_panel(seed=4), tmp_path / "b.csv")
    ingest_partitioned("canonical", [a], tmp_path / "out")
    with pytest.raises(ConfigError, match="a.csv"):
        ingest_partitioned("canonical", [b], tmp_path / "out")
    with pytest.raises(ConfigError, match="same content"):
        ingest_partitioned("canonical", [a, Path(str(a))], tmp_path / "other")


def test_baci_ingest_equals_read(tmp_path):
    data, codes = BACI / "BACI_HS17_Y2019_V202401.csv", BACI / "country_codes_V202401.csv"
    whole = read_source("baci", [data, codes])
    res = ingest_partitioned("baci", [data, codes], tmp_path / "out", chunk_rows=4)
    assert res.chunks_written == 4
    assert dict(res.ledger.counts) == dict(whole.ledger.counts) == {"kept": 15}
    assert res.ledger.inputs == [data.name, codes.name]
    back = read_source("canonical", [tmp_path / "out" / "flows"]).flows
    pd.testing.assert_frame_equal(_sorted(back), _sorted(whole.flows))


def test_baci_resume_skips_the_checkpointed_chunks(tmp_path):
    """BACI resumes after its last complete chunk without converting the chunks before it; same result."""
    data, codes = BACI / "BACI_HS17_Y2019_V202401.csv", BACI / "country_codes_V202401.csv"
    ref = ingest_partitioned("baci", [data, codes], tmp_path / "ref", chunk_rows=4)
    calls = []

    def stop_at_third(msg):
        calls.append(msg)
        if len(calls) == 3:
            raise Interrupt(msg)

    with pytest.raises(Interrupt):
        ingest_partitioned("baci", [data, codes], tmp_path / "out", chunk_rows=4, progress=stop_at_third)
    seen = []
    res = ingest_partitioned("baci", [data, codes], tmp_path / "out", chunk_rows=4, progress=seen.append)
    assert res.chunks_written == 1 and [f["status"] for f in res.files] == ["resumed"]
    assert any("resuming after chunk 3 (12 rows already converted)" in m for m in seen), seen
    assert res.ledger.to_dict() == ref.ledger.to_dict()
    assert ((tmp_path / "out" / "ledger.json").read_text() == (tmp_path / "ref" / "ledger.json").read_text())
    pd.testing.assert_frame_equal(read_source("canonical", [tmp_path / "out"]).flows,
                                  read_source("canonical", [tmp_path / "ref"]).flows)


def test_cli_partitioned_and_resume(tmp_path):
    src = _write_csv(_panel(), tmp_path / "flows.csv")
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["ingest", "--partitioned", "--chunk-rows", "400", "--out", str(out), str(src)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    whole = read_source("canonical", [src]).ledger
    assert f"{whole.kept:,}" in r.output and "1 file(s) converted" in r.output
    r2 = CliRunner().invoke(main, ["ingest", "--partitioned", "-q", "--out", str(out), str(src)],
                            catch_exceptions=False)
    assert r2.exit_code == 0 and "0 file(s) converted, 1 already done" in r2.output
    # the default stays the single-file output
    r3 = CliRunner().invoke(main, ["ingest", "--out", str(tmp_path / "single"), str(src)], catch_exceptions=False)
    assert r3.exit_code == 0 and (tmp_path / "single" / "flows.parquet").is_file()
