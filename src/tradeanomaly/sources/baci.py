"""CEPII BACI: reconciled bilateral trade by HS6 product, one file per year.

Files such as ``BACI_HS17_Y2019_V202401.csv`` have the columns ``t,i,j,k,v,q``: year, exporter and importer (BACI
numeric country codes, the UN Comtrade codes), HS6 product (an integer that may have lost its leading zero:
``10121`` is ``010121``), value in **thousands** of US dollars and quantity in metric tons (``NA`` or blank when
unknown). The country-code file (``country_codes_V202401.csv``: ``country_code,country_name,country_iso2,
country_iso3``; older versions ``country_code,country_name_abbreviation,country_name_full,iso_2digit_alpha,
iso_3digit_alpha``) is used when it is passed among the paths (recognised by its columns) or with the option
``country_codes=PATH``; otherwise codes resolve through the shipped crosswalk (Comtrade system). A code whose ISO3
in the code file is not a real ISO3 (BACI writes placeholders for some territories) falls back to the crosswalk.

**BACI rows are not independent mirror reports.** CEPII reconciles the exporter's and the importer's declarations
into one value per exporter, importer, product and year (FOB, after removing an estimate of freight and insurance
from the importer's CIF report). The reader emits each as flow ``X`` reported by the exporter, valuation ``FOB``,
source ``baci``; a mirror check must not pair it with the importer's own report as if both were independent. This
is written in the ledger notes of every read.

Values become US dollars (x 1000); quantities become kilograms (tons x 1000, unit ``kg``) so that they compare
with Comtrade net weights. Files are streamed in chunks (:func:`iter_chunks`), so memory stays bounded by the chunk
size plus the output.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import ConfigError, SourceFormatError
from ..schema import ISO3_RE, Ledger, empty_flows
from .base import (EMPTY_FILE, gzip_guarded, FLOW_KEY, NA_VALUES, ReadResult, describe_columns, detect_encoding, finish_flows,
                   parse_numbers, read_text_table, refuse_duplicate_header)

SOURCE = "baci"
DATA_COLUMNS = ("t", "i", "j", "k", "v", "q")
CODE_FILE_LAYOUTS = (
    ("country_code", "country_iso3"),
    ("country_code", "iso_3digit_alpha"),
)
NOT_INDEPENDENT = ("BACI values are CEPII's reconciliation of exporter and importer reports: each row is one "
                   "value per exporter-importer-product-year, emitted as the exporter's FOB export; it is not an "
                   "independent report and must not be paired with the importer's own report as a mirror")
DEFAULT_CHUNK_ROWS = 1_000_000


# ------------------------------------------------------------------------------------------------------------
# Country codes
# ------------------------------------------------------------------------------------------------------------

def _header(path: Path) -> list[str]:
    if not path.exists():
        raise SourceFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise SourceFormatError(EMPTY_FILE, path=path)
    enc = detect_encoding(path)
    refuse_duplicate_header(path, enc)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding=enc, errors="replace", newline="") as fh:
        first = fh.readline()
    text = first.lstrip("\ufeff").strip()
    return [c.strip().strip('"') for c in text.split(",")]


def is_code_file(path: Path) -> bool:
    cols = set(_header(path))
    return any(set(layout) <= cols for layout in CODE_FILE_LAYOUTS)


def load_country_codes(path: Path) -> dict[str, str]:
    """BACI country code -> ISO3 from a BACI country-code file (only real ISO3 codes are kept)."""
    df = read_text_table(Path(path))
    df.columns = [str(c).strip() for c in df.columns]
    iso_col = next((iso for code, iso in CODE_FILE_LAYOUTS if code in df.columns and iso in df.columns), None)
    if iso_col is None:
        raise SourceFormatError("not a BACI country-code file: expected columns country_code and country_iso3 "
                                "(or iso_3digit_alpha)", path=path)
    from ..codes.countries import crosswalk

    real = set(crosswalk()["iso3"])
    codes = df["country_code"].astype("str").fillna("").str.strip().str.lstrip("0")
    iso3 = df[iso_col].astype("str").fillna("").str.strip().str.upper()
    ok = iso3.str.match(ISO3_RE) & iso3.isin(real) & (codes != "")
    return dict(zip(codes[ok], iso3[ok]))


def _resolver(code_map: dict[str, str] | None):
    """Function mapping a Series of BACI codes to ISO3 ("" where unknown, "" plus kind for aggregates)."""
    from ..codes.countries import resolve_countries

    cache: dict[str, tuple[str, str]] = {}

    def resolve(values: pd.Series) -> tuple[pd.Series, pd.Series]:
        uniq = pd.unique(values)
        todo = [u for u in uniq if u not in cache]
        if todo:
            keys = pd.Series(todo, dtype="str").str.lstrip("0").replace("", "0")
            res = resolve_countries(keys, system="comtrade")
            for u, k, iso, kind in zip(todo, keys, res["iso3"], res["kind"]):
                if code_map and k in code_map:
                    iso, kind = code_map[k], "country"
                cache[u] = (iso, kind)
        iso3 = values.map({u: cache[u][0] for u in uniq}).astype("str")
        kind = values.map({u: cache[u][1] for u in uniq}).astype("str")
        return iso3, kind

    return resolve


# ------------------------------------------------------------------------------------------------------------
# Streaming the data file
# ------------------------------------------------------------------------------------------------------------

def _batches(path: Path, chunk_rows: int, skip_chunks: int = 0) -> Iterator[pd.DataFrame]:
    """Text chunks of the ``t,i,j,k,v,q`` columns (pyarrow streaming reader, every column as string).

    ``skip_chunks``: the first chunks are parsed but not converted to pandas nor yielded (a resumed ingest)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    header = _header(path)
    missing = [c for c in DATA_COLUMNS if c not in header]
    if missing:
        raise SourceFormatError(
            f"missing BACI column(s) {', '.join(missing)}; the file has: {describe_columns(header)}. A BACI year "
            "file has the header t,i,j,k,v,q (or pass the country-code file, recognised by country_code)",
            path=path)
    types = {c: pa.string() for c in header}
    block = max(1 << 16, min(1 << 26, chunk_rows * 40))
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=block, encoding=_arrow_encoding(detect_encoding(path))),
            parse_options=pcsv.ParseOptions(newlines_in_values=False),
            convert_options=pcsv.ConvertOptions(column_types=types, include_columns=list(DATA_COLUMNS),
                                                strings_can_be_null=False, quoted_strings_can_be_null=False))
        pending: list = []
        size = 0
        done = 0
        for batch in reader:
            pending.append(batch)
            size += batch.num_rows
            while size >= chunk_rows:
                table = pa.Table.from_batches(pending)
                if done >= skip_chunks:
                    yield table.slice(0, chunk_rows).to_pandas()
                done += 1
                rest = table.slice(chunk_rows)
                pending, size = (rest.to_batches() if rest.num_rows else []), rest.num_rows
        if pending and done >= skip_chunks:
            yield pa.Table.from_batches(pending).to_pandas()
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise SourceFormatError(f"not a well-formed BACI CSV ({exc}); expected comma-separated t,i,j,k,v,q",
                                path=path) from exc


