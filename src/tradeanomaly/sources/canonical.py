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
from .base import (EMPTY_FILE, gzip_guarded, NA_VALUES, CodedFrame, ReadResult, as_paths, detect_encoding, finish_coded,
                   partition_files, take_text)
from .duplicates import _DUP_KEY, drop_duplicates_across, merge_codes

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


def _raw_chunks(path: Path, chunk_rows: int, allow_extra: bool
                ) -> Iterator[tuple[int, pd.DataFrame, list[str], dict]]:
    """Yield ``(first_row, chunk, extra_columns, codes)``; first_row is the 0-based data row of the chunk's first
    line, ``codes`` the :func:`~tradeanomaly.schema.text_codes` of the text columns read as dictionaries."""
    if path.is_dir():
        yield from _partitioned_chunks(path, chunk_rows, allow_extra)
        return
    if not path.exists():
        raise SourceFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise SourceFormatError(EMPTY_FILE, path=path)
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
        for chunk, codes in _parquet_pieces(path, pf, list(FLOW_COLUMNS), chunk_rows):
            yield start, chunk, extra, codes
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
            _refuse_line_breaks(chunk, path, start)
            yield start, chunk, extra, {}
            start += len(chunk)
    except UnicodeDecodeError as exc:
        raise SourceFormatError(
            f"cannot decode the bytes as {enc} after data row {start} ({exc.reason}): save the file as UTF-8",
            path=path, row=start + 2) from exc
    except pd.errors.ParserError as exc:
        raise SourceFormatError(f"not a well-formed CSV after data row {start} ({exc}); check the quoting",
                                path=path, row=start + 2) from exc


def _refuse_line_breaks(chunk: pd.DataFrame, path: Path, start: int) -> None:
    """No field of the flows format holds a line break: one that does is a quote opened and never closed, which
    makes the parser merge the physical lines up to the next quote into one record (rows lost without a word)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for c in chunk.columns:
        col = chunk[c]
        try:
            hit = pc.match_substring(pa.array(col.array), "\n")  # every merged line ends in \n (also \r\n)
            if not pc.any(hit).as_py():
                continue
            bad = np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
            bad = col.astype("str").str.contains("\n", regex=False).fillna(False).to_numpy(dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            text = str(col.iloc[i])
            raise SourceFormatError(
                f"data record {start + i + 1}, column `{c}`, spans several lines ({text[:40]!r}...): a quote (\") "
                "opened in it is not closed on its line, so the lines after it were read as part of the field; "
                "remove the stray quote or close it", path=path, row=start + i + 2)


def _partitioned_chunks(path: Path, chunk_rows: int, allow_extra: bool
                        ) -> Iterator[tuple[int, pd.DataFrame, list[str], dict]]:
    """Chunks of a folder of Parquet parts partitioned by period (``period=2019/part-....parquet``), as written by
    :func:`tradeanomaly.ingest.ingest_partitioned`; ``period`` comes from the folder name when the part lacks it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

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
        for chunk, codes in _parquet_pieces(f, pf, cols, chunk_rows):
            if from_dir:
                chunk.insert(0, "period", hive["period"])
                codes["period"] = (np.zeros(len(chunk), dtype=np.int32), np.array([hive["period"]], dtype=object))
            # parts are small (one period of one chunk): gather them into chunks of about chunk_rows rows
            pending.append((chunk[list(FLOW_COLUMNS)], codes))
            pending_extra += [c for c in extra if c not in pending_extra]
            size += len(chunk)
            if size >= chunk_rows:
                df, codes = _gather(pending)
                yield start, df, pending_extra, codes
                start, pending, size, pending_extra = start + size, [], 0, []
    if pending:
        df, codes = _gather(pending)
        yield start, df, pending_extra, codes


def _gather(pending: list) -> tuple[pd.DataFrame, dict]:
    """One chunk from its pieces, with the codes of the columns every piece has codes for."""
    df = pd.concat([p for p, _ in pending], ignore_index=True)
    shared = set.intersection(*(set(codes) for _, codes in pending))
    return df, {c: merge_codes([codes[c] for _, codes in pending]) for c in shared}


