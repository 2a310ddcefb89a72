"""The check contract: the registry, ledger merging, stable partition numbers, and the claim of each
partitioned check that its rows can be judged key by key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks.base import ROW, CheckContext, merge_ledgers, stable_hash
from tradeanomaly.checks.registry import CHECKS, get_check
from tradeanomaly.config import CHECK_NAMES, load_config
from tradeanomaly.errors import ConfigError
from tradeanomaly.schema import Ledger


def test_registry_lists_every_configured_check_once_in_order():
    assert tuple(c.name for c in CHECKS) == CHECK_NAMES
    assert get_check("rush").key == ("hs",)
    with pytest.raises(ConfigError, match="unknown check 'nope'"):
        get_check("nope")


def test_unknown_setting_names_its_section():
    with pytest.raises(ConfigError, match=r"checks\.benford\.params: unknown setting\(s\) bogus"):
        get_check("benford").params({"bogus": 1})
    with pytest.raises(ConfigError, match=r"checks\.unit_value\.params"):
        get_check("unit_value").params({"whisker": 2})


def test_mirror_key_is_the_unordered_pair():
    df = pd.DataFrame({"reporter": ["USA", "CHN", "USA"], "partner": ["CHN", "USA", "DEU"]})
    assert get_check("mirror").partition_key(df).tolist() == ["CHN|USA", "CHN|USA", "DEU|USA"]


def test_stable_hash_is_fixed_and_in_range():
    keys = pd.Series([f"k{i}" for i in range(1000)])
    a, b = stable_hash(keys, 8), stable_hash(keys.copy(), 8)
    assert (a == b).all() and a.min() == 0 and a.max() == 7
    assert np.bincount(a, minlength=8).min() > 80  # spread over all partitions
    # the same numbers in any process: pinned values
    assert stable_hash(pd.Series(["USA|CHN", "2710", "DEU|FRA", "x"]), 8).tolist() == [2, 3, 2, 4]


def test_merge_ledgers_sums_counts_and_keeps_first_examples_of_the_input():
    a = Ledger(stage="s", rows_in=10)
    a.add("estimated", 3, [{"v": 5, ROW: 5}, {"v": 7, ROW: 7}, {"v": 9, ROW: 9}])
    a.keep(7)
    b = Ledger(stage="s", rows_in=6)
    b.add("estimated", 2, [{"v": 1, ROW: 1}, {"v": 8, ROW: 8}])
    b.keep(4)
    other = Ledger(stage="t", rows_in=1)
    other.keep(1)
    merged = merge_ledgers([a, other, b])
    assert [m.stage for m in merged] == ["s", "t"]
    s = merged[0]
    assert s.rows_in == 16 and dict(s.counts) == {"estimated": 5, "kept": 11}
    assert s.examples["estimated"] == [{"v": 1}, {"v": 5}, {"v": 7}]
    s.check()


def _panel():
    from tradeanomaly.synth import generate

    return generate(seed=3, months=30).flows


@pytest.mark.parametrize("name", [c.name for c in CHECKS if c.partitioned])
def test_partitioned_check_gives_the_same_result_key_by_key(name):
    """The premise of running a check per partition: the findings, tables and ledger counts of its rows split by
    its key into 8 parts equal those of the whole table."""
    check = get_check(name)
    flows = _panel()
    flows = flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    periods = sorted(pd.unique(flows["period"].astype(str)))[-6:]
    cfg = load_config(environ={})
    ctx = CheckContext(periods=periods, params=check.params(cfg.checks[name].params))
    ctx.stats = check.stats_combine([check.stats_part(flows, ctx)])
    whole = check.combine([check.run(flows, ctx)], ctx)
    part = stable_hash(check.partition_key(flows), 8)
    assert len(np.unique(part)) == 8
    parts = [flows[part == i].reset_index(drop=True) for i in range(8)]
    # the reduce step as the engines do it: each part's statistics, combined, broadcast to every part
    ctx = CheckContext(periods=periods, params=ctx.params, stats=check.stats_combine(
        [check.stats_part(p, ctx) for p in parts]))
    split = check.combine([check.run(p, ctx) for p in parts], ctx)
    assert whole.findings.to_csv(index=False) == split.findings.to_csv(index=False)
    assert sorted(whole.tables) == sorted(split.tables)
    for t in whole.tables:
        assert whole.tables[t].to_csv(index=False) == split.tables[t].to_csv(index=False)
    lw = [(x.stage, x.rows_in, dict(x.counts), x.examples) for x in whole.ledgers]
    ls = [(x.stage, x.rows_in, dict(x.counts), x.examples) for x in split.ledgers]
    assert lw == ls


def _benford_parts(flows, n=8):
    check = get_check("benford")
    flows = flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    part = stable_hash(check.partition_key(flows), n)
    return check, flows, [flows[part == i].reset_index(drop=True) for i in range(n)]


def _concat_sorted(frames, by):
    return pd.concat(frames, ignore_index=True).sort_values(by, kind="mergesort").reset_index(drop=True)


def test_benford_split_needs_its_reduce_and_combine_steps():
    """Each reporter's part alone adjusts its q-values over its own groups and windows, compares a window with its own
    reporters only and ends its windows at its own last period; with the reduce step (the windows' ends, the
    aggregate rows' rule, the record pass's cuts) and combine (q-values, peers, thresholds over every part) the 8 parts
    give the whole table's result."""
    check, flows, parts = _benford_parts(_panel())
    periods = sorted(pd.unique(flows["period"].astype(str)))[-6:]
    params = check.params(load_config(environ={}).checks["benford"].params)
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(flows, ctx)])
    whole = check.combine([check.run(flows, ctx)], ctx)
    assert len(whole.findings) and whole.findings["signal"].eq("benford.window_first_two").any()

    def alone(p, shared=None):
        c = CheckContext(periods=periods, params=params)
        c.stats = shared if shared is not None else check.stats_combine([check.stats_part(p, c)])
        return check.combine([check.run(p, c)], c)

    # without the reduce and combine steps: every part on its own
    own = [alone(p) for p in parts]
    audit = _concat_sorted([r.tables["benford_audit"] for r in own], ["reporter"])
    assert audit.drop(columns=[c for c in audit.columns if c.endswith("qvalue")]).to_csv(index=False) == \
        whole.tables["benford_audit"].drop(columns=[c for c in audit.columns if c.endswith("qvalue")]).to_csv(
            index=False)  # the tests of each group are its own ...
    assert audit.to_csv(index=False) != whole.tables["benford_audit"].to_csv(index=False)  # ... its q-values are not
    windows = _concat_sorted([r.tables["benford_windows"] for r in own], ["freq", "reporter", "side", "period"])
    assert not np.array_equal(windows["z"].to_numpy(), _concat_sorted(
        [whole.tables["benford_windows"]], ["freq", "reporter", "side", "period"])["z"].to_numpy(), equal_nan=True)
    findings = pd.concat([r.findings for r in own], ignore_index=True)
    assert not (len(findings) == len(whole.findings) and np.array_equal(
        np.sort(findings["n_tested"].to_numpy()), np.sort(whole.findings["n_tested"].to_numpy()), equal_nan=True))
    # the reduce step without the combine step: still each part's own q-values and peers
    shared = check.stats_combine([check.stats_part(p, ctx) for p in parts])
    audit = _concat_sorted([alone(p, shared).tables["benford_audit"] for p in parts], ["reporter"])
    assert audit.to_csv(index=False) != whole.tables["benford_audit"].to_csv(index=False)
    # both steps: the whole table's result
    ctx2 = CheckContext(periods=periods, params=params, stats=shared)
    split = check.combine([check.run(p, ctx2) for p in parts], ctx2)
    assert split.findings.to_csv(index=False) == whole.findings.to_csv(index=False)
    for t in whole.tables:
        assert split.tables[t].to_csv(index=False) == whole.tables[t].to_csv(index=False), t


