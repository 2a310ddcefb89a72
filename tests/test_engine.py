"""The Dask engine gives the pandas engine's results: same flows, same mirror pairs, same digit counts, same
mirror findings. Dask runs on a local cluster started here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.dataframe", reason="the Dask engine is the optional extra `dask`")
pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")

from tradeanomaly import engine  # noqa: E402
from tradeanomaly.checks import mirror  # noqa: E402
from tradeanomaly.checks.benford import analyse_groups  # noqa: E402
from tradeanomaly.errors import ConfigError  # noqa: E402
from tradeanomaly.ingest import ingest_partitioned  # noqa: E402
from tradeanomaly.sources import read_source  # noqa: E402
from tradeanomaly.sources.canonical import write_flows  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with engine.dask_client(workers=2) as c:
        assert len(c.scheduler_info()["workers"]) == 2
        yield c


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A small synthetic panel (national rows, the second year of a monthly panel, a planted mirror gap) ingested into Parquet parts:
    returns the folder and the flows the pandas engine reads from it."""
    from tradeanomaly.synth import generate

    flows = generate(seed=7, months=24).flows
    keep = (flows["region"] == "") & flows["hs"].isin(["TOTAL", "85", "84", "27"]) & (flows["period"] >= "2018-01")
    flows = flows.loc[keep].reset_index(drop=True)
    # a planted invoice-export gap: CHN reports 3x its exports of chapter 85 to HKG in the last month
    last = flows["period"].max()
    hit = (flows["period"] == last) & (flows["reporter"] == "CHN") & (flows["partner"] == "HKG") \
        & (flows["flow"] == "X") & (flows["hs"] == "85")
    assert hit.sum() == 1
    flows.loc[hit, "value_usd"] *= 3.0
    d = tmp_path_factory.mktemp("engine")
    write_flows(flows, d / "flows.parquet")
    ingest_partitioned("canonical", [d / "flows.parquet"], d / "out", chunk_rows=100_000)
    return d / "out", read_source("canonical", [d / "out"]).flows


def test_load_flows_identical(panel, client):
    folder, flows = panel
    got = engine.load_flows(folder, engine="dask", client=client)
    assert len(got) == len(flows) > 5_000
    pd.testing.assert_frame_equal(got, flows)
    pd.testing.assert_frame_equal(engine.load_flows(folder), flows)


def test_mirror_sides_identical_and_equal_to_the_checks_pairing(panel, client):
    folder, flows = panel
    a = engine.mirror_sides(flows)
    b = engine.mirror_sides(folder, engine="dask", client=client)
    pd.testing.assert_frame_equal(a, b)
    # the paired rows are exactly the mirror check's pairs (same keys, same two values)
    pr = mirror.pair_flows(flows)
    p = pr.pairs
    ref = pd.DataFrame({"period": pr.period_labels[p["p"]], "exporter": pr.countries[p["e"]],
                        "importer": pr.countries[p["i"]], "hs": pr.hs[p["h"]],
                        "x_usd": p["x_usd"].to_numpy(), "m_usd": p["m_usd"].to_numpy()})
    ref = ref.astype({k: "str" for k in engine.SIDE_KEYS}).sort_values(engine.SIDE_KEYS).reset_index(drop=True)
    mine = a.loc[a["paired"], engine.SIDE_KEYS + ["x_usd", "m_usd"]].reset_index(drop=True)
    assert len(mine) == pr.ledger.counts["paired"] // 2 > 500
    pd.testing.assert_frame_equal(mine, ref)
    # one-sided flows: the check's lost + orphaned rows
    assert int((~a["paired"]).sum()) == pr.ledger.counts.get("lost", 0) + pr.ledger.counts.get("orphaned", 0) \
        + pr.ledger.counts.get("level_mismatch", 0)
    # the planted gap is there, three times the honest figure
    row = a[(a["exporter"] == "CHN") & (a["importer"] == "HKG") & (a["hs"] == "85")
            & (a["period"] == flows["period"].max())].iloc[0]
    assert row["x_usd"] / row["m_usd"] > 2.5


