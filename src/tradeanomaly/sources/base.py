"""What every reader shares: the result type, text-safe CSV reading, and the common finishing steps.

A reader turns a publisher's file into a frame with the flows columns (values may still be raw text), sets aside
what it knows is not a flow (aggregates, other customs procedures, ...) in its ledger, and calls
:func:`finish_flows`, which sets aside missing, non-numeric and negative values, unknown countries and
duplicates, coerces the dtypes and validates the contract. The invariant ``rows_in == sum(ledger)`` is checked
before the result is returned.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..errors import SourceFormatError
from ..schema import (FLOW_COLUMNS, FLOW_TYPES, FLOWS_SCHEMA, HS_RE, ISO3_RE, PERIOD_RE, TEXT_DTYPE, Ledger,
                      SchemaError, by_value, coerce_flows, describe_failures, flows_failures, text_codes)

# the flows key and the duplicate tests live in the leaf module .duplicates; importable from here as before
from .duplicates import FLOW_KEY, drop_duplicates_across, duplicated_keys, duplicated_rows

#: Only these strings mean "missing" when reading text; "NA" (Namibia) and "" codes survive as text.
NA_VALUES = ["", "#N/A", "N/A", "NaN", "nan", "NULL", "null", "..", "...", "-", "--", "n.a.", "None"]


@dataclass
class ReadResult:
    flows: pd.DataFrame
    ledger: Ledger

    def __iter__(self):  # allows ``flows, ledger = read(...)``
        yield self.flows
        yield self.ledger


PathLike = str | os.PathLike


def as_paths(paths: PathLike | Iterable[PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(p) for p in paths]


#: the message for a file of 0 bytes
EMPTY_FILE = "the file is empty (0 bytes): nothing to read; check that the download or export finished"


def damaged_gzip(path: Path) -> str | None:
    """Why the gzip stream of ``path`` cannot be read to its end (truncated, corrupt), or None when it can."""
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass
    except (EOFError, OSError, zlib.error) as exc:
        return str(exc) or type(exc).__name__
    return None


def refuse_damaged_gzip(paths, exc: BaseException) -> None:
    """After a read failed with ``exc``: a ``.gz`` input whose stream is damaged is named in a
    :class:`SourceFormatError`; otherwise ``exc`` is raised again."""
    for path in as_paths(paths):
        if Path(path).suffix == ".gz" and Path(path).is_file():
            why = damaged_gzip(Path(path))
            if why:
                raise SourceFormatError(f"the gzip stream is truncated or damaged ({why}); download or compress "
                                        "the file again (`gzip -t FILE` checks it)", path=path) from exc
    raise exc


#: exceptions a damaged gzip stream raises in the readers (zlib, gzip, Arrow's decompressor)
GZIP_ERRORS: tuple = (EOFError, OSError)


def gzip_guarded(iter_chunks):
    """Decorate a reader's ``iter_chunks(paths, ...)`` generator: a damaged ``.gz`` input is a
    :class:`SourceFormatError` naming it (see :func:`refuse_damaged_gzip`), not a decompressor's traceback."""
    import functools

    @functools.wraps(iter_chunks)
    def wrapper(paths, *args, **kwargs):
        try:
            yield from iter_chunks(paths, *args, **kwargs)
        except GZIP_ERRORS as exc:
            refuse_damaged_gzip(paths, exc)

    return wrapper


def detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM), utf-16 with BOM, else GB18030 (Chinese tables), else latin-1.

    Bytes that are no text (a NUL byte outside UTF-16: a zip, a workbook, random data) are refused naming the
    file and the byte offset."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if path.suffix == ".gz":
        import gzip

        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(1 << 16)
        except GZIP_ERRORS as exc:
            refuse_damaged_gzip([path], exc)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if b"\x00" in head:
        at = head.index(b"\x00")
        kind = ("a zip archive" if head.startswith(b"PK\x03\x04") else "a gzip file without .gz"
                if head.startswith(b"\x1f\x8b") else "binary data")
        raise SourceFormatError(f"not a text table: {kind} (a NUL byte at byte {at}); give the CSV itself "
                                "(unpack or export it first)", path=path)
    for enc in ("utf-8", "gb18030"):
        try:
            head.decode(enc)
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sample is not an error
            if exc.start < len(head) - 4:
                continue
        if enc == "gb18030" and not _gb_plausible(head):
            continue  # latin-1 text ("ça") also decodes as GB18030, as rare characters
        return enc
    return "latin-1"


