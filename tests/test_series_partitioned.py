"""The series check split by reporter gives the whole table's result byte for byte: each part's panels take the
whole table's axis of periods (a reporter that reports late or stops early is tested at the same periods), and on
the Dask engine in 8 partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks.base import ROW, CheckContext
from tradeanomaly.checks.registry import get_check
from tradeanomaly.synth import generate


def _csvs(res):
    return (res.findings.to_csv(index=False), sorted(res.tables),
            [(x.stage, x.rows_in, list(x.counts.items()), x.examples) for x in res.ledgers])


@pytest.fixture(scope="module")
def panel():
    flows = generate(seed=2, months=30).flows
    last = sorted(pd.unique(flows["period"].astype(str)))
    # one reporter stops three months early, another starts a year late
    gone = (flows["reporter"].eq("DEU") & flows["period"].isin(last[-3:])) | (
        flows["reporter"].eq("VNM") & flows["period"].isin(last[:12]))
    return flows[~gone.to_numpy()].reset_index(drop=True)


def test_each_reporter_alone_on_the_whole_tables_axis(panel):
    check = get_check("series")
    params = check.params({})
    flows = panel.assign(**{ROW: np.arange(len(panel), dtype=np.int64)})
    periods = sorted(pd.unique(flows["period"].astype(str)))[-4:]
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(flows, ctx)])
    whole = check.combine([check.run(flows, ctx)], ctx)
    assert len(whole.findings)
    parts = [g.reset_index(drop=True) for _, g in flows.groupby("reporter", sort=False)]
    shared = check.stats_combine([check.stats_part(p, ctx) for p in parts])
    assert shared == ctx.stats
    split = check.combine([check.run(p, CheckContext(periods=periods, params=params, stats=shared)) for p in parts],
                          ctx)
    assert _csvs(split) == _csvs(whole)
    # DEU alone has no column for the last periods: fewer tests
    deu = next(p for p in parts if p["reporter"].iloc[0] == "DEU")
    c = CheckContext(periods=periods, params=params)
    c.stats = check.stats_combine([check.stats_part(deu, c)])
    alone = check.run(deu, c).tables["_series_tested"]
    with_axis = check.run(deu, CheckContext(periods=periods, params=params, stats=shared)).tables["_series_tested"]
    assert alone < with_axis


def test_dask_engine_in_8_partitions_equals_pandas(panel):
    pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")
    from dask_support import run_on_dask
    from tradeanomaly.engine import PandasExecutor

    check = get_check("series")
    params = check.params({})
    periods = sorted(pd.unique(panel["period"].astype(str)))[-3:]
    pandas_res = PandasExecutor(panel).run_check(check, CheckContext(periods=periods, params=params))
    dask_res, tasks = run_on_dask(check, panel, CheckContext(periods=periods, params=params))
    assert tasks == ["series: 8 partitions"]
    assert len(pandas_res.findings) > 0
    assert _csvs(pandas_res) == _csvs(dask_res)