def _arrow_encoding(enc: str) -> str:
    """Arrow's name of a detected encoding (Arrow transcodes anything but UTF-8 through Python's codecs)."""
    return {"utf-8": "utf8", "utf-8-sig": "utf8"}.get(enc, enc)


def _chunk_frame(raw: pd.DataFrame, resolve, ledger: Ledger, path: Path) -> pd.DataFrame:
    """Set aside what cannot be a flow and build the flows columns of one chunk (values in USD, numeric)."""
    for c in DATA_COLUMNS:
        raw[c] = raw[c].astype("str").str.strip()
    t, k = raw["t"], raw["k"]
    period = t.where(t.str.fullmatch(r"\d{4}"), "")
    k = k.str.replace(r"\.0$", "", regex=True)
    hs = k.where(~k.str.fullmatch(r"\d{5,6}"), k.str.zfill(6))
    df = raw.assign(period=period, hs=hs)

    na = set(NA_VALUES) | {"NA"}
    vtext = df["v"]
    missing = vtext.isin(na)
    # thousands separators read, decimal commas set aside (never rescaled), as in every reader
    v, _, _ = parse_numbers(vtext.where(~missing))
    df = ledger.set_aside(df, missing.to_numpy(), "missing_value")
    v = v.loc[df.index]
    df = ledger.set_aside(df, v.isna().to_numpy(), "non_numeric_value")
    v = v.loc[df.index]
    df = ledger.set_aside(df, (v < 0).to_numpy(), "negative_value")
    v = v.loc[df.index]
    df = ledger.set_aside(df, ~df["hs"].str.fullmatch(r"\d{6}").to_numpy(), "bad_product_code")
    v = v.loc[df.index]

    exp_iso, exp_kind = resolve(df["i"])
    imp_iso, imp_kind = resolve(df["j"])
    agg = exp_kind.isin(["world", "nes", "aggregate"]).to_numpy()
    df = ledger.set_aside(df, agg, "aggregate_reporter")
    keep = df.index
    imp_iso, imp_kind = imp_iso.loc[keep], imp_kind.loc[keep]
    df = ledger.set_aside(df, (imp_kind == "aggregate").to_numpy(), "aggregate_area")
    keep = df.index

    q, _, _ = parse_numbers(df["q"].where(~df["q"].isin(na)))
    q = q.where(q >= 0)
    return pd.DataFrame({
        "period": df["period"],
        "reporter": exp_iso.loc[keep].where(exp_kind.loc[keep] == "country", ""),
        "region": "",
        "partner": imp_iso.loc[keep],
        "flow": "X",
        "hs": df["hs"],
        "value_usd": (v.loc[keep] * 1000.0).astype("float64"),
        "valuation": "FOB",
        "quantity": (q * 1000.0).astype("float64"),
        "quantity_unit": np.where(q.notna(), "kg", ""),
        "estimated": False,
        "source": SOURCE,
    }, index=keep)


