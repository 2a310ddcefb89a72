"""The pandas executor of a run, the Dask client, the reading of partitioned folders, and two engine-neutral
building blocks.

* :class:`PandasExecutor` runs each check of the registry (:mod:`tradeanomaly.checks.registry`) on the whole
  flows table in this process: the default engine. The Dask engine's executor, which keeps the flows on the
  workers and runs the same check code there, is :mod:`tradeanomaly.dask_engine`.
* :func:`get_client` / :func:`dask_client` start a local cluster of worker processes (``workers``, a memory limit
  per worker) or attach to a scheduler (``scheduler_address``); :func:`close_client` closes what they started.
* :func:`load_partitioned` reads a folder written by ``tradeanomaly ingest --partitioned`` into one pandas table
  with the ingest's ledger (the pandas engine's input; rows in the order of ``read_source("canonical",
  [folder])``); :func:`read_flows_dask` is the same read as a Dask frame, one task per part file, which the Dask
  engine keeps on its workers.
* :func:`mirror_sides` (A's exports to B beside B's imports from A, per period and product) and
  :func:`digit_counts` (groups x first-two-digits counts) give identical frames on both engines (same rows,
  order, dtypes and values; integer counts exact). They are used by ``tests/test_engine.py`` and
  ``benchmarks/bench_scale.py`` to compare the engines' aggregations; the checks themselves do not call them.

Dask is the optional extra ``dask`` (``pip install 'tradeanomaly[dask]'``); nothing here imports it until a Dask
function is called, and a missing extra is one clear error naming it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError, require
from .schema import FLOW_COLUMNS, coerce_flows

ENGINES = ("pandas", "dask")
PURPOSE = "the Dask engine"
SIDE_KEYS = ["period", "exporter", "importer", "hs"]


def _dd():
    return require("dask.dataframe", "dask", PURPOSE)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}: use pandas or dask")


# ---------------------------------------------------------------------------------------------------------------
# Cluster
# ---------------------------------------------------------------------------------------------------------------

def get_client(workers: int | None = None, scheduler_address: str | None = None, *, timeout: float = 10.0,
               memory_limit: str | None = None):
    """A Dask ``distributed.Client``: attached to ``scheduler_address`` when given, else on a local cluster.

    The local cluster (``distributed.LocalCluster``) runs ``workers`` worker processes (default: one per core, at
    most 4) of one thread each; ``memory_limit`` (e.g. ``"3GB"``) bounds each worker (default: Dask's share of
    the machine's memory). ``timeout``: seconds to wait for a remote scheduler. Close the client when done (or
    use :func:`dask_client`).
    """
    require("dask.dataframe", "dask", PURPOSE)
    distributed = require("distributed", "dask", PURPOSE)
    if scheduler_address:
        try:
            return distributed.Client(scheduler_address, timeout=f"{timeout}s")
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler_address} ({exc}); check "
                              "engine.scheduler_address (--scheduler-address)") from None
    n = int(workers) if workers else max(1, min(os.cpu_count() or 1, 4))
    if n < 1:
        raise ConfigError(f"engine.workers must be at least 1, got {workers}")
    cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                       memory_limit=memory_limit or "auto")
    client = distributed.Client(cluster)
    client._tradeanomaly_cluster = cluster
    return client


def close_client(client) -> None:
    """Close ``client`` and the local cluster :func:`get_client` started for it (if any)."""
    cluster = getattr(client, "_tradeanomaly_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler_address: str | None = None) -> Iterator:
    """``with dask_client(2) as client: ...``; closes the client (and its local cluster) afterwards."""
    client = get_client(workers, scheduler_address)
    try:
        yield client
    finally:
        close_client(client)


class PandasExecutor:
    """The pandas engine of a run: each check on the whole flows table as one partition, in this process.

    The same contract as :class:`tradeanomaly.dask_engine.DaskExecutor`: ``run_check(check, context)``."""

    def __init__(self, flows: pd.DataFrame):
        self.flows = flows
        self.n_rows = len(flows)

    def periods(self) -> list[str]:
        return sorted(pd.unique(self.flows["period"].astype(str)))

    def run_check(self, check, context):
        from .checks.base import ROW

        data = check.select(self.flows, context.periods)
        if check.partitioned:  # the rows' positions order the ledger's examples as on any other engine
            data = data.assign(**{ROW: np.arange(len(data), dtype=np.int64)})
        context.stats = check.stats_combine([check.stats_part(data, context)])
        return check.combine([check.run(data, context)], context)

    def rows_for(self, flags) -> pd.DataFrame:
        return self.flows


def _compute(obj, client):
    return client.compute(obj).result() if client is not None else obj.compute()


# ---------------------------------------------------------------------------------------------------------------
# Reading partitioned Parquet
# ---------------------------------------------------------------------------------------------------------------

def _read_part(file_and_period: tuple[str, str]) -> pd.DataFrame:
    """One part file as typed flows columns (``period`` from the folder name when the file lacks it)."""
    import pyarrow.parquet as pq

    file, period = file_and_period
    df = pq.read_table(file).to_pandas()
    if "period" not in df.columns:
        df.insert(0, "period", period)
    return coerce_flows(df[[c for c in FLOW_COLUMNS if c in df.columns]])


def _part_args(path) -> list[tuple[str, str]]:
    """``(file, period from the folder name)`` of each part of a partitioned folder, in the read order."""
    from .errors import SourceFormatError
    from .ingest import partition_files

    root, files = partition_files(path)
    if not files:
        raise SourceFormatError("the folder holds no Parquet files; write it with `tradeanomaly ingest "
                                "--partitioned`", path=path)
    args = []
    for f in files:
        hive = dict(p.split("=", 1) for p in f.relative_to(root).parts[:-1] if "=" in p)
        args.append((str(f), hive.get("period", "")))
    return args


def read_flows_dask(path):
    """A Dask DataFrame of the flows in a partitioned folder (``OUT`` or ``OUT/flows`` of an ingest).

    One partition per part file, in the order of :func:`tradeanomaly.ingest.partition_files`.
    """
    dd = _dd()
    from .schema import empty_flows

    return dd.from_map(_read_part, _part_args(path), meta=empty_flows(), enforce_metadata=False)


def read_flows_pandas(path) -> pd.DataFrame:
    """The rows of a partitioned folder as stored, part after part (what :func:`read_flows_dask` computes)."""
    parts = [_read_part(arg) for arg in _part_args(path)]
    return pd.concat(parts, ignore_index=True)


def load_flows(path, *, engine: str = "pandas", client=None) -> pd.DataFrame:
    """The flows table of a partitioned folder, as the checks take it (see the module docstring).

    ``engine="pandas"`` reads it with the canonical reader (checked, de-duplicated); ``"dask"`` reads the parts
    on the workers and de-duplicates the result the same way, so both give the same rows in the same order.
    """
    _check_engine(engine)
    if engine == "pandas":
        from .sources import read_source

        return read_source("canonical", [path]).flows
    from .sources.base import FLOW_KEY

    df = _compute(read_flows_dask(path), client)
    df = coerce_flows(df.reset_index(drop=True))
    dup = df.duplicated(FLOW_KEY + ["valuation"], keep="first").to_numpy()
    return df.loc[~dup].reset_index(drop=True) if dup.any() else df


def load_partitioned(path, *, engine: str = "pandas", workers: int | None = None,
                     scheduler_address: str | None = None):
    """``(flows, ledgers)`` of a partitioned folder for a run: the flows by :func:`load_flows` (Dask on a client
    from :func:`get_client`, closed afterwards) and the ingest's ledger (``OUT/ledger.json``), which accounts for
    the rows of the original files; without that file, the ledger of reading the folder."""
    from .ingest import FLOWS_DIR
    from .schema import Ledger

    _check_engine(engine)
    root = Path(path)
    base = root.parent if root.name == FLOWS_DIR and not (root / FLOWS_DIR).is_dir() else root
    if engine == "dask":
        with dask_client(workers, scheduler_address) as client:
            flows = load_flows(root, engine="dask", client=client)
    else:
        flows = load_flows(root)
    led_file = base / "ledger.json"
    if led_file.is_file():
        import json

        ledgers = [Ledger.from_dict(d) for d in json.loads(led_file.read_text(encoding="utf-8"))]
        kept = sum(led.kept for led in ledgers)
        if kept != len(flows):
            raise ConfigError(f"{led_file} counts {kept:,} kept rows but {root} holds {len(flows):,}: the ingest "
                              "was interrupted or the folder changed; run `tradeanomaly ingest --partitioned` "
                              "again with the same files")
        return flows, ledgers
    led = Ledger(stage="read:partitioned", rows_in=len(flows), inputs=[base.name])
    led.finish(flows)
    return flows, [led]


# ---------------------------------------------------------------------------------------------------------------
# Mirror aggregation and join
# ---------------------------------------------------------------------------------------------------------------

def _oriented_sides(df: pd.DataFrame) -> pd.DataFrame:
    """Per (period, exporter, importer, hs, side): summed value and row count of the national reports that a
    mirror may pair (X and M, not estimated, value > 0, reporter and partner different). Aggregates (WLD, NES,
    groups) are left out after the aggregation, by :func:`_only_countries`, which is the same per key."""
    flow = df["flow"].astype("str")
    rep, par = df["reporter"].astype("str"), df["partner"].astype("str")
    keep = (flow.isin(["X", "M"]) & (df["region"].astype("str").fillna("") == "")
            & ~df["estimated"].fillna(False).astype(bool) & (df["value_usd"] > 0) & (rep != par)).to_numpy()
    d = df.loc[keep]
    is_m = (flow[keep] == "M").to_numpy()
    r, p = rep[keep].to_numpy(), par[keep].to_numpy()
    part = pd.DataFrame({
        "period": d["period"].astype("str").to_numpy(),
        "exporter": np.where(is_m, p, r), "importer": np.where(is_m, r, p),
        "hs": d["hs"].astype("str").to_numpy(), "side": np.where(is_m, "M", "X"),
        "value_usd": d["value_usd"].to_numpy(dtype=np.float64), "n": np.ones(len(d), dtype=np.int64),
    })
    return part.groupby(SIDE_KEYS + ["side"], sort=False, observed=True).agg(
        value_usd=("value_usd", "sum"), n=("n", "sum")).reset_index()


def _only_countries(agg: pd.DataFrame) -> pd.DataFrame:
    """Keep the keys whose exporter and importer are both real countries (WLD, NES, groups, unknown out)."""
    from .codes import is_country

    codes = pd.Series(sorted(set(agg["exporter"].astype("str")) | set(agg["importer"].astype("str"))), dtype="str")
    countries = codes[is_country(codes).to_numpy()].tolist()
    ok = agg["exporter"].astype("str").isin(countries) & agg["importer"].astype("str").isin(countries)
    return agg.loc[ok.to_numpy()]


def _join_sides(agg: pd.DataFrame) -> pd.DataFrame:
    """Put the two sides beside each other; one row per (period, exporter, importer, hs), sorted on those."""
    agg = _only_countries(agg).copy()
    for c in SIDE_KEYS + ["side"]:
        agg[c] = agg[c].astype("str")
    x = agg.loc[agg["side"] == "X", SIDE_KEYS + ["value_usd", "n"]].rename(columns={"value_usd": "x_usd", "n": "n_x"})
    m = agg.loc[agg["side"] == "M", SIDE_KEYS + ["value_usd", "n"]].rename(columns={"value_usd": "m_usd", "n": "n_m"})
    out = x.merge(m, on=SIDE_KEYS, how="outer")
    out["n_x"] = out["n_x"].fillna(0).astype(np.int64)
    out["n_m"] = out["n_m"].fillna(0).astype(np.int64)
    out["x_usd"] = out["x_usd"].astype(np.float64)
    out["m_usd"] = out["m_usd"].astype(np.float64)
    out["paired"] = (out["n_x"] > 0) & (out["n_m"] > 0)
    out = out.sort_values(SIDE_KEYS, kind="stable").reset_index(drop=True)
    return out[SIDE_KEYS + ["x_usd", "m_usd", "n_x", "n_m", "paired"]]


def mirror_sides(flows, *, engine: str = "pandas", client=None) -> pd.DataFrame:
    """A's exports to B beside B's imports from A, per period and product (see :func:`_oriented_sides`; one pass over the data).

    ``flows``: a pandas flows table, a partitioned folder (its rows as stored: an ingest folder holds no
    duplicates), or for ``engine="dask"`` a Dask DataFrame (:func:`read_flows_dask`). Columns: period, exporter, importer, hs, x_usd, m_usd (NaN on the missing side), n_x,
    n_m (rows summed), paired.
    """
    _check_engine(engine)
    if engine == "pandas":
        if not isinstance(flows, pd.DataFrame):
            flows = read_flows_pandas(flows)
        return _join_sides(_oriented_sides(flows))
    ddf = _as_dask(flows, client)
    per_part = ddf.map_partitions(_oriented_sides, meta=_oriented_sides(_empty_like(ddf)))
    # a key's rows may sit in several parts: sum the partial sums
    # split_out=1: a tree reduction; the result is collected into one pandas frame anyway, so a shuffle of the
    # partial sums between workers would only add transfers
    agg = per_part.groupby(SIDE_KEYS + ["side"], sort=False).agg(
        {"value_usd": "sum", "n": "sum"}, split_out=1).reset_index()
    return _join_sides(_compute(agg, client).reset_index(drop=True))


def _empty_like(ddf) -> pd.DataFrame:
    return ddf._meta.iloc[:0].copy()


def _as_dask(flows, client):
    dd = _dd()
    if isinstance(flows, (str, os.PathLike)):
        return read_flows_dask(flows)
    if isinstance(flows, pd.DataFrame):
        n = max(1, min(16, len(flows) // 250_000 + 1))
        return dd.from_pandas(flows, npartitions=n, sort=False)
    return flows


# ---------------------------------------------------------------------------------------------------------------
# Grouped digit counts
# ---------------------------------------------------------------------------------------------------------------

def _digit_part(df: pd.DataFrame, group_by: list[str], min_value: float) -> pd.DataFrame:
    """Per (group, first two digits): number of amounts >= ``min_value`` (the Benford check's eligible rows)."""
    from .checks.digits import leading_digits

    v = pd.to_numeric(df["value_usd"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(v) & (v > 0) & (v >= min_value)
    m2, _ = leading_digits(v[ok], 2)
    part = pd.DataFrame({c: df[c].astype("str").to_numpy()[ok] for c in group_by})
    part["digits"] = m2.astype(np.int64)
    part["n"] = np.ones(len(part), dtype=np.int64)
    return part.groupby(group_by + ["digits"], sort=False, observed=True)["n"].sum().reset_index()


def _matrix(counts: pd.DataFrame, group_by: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    for c in group_by:
        counts[c] = counts[c].astype("str")
    if group_by:
        keys = counts[group_by].drop_duplicates().sort_values(group_by, kind="stable").reset_index(drop=True)
        code = pd.MultiIndex.from_frame(keys).get_indexer(pd.MultiIndex.from_frame(counts[group_by]))
    else:
        keys = pd.DataFrame(index=range(1))
        code = np.zeros(len(counts), dtype=np.int64)
    mat = np.zeros((len(keys), 90), dtype=np.int64)
    np.add.at(mat, (code, counts["digits"].to_numpy() - 10), counts["n"].to_numpy(dtype=np.int64))
    return keys, mat


def digit_counts(flows, group_by: Sequence[str] = ("reporter",), *, min_value: float = 10.0,
                 engine: str = "pandas", client=None) -> tuple[pd.DataFrame, np.ndarray]:
    """``(keys, counts)``: the groups (sorted by ``group_by``) and their groups x 90 first-two-digits counts
    (digits 10..99) of the amounts ``>= min_value`` in ``value_usd``.

    The rows counted are the caller's: pass the flows the Benford check keeps (its ledger filters) to get its
    ``counts["first_two_digits"]``. Digits are exact (:func:`tradeanomaly.checks.digits.leading_digits`).
    """
    _check_engine(engine)
    group_by = list(group_by)
    if engine == "pandas":
        if not isinstance(flows, pd.DataFrame):
            flows = read_flows_pandas(flows)
        return _matrix(_digit_part(flows, group_by, min_value), group_by)
    ddf = _as_dask(flows, client)
    meta = _digit_part(_empty_like(ddf), group_by, min_value)
    per_part = ddf.map_partitions(_digit_part, group_by, min_value, meta=meta)
    agg = per_part.groupby(group_by + ["digits"], sort=False)["n"].sum(split_out=1).reset_index()
    return _matrix(_compute(agg, client).reset_index(drop=True), group_by)
