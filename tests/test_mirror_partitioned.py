"""The mirror check run pair by pair: its statistics across pairs (reliability, size bands, peers, the exporter's
paired exports, the unit values across partners) are the reduce step, so 8 partitions of the pairs give the whole
table's findings, tables (values and dtypes) and ledgers byte for byte, and without the reduce step they do not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradeanomaly.checks.base import ROW, CheckContext, stable_hash
from tradeanomaly.checks.mirror import gaps
from tradeanomaly.checks.mirror.params import MAD_TO_SD
from tradeanomaly.checks.registry import get_check
from tradeanomaly.config import load_config
from tradeanomaly.schema import ledgers_to_json
from tradeanomaly.synth import generate


@pytest.fixture(scope="module")
def panel():
    flows = generate(seed=3, months=30).flows
    flows = flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    periods = sorted(pd.unique(flows["period"].astype(str)))[-6:]
    check = get_check("mirror")
    params = check.params(load_config(environ={}).checks["mirror"].params)
    return check, flows, periods, params


def _whole(check, flows, periods, params):
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(flows, ctx)])
    return check.combine([check.run(flows, ctx)], ctx)


def _parts(check, flows, n=8):
    part = stable_hash(check.partition_key(flows), n)
    return [flows[part == i].reset_index(drop=True) for i in range(n)]


def _split(check, parts, periods, params, shared=True):
    ctx = CheckContext(periods=periods, params=params)
    if shared:  # the reduce step: every part's records, combined, broadcast to every part
        ctx.stats = check.stats_combine([check.stats_part(p, ctx) for p in parts])
        return check.combine([check.run(p, ctx) for p in parts], ctx)
    results = []
    for p in parts:  # each part with the statistics of its own pairs only
        own = CheckContext(periods=periods, params=params)
        own.stats = check.stats_combine([check.stats_part(p, own)])
        results.append(check.run(p, own))
    return check.combine(results, ctx)


def _same_values(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same columns, dtypes and values (floats bit for bit up to NaN, signs of zero included), which is what
    makes the CSV and Parquet files the same; much faster than formatting both as CSV."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        assert str(x.dtype) == str(y.dtype), c
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert list(x.cat.categories) == list(y.cat.categories), c
            assert np.array_equal(x.cat.codes.to_numpy(), y.cat.codes.to_numpy()), c
        elif x.dtype.kind == "f":
            u, v = x.to_numpy(), y.to_numpy()
            assert np.array_equal(u, v, equal_nan=True) and np.array_equal(np.signbit(u), np.signbit(v)), c
        else:
            assert x.astype(object).tolist() == y.astype(object).tolist(), c


def _assert_same(a, b):
    assert a.findings.to_csv(index=False) == b.findings.to_csv(index=False)
    _same_values(a.findings, b.findings)
    assert sorted(a.tables) == sorted(b.tables) == ["mirror_gaps", "one_sided", "reliability", "unit_values"]
    assert a.tables["reliability"].to_csv(index=False) == b.tables["reliability"].to_csv(index=False)
    for t in a.tables:
        _same_values(a.tables[t], b.tables[t])
    assert ledgers_to_json(a.ledgers) == ledgers_to_json(b.ledgers)  # counts in the same order, same examples


def test_mirror_is_partitioned_on_the_unordered_pair():
    check = get_check("mirror")
    assert check.partitioned and check.key == ("pair",)


def test_eight_partitions_equal_the_whole_table_byte_for_byte(panel):
    check, flows, periods, params = panel
    whole = _whole(check, flows, periods, params)
    signals = set(whole.findings["signal"])
    # the panel exercises every statistic that crosses pairs
    assert {"mirror.log_gap_z", "mirror.peer_z", "unit_value.mirror_ratio", "unit_value.outlier",
            "unit_value.own_history"} <= signals
    assert (whole.tables["reliability"]["reliability_importer"] < 1).any()
    _assert_same(whole, _split(check, _parts(check, flows), periods, params))


def test_without_the_reduce_step_the_partitions_differ(panel):
    """Each part alone fits the reporters' reliability on its own pairs, compares an exporter with the partners it
    happens to hold, and counts its own tests: the reliability, the peer z, the unit values' fences and the
    findings differ from the whole table's; the shared statistics make them equal."""
    check, flows, periods, params = panel
    whole = _whole(check, flows, periods, params)
    parts = _parts(check, flows)
    alone = _split(check, parts, periods, params, shared=False)
    assert alone.findings.to_csv(index=False) != whole.findings.to_csv(index=False)
    assert alone.tables["reliability"].to_csv(index=False) != whole.tables["reliability"].to_csv(index=False)
    for table, col in (("mirror_gaps", "z_peer"), ("mirror_gaps", "size_noise"), ("mirror_gaps", "temper"),
                       ("unit_values", "fence_high"), ("unit_values", "ratio_median"),
                       ("unit_values", "z_own_uv")):
        a, w = alone.tables[table][col].to_numpy(), whole.tables[table][col].to_numpy()
        assert not np.array_equal(a, w, equal_nan=True), (table, col)
    # n_tested: each part counts its own tests; combine sums them into the whole table's
    ctx = CheckContext(periods=periods, params=params)
    ctx.stats = check.stats_combine([check.stats_part(q, ctx) for q in parts])
    counts = [check.run(p, ctx).tables["_tested"].set_index("signal")["n"] for p in parts]
    n_whole = whole.findings.groupby("signal")["n_tested"].first()
    total = sum(c.reindex(n_whole.index) for c in counts)
    assert (total == n_whole).all() and (counts[0].reindex(n_whole.index) < n_whole).all()


