"""Streaming ingest of bulk files into Parquet partitioned by period, restartable, with one ledger.

:func:`ingest_partitioned` reads each input file chunk by chunk with its reader's ``iter_chunks`` (canonical,
BACI, Comtrade; a reader without it is read whole with :func:`~tradeanomaly.sources.read_source`), and writes
every chunk at once, so memory holds one chunk (plus 23 to 46 bytes per kept row for the duplicate check below).
Layout::

    OUT/flows/period=2019/part-<file hash>-<chunk>.parquet   the flows columns except ``period`` (hive layout)
    OUT/_ingested/<sha256 of file>.json                      the file's ledger: written after all its parts
    OUT/ledger.json                                          the merged ledger of every input file

Restart: a file whose marker exists (same content hash, same source and options) is skipped. A file without one
resumes after its last complete chunk: each chunk leaves a checkpoint (``_ingested/<sha>.chunk-<n>.json`` with
the chunk's ledger and parts) after its parts are written; a resume with
the same chunk size and reader settings keeps the consecutive checkpointed chunks, removes any later part, and
asks the reader for the chunks after them (BACI skips them without converting them; other readers read them
and drop them). The result is the same, part for part and count for count, as an uninterrupted ingest. Parts are written under a hidden name and renamed, so a
reader never sees half a part; while an ingest is unfinished the folder holds the parts of the files done so far.

Duplicates: the readers set duplicates aside within a chunk. Across chunks and files they are found here by the
key (``period, reporter, region, partner, flow, hs, valuation``, the key of
:func:`~tradeanomaly.sources.base.finish_flows`) with :class:`~tradeanomaly.dedup.KeySet`: keys are compared
exactly (dictionary codes, not hashes), so two different rows are never taken for one, and each chunk costs the
same however many keys came before. The first occurrence in input order is kept, later ones move from ``kept``
to ``duplicate`` in the file's ledger, as :func:`~tradeanomaly.sources.canonical.read` does when it reads the
whole file. A skipped or resumed file's keys are read back from its parts (the key columns only).

The folder is read back by ``--source canonical OUT`` (or ``OUT/flows``) and by
:func:`tradeanomaly.engine.read_flows_dask`.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from .dedup import KEY_COLUMNS, KeySet
from .errors import ConfigError, SourceFormatError
from .schema import FLOW_COLUMNS, FLOWS_SCHEMA, Ledger, ledgers_to_json
from .sources import READERS, read_source, typed_options
from .sources.base import FLOWS_DIR, as_paths, file_sha256, partition_files, write_flows_parquet  # noqa: F401

Progress = Callable[[str], None]

MARKER_DIR = "_ingested"
PART_COLUMNS = [c for c in FLOW_COLUMNS if c != "period"]


@dataclass
class IngestResult:
    """What an ingest did: the merged ledger and, per input file, whether it was converted or skipped."""

    out_dir: Path
    ledger: Ledger
    files: list[dict] = field(default_factory=list)
    rows_written: int = 0
    chunks_written: int = 0

    @property
    def flows_dir(self) -> Path:
        return self.out_dir / FLOWS_DIR

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "rows_written": self.rows_written,
                "chunks_written": self.chunks_written, "files": list(self.files), "ledger": self.ledger.to_dict()}


def part_schema():
    """Arrow schema of a part file (every part has the same one, so any reader sees one table)."""
    import pyarrow as pa

    types = {"str": pa.string(), "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(s.name, types[s.dtype]) for s in FLOWS_SCHEMA if s.name != "period"])


def _held_keys(flows_dir: Path, parts: list[str]) -> pd.DataFrame:
    """The key columns of the rows in ``parts`` (paths relative to ``flows_dir``), period from the folder name."""
    import pyarrow.parquet as pq

    cols = [c for c in KEY_COLUMNS if c != "period"]
    frames = []
    for part in parts:
        t = pq.read_table(flows_dir / part, columns=cols).to_pandas()
        t.insert(0, "period", part.split("/")[0].removeprefix("period="))
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=KEY_COLUMNS)


# ---------------------------------------------------------------------------------------------------------------
# Chunk sources
# ---------------------------------------------------------------------------------------------------------------

def _reader(source: str):
    if source not in READERS:
        raise SourceFormatError(f"unknown source `{source}`: choose one of {', '.join(READERS)}")
    return importlib.import_module(READERS[source])


def _split_aux(module, paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Data files and auxiliary files (BACI's country-code file), which are inputs of every data file."""
    is_aux = getattr(module, "is_code_file", None)
    if is_aux is None:
        return paths, []
    aux = [p for p in paths if is_aux(p)]
    return [p for p in paths if p not in aux], aux


