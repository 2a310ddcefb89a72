"""The canonical source: a CSV (optionally ``.gz``) or Parquet file with exactly the flows columns.

This is what ``tradeanomaly ingest`` writes (:func:`write_flows`) and what every run can read back without a
column map. Files are read in chunks (CSV by ``chunk_rows`` lines, Parquet by record batches), each chunk is
checked and reduced to typed flows before the next one is read, so a file larger than memory in its text form
can still be loaded when its typed form fits (a folder of Parquet parts partitioned by period, as
written by ``tradeanomaly ingest --partitioned``, is read part by part); :func:`iter_chunks` streams the chunks for callers that aggregate
as they go.

Options of :func:`read`:

- ``allow_extra`` (default ``False``): columns beyond the flows columns are an error naming them; with
  ``allow_extra=True`` they are dropped and the ledger notes which.
- ``chunk_rows`` (default 500,000): rows per chunk.

Cell rules: ``period`` may use any publisher spelling :func:`~tradeanomaly.periods.normalise_period` knows
(``2024M2`` becomes ``2024-02``); a non-empty period it cannot parse is a :class:`SourceFormatError` naming the
row. ``estimated`` accepts true/false, 1/0, yes/no, t/f, y/n in any case (empty means false); any other spelling
is set aside in the ledger as ``bad_estimated_flag`` with the example, rather than stopping a long load for one
cell. Empty ``valuation`` takes the default (exports FOB, imports CIF) and empty ``source`` becomes
``canonical``. Duplicate keys are set aside across the whole file, not only within a chunk (except in
:func:`iter_chunks`, which sees one chunk at a time).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Iterator

import numpy as np
import pandas as pd

from ..errors import ConfigError, SourceFormatError
from ..periods import normalise_periods
from ..schema import FLOW_COLUMNS, Ledger, validate_flows
from .base import FLOW_KEY, NA_VALUES, ReadResult, as_paths, detect_encoding, finish_flows

STAGE = "read:canonical"
SOURCE = "canonical"
DEFAULT_CHUNK_ROWS = 500_000

_TRUE = {"true", "1", "yes", "y", "t", "1.0"}
_FALSE = {"false", "0", "no", "n", "f", "", "0.0"}


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


def _check_columns(columns: list[str], path: Path, allow_extra: bool) -> list[str]:
    """Return the extra columns (to drop) or raise naming the missing/unexpected ones."""
    missing = [c for c in FLOW_COLUMNS if c not in columns]
    if missing:
        raise SourceFormatError(
            f"missing column(s) {', '.join(f'`{c}`' for c in missing)}; a canonical file has exactly "
            f"{', '.join(FLOW_COLUMNS)}. Map other layouts with --source table --map MAP.yaml", path=path)
    extra = [c for c in columns if c not in FLOW_COLUMNS]
    if extra and not allow_extra:
        raise SourceFormatError(
            f"unexpected column(s) {', '.join(f'`{c}`' for c in extra)}; drop them, or pass allow_extra=True "
            f"to ignore them", path=path)
    return extra


def _raw_chunks(path: Path, chunk_rows: int, allow_extra: bool) -> Iterator[tuple[int, pd.DataFrame, list[str]]]:
    """Yield ``(first_row, chunk, extra_columns)``; first_row is the 0-based data row of the chunk's first line."""
    if path.is_dir():
        yield from _partitioned_chunks(path, chunk_rows, allow_extra)
        return
    if not path.exists():
        raise SourceFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise SourceFormatError("the file is empty: nothing to read", path=path)
    if _is_parquet(path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceFormatError(f"not a readable Parquet file ({exc}); write it with write_flows",
                                    path=path) from exc
        extra = _check_columns(list(pf.schema_arrow.names), path, allow_extra)
        start = 0
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=list(FLOW_COLUMNS)):
            chunk = batch.to_pandas()
            yield start, chunk, extra
            start += len(chunk)
        return

    enc = detect_encoding(path)
    opts = dict(sep=",", dtype=str, keep_default_na=False, na_values=NA_VALUES, encoding=enc, engine="c")
    try:
        header = pd.read_csv(path, nrows=0, **opts)
    except pd.errors.EmptyDataError as exc:
        raise SourceFormatError("the file has no header or rows", path=path) from exc
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"cannot decode the header as {enc}: save the file as UTF-8", path=path) from exc
    extra = _check_columns([str(c) for c in header.columns], path, allow_extra)
    start = 0
    reader = pd.read_csv(path, chunksize=chunk_rows, usecols=list(FLOW_COLUMNS), **opts)
    try:
        for chunk in reader:
            yield start, chunk, extra
            start += len(chunk)
    except UnicodeDecodeError as exc:
        raise SourceFormatError(
            f"cannot decode the bytes as {enc} after data row {start} ({exc.reason}): save the file as UTF-8",
            path=path, row=start + 2) from exc
    except pd.errors.ParserError as exc:
        raise SourceFormatError(f"not a well-formed CSV after data row {start} ({exc}); check the quoting",
                                path=path, row=start + 2) from exc


