"""Exact duplicate detection of the partitioned ingest: keys compared, not hashes; the first occurrence kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly import dedup
from tradeanomaly.dedup import KEY_COLUMNS, KeySet
from tradeanomaly.errors import SourceFormatError
from tradeanomaly.ingest import ingest_partitioned, partition_files
from tradeanomaly.schema import FLOW_COLUMNS
from tradeanomaly.sources import read_source


def _keys(rng, n: int) -> pd.DataFrame:
    """Keys from small vocabularies (many repeats), a missing region among them."""
    return pd.DataFrame({
        "period": rng.choice(["2019", "2020"], n), "reporter": rng.choice(["CHN", "USA", "NAM"], n),
        "region": rng.choice(np.array(["", None, "GD"], dtype=object), n), "partner": rng.choice(["DEU", "HKG"], n),
        "flow": rng.choice(["X", "M"], n), "hs": rng.choice(["010121", "8542", "TOTAL"], n),
        "valuation": rng.choice(["", "FOB"], n),
    })[KEY_COLUMNS]


@pytest.mark.parametrize("collide", [False, True])
def test_keyset_matches_pandas_duplicated_in_batches(monkeypatch, collide):
    if collide:  # every key hashes to the same slot: only the key comparison tells them apart
        monkeypatch.setattr(dedup, "slot_hash", lambda a, b: np.zeros(len(a), dtype=np.uint64))
    rng = np.random.default_rng(7)
    keys = _keys(rng, 900)
    expected = keys.duplicated(keep="first").to_numpy()
    ks = KeySet(capacity=8)  # grows several times
    got = np.concatenate([ks.add(keys.iloc[i:i + 100]) for i in range(0, len(keys), 100)])
    assert (got == expected).all()
    assert len(ks) == int((~expected).sum()) == len(keys.drop_duplicates())
    assert 300 < len(ks) < 432 and expected.sum() > 400  # many repeats among 432 possible keys


def test_colliding_hashes_keep_distinct_rows_in_an_ingest(tmp_path, monkeypatch):
    """Two rows that differ only in their product, with one hash: both kept; true repeats dropped and counted."""
    rows = pd.DataFrame({
        "period": ["2020", "2020", "2020", "2021", "2020", "2020"],
        "reporter": ["CHN", "CHN", "USA", "CHN", "CHN", "CHN"], "region": "", "partner": "DEU",
        "flow": "X", "hs": ["847130", "847150", "847130", "847130", "847130", "847150"],
        "value_usd": ["10", "20", "30", "40", "99", "98"], "valuation": "", "quantity": "", "quantity_unit": "",
        "estimated": "false", "source": "test",
    })[list(FLOW_COLUMNS)]
    src = tmp_path / "flows.csv"
    rows.to_csv(src, index=False)
    monkeypatch.setattr(dedup, "slot_hash", lambda a, b: np.full(len(a), 12345, dtype=np.uint64))
    res = ingest_partitioned("canonical", [src], tmp_path / "out", chunk_rows=2)
    # rows 5 and 6 repeat rows 1 and 2 (in a later chunk): the two duplicates; the four distinct keys kept
    assert res.ledger.counts["kept"] == 4 and res.ledger.counts["duplicate"] == 2
    assert dict(res.ledger.counts) == dict(read_source("canonical", [src]).ledger.counts)
    _, files = partition_files(tmp_path / "out")
    back = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    assert sorted(back["value_usd"]) == [10.0, 20.0, 30.0, 40.0]  # the first occurrences, values as written


def test_a_resumed_ingest_knows_the_keys_of_the_skipped_file(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    base = dict(region="", partner="DEU", flow="X", valuation="", quantity="", quantity_unit="",
                estimated="false", source="test")
    pd.DataFrame([dict(base, period="2020", reporter="CHN", hs="01", value_usd="1"),
                  dict(base, period="2020", reporter="USA", hs="01", value_usd="2")])[list(FLOW_COLUMNS)].to_csv(
        a, index=False)
    pd.DataFrame([dict(base, period="2020", reporter="USA", hs="01", value_usd="3"),
                  dict(base, period="2020", reporter="USA", hs="02", value_usd="4")])[list(FLOW_COLUMNS)].to_csv(
        b, index=False)
    ingest_partitioned("canonical", [a], tmp_path / "out")
    with pytest.raises(Exception):
        ingest_partitioned("canonical", [b], tmp_path / "out")  # a.csv converted already: must be passed too
    res = ingest_partitioned("canonical", [a, b], tmp_path / "out")  # a skipped, its keys read from its parts
    assert [f["status"] for f in res.files] == ["skipped", "converted"]
    assert res.ledger.counts["kept"] == 3 and res.ledger.counts["duplicate"] == 1


def test_a_vocabulary_too_large_for_its_width_is_refused(monkeypatch):
    monkeypatch.setattr(dedup, "WORD_A", (("period", 2),) + dedup.WORD_A[1:])
    ks = KeySet()
    keys = pd.DataFrame({c: ["x"] * 3 for c in KEY_COLUMNS})
    keys["period"] = ["2019", "2020", "2021"]
    with pytest.raises(SourceFormatError, match="distinct values in key column `period`"):
        ks.add(keys)