def test_series_split_needs_the_whole_tables_axis_of_periods():
    """The reporters of one part stopped reporting two months before the others: alone, that part's panels end
    early, so it tests (and counts in ``n_tested``) fewer periods; with the reduce step (each frequency's axis over
    the whole table) and combine (the parts' tests summed) the 8 parts give the whole table's result."""
    check = get_check("series")
    flows = _panel()
    last = sorted(pd.unique(flows["period"].astype(str)))
    early = stable_hash(check.partition_key(flows), 8) == 0
    flows = flows[~(early & flows["period"].isin(last[-2:]).to_numpy())].reset_index(drop=True)
    flows = flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    periods = last[-6:]
    params = check.params(load_config(environ={}).checks["series"].params)
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(flows, ctx)])
    whole = check.combine([check.run(flows, ctx)], ctx)
    assert len(whole.findings)
    part = stable_hash(check.partition_key(flows), 8)
    parts = [flows[part == i].reset_index(drop=True) for i in range(8)]

    def with_stats(stats_for):
        results = []
        for p in parts:
            c = CheckContext(periods=periods, params=params, stats=stats_for(p))
            results.append(check.run(p, c))
        return check.combine(results, ctx)

    alone = with_stats(lambda p: check.stats_combine([check.stats_part(p, ctx)]))
    assert alone.findings["n_tested"].iloc[0] < whole.findings["n_tested"].iloc[0]
    shared = check.stats_combine([check.stats_part(p, ctx) for p in parts])
    split = with_stats(lambda p: shared)
    assert split.findings.to_csv(index=False) == whole.findings.to_csv(index=False)
    lw = [(x.stage, x.rows_in, list(x.counts.items()), x.examples) for x in whole.ledgers]
    ls = [(x.stage, x.rows_in, list(x.counts.items()), x.examples) for x in split.ledgers]
    assert lw == ls and split.tables == whole.tables == {}