def test_partitions_without_quantities_or_rows(panel):
    """A partition whose pairs carry no quantity (the others do) and an empty partition: the same result."""
    check, flows, periods, params = panel
    part = stable_hash(check.partition_key(flows), 8)
    q = flows["quantity"].to_numpy(dtype=float, na_value=np.nan).copy()
    q[part == 0] = np.nan
    flows = flows.assign(quantity=q)
    whole = _whole(check, flows, periods, params)
    parts = _parts(check, flows) + [flows.iloc[:0]]
    _assert_same(whole, _split(check, parts, periods, params))


def test_no_period_outside_the_test_and_all_periods_under_test(panel):
    """Reliability falls back on every pair when no row lies outside the periods under test."""
    check, flows, periods, params = panel
    last = sorted(pd.unique(flows["period"].astype(str)))[-8:]
    sub = flows[flows["period"].astype(str).isin(last)].reset_index(drop=True)
    whole = _whole(check, sub, None, params)
    assert len(whole.findings) and len(whole.tables["reliability"])
    _assert_same(whole, _split(check, _parts(check, sub), None, params))


def _size_noise_reference(x, m, deviation, group, bands, pair):
    """The size bands as one table's run computed them before the reduce step (searchsorted per group)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.log10(np.sqrt(x * m))
    size = pd.Series(size).groupby(np.asarray(pair)).transform("median").to_numpy()
    out = np.full(len(x), np.nan)
    ok = np.isfinite(size) & np.isfinite(deviation)
    d = pd.DataFrame({"g": np.asarray(group)[ok], "s": size[ok], "a": np.abs(deviation[ok])})
    d["b"] = d.groupby("g")["s"].rank(pct=True, method="average").mul(bands).clip(upper=bands - 1e-9).astype(int)
    spread = d.groupby(["g", "b"])["a"].median().mul(MAD_TO_SD)
    fin = np.isfinite(size)
    for g, srt in d.groupby("g")["s"].apply(lambda v: np.sort(v.to_numpy())).items():
        sel = fin & (np.asarray(group) == g)
        b = np.clip((np.searchsorted(srt, size[sel], side="right") / len(srt) * bands).astype(int), 0, bands - 1)
        out[sel] = spread.loc[g].reindex(range(bands)).ffill().bfill().to_numpy()[b]
    return out


@pytest.mark.parametrize("bands", [1, 3, 20, 50])
def test_band_starts_give_the_bands_of_the_sorted_sizes(bands):
    rng = np.random.default_rng(bands)
    n = 3000
    pair = rng.integers(0, 400, n)  # many rows per pair: tied sizes
    x = np.exp(rng.normal(10, 3, n))
    m = np.exp(rng.normal(10, 3, n))
    dev = rng.normal(0, 1, n)
    dev[rng.random(n) < 0.2] = np.nan  # rows without history still take their band's spread
    group = rng.integers(0, 3, n) * 16 + 4
    got = gaps.size_noise(x, m, dev, group, bands, pair=pair)
    ref = _size_noise_reference(x, m, dev, group, bands, pair)
    assert np.array_equal(got, ref, equal_nan=True)


def test_dask_engine_runs_mirror_in_eight_partitions_and_equals_pandas(panel):
    pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")
    from dask_support import run_on_dask
    from tradeanomaly.engine import PandasExecutor

    check, flows, periods, params = panel
    plain = flows.drop(columns=[ROW])
    pandas_res = PandasExecutor(plain).run_check(check, CheckContext(periods=periods, params=params))
    dask_res, tasks = run_on_dask(check, flows, CheckContext(periods=periods, params=params), parts=4)
    assert tasks == ["mirror: 8 partitions"]
    _assert_same(pandas_res, dask_res)
