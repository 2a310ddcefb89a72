"""The checks that partition run on the Dask engine as one task per partition (>= 8), with their global statistics
as a reduce step, and give the pandas engine's result byte for byte: findings, every table and the ledgers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks.base import ROW, CheckContext, stable_hash
from tradeanomaly.checks.registry import get_check
from tradeanomaly.config import load_config
from tradeanomaly.engine import PandasExecutor
from tradeanomaly.synth import default_sample_path, generate

distributed = pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")

CHECKS = ("invoice_export",)


@pytest.fixture(scope="module")
def client():
    from tradeanomaly.engine import close_client, get_client

    c = get_client(2)
    yield c
    close_client(c)


def _same(a, b):
    assert a.findings.to_csv(index=False) == b.findings.to_csv(index=False)
    assert sorted(a.tables) == sorted(b.tables)
    for t in a.tables:
        assert a.tables[t].to_csv(index=False) == b.tables[t].to_csv(index=False), t
    la = [(x.stage, x.rows_in, dict(x.counts), x.examples, x.notes) for x in a.ledgers]
    lb = [(x.stage, x.rows_in, dict(x.counts), x.examples, x.notes) for x in b.ledgers]
    assert la == lb


@pytest.mark.parametrize("name", CHECKS)
def test_sample_check_runs_in_partitions_on_dask_and_equals_pandas(client, name):
    from tradeanomaly.dask_engine import open_flows
    from tradeanomaly.sources import read_source

    check = get_check(name)
    assert check.partitioned
    flows = read_source("canonical", [default_sample_path()]).flows
    periods = ["2022-10", "2022-11", "2022-12"]
    params = check.params(load_config(environ={}).checks[name].params)
    pandas_res = PandasExecutor(flows).run_check(check, CheckContext(periods=periods, params=params))
    executor, _ = open_flows(client, "canonical", [default_sample_path()], partitions=8)
    dask_res = executor.run_check(check, CheckContext(periods=periods, params=params))
    assert executor.tasks == [f"{name}: 8 partitions"]
    assert len(pandas_res.findings) > 0
    _same(pandas_res, dask_res)


def test_invoice_export_n_tested_counts_the_tests_of_every_pair():
    """Each part alone counts only its own pairs' tests; the reduce step gives every part the whole table's count,
    and all province rows (the provinces are judged against each other) share one partition."""
    check = get_check("invoice_export")
    flows = generate(seed=3, months=30).flows
    flows = flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    periods = sorted(pd.unique(flows["period"].astype(str)))[-6:]
    params = check.params(load_config(environ={}).checks["invoice_export"].params)
    key = check.partition_key(flows)
    province = flows["region"].astype(str).ne("").to_numpy()
    assert province.any() and set(key[province]) == {"*"}
    assert set(key[~province & (flows["partner"].astype(str) != "WLD").to_numpy()]) != {"*"}
    part = stable_hash(key, 8)
    parts = [flows[part == i].reset_index(drop=True) for i in range(8)]
    whole_ctx = CheckContext(periods=periods, params=params)
    whole_ctx.stats = check.stats_combine([check.stats_part(flows, whole_ctx)])
    whole = check.combine([check.run(flows, whole_ctx)], whole_ctx)
    band = whole.findings["signal"] == "invoice_export.mirror_band"
    assert band.any()
    n_all = whole_ctx.stats["M"]
    assert (whole.findings.loc[band, "n_tested"] == n_all).all()
    local = CheckContext(periods=periods, params=params)
    counts = [check.stats_part(p, local) for p in parts]
    assert sum(c.get("M", 0) for c in counts) == n_all and max(c.get("M", 0) for c in counts) < n_all
    # without the reduce step each part would count its own pairs only
    alone = check.combine([check.run(p, local) for p in parts], local)
    assert alone.findings.to_csv(index=False) != whole.findings.to_csv(index=False)
    shared = CheckContext(periods=periods, params=params, stats=check.stats_combine(counts))
    split = check.combine([check.run(p, shared) for p in parts], shared)
    assert split.findings.to_csv(index=False) == whole.findings.to_csv(index=False)