def _partitioned_chunks(path: Path, chunk_rows: int, allow_extra: bool
                        ) -> Iterator[tuple[int, pd.DataFrame, list[str]]]:
    """Chunks of a folder of Parquet parts partitioned by period (``period=2019/part-....parquet``), as written by
    :func:`tradeanomaly.ingest.ingest_partitioned`; ``period`` comes from the folder name when the part lacks it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..ingest import partition_files

    root, files = partition_files(path)
    if not files:
        raise SourceFormatError("the folder holds no Parquet files; write it with `tradeanomaly ingest "
                                "--partitioned`", path=path)
    start, pending, size, pending_extra = 0, [], 0, []
    for f in files:
        hive = dict(part.split("=", 1) for part in f.relative_to(root).parts[:-1] if "=" in part)
        try:
            pf = pq.ParquetFile(f)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceFormatError(f"not a readable Parquet file ({exc})", path=f) from exc
        names = list(pf.schema_arrow.names)
        from_dir = "period" not in names and "period" in hive
        extra = _check_columns(names + (["period"] if from_dir else []), f, allow_extra)
        cols = [c for c in FLOW_COLUMNS if c != "period" or not from_dir]
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=cols):
            chunk = batch.to_pandas()
            if from_dir:
                chunk.insert(0, "period", hive["period"])
            # parts are small (one period of one chunk): gather them into chunks of about chunk_rows rows
            pending.append(chunk[list(FLOW_COLUMNS)])
            pending_extra += [c for c in extra if c not in pending_extra]
            size += len(chunk)
            if size >= chunk_rows:
                yield start, pd.concat(pending, ignore_index=True), pending_extra
                start, pending, size, pending_extra = start + size, [], 0, []
    if pending:
        yield start, pd.concat(pending, ignore_index=True), pending_extra


def _reduce(chunk: pd.DataFrame, start: int, path: Path, extra: list[str]) -> tuple[pd.DataFrame, Ledger]:
    """One raw chunk -> typed flows and its own balanced ledger."""
    ledger = Ledger(stage=STAGE, rows_in=len(chunk), inputs=[path.name])
    if extra:
        ledger.notes.append(f"{path.name}: ignored extra column(s) {', '.join(extra)}")
    df = chunk.reset_index(drop=True)
    for c in FLOW_COLUMNS:
        if c not in ("value_usd", "quantity", "estimated"):
            df[c] = df[c].astype("str").where(df[c].notna(), "").str.strip()

    raw_period = df["period"].astype("str").str.strip()
    period = normalise_periods(raw_period)
    bad = (period == "") & (raw_period != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceFormatError(
            f"cannot read period {raw_period.iloc[i]!r} ({int(bad.sum())} such row(s)); write periods as YYYY, "
            f"YYYY-Qn or YYYY-MM", path=path, row=start + i + 2, column="period")
    df["period"] = period

    est = df["estimated"]
    if pd.api.types.is_bool_dtype(est):
        flag = est.fillna(False).astype(bool)
    else:
        text = est.astype("str").where(est.notna(), "").str.strip().str.lower()
        is_true, is_false = text.isin(_TRUE), text.isin(_FALSE)
        df = ledger.set_aside(df, ~(is_true | is_false).to_numpy(), "bad_estimated_flag")
        flag = is_true.loc[df.index]
    df["estimated"] = flag.to_numpy()

    df["source"] = df["source"].where(df["source"] != "", SOURCE)
    default_val = np.where(df["flow"].isin(["M", "RM"]), "CIF", "FOB")
    df["valuation"] = df["valuation"].where(df["valuation"] != "", pd.Series(default_val, index=df.index))
    where = f"{path.name} rows {start + 2}-{start + len(chunk) + 1}"
    out = finish_flows(df, ledger, SOURCE, where=where)
    return out.flows, out.ledger


def iter_chunks(path, chunk_rows: int = DEFAULT_CHUNK_ROWS, *, allow_extra: bool = False
                ) -> Iterator[tuple[pd.DataFrame, Ledger]]:
    """Yield ``(flows_chunk, ledger_chunk)`` for one canonical file; every ledger balances on its own.

    Duplicates are found within a chunk only; :func:`read` also removes them across chunks.
    """
    path = Path(path)
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    for start, chunk, extra in _raw_chunks(path, chunk_rows, allow_extra):
        yield _reduce(chunk, start, path, extra)


def read(paths, *, column_map=None, allow_extra: bool = False, chunk_rows: int = DEFAULT_CHUNK_ROWS,
         **options) -> ReadResult:
    """Read canonical flows files into one flows table and one ledger (see the module docstring)."""
    if column_map is not None:
        raise ConfigError("the canonical source takes no column map; use --source table --map MAP.yaml for "
                          "files with other columns")
    if options:
        raise ConfigError(f"unknown option(s) for the canonical source: {', '.join(sorted(options))} "
                          f"(known: allow_extra, chunk_rows)")
    ledger = Ledger(stage=STAGE)
    parts: list[pd.DataFrame] = []
    n_chunks = 0
    for path in as_paths(paths):
        ledger.inputs.append(path.name)
        for flows, led in iter_chunks(path, chunk_rows, allow_extra=allow_extra):
            parts.append(flows)
            ledger.merge(led)
            n_chunks += 1
    if not parts:
        from ..schema import empty_flows

        ledger.check()
        return ReadResult(empty_flows(), ledger)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if n_chunks > 1:
        df = drop_duplicates_across(df, ledger)
    ledger.check()
    return ReadResult(df, ledger)


def drop_duplicates_across(df: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    """Set aside keys repeated across chunks or files (each part was de-duplicated on its own).

    The rows were counted as ``kept`` by their part; they move to ``duplicate``, so the ledger still balances.
    """
    dup = df.duplicated(FLOW_KEY + ["valuation"], keep="first").to_numpy()
    n = int(dup.sum())
    if n:
        ledger.counts["kept"] -= n
        ledger.add("duplicate", n, df.loc[dup].head(3))
        df = df.loc[~dup].reset_index(drop=True)
    return df


def write_flows(df: pd.DataFrame, path: "str | Path | IO[bytes]", *, format: str | None = None) -> None:
    """Write a flows table as Parquet or CSV, chosen by the suffix (``.parquet``/``.pq``, ``.csv``, ``.csv.gz``).

    ``path`` may also be an open binary stream; then ``format`` ("parquet" or "csv") says which, defaulting to
    the stream's file name suffix when it has one, else Parquet. The table is validated first (a
    :class:`SchemaError` lists every problem), so what is written can always be read back with :func:`read`.
    """
    flows = validate_flows(df, where="flows to write")
    is_stream = hasattr(path, "write")
    if format is None:
        name = str(getattr(path, "name", "")) if is_stream else str(path)
        lower = name.lower()
        if lower.endswith((".csv", ".csv.gz")):
            format = "csv"
        elif lower.endswith((".parquet", ".pq")) or (is_stream and not lower.endswith(".gz")):
            format = "parquet"
        else:
            raise ConfigError(f"cannot tell the format of {name!r}: name it .parquet, .csv or .csv.gz")
    if format not in ("csv", "parquet"):
        raise ConfigError(f"unknown flows file format {format!r}: use csv or parquet")
    target = path if is_stream else Path(path)
    if format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(flows, preserve_index=False)
        pq.write_table(table, target, compression="zstd")
        return
    if is_stream:
        text = flows.to_csv(index=False, lineterminator="\n")
        data = text.encode("utf-8")
        if isinstance(target, io.TextIOBase):
            target.write(text)
        else:
            target.write(data)
        return
    if str(target).lower().endswith(".gz"):
        import gzip

        # gzip headers hold a timestamp and the file name: blank both so the same table gives the same bytes
        with open(target, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6,
                                                      mtime=0) as gz:
            flows.to_csv(gz, index=False, lineterminator="\n", encoding="utf-8", mode="wb")
        return
    flows.to_csv(target, index=False, lineterminator="\n", encoding="utf-8")
