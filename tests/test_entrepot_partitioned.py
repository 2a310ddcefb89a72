"""The entrepot check split by product (its Dask partitions) gives the whole table's result byte for byte: its robust
z values are taken across the products of one period, destination and product level, ``n_tested`` counts every
product's triples, the period axis spans the whole table and the hub_share screen compares products, so each part
needs the reduce step (records of the z values, counts, axis, the screen's summed legs) to judge its own products."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks.base import ROW, CheckContext, stable_hash
from tradeanomaly.checks.entrepot import EntrepotParams
from tradeanomaly.checks.registry import get_check
from tradeanomaly.config import load_config
from tradeanomaly.errors import ConfigError
from tradeanomaly.synth import generate


def _results(flows, periods, params, n=8, shared=True):
    """(whole table, its n parts) through the engines' code path: ``_row``, reduce step, run, combine."""
    check = get_check("entrepot")
    flows = flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(flows, ctx)])
    whole = check.combine([check.run(flows, ctx)], ctx)
    part = stable_hash(check.partition_key(flows), n)
    parts = [flows[part == i].reset_index(drop=True) for i in range(n)]
    # the engine's reduce step reads each partition without ``_row``
    stats = check.stats_combine([check.stats_part(p.drop(columns=[ROW]), ctx) for p in parts])
    results = []
    for p in parts:
        own = stats if shared else check.stats_combine([check.stats_part(p.drop(columns=[ROW]), ctx)])
        results.append(check.run(p, CheckContext(periods=periods, params=params, stats=own)))
    return whole, check.combine(results, CheckContext(periods=periods, params=params, stats=stats))


def _same(a, b) -> bool:
    if a.findings.to_csv(index=False) != b.findings.to_csv(index=False):
        return False
    if list(a.tables) != list(b.tables):
        return False
    if any(a.tables[t].to_csv(index=False) != b.tables[t].to_csv(index=False) for t in a.tables):
        return False
    la = [(x.stage, x.rows_in, list(x.counts.items()), x.examples, x.notes) for x in a.ledgers]
    lb = [(x.stage, x.rows_in, list(x.counts.items()), x.examples, x.notes) for x in b.ledgers]
    return la == lb


def _params():
    return get_check("entrepot").params(load_config(environ={}).checks["entrepot"].params)


@pytest.fixture(scope="module")
def panel():
    return generate(seed=0).flows


def test_eight_parts_equal_the_whole_table_and_need_the_reduce_step(panel):
    periods = sorted(pd.unique(panel["period"].astype(str)))[-6:]
    whole, split = _results(panel, periods, _params())
    assert len(whole.findings) > 100 and "triples_M" in whole.tables
    assert _same(whole, split)
    # each part with its own statistics: z across its own products only, its own triples counted
    _, alone = _results(panel, periods, _params(), shared=False)
    assert not _same(whole, alone)
    assert alone.findings.to_csv(index=False) != whole.findings.to_csv(index=False)
    assert set(alone.findings["n_tested"]) != set(whole.findings["n_tested"])
    assert len(alone.findings) != len(whole.findings)


def test_a_second_panel_around_the_tariff_events():
    flows = generate(seed=3).flows
    labels = sorted(pd.unique(flows["period"].astype(str)))
    whole, split = _results(flows, [lb for lb in labels if "2019-06" <= lb <= "2020-12"], _params())
    assert whole.findings["signal"].str.startswith("entrepot.share_shift").any()
    assert _same(whole, split)