def test_digit_counts_identical_and_equal_to_benford(panel, client):
    folder, flows = panel
    for group_by in (["reporter"], ["reporter", "flow"], []):
        k1, m1 = engine.digit_counts(flows, group_by)
        k2, m2 = engine.digit_counts(folder, group_by, engine="dask", client=client)
        pd.testing.assert_frame_equal(k1, k2)
        assert np.array_equal(m1, m2) and m1.sum() > 5_000
    v = flows["value_usd"].to_numpy()
    keep = v >= 10
    gb = analyse_groups(v[keep], flows.loc[keep, ["reporter", "flow"]].astype("str"))
    k1, m1 = engine.digit_counts(flows, ["reporter", "flow"])
    assert np.array_equal(gb.counts["first_two_digits"], m1)
    assert gb.keys.astype("str").to_numpy().tolist() == k1.to_numpy().tolist()


def test_mirror_findings_identical(panel, client):
    """The same small panel through both engines: identical mirror findings (the planted gap among the top)."""
    folder, flows = panel
    last = [str(flows["period"].max())]
    res_pd = mirror.run(engine.load_flows(folder), periods=last)
    res_dk = mirror.run(engine.load_flows(folder, engine="dask", client=client), periods=last)
    pd.testing.assert_frame_equal(res_pd.findings, res_dk.findings)
    assert [led.to_dict() for led in res_pd.ledgers] == [led.to_dict() for led in res_dk.ledgers]
    top = res_pd.findings.head(5)
    assert ((top["reporter"] == "CHN") & (top["partner"] == "HKG") & (top["hs"] == "85")).any()


def test_bad_engine_and_unreachable_scheduler():
    with pytest.raises(ConfigError, match="pandas or dask"):
        engine.mirror_sides(pd.DataFrame(), engine="spark")
    with pytest.raises(ConfigError, match="scheduler"):
        engine.get_client(scheduler_address="tcp://127.0.0.1:9", timeout=1)


def test_load_partitioned_brings_the_ingest_ledger(panel):
    folder, flows = panel
    got, ledgers = engine.load_partitioned(folder, engine="dask", workers=1)
    pd.testing.assert_frame_equal(got, flows)
    assert len(ledgers) == 1 and ledgers[0].kept == len(flows) and ledgers[0].stage == "read:canonical"
    same, _ = engine.load_partitioned(folder / "flows")
    pd.testing.assert_frame_equal(same, flows)


def test_folder_rows_as_stored_with_both_engines(tmp_path, client):
    """On a folder (not written by ingest) holding a repeated key, both engines count the rows as stored."""
    from tradeanomaly.ingest import PART_COLUMNS, part_schema
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = pd.DataFrame({"reporter": ["CHN", "CHN", "USA", "USA"], "region": "", "partner": ["USA"] * 2 + ["CHN"] * 2,
                         "flow": ["X", "X", "M", "M"], "hs": "85", "value_usd": [100.0, 23.0, 130.0, 345.0],
                         "valuation": ["FOB", "FOB", "CIF", "CIF"], "quantity": np.nan, "quantity_unit": "",
                         "estimated": False, "source": "t"})
    d = tmp_path / "flows" / "period=2020"
    d.mkdir(parents=True)
    for k in (0, 1):
        pq.write_table(pa.Table.from_pandas(rows.iloc[2 * k:2 * k + 2][PART_COLUMNS], schema=part_schema(),
                                            preserve_index=False), d / f"part-x-{k:05d}.parquet")
    a = engine.mirror_sides(tmp_path)
    pd.testing.assert_frame_equal(a, engine.mirror_sides(tmp_path, engine="dask", client=client))
    assert a[["x_usd", "m_usd", "n_x", "n_m"]].to_numpy().tolist() == [[123.0, 475.0, 2, 2]]
    k1, m1 = engine.digit_counts(tmp_path, [])
    k2, m2 = engine.digit_counts(tmp_path, [], engine="dask", client=client)
    assert np.array_equal(m1, m2) and m1[0, [0, 3, 13, 24]].tolist() == [1, 1, 1, 1] and m1.sum() == 4  # 10, 13, 23, 34