def _chunks(module, source: str, path: Path, aux: list[Path], column_map, chunk_rows: int,
            options: dict, skip: int = 0) -> Iterator[tuple[pd.DataFrame, Ledger]]:
    """The chunks of one file after the first ``skip`` (a reader whose ``iter_chunks`` takes ``skip_chunks``
    skips them cheaply; otherwise they are read and dropped)."""
    iter_chunks = getattr(module, "iter_chunks", None)
    if iter_chunks is not None and column_map is None:
        options = typed_options(source, iter_chunks, options)
        params = inspect.signature(iter_chunks).parameters
        target = [path] + aux if next(iter(params)) == "paths" else path
        if skip and "skip_chunks" in params:
            yield from iter_chunks(target, chunk_rows=chunk_rows, skip_chunks=skip, **options)
            return
        for i, (flows, led) in enumerate(iter_chunks(target, chunk_rows=chunk_rows, **options)):
            if i >= skip:
                yield flows, led
        return
    if skip:  # read whole: one chunk, which the checkpoints already hold
        return
    res = read_source(source, [path] + aux, column_map=column_map, **options)
    yield res.flows, res.ledger


# ---------------------------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------------------------

def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_parts(flows: pd.DataFrame, flows_dir: Path, prefix: str, chunk: int) -> list[str]:
    """Write one part per period of the chunk; return their paths relative to ``flows_dir``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not len(flows):
        return []
    schema = part_schema()
    period = flows["period"].astype("str").to_numpy()
    order = np.argsort(period, kind="stable")
    sorted_p = period[order]
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    ends = np.r_[starts[1:], len(sorted_p)]
    written = []
    for s, e in zip(starts, ends):  # one iteration per period of the chunk (a handful)
        p = str(sorted_p[s])
        # a chunk of one period (a BACI year) is written as it is, without a copy
        sub = flows[PART_COLUMNS] if len(starts) == 1 else flows.iloc[np.sort(order[s:e])][PART_COLUMNS]
        d = flows_dir / f"period={p}"
        d.mkdir(parents=True, exist_ok=True)
        name = f"part-{prefix}-{chunk:05d}.parquet"
        tmp = d / f".{name}.tmp"
        try:
            pq.write_table(pa.Table.from_pandas(sub, schema=schema, preserve_index=False), tmp, compression="zstd")
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, d / name)
        written.append(f"period={p}/{name}")
    return written


def _remove_parts(flows_dir: Path, prefix: str, from_chunk: int = 0) -> int:
    """Remove the parts (and half-written parts) of a file's chunks ``from_chunk`` on; returns how many."""
    n = 0
    if flows_dir.is_dir():
        for f in flows_dir.glob(f"period=*/*part-{prefix}-*"):
            chunk = f.name.lstrip(".").split("-")[2].split(".")[0]
            if not chunk.isdigit() or int(chunk) >= from_chunk:
                f.unlink()
                n += 1
    return n


def _checkpoint_file(markers: Path, sha: str, chunk: int) -> Path:
    return markers / f"{sha}.chunk-{chunk:05d}.json"


def _checkpoints(markers: Path, sha: str, fingerprint: str, chunk_rows: int, flows_dir: Path) -> list[dict]:
    """The chunk checkpoints 0, 1, ... of an unfinished conversion that a resume can keep: consecutive, written
    with the same reader settings and chunk size, and with all their parts in place."""
    done: list[dict] = []
    while True:
        meta = _checkpoint_file(markers, sha, len(done))
        if not meta.is_file():
            return done
        try:
            d = json.loads(meta.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, OSError):
            return done
        if d.get("fingerprint") != fingerprint or d.get("chunk_rows") != chunk_rows or not all(
                (flows_dir / part).is_file() for part in d.get("parts", [])):
            return done
        done.append(d)