_TEXT_READ = [c for c in FLOW_COLUMNS if c not in ("value_usd", "quantity", "estimated")]
_TYPED = {"value_usd": "float64", "quantity": "float64", "estimated": "bool"}


def _as_written(schema, cols: list[str]) -> bool:
    """Parts typed as :func:`write_flows` and ingest write them (text, float64, bool, no pandas extension type)
    are read column by column with the text as Arrow dictionaries: the distinct values come with the file."""
    import pyarrow as pa

    meta = {c.get("name"): c.get("numpy_type") for c in (schema.pandas_metadata or {}).get("columns", [])}
    for c in cols:
        t = schema.field(c).type
        if c in _TYPED:
            want = _TYPED[c]
            ok = (pa.types.is_float64(t) if want == "float64" else pa.types.is_boolean(t)) \
                and meta.get(c, want) == want
        else:
            ok = (pa.types.is_string(t) or pa.types.is_large_string(t)) and meta.get(c, "object") in ("object", "str")
        if not ok:
            return False
    return True


def _parquet_pieces(path: Path, pf, cols: list[str], chunk_rows: int) -> Iterator[tuple[pd.DataFrame, dict]]:
    """The record batches of one Parquet file as frames (exactly ``batch.to_pandas()``) and their text codes."""
    import pyarrow.parquet as pq

    schema = pf.schema_arrow
    if len(set(schema.names)) != len(schema.names) or not _as_written(schema, cols):
        for batch in pf.iter_batches(batch_size=chunk_rows, columns=cols):
            yield batch.to_pandas(), {}
        return
    text = [c for c in cols if c in _TEXT_READ]
    for batch in pq.ParquetFile(path, read_dictionary=text).iter_batches(batch_size=chunk_rows, columns=cols):
        data, codes = {}, {}
        index = pd.RangeIndex(batch.num_rows)
        for name, arr in zip(batch.schema.names, batch.columns):
            if name in text:
                codes[name] = _dictionary_codes(arr)
                data[name] = take_text(codes[name][1], codes[name][0], index)
            else:
                data[name] = arr.to_pandas()
        yield pd.DataFrame(data, index=index), codes


def _dictionary_codes(arr) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)`` of a text column read as an Arrow dictionary (or plain text: hashed here)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    indices = arr.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    codes = indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    uniques = np.asarray(arr.dictionary.to_pylist(), dtype=object)
    if arr.dictionary.null_count or len(pc.unique(arr.dictionary)) != len(uniques):
        new_of_old, uniques = pd.factorize(uniques)  # a repeated or missing entry: one code per value
        codes = np.append(new_of_old, -1).astype(np.int32)[codes]
    return codes, uniques