def _gb_plausible(head: bytes) -> bool:
    """Chinese text has mostly high trail bytes (GB2312: 0xA1-0xFE); latin-1 accents sit before ASCII letters."""
    i, pairs, ascii_trail, n = 0, 0, 0, len(head)
    while i < n - 1:
        if head[i] < 0x80:
            i += 1
            continue
        trail = head[i + 1]
        pairs += 1
        if 0x30 <= trail <= 0x39:  # four-byte sequence
            i += 4
            continue
        ascii_trail += trail < 0x80
        i += 2
    return ascii_trail * 2 <= pairs


def text_csv_options(sep: str | None, encoding: str, usecols=None) -> dict:
    """The ``pd.read_csv`` options of :func:`read_text_table` (every field as text, only :data:`NA_VALUES` are
    missing), for readers that read the same way in chunks."""
    return dict(sep=sep, dtype=str, keep_default_na=False, na_values=NA_VALUES, encoding=encoding,
                usecols=usecols, engine="python" if sep is None else "c", skipinitialspace=True)


def read_text_table(path: Path, *, sep: str | None = ",", encoding: str | None = None,
                    usecols=None, nrows: int | None = None, skiprows=None, header="infer") -> pd.DataFrame:
    """Read a CSV with every column as text, so codes keep leading zeros and ``NA`` stays Namibia.

    Raises :class:`SourceFormatError` naming the file for empty files and undecodable bytes.
    """
    if not path.exists():
        raise SourceFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise SourceFormatError(EMPTY_FILE, path=path)
    enc = encoding or detect_encoding(path)
    if header == "infer" and skiprows is None and sep:
        refuse_duplicate_header(path, enc, sep)
    try:
        return pd.read_csv(path, **text_csv_options(sep, enc, usecols), nrows=nrows, skiprows=skiprows,
                           header=header)
    except pd.errors.EmptyDataError as exc:
        raise SourceFormatError("the file has no header or rows", path=path) from exc
    except UnicodeDecodeError as exc:
        raise SourceFormatError(
            f"cannot decode the bytes as {enc} ({exc.reason} at byte {exc.start}): save the file as UTF-8",
            path=path) from exc
    except pd.errors.ParserError as exc:
        raise SourceFormatError(f"not a well-formed CSV ({exc}); check the separator and quoting",
                                path=path) from exc
    except ValueError as exc:
        if "Usecols" in str(exc) or "usecols" in str(exc):
            raise SourceFormatError(f"expected columns are missing: {exc}", path=path) from exc
        raise


def refuse_duplicate_header(path: Path, encoding: str, sep: str = ",") -> None:
    """A header that names a column twice is an error naming the names: a CSV parser would rename the second
    (``2024M2.1``) or drop it, and half the cells of that column would be read under another name or lost."""
    import csv
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
            first = next(csv.reader(fh, delimiter=sep), [])
    except (OSError, EOFError, csv.Error, StopIteration):
        return  # the reader itself reports an unreadable file
    names = [c.strip().lstrip("\ufeff") for c in first]
    seen, dup = set(), []
    for n in names:
        if n and n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    if dup:
        raise SourceFormatError(f"the header names column(s) {', '.join(f'`{d}`' for d in dup)} more than once; "
                                "keep one column per name (remove or rename the copies)", path=path)