def _remove_checkpoints(markers: Path, sha: str, from_chunk: int = 0) -> None:
    for f in markers.glob(f"{sha}.chunk-*"):
        chunk = f.name[len(sha) + len(".chunk-"):].split(".")[0]
        if not chunk.isdigit() or int(chunk) >= from_chunk:
            f.unlink()


def _fingerprint(source: str, column_map, options: dict, aux: list[Path]) -> str:
    blob = {"source": source, "options": {k: str(v) for k, v in sorted(options.items())},
            "map": file_sha256(Path(column_map)) if column_map else None,
            "aux": [file_sha256(p) for p in aux], "columns": list(FLOW_COLUMNS)}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def _marker(markers: Path, sha: str) -> dict | None:
    m = markers / f"{sha}.json"
    if not m.is_file():
        return None
    try:
        return json.loads(m.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError):
        return None


# ---------------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------------

def ingest_partitioned(source: str, paths, out_dir, *, column_map=None, chunk_rows: int = 1_000_000,
                       progress: Progress | None = None, **options) -> IngestResult:
    """Convert ``paths`` (read as ``source``) into Parquet partitioned by period under ``out_dir``.

    See the module docstring for the layout, restart and duplicate rules. ``options`` go to the reader (for
    example ``allow_extra=True`` for canonical files). ``progress`` receives one message per chunk written; an
    exception raised from it stops the ingest as an interruption would, and the next call resumes.
    Raises :class:`ConfigError` when ``out_dir`` already holds files that are not among ``paths`` (the folder
    mirrors exactly its inputs, so that its ledger accounts for every row in it).
    """
    progress = progress or (lambda msg: None)
    chunk_rows = int(chunk_rows)
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    module = _reader(source)
    paths = as_paths(paths)
    if not paths:
        raise SourceFormatError(f"no input file given for source `{source}`")
    for p in paths:
        if not p.is_file():
            raise SourceFormatError("file not found (ingest reads files, not folders)", path=p)
    data, aux = _split_aux(module, paths)
    if not data:
        raise SourceFormatError(f"no data file among the inputs of source `{source}`", path=paths[0])

    from .paths import FULL, full_error, out_lock

    if getattr(module, "iter_chunks", None) is not None and column_map is None:
        typed_options(source, module.iter_chunks, options)  # a bad option is refused before OUT is created
    out = Path(out_dir)
    written: list[int] = [0]  # bytes of the parts this call wrote, for the message of a full disk
    with out_lock(out):
        try:
            return _ingest(module, source, data, aux, out, column_map, chunk_rows, progress, options, written)
        except OSError as exc:
            if exc.errno in FULL:
                raise full_error(exc, out, written=written[0], after=(
                    "the files and chunks converted before it are kept; run the same ingest again when there is "
                    "room: it resumes after the last complete chunk")) from None
            raise