def _reduce(chunk: pd.DataFrame, start: int, path: Path, extra: list[str], codes: dict | None = None
            ) -> tuple[pd.DataFrame, Ledger, dict]:
    """One raw chunk -> typed flows, its own balanced ledger, and the codes of the duplicate key's columns.

    Text is checked and rewritten once per distinct value (a chunk of half a million rows holds a few hundred
    distinct codes per column), then broadcast to the rows.
    """
    ledger = Ledger(stage=STAGE, rows_in=len(chunk), inputs=[path.name])
    if extra:
        ledger.notes.append(f"{path.name}: ignored extra column(s) {', '.join(extra)}")
    cf = CodedFrame(chunk.reset_index(drop=True), codes)
    strip = lambda s: s.str.strip()  # noqa: E731
    for c in FLOW_COLUMNS:
        if c not in ("value_usd", "quantity", "estimated") and not cf.map_text(c, strip):
            col = cf.df[c]
            cf.set(c, col.astype("str").where(col.notna(), "").str.strip())

    def periods(text: pd.Series) -> pd.Series:
        return normalise_periods(text.str.strip())

    coded = cf.codes("period")
    if coded is None:  # not Arrow text: row by row
        raw_period = cf.df["period"].astype("str").str.strip()
        period = normalise_periods(raw_period)
        bad = ((period == "") & (raw_period != "")).to_numpy()
    else:
        raw = pd.Series(np.append(coded[1], np.array([""], dtype=object)), dtype="str").str.strip()
        per_value = ((normalise_periods(raw) == "") & (raw != "")).to_numpy()
        bad = per_value[coded[0]]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw_i = cf.df["period"].astype("str").str.strip().iloc[i]
        raise SourceFormatError(
            f"cannot read period {raw_i!r} ({int(bad.sum())} such row(s)); write periods as YYYY, "
            f"YYYY-Qn or YYYY-MM", path=path, row=start + i + 2, column="period")
    if coded is None:
        cf.set("period", period)
    else:
        cf.map_text("period", periods)

    est = cf.df["estimated"]
    if pd.api.types.is_bool_dtype(est):
        flag = est.fillna(False).astype(bool).to_numpy()
    else:
        def spelled(words):
            return lambda s: s.str.strip().str.lower().isin(words)

        def slow(words):
            return lambda e: e.astype("str").where(e.notna(), "").str.strip().str.lower().isin(words)

        is_true = cf.bad("estimated", spelled(_TRUE), slow(_TRUE))
        is_false = cf.bad("estimated", spelled(_FALSE), slow(_FALSE))
        bad = ~(is_true | is_false)
        cf.set_aside(ledger, bad, "bad_estimated_flag")
        flag = is_true[~bad]
    cf.set("estimated", flag)

    if not cf.map_text("source", lambda s: s.where(s != "", SOURCE)):
        cf.set("source", cf.df["source"].where(cf.df["source"] != "", SOURCE))
    if cf.bad("valuation", lambda s: s == "", lambda v: v == "").any():
        df = cf.df
        default_val = np.where(df["flow"].isin(["M", "RM"]), "CIF", "FOB")
        cf.set("valuation", df["valuation"].where(df["valuation"] != "", pd.Series(default_val, index=df.index)))
    where = f"{path.name} rows {start + 2}-{start + len(chunk) + 1}"
    out = finish_coded(cf, ledger, SOURCE, where=where)
    return out.flows, out.ledger, cf.key_codes(_DUP_KEY)


@gzip_guarded
def iter_chunks(path, chunk_rows: int = DEFAULT_CHUNK_ROWS, *, allow_extra: bool = False
                ) -> Iterator[tuple[pd.DataFrame, Ledger]]:
    """Yield ``(flows_chunk, ledger_chunk)`` for one canonical file; every ledger balances on its own.

    Duplicates are found within a chunk only; :func:`read` also removes them across chunks.
    """
    for flows, ledger, _ in _iter_reduced(path, chunk_rows, allow_extra):
        yield flows, ledger


def _iter_reduced(path, chunk_rows: int, allow_extra: bool) -> Iterator[tuple[pd.DataFrame, Ledger, dict]]:
    path = Path(path)
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    for start, chunk, extra, codes in _raw_chunks(path, chunk_rows, allow_extra):
        yield _reduce(chunk, start, path, extra, codes)


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
    keys: list[dict] = []
    n_chunks = 0
    for path in as_paths(paths):
        ledger.inputs.append(path.name)
        for flows, led, codes in _iter_reduced(path, chunk_rows, allow_extra):
            parts.append(flows)
            keys.append({c: _small(v) for c, v in codes.items()})
            ledger.merge(led)
            n_chunks += 1
    if not parts:
        from ..schema import empty_flows

        ledger.check()
        return ReadResult(empty_flows(), ledger)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    del parts
    if n_chunks > 1:
        df = drop_duplicates_across(df, ledger, chunk_codes=keys)
    ledger.check()
    return ReadResult(df, ledger)


def _small(coded):
    """Codes in the narrowest integer type (they are kept for every row until the cross-chunk check)."""
    if coded is None:
        return None
    codes, uniques = coded
    for t in (np.int8, np.int16):
        if len(uniques) < np.iinfo(t).max:
            return codes.astype(t), uniques
    return codes, uniques




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