def describe_columns(columns, limit: int = 12) -> str:
    """The first column names of a header, each cut to 40 characters (a binary or wrong file has long ones)."""
    names = [str(c) if len(str(c)) <= 40 else str(c)[:37] + "..." for c in list(columns)[:limit]]
    more = len(list(columns)) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def require_columns(df: pd.DataFrame, needed: Iterable[str], path: Path, hint: str = "") -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        have = describe_columns(df.columns)
        raise SourceFormatError(
            f"missing column(s) {', '.join(f'`{m}`' for m in missing)}; the file has: {have}."
            + (f" {hint}" if hint else ""), path=path)


#: a number written with thousands separators: commas, spaces or no-break spaces between groups of three digits
#: (``1,234,567.5``, ``1 234 567``); ``12,5`` or ``1.234,56`` (decimal commas) do not match and are never rescaled
_THOUSANDS = r"[+-]?\d{1,3}(?:(?:,\d{3})+|(?:[ \u00a0]\d{3})+)(?:\.\d+)?"


def parse_numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse a text column of numbers (thousands separators allowed where they group three digits).

    Returns ``(values, missing_mask, non_numeric_mask)``. A number written with a decimal comma (``12,5``,
    ``1.234,56``) is non-numeric, not read as 125 or 1.23456: the reader sets it aside with the row in the ledger's
    examples.
    """
    if pd.api.types.is_numeric_dtype(raw):
        v = raw.astype("float64")
        return v, v.isna(), pd.Series(False, index=raw.index)
    s = raw.astype("str")
    missing = raw.isna() | (s.str.strip() == "")
    v = _arrow_floats(s, missing)
    if v is not None:
        return v, missing, pd.Series(False, index=raw.index)
    # plain numbers parse in C; only the few that fail are cleaned of separators (a per-cell regex)
    v = pd.to_numeric(s.where(~missing), errors="coerce")
    retry = v.isna() & ~missing
    if retry.any():
        text = s[retry].str.strip()
        grouped = text.str.fullmatch(_THOUSANDS)
        cleaned = text.where(grouped, "").str.replace(r"[,\s\u00a0]", "", regex=True)
        v = v.copy()
        v[retry] = pd.to_numeric(cleaned.where(grouped), errors="coerce")
    non_numeric = v.isna() & ~missing
    return v.astype("float64"), missing, non_numeric


def _arrow_floats(s: pd.Series, missing: pd.Series) -> pd.Series | None:
    """All-numeric text parsed by one Arrow cast (10x faster than to_numeric on millions of rows), else None."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pc.if_else(pa.array(missing.to_numpy()), None, pa.array(s.array))
        out = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        return None
    return pd.Series(out, index=s.index, dtype="float64")


_TEXT_COLUMNS = tuple(c.name for c in FLOWS_SCHEMA if c.dtype == "str")