def _split_paths(paths, country_codes) -> tuple[list[Path], dict[str, str] | None, list[str]]:
    paths = [Path(p) for p in paths]
    code_files = [p for p in paths if is_code_file(p)]
    data = [p for p in paths if p not in code_files]
    if country_codes is not None:
        code_files.append(Path(country_codes))
    if not data:
        raise SourceFormatError("no BACI data file among the inputs (only country-code files); pass a "
                                "BACI_HS.._Y...csv file", path=paths[0] if paths else None)
    code_map: dict[str, str] | None = None
    if code_files:
        code_map = {}
        for p in code_files:
            code_map.update(load_country_codes(p))
    return data, code_map, [p.name for p in code_files]


def _new_ledger(path: Path, code_names: list[str]) -> Ledger:
    led = Ledger(stage=f"read:{SOURCE}", inputs=[path.name])
    led.notes.append(NOT_INDEPENDENT)
    led.notes.append("country codes from " + (", ".join(code_names) if code_names
                                             else "the shipped crosswalk (Comtrade codes)"))
    return led


@gzip_guarded
def iter_chunks(paths, *, country_codes=None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                skip_chunks: int = 0) -> Iterator[ReadResult]:
    """Read BACI files chunk by chunk: each chunk is a finished :class:`ReadResult` with its own ledger.

    Duplicates are detected within a chunk only (BACI has one row per key by construction); :func:`read` checks
    the whole table. ``skip_chunks`` (one data file only): start after that many chunks, which are parsed but
    not checked nor yielded; a resumed ingest uses it.
    """
    data, code_map, code_names = _split_paths(paths, country_codes)
    if skip_chunks and len(data) != 1:
        raise ConfigError("skip_chunks applies to one BACI data file at a time")
    resolve = _resolver(code_map)
    for path in data:
        for raw in _batches(path, int(chunk_rows), int(skip_chunks)):
            led = _new_ledger(path, code_names)
            led.rows_in = len(raw)
            frame = _chunk_frame(raw, resolve, led, path)
            yield finish_flows(frame, led, SOURCE, where=f"{path.name}: baci reader output")


def read(paths: list[Path], *, column_map=None, country_codes=None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
         **options) -> ReadResult:
    """Read BACI year files (see the module docstring) into one flows table and one ledger."""
    if column_map is not None:
        raise ConfigError("the baci source reads the t,i,j,k,v,q layout and takes no column map; use "
                          "--source table --map MAP.yaml for other layouts")
    if options:
        raise ConfigError(f"unknown option(s) for baci: {', '.join(sorted(options))} "
                          "(known: country_codes, chunk_rows)")
    if int(chunk_rows) < 1:
        raise ConfigError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")
    data, code_map, code_names = _split_paths(paths, country_codes)
    resolve = _resolver(code_map)
    ledger: Ledger | None = None
    parts: list[pd.DataFrame] = []
    for path in data:
        led = _new_ledger(path, code_names)
        # each chunk is finished on its own, so the intermediate copies stay the size of a chunk
        for raw in _batches(path, int(chunk_rows)):
            chunk_led = _new_ledger(path, code_names)
            chunk_led.rows_in = len(raw)
            frame = _chunk_frame(raw, resolve, chunk_led, path)
            del raw
            parts.append(finish_flows(frame, chunk_led, SOURCE, where=f"{path.name}: baci reader output").flows)
            led.merge(chunk_led)
        ledger = led if ledger is None else ledger.merge(led)
    assert ledger is not None
    if not parts:
        ledger.check()
        return ReadResult(empty_flows(), ledger)
    # text columns are Arrow-backed: concatenating them chains the chunks without copying
    flows = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    del parts
    if len(flows):
        dup = flows.duplicated(FLOW_KEY + ["valuation"], keep="first").to_numpy()
        n = int(dup.sum())
        if n:  # a key repeated across chunks or files; each chunk was de-duplicated on its own
            ledger.counts["kept"] -= n
            ledger.add("duplicate", n, flows.loc[dup].head(3))
            flows = flows.loc[~dup].reset_index(drop=True)
    ledger.check()
    return ReadResult(flows, ledger)