def _ingest(module, source: str, data: list[Path], aux: list[Path], out: Path, column_map, chunk_rows: int,
            progress: Progress, options: dict, written: list[int]) -> IngestResult:
    flows_dir, markers = out / FLOWS_DIR, out / MARKER_DIR
    flows_dir.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    fingerprint = _fingerprint(source, column_map, options, aux)

    shas: list[str] = []
    for p in data:
        sha = file_sha256(p)
        if sha in shas:
            other = data[shas.index(sha)]
            raise ConfigError(f"{p} has the same content as {other}: pass each file once")
        shas.append(sha)
    complete = [m.name[:-len(".json")] for m in markers.glob("*.json") if len(m.name) == 64 + len(".json")]
    foreign = sorted(s for s in complete if s not in shas)
    if foreign:
        names = [json.loads((markers / f"{s}.json").read_text(encoding="utf-8")).get("file", s) for s in foreign]
        raise ConfigError(f"{out} already holds converted file(s) not among the inputs: {', '.join(names)}; "
                          "pass them too, or ingest into a new folder")
    # parts of an interrupted file that is no longer an input: incomplete, so never part of the dataset
    for f in markers.glob("*.chunk-*"):
        if f.name.lstrip(".")[:64] not in shas:
            f.unlink()
    known = {s[:16] for s in shas}
    for f in flows_dir.glob("period=*/*part-*"):
        if f.name.lstrip(".").split("-")[1] not in known:
            f.unlink()

    seen = KeySet()
    ledger: Ledger | None = None
    result = IngestResult(out_dir=out, ledger=Ledger(stage=f"read:{source}"))
    for path, sha in zip(data, shas):
        prefix = sha[:16]
        mark = _marker(markers, sha)
        if mark is not None and mark.get("fingerprint") == fingerprint and all(
                (flows_dir / part).is_file() for part in mark.get("parts", [])):
            file_ledger = Ledger.from_dict(mark["ledger"])
            seen.add(_held_keys(flows_dir, mark["parts"]))
            result.files.append({"path": str(path), "sha256": sha, "status": "skipped",
                                 "rows_in": file_ledger.rows_in, "kept": file_ledger.kept,
                                 "parts": len(mark["parts"])})
            progress(f"{path.name}: already converted ({file_ledger.kept:,} flows), skipped")
        else:
            for stale in (markers / f"{sha}.json", markers / f"{sha}.keys.npy"):  # .keys.npy: older layout
                stale.unlink(missing_ok=True)
            # an interrupted conversion resumes after its last complete chunk
            done = _checkpoints(markers, sha, fingerprint, chunk_rows, flows_dir)
            _remove_checkpoints(markers, sha, len(done))
            removed = _remove_parts(flows_dir, prefix, len(done))
            if removed:
                progress(f"{path.name}: removed {removed} part(s) of an unfinished conversion")
            file_ledger, parts = None, []
            for d in done:
                seen.add(_held_keys(flows_dir, d["parts"]))
                parts += d["parts"]
                led = Ledger.from_dict(d["ledger"])
                file_ledger = led if file_ledger is None else file_ledger.merge(led)
            if done:
                progress(f"{path.name}: resuming after chunk {len(done)} ({file_ledger.rows_in:,} "
                         f"{file_ledger.unit}s already converted)")
            for i, (flows, led) in enumerate(_chunks(module, source, path, aux, column_map, chunk_rows,
                                                     options, skip=len(done)), start=len(done)):
                dup = seen.add(flows[KEY_COLUMNS])
                n = int(dup.sum())
                if n:
                    led.counts["kept"] -= n
                    led.add("duplicate", n, flows.loc[dup].head(3))
                    flows = flows.loc[~dup].reset_index(drop=True)
                led.check()
                new_parts = _write_parts(flows, flows_dir, prefix, i)
                written[0] += sum((flows_dir / part).stat().st_size for part in new_parts)
                parts += new_parts
                # the chunk's checkpoint: its ledger and parts, written after its parts
                _atomic_write_text(_checkpoint_file(markers, sha, i), json.dumps({"chunk": i, "fingerprint": fingerprint, "chunk_rows": chunk_rows,
                                                     "parts": new_parts, "ledger": led.to_dict()}))
                file_ledger = led if file_ledger is None else file_ledger.merge(led)
                result.chunks_written += 1
                result.rows_written += len(flows)
                progress(f"{path.name}: chunk {i + 1} written, {file_ledger.rows_in:,} {file_ledger.unit}s in, "
                         f"{file_ledger.kept:,} kept")
            if file_ledger is None:  # a file with a header and no rows
                file_ledger = Ledger(stage=f"read:{source}", inputs=[path.name])
            file_ledger.check()
            _atomic_write_text(markers / f"{sha}.json", json.dumps({
                "file": path.name, "path": str(path), "sha256": sha, "source": source,
                "fingerprint": fingerprint, "chunk_rows": chunk_rows, "parts": parts,
                "rows_written": int(file_ledger.kept), "ledger": file_ledger.to_dict(),
            }, indent=2, ensure_ascii=False) + "\n")
            _remove_checkpoints(markers, sha)
            result.files.append({"path": str(path), "sha256": sha, "status": "resumed" if done else "converted",
                                 "rows_in": file_ledger.rows_in, "kept": file_ledger.kept, "parts": len(parts)})
        ledger = Ledger.from_dict(file_ledger.to_dict()) if ledger is None else ledger.merge(file_ledger)
    assert ledger is not None
    ledger.inputs = [p.name for p in data] + [p.name for p in aux if p.name not in ledger.inputs]
    ledger.check()
    result.ledger = ledger
    _atomic_write_text(out / "ledger.json", ledgers_to_json([ledger]))
    return result