def test_parts_whose_products_end_early_read_the_whole_tables_axis(panel):
    """Half the products stop a month before the others: their parts' own axis would end there, so the share
    shift would compare another post-event period (capped at the end of the data) and n_tested would differ."""
    hs = panel["hs"].astype(str)
    per = panel["period"].astype(str)
    early = hs.isin(sorted(hs.unique())[::2]).to_numpy() & (per > "2020-05").to_numpy()
    flows = panel[(per <= "2020-06").to_numpy() & ~early].reset_index(drop=True)
    whole, split = _results(flows, ["2020-05", "2020-06"], EntrepotParams(min_score=2.0))
    assert whole.findings["signal"].str.startswith("entrepot.share_shift").any()
    assert _same(whole, split)
    _, alone = _results(flows, ["2020-05", "2020-06"], EntrepotParams(min_score=2.0), shared=False)
    assert not _same(whole, alone)


def test_hub_share_screen_runs_on_the_parts_summed_legs(panel):
    """Destination-side data only: the cross-sectional screen compares a hub's products, so it runs once, in the
    reduce step, on the legs every part summed; the parts add its notes."""
    dest = panel[(panel["reporter"].isin(["USA", "DEU", "FRA", "NLD", "ITA"])
                  & (panel["flow"] == "M")).to_numpy()].reset_index(drop=True)
    labels = sorted(pd.unique(dest["period"].astype(str)))
    params = EntrepotParams(min_score=1.0, share_min_usd=1e6, share_min_origin_usd=1e4,
                            hubs=("VNM", "MEX", "MYS", "THA", "HKG", "SGP"))
    whole, split = _results(dest, labels[-3:], params)
    assert set(whole.findings["signal"]) == {"entrepot.hub_share"} and len(whole.findings) > 5
    assert any("hub_share screen was run" in n for n in whole.ledgers[0].notes)
    assert _same(whole, split)
    # HS8 codes: the screen sums them to HS6, and the partition key (the code's first 6 digits) keeps each HS6
    # together
    hs = dest["hs"].astype(str)
    odd = (np.arange(len(dest)) % 2).astype(bool)
    fine = dest.assign(hs=np.where(hs == "TOTAL", hs, hs + "01" + np.where(odd, "0101", "0102")))
    whole, split = _results(fine, labels[-3:], params)
    assert len(whole.findings) and whole.findings["hs"].str.len().eq(6).all()
    assert _same(whole, split)
    # a share level that sums products of different partitions cannot be split
    coarse = EntrepotParams(min_score=1.0, share_min_usd=1e6, share_min_origin_usd=1e4, share_level=2,
                            hubs=("VNM", "MEX", "MYS", "THA", "HKG", "SGP"))
    mixed = pd.concat([dest.assign(hs=np.where(hs == "TOTAL", hs, hs + "0101")),
                       dest.assign(hs=np.where(hs == "TOTAL", hs, hs + "0202"))], ignore_index=True)
    with pytest.raises(ConfigError, match="share_level 2"):
        _results(mixed, labels[-3:], coarse)
    # so an engine does not split it: such a run is one task (its reduce step over the whole table)
    check = get_check("entrepot")
    assert not check.splits(CheckContext(periods=labels[-3:], params=coarse))
    assert check.splits(CheckContext(periods=labels[-3:], params=params))


def test_sample_check_runs_in_partitions_on_dask_and_equals_pandas():
    pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")
    from tradeanomaly.dask_engine import open_flows
    from tradeanomaly.engine import PandasExecutor, close_client, get_client
    from tradeanomaly.sources import read_source
    from tradeanomaly.synth import default_sample_path

    check = get_check("entrepot")
    flows = read_source("canonical", [default_sample_path()]).flows
    periods = ["2022-10", "2022-11", "2022-12"]
    pandas_res = PandasExecutor(flows).run_check(check, CheckContext(periods=periods, params=_params()))
    client = get_client(2)
    try:
        executor, _ = open_flows(client, "canonical", [default_sample_path()], partitions=8)
        dask_res = executor.run_check(check, CheckContext(periods=periods, params=_params()))
    finally:
        close_client(client)
    assert executor.tasks == ["entrepot: 8 partitions"]
    assert len(pandas_res.findings) > 0
    assert _same(pandas_res, dask_res)
