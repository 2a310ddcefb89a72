"""The Benford check split by reporter (the Dask engine's partitions) gives the whole table's result byte for byte:
the record pass's chunks cut where the whole table's are, the publisher-estimates table from counts, a grouping that
crosses reporters refused, and the Dask engine in 8 partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks.base import ROW, CheckContext, stable_hash
from tradeanomaly.checks.benford import counting, estimated_table
from tradeanomaly.checks.benford.estimated import estimated_counts, estimated_table_from_counts
from tradeanomaly.checks.registry import get_check
from tradeanomaly.errors import ConfigError
from tradeanomaly.synth import generate


def _csvs(res):
    out = {"findings": res.findings.to_csv(index=False)}
    out.update({t: df.to_csv(index=False) for t, df in res.tables.items()})
    out["ledgers"] = repr([(x.stage, x.rows_in, list(x.counts.items()), list(x.examples.items()), x.notes)
                           for x in res.ledgers])
    return out


def _split(flows, periods, params, n=8, cuts=True):
    check = get_check("benford")
    flows = flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(flows, ctx)])
    whole = check.combine([check.run(flows, ctx)], ctx)
    part = stable_hash(check.partition_key(flows), n)
    parts = [flows[part == i].reset_index(drop=True) for i in range(n)]
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(p, ctx) for p in parts])
    if not cuts:
        ctx.stats["cuts"] = {}
    split = check.combine([check.run(p, ctx) for p in parts], ctx)
    return whole, split


@pytest.fixture(scope="module")
def panel():
    flows = generate(seed=4, months=24).flows
    # publisher estimates on 5 % of the rows, so that the estimates table is made
    est = flows["estimated"].to_numpy().copy()
    est[np.random.default_rng(0).random(len(est)) < 0.05] = True
    return flows.assign(estimated=est)


def test_split_equals_whole_over_many_chunks_of_the_record_pass(panel, monkeypatch):
    """The record pass runs over many chunks (small chunks here); each part cuts its records where the whole table's
    pass does, so the groups' float sums (distortion factor, mantissa arc) keep their bits."""
    monkeypatch.setattr(counting, "_PASS_CHUNK", 4096)
    periods = sorted(pd.unique(panel["period"].astype(str)))[-6:]
    whole, split = _split(panel, periods, {})
    assert "benford_estimated" in whole.tables and len(whole.findings)
    assert int(whole.tables["benford_audit"]["n"].sum()) > 8 * 4096
    a, b = _csvs(whole), _csvs(split)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == b[k], k
    # without the cuts the sums of the groups split over chunks differ in their last bits
    _, uncut = _split(panel, periods, {}, cuts=False)
    cols = ["distortion_factor", "mantissa_arc_l2"]
    assert uncut.findings.to_csv(index=False) == whole.findings.to_csv(index=False)
    assert uncut.tables["benford_audit"][cols].to_csv(index=False) != whole.tables["benford_audit"][cols].to_csv(
        index=False)


def test_split_equals_whole_for_other_settings(panel):
    periods = sorted(pd.unique(panel["period"].astype(str)))[-2:]
    for params in ({"group_by": ["reporter", "flow"], "min_n": 100}, {"windows": False, "exclude_estimated": False}):
        whole, split = _split(panel, periods, params)
        assert _csvs(whole) == _csvs(split), params
    one = panel[panel["reporter"].isin(["CHN"])]  # one reporter: one part holds every row, the others none
    assert _csvs(_split(one, periods, {})[0]) == _csvs(_split(one, periods, {})[1])


def test_estimates_table_from_the_parts_counts(panel):
    by = stable_hash(panel["reporter"].astype(str), 8)
    parts = [estimated_counts(panel[by == i], min_value=10.0, drop_totals=True) for i in range(8)]
    direct = estimated_table(panel, min_value=10.0, min_n=300)
    assert direct is not None
    assert estimated_table_from_counts(parts, min_n=300).to_csv(index=False) == direct.to_csv(index=False)
    assert estimated_table_from_counts(parts, min_n=10 ** 9) is None


def test_groups_across_reporters_cannot_be_split(panel):
    periods = sorted(pd.unique(panel["period"].astype(str)))[-1:]
    with pytest.raises(ConfigError, match="group_by.*several reporters"):
        _split(panel, periods, {"group_by": ["flow"]})


def test_dask_engine_in_8_partitions_equals_pandas(panel):
    """The Dask engine shuffles the rows on the reporter into 8 partitions, runs the reduce step, each partition and
    combine: the pandas engine's result, byte for byte (the CLI runs on the sample compare the same way)."""
    pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")
    from dask_support import run_on_dask
    from tradeanomaly.engine import PandasExecutor

    check = get_check("benford")
    flows = panel.reset_index(drop=True)
    periods = sorted(pd.unique(flows["period"].astype(str)))[-3:]
    pandas_res = PandasExecutor(flows).run_check(check, CheckContext(periods=periods, params={}))
    dask_res, tasks = run_on_dask(check, flows, CheckContext(periods=periods, params={}))
    assert tasks == ["benford: 8 partitions"]
    assert len(pandas_res.findings) > 0
    assert _csvs(pandas_res) == _csvs(dask_res)


def test_reduce_without_the_rows_positions_makes_no_cuts(panel):
    """Without ``_row`` in the reduce step (an engine that does not pass the rows' positions) the parts cannot know
    where the whole table's record pass cuts its chunks: no cuts are given, and each part keeps its own chunks."""
    check = get_check("benford")
    by = stable_hash(check.partition_key(panel), 8)
    ctx = CheckContext(periods=None, params={})
    stats = check.stats_combine([check.stats_part(panel[by == i].reset_index(drop=True), ctx) for i in range(8)])
    assert stats["cuts"] is None and stats["spans"] and stats["groups"]


def test_dask_engine_cuts_its_chunks_where_the_whole_table_does(panel):
    """Every period under test (more amounts than one chunk of the record pass, 65,536): the Dask engine's reduce
    step gets the rows' positions, so the audit's float sums (distortion factor, mantissa arc) keep the pandas
    engine's bits."""
    pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")
    from dask_support import run_on_dask
    from tradeanomaly.engine import PandasExecutor

    check = get_check("benford")
    flows = panel.reset_index(drop=True)
    assert int((flows["value_usd"] >= 10).sum()) > 65_536
    pandas_res = PandasExecutor(flows).run_check(check, CheckContext(periods=None, params={}))
    dask_res, tasks = run_on_dask(check, flows, CheckContext(periods=None, params={}))
    assert _csvs(pandas_res) == _csvs(dask_res)


def test_dask_engine_runs_groups_across_reporters_as_one_task(panel):
    """Groups by flow (every reporter's exports together) cannot be split on the reporter: the Dask engine asks
    ``splits`` and runs the check as one task, with the pandas engine's result."""
    pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")
    from dask_support import run_on_dask
    from tradeanomaly.engine import PandasExecutor

    check = get_check("benford")
    flows = panel.reset_index(drop=True)
    periods = sorted(pd.unique(flows["period"].astype(str)))[-3:]
    params = {"group_by": ["flow"]}
    assert not check.splits(CheckContext(periods=periods, params=params))
    assert check.splits(CheckContext(periods=periods, params={}))
    pandas_res = PandasExecutor(flows).run_check(check, CheckContext(periods=periods, params=params))
    dask_res, tasks = run_on_dask(check, flows, CheckContext(periods=periods, params=params))
    assert tasks == ["benford: 1 task"]
    assert len(pandas_res.findings) > 0
    assert _csvs(pandas_res) == _csvs(dask_res)
