"""The Dask engine of a run: the flows stay on the workers; the driver gets findings and small tables.

What a run with ``engine.name: dask`` does (see :func:`open_flows` and :class:`DaskExecutor`):

1. **Reading.** A partitioned folder (``tradeanomaly ingest --partitioned``) is read part file by part file on
   the workers (:func:`tradeanomaly.engine.read_flows_dask`); rows stored twice under the same key are set aside
   on the workers after a shuffle on the key, each partition counting its own, and the counts are summed into
   the ledger. Any other input (CSV, Parquet, every reader) is read by the reader the pandas engine uses, as one
   task on one worker, so its ledger is the pandas engine's; the table is then split into partitions on that
   worker. Each row carries its position in the input (``_row``), so every partition can be put back in input
   order.
2. **Checks.** For each check of the registry: a check that partitions (``Check.splits``) has its rows
   shuffled on its key (``Check.partition_key``) into ``engine.partitions`` partitions; its global statistics
   are computed as a reduction (``Check.stats_part`` per partition, ``Check.stats_combine`` on the driver, a
   few numbers) and broadcast with the task; each partition runs ``Check.run``, the pandas code of the pandas
   engine, on its rows in input order; ``Check.combine`` merges the results on the driver. A check that does not
   split for this run (``Check.splits``) runs as one task on one worker: its reduce step over the whole table,
   then its run, as on the pandas engine. Only ``CheckResult`` objects (findings, detail
   tables, ledgers) travel back.
3. **Scoring, ranking and the report** stay on the driver: they see findings, not flows. The report's charts
   get the rows of the flagged subjects' reporters only (:meth:`DaskExecutor.rows_for`).
"""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd

from .checks.base import ROW, Check, CheckContext, CheckResult, stable_hash
from .errors import ConfigError
from .schema import Ledger

PART = "_part"