# ---------------------------------------------------------------------------------------------------------------
# Whole-file ingest: flows.parquet and ledger.json as a unit
# ---------------------------------------------------------------------------------------------------------------

WHOLE_FILES = ("flows.parquet", "ledger.json")
WHOLE_MANIFEST = "ingest.json"


def write_whole(flows: pd.DataFrame, ledger: Ledger, out_dir) -> Path:
    """Write ``OUT/flows.parquet`` and ``OUT/ledger.json`` as a unit, then ``OUT/ingest.json`` (their sizes and
    SHA-256), last: a folder whose ``ingest.json`` is missing or does not match is not a finished ingest.

    Both files are made in memory first, so their size is known; they are written under hidden temporary names
    in ``OUT`` and renamed only when both are on disk. A write that does not fit (full disk, ``ulimit -f``) removes
    the temporary files and raises one :class:`~tradeanomaly.paths.OutputError` naming the file and the bytes
    needed: an earlier ingest in ``OUT`` stays as it was, both files together."""
    import io

    from .paths import out_lock

    out = Path(out_dir)
    buf = io.BytesIO()
    write_flows_parquet(flows, buf)
    blobs = {"flows.parquet": buf.getvalue(), "ledger.json": ledgers_to_json([ledger]).encode("utf-8")}
    manifest = (json.dumps({"files": {name: {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                                      for name, b in blobs.items()},
                            "rows_in": int(ledger.rows_in), "kept": int(ledger.kept)}, indent=2) + "\n").encode()
    needed = sum(len(b) for b in blobs.values()) + len(manifest)
    kept = (f"the earlier output in {out} is unchanged" if (out / WHOLE_MANIFEST).is_file()
            else f"no output was left in {out}")
    tmps = {name: out / f".{name}.tmp-{os.getpid()}" for name in (*blobs, WHOLE_MANIFEST)}
    with out_lock(out):
        _write_unit(out, blobs, manifest, tmps, needed, kept)
    return out / "flows.parquet"


def _write_unit(out: Path, blobs: dict, manifest: bytes, tmps: dict, needed: int, kept: str) -> None:
    from .paths import FULL, full_error

    try:
        for name, blob in blobs.items():
            tmps[name].write_bytes(blob)
        tmps[WHOLE_MANIFEST].write_bytes(manifest)
    except OSError as exc:
        for t in tmps.values():
            t.unlink(missing_ok=True)
        if exc.errno in FULL:
            raise full_error(exc, out, needed=needed, after=kept) from None
        raise
    # renames take no space: the manifest goes first and comes back last, so a stop between them leaves a folder
    # without one (unfinished), never a ledger beside the wrong flows that claims to be finished
    (out / WHOLE_MANIFEST).unlink(missing_ok=True)
    for name in blobs:
        os.replace(tmps[name], out / name)
    os.replace(tmps[WHOLE_MANIFEST], out / WHOLE_MANIFEST)


def whole_is_complete(out_dir) -> bool:
    """Whether ``OUT`` holds a finished whole-file ingest: ``ingest.json`` present and both files matching it."""
    out = Path(out_dir)
    try:
        man = json.loads((out / WHOLE_MANIFEST).read_text(encoding="utf-8"))
        return all(hashlib.sha256((out / name).read_bytes()).hexdigest() == man["files"][name]["sha256"]
                   for name in WHOLE_FILES)
    except (OSError, ValueError, KeyError, TypeError):
        return False