def take_text(values: np.ndarray, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """A text Series whose row ``i`` is ``values[codes[i]]`` (missing where the code is -1), built by Arrow."""
    import pyarrow as pa

    arr = pa.array(list(values), type=pa.large_string())
    idx = pa.array(codes, mask=codes < 0) if (codes < 0).any() else pa.array(codes)
    out = pd.arrays.ArrowStringArray(arr.take(idx), dtype=pd.api.types.pandas_dtype(TEXT_DTYPE))
    return pd.Series(out, index=index, copy=False)


class CodedFrame:
    """A frame and the distinct values of its text columns (:func:`~tradeanomaly.schema.text_codes`), kept in
    step as rows are set aside, so checks on millions of rows run once per distinct value."""

    def __init__(self, df: pd.DataFrame, codes: dict | None = None):
        self.df = df
        self._codes: dict = dict(codes or {})

    def codes(self, c: str):
        if c not in self._codes:
            self._codes[c] = text_codes(self.df[c])
        return self._codes[c]

    def set(self, c: str, values, codes=None) -> None:
        self.df[c] = values
        if codes is None:
            self._codes.pop(c, None)
        else:
            self._codes[c] = codes

    def bad(self, c: str, fn, slow, missing="") -> np.ndarray:
        """``fn`` over the distinct texts of ``c`` (missing cells as ``missing``), else ``slow(column)``."""
        coded = self.codes(c)
        if coded is None:
            return np.asarray(slow(self.df[c]), dtype=bool)
        return by_value(coded, fn, missing)

    def map_text(self, c: str, fn, missing="") -> bool:
        """Replace column ``c`` (Arrow text) by ``fn`` applied per distinct value (missing cells as ``missing``).

        Returns False (and changes nothing) when ``c`` is not an Arrow text column.
        """
        coded = self.codes(c)
        if coded is None:
            return False
        codes, uniques = coded
        before = np.append(uniques, np.array([missing], dtype=object))
        after = fn(pd.Series(before, dtype=TEXT_DTYPE)).to_numpy(dtype=object)
        if not (codes < 0).any() and all(a == b for a, b in zip(after[:-1], uniques)):
            return True  # nothing changes
        new_of_old, new_uniques = pd.factorize(after)
        new_codes = new_of_old[codes].astype(np.int32)
        self.set(c, take_text(new_uniques, new_codes, self.df.index), (new_codes, new_uniques))
        return True

    def set_aside(self, ledger: Ledger, mask, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.df = ledger.set_aside(self.df, mask, reason)
        keep = ~mask
        self._codes = {c: None if v is None else (v[0][keep], v[1]) for c, v in self._codes.items()}

    def coerced(self) -> None:
        """Follow :func:`coerce_flows` (missing text becomes "") on the codes of the text columns."""
        df = coerce_flows(self.df)
        codes = {}
        for c, v in self._codes.items():
            if v is None or c not in _TEXT_COLUMNS:
                continue
            k, u = v
            if (k < 0).any():
                new_of_old, u = pd.factorize(np.append(u, np.array([""], dtype=object)))
                k = new_of_old[k].astype(np.int32)
            codes[c] = (k, u)
        self.df, self._codes = df, codes

    def key_codes(self, columns) -> dict:
        return {c: self.codes(c) for c in columns}


def _same_rows(values: pd.Series, df: pd.DataFrame) -> pd.Series:
    """``values`` for the rows of ``df`` (a subset of its rows, in order): no lookup when none were removed."""
    return values if len(values) == len(df) else values.loc[df.index]


def finish_flows(df: pd.DataFrame, ledger: Ledger, source: str, *, where: str = "") -> ReadResult:
    """The common last steps of every reader; see the module docstring.

    ``df`` must have the flows columns (``value_usd`` and ``quantity`` may be text); rows whose ``reporter`` or
    ``partner`` is ``""`` are unknown countries.
    """
    return finish_coded(CodedFrame(df.copy()), ledger, source, where=where)


def finish_coded(cf: CodedFrame, ledger: Ledger, source: str, *, where: str = "") -> ReadResult:
    """:func:`finish_flows` on a :class:`CodedFrame` (whose frame it may change); ``cf`` keeps the codes of the
    result's text columns, for callers that de-duplicate across chunks."""
    df = cf.df
    for c in FLOW_COLUMNS:
        if c not in df.columns:
            if c in ("quantity",):
                cf.set(c, np.nan)
            elif c == "estimated":
                cf.set(c, False)
            elif c == "source":
                cf.set(c, source)
            elif c == "valuation":
                cf.set(c, np.where(df["flow"].astype(str).isin(["M", "RM"]), "CIF", "FOB"))
            else:
                cf.set(c, "")
    values, missing, non_numeric = parse_numbers(cf.df["value_usd"])
    cf.set_aside(ledger, missing.to_numpy(), "missing_value")
    # set aside before replacing the text, so the ledger examples show what the file said
    cf.set_aside(ledger, _same_rows(non_numeric, cf.df).to_numpy(), "non_numeric_value")
    cf.set("value_usd", _same_rows(values, cf.df))
    cf.set_aside(ledger, (cf.df["value_usd"] < 0).to_numpy(), "negative_value")
    cf.set_aside(ledger, ~np.isfinite(cf.df["value_usd"].to_numpy()), "non_numeric_value")
    q, _, q_bad = parse_numbers(cf.df["quantity"])
    cf.set("quantity", q.where(~q_bad & (q >= 0)))
    # rows the contract cannot hold are set aside by reason (the examples show the text as written),
    # so one bad code does not stop a long load; each check runs once per distinct text
    for c in ("reporter", "partner"):
        bad = cf.bad(c, lambda s: (s == "") | ~s.str.match(ISO3_RE),
                     lambda col: _slow_bad(col, lambda t: (t == "") | ~t.str.match(ISO3_RE)))
        cf.set_aside(ledger, bad, f"unknown_{c}" if c == "reporter" else "unknown_country")
    bad = cf.bad("period", lambda s: (s == "") | ~s.str.match(PERIOD_RE),
                 lambda col: _slow_bad(col, lambda t: (t == "") | ~t.str.match(PERIOD_RE)))
    cf.set_aside(ledger, bad, "bad_period")
    bad = cf.bad("flow", lambda s: ~s.isin(FLOW_TYPES), lambda col: ~col.astype("str").isin(FLOW_TYPES),
                 missing=np.nan)
    cf.set_aside(ledger, bad, "bad_flow")
    bad = cf.bad("hs", lambda s: ~s.str.match(HS_RE), lambda col: _slow_bad(col, lambda t: ~t.str.match(HS_RE)))
    cf.set_aside(ledger, bad, "bad_product_code")
    cf.coerced()
    dup = duplicated_rows(cf.df, FLOW_KEY + ["valuation"], cf.key_codes(FLOW_KEY + ["valuation"]))
    cf.set_aside(ledger, dup, "duplicate")
    cf.df = cf.df.reset_index(drop=True)
    df = cf.df
    failures = flows_failures(df, codes={c: v for c, v in cf._codes.items() if v is not None})
    if len(failures):
        raise SchemaError(describe_failures(failures, where or f"{source} reader output"), failures)
    ledger.finish(df)
    return ReadResult(df, ledger)


def _slow_bad(col: pd.Series, fn) -> pd.Series:
    """The row-by-row check on the text of a column that is not Arrow text (missing as "")."""
    return fn(col.astype("str").fillna(""))


def combine_files(stage: str, results: Iterable[ReadResult], *, unit: str = "row") -> ReadResult:
    """One flows table and one ledger from the per-file results of a multi-file read.

    A figure repeated in a later file is set aside as a duplicate, as within one file.
    """
    ledger = Ledger(stage=stage, unit=unit)
    parts = []
    for res in results:
        ledger.merge(res.ledger)
        parts.append(res.flows)
    df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if len(parts) > 1:
        df = drop_duplicates_across(df, ledger)
    ledger.check()
    return ReadResult(df, ledger)


#: the folder of an ingest's output that holds the Parquet parts (``OUT/flows``)
FLOWS_DIR = "flows"


def partition_files(path) -> tuple[Path, list[Path]]:
    """The flows folder of an ingest (``OUT`` or ``OUT/flows``) and its part files in a fixed order.

    Order: period folder, then file name (files whose name starts with ``.`` or ``_`` are not data).
    """
    root = Path(path)
    if (root / FLOWS_DIR).is_dir():
        root = root / FLOWS_DIR
    files = sorted((f for f in root.rglob("*.parquet")
                    if not any(part.startswith((".", "_")) for part in f.relative_to(root).parts)),
                   key=lambda f: f.relative_to(root).as_posix())
    return root, files


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_bytes_head(path: Path, n: int = 4096) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def stream_or_path(obj) -> io.IOBase | Path:
    return obj if hasattr(obj, "read") else Path(obj)


def write_flows_parquet(df: pd.DataFrame, path) -> None:
    """Write a flows table to Parquet with the declared column order (a path or a binary stream)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(coerce_flows(df), preserve_index=False)
    pq.write_table(table, path, compression="zstd")