def default_partitions(rows: int) -> int:
    """At least 8 partitions, one per million rows above that."""
    return max(8, rows // 1_000_000 + 1)


# ---------------------------------------------------------------------------------------------------------------
# worker-side functions (plain functions of pandas frames: they are what the tasks run)
# ---------------------------------------------------------------------------------------------------------------

def _read_whole(source: str, files: list[str], column_map, options: dict):
    from .sources import read_source

    res = read_source(source, files, column_map=column_map, **options)
    flows = res.flows.reset_index(drop=True)
    flows[ROW] = np.arange(len(flows), dtype=np.int64)
    return flows, res.ledger


def _slice(flows: pd.DataFrame, i: int, n: int) -> pd.DataFrame:
    bounds = np.linspace(0, len(flows), n + 1).astype(np.int64)
    return flows.iloc[bounds[i]:bounds[i + 1]]


def _number_part(df: pd.DataFrame, offset: int) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df[ROW] = np.arange(offset, offset + len(df), dtype=np.int64)
    return df


def _with_part(df: pd.DataFrame, check: Check | None, n: int, key: list[str] | None = None) -> pd.DataFrame:
    keys = check.partition_key(df) if check is not None else _join(df, key)
    out = df.copy()
    out[PART] = stable_hash(keys, n) if len(df) else np.zeros(0, dtype=np.int64)
    return out


def _join(df: pd.DataFrame, columns: list[str]) -> pd.Series:
    out = df[columns[0]].astype("str").fillna("")
    for c in columns[1:]:
        out = out + "|" + df[c].astype("str").fillna("")
    return out


def _in_order(df: pd.DataFrame, keep_row: bool = False) -> pd.DataFrame:
    """A partition's rows in input order, without the engine's columns (but ``_row`` with ``keep_row``)."""
    df = df.sort_values(ROW, kind="mergesort")
    drop = [c for c in (PART,) + (() if keep_row else (ROW,)) if c in df.columns]
    return df.drop(columns=drop).reset_index(drop=True)


def _drop_duplicates(df: pd.DataFrame, key: list[str]) -> tuple[pd.DataFrame, int]:
    """The first row (input order) of each key of a partition, and how many were set aside."""
    df = df.sort_values(ROW, kind="mergesort")
    dup = df.duplicated(key, keep="first").to_numpy()
    return df.loc[~dup].drop(columns=[PART], errors="ignore"), int(dup.sum())


def _run_part(df: pd.DataFrame, check: Check, context: CheckContext) -> CheckResult:
    part = check.select(_in_order(df, keep_row=check.partitioned), context.periods)
    return check.run(part.reset_index(drop=True), context)


def _run_whole(parts: list[pd.DataFrame], check: Check, context: CheckContext):
    """A check that does not split, as the pandas engine runs it: its reduce step over the whole table, then its
    run, in one task; ``(result, stats)``."""
    whole = check.select(_in_order(pd.concat(parts, ignore_index=True), keep_row=check.partitioned), context.periods)
    whole = whole.reset_index(drop=True)
    context.stats = check.stats_combine([check.stats_part(whole, context)])
    return check.run(whole, context), context.stats


def _stats_part(df: pd.DataFrame, check: Check, context: CheckContext):
    return check.stats_part(check.select(_in_order(df, keep_row=check.partitioned), context.periods), context)


def _rows_for(df: pd.DataFrame, reporters: list[str], regions: list[str]) -> pd.DataFrame:
    keep = df["reporter"].astype("str").isin(reporters) | df["region"].astype("str").isin(regions)
    return df.loc[keep.to_numpy()]


def _meta(df: pd.DataFrame) -> pd.DataFrame:
    return df.iloc[:0]


# ---------------------------------------------------------------------------------------------------------------
# the executor
# ---------------------------------------------------------------------------------------------------------------

class DaskExecutor:
    """Runs checks on a Dask client over flows that stay on its workers (see the module docstring).

    ``parts``: futures of the pandas partitions (each with the ``_row`` column); ``n_rows``: their total."""

    def __init__(self, client, parts: list, n_rows: int, partitions: int | None = None):
        self.client = client
        self.parts = parts
        self.n_rows = int(n_rows)
        self.partitions = int(partitions or default_partitions(self.n_rows))
        self.tasks: list[str] = []  # what ran where, for the tests and the manifest

    # -- helpers -----------------------------------------------------------------------------------------------
    def _map(self, func, parts: list, *args) -> list:
        return [self.client.submit(func, p, *args, pure=False) for p in parts]

    def _shuffle(self, check: Check | None, key: list[str] | None = None) -> list:
        """Futures of ``self.partitions`` partitions: the rows of one key (``check.partition_key``, else the
        ``key`` columns) in one partition."""
        n = self.partitions
        tagged = self._map(_with_part, self.parts, check, n, key)
        pieces = [[self.client.submit(_pick, t, i, pure=False) for t in tagged] for i in range(n)]
        return [self.client.submit(_concat, group, pure=False) for group in pieces]

    # -- what the pipeline asks ----------------------------------------------------------------------------------
    def periods(self) -> list[str]:
        futs = self._map(_periods_of, self.parts)
        return sorted(set().union(*self.client.gather(futs))) if futs else []

    def run_check(self, check: Check, context: CheckContext) -> CheckResult:
        if check.splits(context):
            shuffled = self._shuffle(check)
            stats_parts = self.client.gather(self._map(_stats_part, shuffled, check, context))
            context.stats = check.stats_combine(stats_parts)
            context_f = self.client.scatter(context, broadcast=True)
            results = self.client.gather(self._map(_run_part, shuffled, check, context_f))
            self.tasks.append(f"{check.name}: {len(shuffled)} partitions")
            return check.combine(results, context)
        result, context.stats = self.client.submit(_run_whole, self.parts, check, context, pure=False).result()
        self.tasks.append(f"{check.name}: 1 task")
        return check.combine([result], context)

    def rows_for(self, flags: pd.DataFrame | None) -> pd.DataFrame:
        """The rows the report's charts read: those of the reporters and provinces named by the flagged
        subjects (A>B pairs, O>H>D triples, reporters, provinces)."""
        import re

        reporters: set[str] = set()
        regions: set[str] = set()
        if flags is not None and len(flags):
            for subject in flags["subject"].astype("str"):
                if re.match(r"^[A-Z]{2}-[A-Z0-9]{1,3}$", subject):
                    regions.add(subject)
                reporters.update(re.findall(r"(?<![A-Z])[A-Z]{3}(?![A-Z])", subject.split(":")[0]))
        futs = self._map(_rows_for, self.parts, sorted(reporters), sorted(regions))
        return _in_order(pd.concat(self.client.gather(futs), ignore_index=True))


def _pick(df: pd.DataFrame, i: int) -> pd.DataFrame:
    return df.loc[(df[PART] == i).to_numpy()]


def _concat(group: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(group, ignore_index=True)


def _periods_of(df: pd.DataFrame) -> set[str]:
    return set(pd.unique(df["period"].astype("str")))


# ---------------------------------------------------------------------------------------------------------------
# opening the input
# ---------------------------------------------------------------------------------------------------------------

def open_flows(client, source: str, files: list[Path], *, column_map=None, options: dict | None = None,
               partitions: int | None = None) -> tuple[DaskExecutor, list[Ledger]]:
    """``(executor, ledgers)`` for the configured input, read on the workers of ``client``."""
    if len(files) == 1 and files[0].is_dir():
        if source != "canonical":
            raise ConfigError(f"{files[0]} is a folder: the Dask engine reads folders written by `tradeanomaly "
                              "ingest --partitioned` (--source canonical)")
        return _open_folder(client, files[0], partitions)
    whole = client.submit(_read_whole, source, [str(f) for f in files], column_map, dict(options or {}),
                          pure=False)
    ledger = client.submit(itemgetter(1), whole).result()
    flows = client.submit(itemgetter(0), whole)
    n_rows = int(client.submit(len, flows).result())
    n = int(partitions or default_partitions(n_rows))
    parts = [client.submit(_slice, flows, i, n, pure=False) for i in range(n)]
    executor = DaskExecutor(client, parts, n_rows, n)
    del whole, flows
    return executor, [ledger]


def _open_folder(client, folder: Path, partitions: int | None) -> tuple[DaskExecutor, list[Ledger]]:
    import json

    from .engine import _part_args, _read_part
    from .ingest import FLOWS_DIR
    from .sources.base import FLOW_KEY

    args = _part_args(folder)
    raw = [client.submit(_read_part, a, pure=False) for a in args]
    sizes = client.gather([client.submit(len, r) for r in raw])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    numbered = [client.submit(_number_part, r, int(o), pure=False) for r, o in zip(raw, offsets)]
    n = int(partitions or default_partitions(int(sum(sizes))))
    executor = DaskExecutor(client, numbered, int(sum(sizes)), n)
    key = FLOW_KEY + ["valuation"]
    shuffled = executor._shuffle(None, key)
    deduped = [client.submit(_drop_duplicates, s, key, pure=False) for s in shuffled]
    dropped = sum(client.gather([client.submit(itemgetter(1), d) for d in deduped]))
    parts = [client.submit(itemgetter(0), d, pure=False) for d in deduped]
    rows_in = int(sum(sizes))
    executor = DaskExecutor(client, parts, rows_in - dropped, n)
    root = Path(folder)
    base = root.parent if root.name == FLOWS_DIR and not (root / FLOWS_DIR).is_dir() else root
    led_file = base / "ledger.json"
    if led_file.is_file():
        ledgers = [Ledger.from_dict(d) for d in json.loads(led_file.read_text(encoding="utf-8"))]
        kept = sum(led.kept for led in ledgers)
        if kept != executor.n_rows:
            raise ConfigError(f"{led_file} counts {kept:,} kept rows but {root} holds {executor.n_rows:,}: the "
                              "ingest was interrupted or the folder changed; run `tradeanomaly ingest "
                              "--partitioned` again with the same files")
        return executor, ledgers
    led = Ledger(stage="read:partitioned", rows_in=rows_in, inputs=[base.name])
    led.add("duplicate", dropped)
    led.keep(executor.n_rows)
    led.check()
    return executor, [led]
