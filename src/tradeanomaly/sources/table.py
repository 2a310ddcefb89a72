"""The ``table`` source: any CSV or Parquet file plus a YAML column map that says how to read it.

A column map (``--source table --map MAP.yaml``; examples in ``configs/maps/``)::

    source: imf-dots-annual        # value of the flows `source` column (default: table)
    sep: ","                       # CSV separator (default ","); ignored for Parquet
    encoding: null                 # default: detected (UTF-8 with or without BOM, UTF-16, GB18030, latin-1)
    skiprows: 0                    # lines to skip before the header
    renames:                       # file column -> flows column
      reporter: reporter
      partner: partner
      flow: flow
      value_musd: value_usd
    period:                        # one of: a column name; {column, format, frequency}; {year, month|quarter};
      column: year                 #   {value: "2024"} for a file that holds one period
      format: auto                 # auto (2024, 2024Q1, 2024M2, 2024-02, 202402 ...) or a strptime format
                                   #   such as "%b %Y", with frequency A, Q or M for the label it produces
    value_multiplier: 1.0e6        # the value column is in millions
    country_system: name           # iso3, iso2, m49, comtrade, imf, census, name or auto; or per column:
                                   #   {reporter: imf, partner: name}
    flow_labels:                   # file label -> X, M, RX or RM; a label not listed is set aside (other_flow)
      "Exports, FOB": X
      "Imports, CIF": M
    valuation: {X: FOB, M: CIF}    # per flow; default exports FOB, imports CIF
    estimate_flag:                 # rows whose `column` holds one of `values` get estimated=True
      column: flag
      values: ["e"]
    constants:                     # flows columns set to one value for every row
      hs: TOTAL

``reporter``, ``partner``, ``flow`` and ``value_usd`` must each come from ``renames`` or ``constants`` and the
period from ``period`` (or a rename to ``period``); ``hs`` defaults to ``TOTAL`` and ``region`` to empty. A
constant ``reporter`` or ``partner`` is taken as an ISO3 code as written. Country names and codes go through
:func:`tradeanomaly.codes.countries.resolve_countries`: aggregates other than the world and "not specified"
are set aside as ``aggregate_area`` (as reporters also the world), unknown names as ``unknown_country`` with
the value in the ledger examples. Only the columns the map names are read, so wide files stay cheap.

The map is validated with pydantic; a mistake raises :class:`~tradeanomaly.errors.ConfigError` naming the key
and how to fix it. :func:`set_aside_countries` and the other country helpers, shared with the other readers,
are in :mod:`.countries` (and importable from here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pandas as pd

from ..errors import ConfigError, SourceFormatError
from ..periods import normalise_periods
from ..schema import FLOW_COLUMNS, FLOW_TYPES, VALUATIONS, Ledger
from .base import (NA_VALUES, ReadResult, as_paths, combine_files, detect_encoding, finish_flows, parse_numbers,
                   read_text_table, require_columns)
from .countries import (
    _as_categorical,
    _fixed_iso,
    _resolve_unique,
    _small_to_categorical,
    by_distinct,
    merge_not_specified,
    resolve_country_column,
    set_aside_countries,
    sum_same_key,
)

COUNTRY_SYSTEMS = ("auto", "iso3", "iso2", "m49", "comtrade", "imf", "census", "name")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def parse_flags(raw: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(flag, bad)`` for a text column of true/false, 1/0, yes/no (any case; empty is false)."""
    if pd.api.types.is_bool_dtype(raw):
        return raw.fillna(False).to_numpy(dtype=bool), np.zeros(len(raw), dtype=bool)
    t = raw.astype("str").where(raw.notna(), "").str.strip().str.lower()
    is_true, is_false = t.isin(_TRUE).to_numpy(), t.isin(_FALSE).to_numpy()
    return is_true, ~(is_true | is_false)


# --------------------------------------------------------------------------------------------------------------
# The column map
# --------------------------------------------------------------------------------------------------------------

def _models():
    """Build the pydantic models on first use (keeps ``import tradeanomaly.sources`` light)."""
    from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

    class PeriodSpec(BaseModel):
        model_config = ConfigDict(extra="forbid")
        column: str | None = None
        format: str = "auto"
        frequency: Literal["A", "Q", "M"] | None = None
        year: str | None = None
        month: str | None = None
        quarter: str | None = None
        value: str | None = None

        @model_validator(mode="after")
        def _one_way(self):
            ways = [self.column is not None, self.year is not None, self.value is not None]
            if sum(ways) != 1:
                raise ValueError("give exactly one of `column`, `year` (with `month` or `quarter`) or `value`")
            if self.month and self.quarter:
                raise ValueError("give `month` or `quarter`, not both")
            if self.format != "auto" and self.frequency is None:
                raise ValueError("a strptime `format` needs `frequency` (A, Q or M) for the period label")
            return self

    class EstimateFlag(BaseModel):
        model_config = ConfigDict(extra="forbid")
        column: str
        values: list[str] = Field(min_length=1)

    class ColumnMap(BaseModel):
        model_config = ConfigDict(extra="forbid")
        source: str = "table"
        sep: str = ","
        encoding: str | None = None
        skiprows: int = Field(0, ge=0)
        renames: dict[str, str] = Field(default_factory=dict)
        period: Union[str, PeriodSpec, None] = None
        value_multiplier: float = Field(1.0, gt=0)
        country_system: Union[str, dict[str, str]] = "auto"
        flow_labels: dict[str, str] = Field(default_factory=dict)
        valuation: dict[str, str] = Field(default_factory=dict)
        estimate_flag: EstimateFlag | None = None
        constants: dict[str, Any] = Field(default_factory=dict)

        @field_validator("renames")
        @classmethod
        def _targets(cls, v):
            bad = sorted({t for t in v.values() if t not in FLOW_COLUMNS})
            if bad:
                raise ValueError(f"unknown flows column(s) {bad}; rename to one of {', '.join(FLOW_COLUMNS)}")
            seen: dict[str, str] = {}
            for src, tgt in v.items():
                if tgt in seen:
                    raise ValueError(f"`{seen[tgt]}` and `{src}` are both renamed to `{tgt}`; keep one")
                seen[tgt] = src
            return v

        @field_validator("constants")
        @classmethod
        def _constants(cls, v):
            bad = sorted(k for k in v if k not in FLOW_COLUMNS)
            if bad:
                raise ValueError(f"unknown flows column(s) {bad}; constants set flows columns")
            return v

        @field_validator("country_system")
        @classmethod
        def _systems(cls, v):
            items = v.items() if isinstance(v, dict) else [("country_system", v)]
            for k, s in items:
                if isinstance(v, dict) and k not in ("reporter", "partner"):
                    raise ValueError(f"per-column systems are for `reporter` and `partner`, not `{k}`")
                if s not in COUNTRY_SYSTEMS:
                    raise ValueError(f"unknown country system `{s}`; use one of {', '.join(COUNTRY_SYSTEMS)}")
            return v

        @field_validator("flow_labels")
        @classmethod
        def _flows(cls, v):
            bad = sorted({f for f in v.values() if f not in FLOW_TYPES})
            if bad:
                raise ValueError(f"labels must map to X, M, RX or RM, not {bad}")
            return v

        @field_validator("valuation")
        @classmethod
        def _valuation(cls, v):
            for flow, val in v.items():
                if flow not in FLOW_TYPES:
                    raise ValueError(f"valuation keys are flows (X, M, RX, RM), not `{flow}`")
                if val not in VALUATIONS:
                    raise ValueError(f"valuation of {flow} must be FOB or CIF, not `{val}`")
            return v

        @model_validator(mode="after")
        def _complete(self):
            have = set(self.renames.values()) | set(self.constants)
            need = [c for c in ("reporter", "partner", "flow", "value_usd") if c not in have]
            if need:
                raise ValueError(f"no source for {need}: add `file column: {need[0]}` under `renames` or a "
                                 f"value under `constants`")
            if self.period is None and "period" not in have:
                raise ValueError("no period: add `period: COLUMN` (or {year: .., month: ..}, or {value: 2024})")
            if self.period is not None and "period" in have:
                raise ValueError("the period is given twice: drop `period` from `renames`/`constants` or the "
                                 "`period` key")
            if "value_usd" in self.constants:
                raise ValueError("`value_usd` cannot be a constant")
            return self

    return ColumnMap, PeriodSpec


def load_column_map(column_map) -> Any:
    """A validated column map from a YAML path, a dict or an already built map."""
    from pydantic import ValidationError

    ColumnMap, PeriodSpec = _models()
    if isinstance(column_map, ColumnMap):
        return column_map
    where = "column map"
    if isinstance(column_map, (str, os.PathLike)):
        from ..config import read_yaml

        path = Path(column_map)
        where = f"column map {path}"
        column_map = read_yaml(path, "column map")
    if not isinstance(column_map, dict):
        raise ConfigError(f"{where}: expected a mapping of keys (renames, period, ...), got "
                          f"{type(column_map).__name__}")
    try:
        cmap = ColumnMap.model_validate(column_map)
    except ValidationError as exc:
        # union branches (`period` as text or mapping) appear in pydantic's locations; keep the user's keys only
        noise = ("str", "dict", "int", "float", "PeriodSpec", "EstimateFlag")
        found: dict[str, list[str]] = {}
        for e in exc.errors():
            parts = [str(p) for p in e["loc"]
                     if str(p) not in noise and "[" not in str(p) and "(" not in str(p)]
            key = ".".join(parts) or "(top level)"
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = ("unknown key; known keys: source, sep, encoding, skiprows, renames, period, "
                       "value_multiplier, country_system, flow_labels, valuation, estimate_flag, constants")
            found.setdefault(key, []).append(msg)
        lines = []
        for key, msgs in found.items():
            useful = [m for m in msgs if not m.startswith("Input should be a valid")] or msgs[:1]
            lines += [f"key `{key}`: {m}" for m in dict.fromkeys(useful)]
        raise ConfigError(f"{where}: " + "; ".join(lines)) from None
    if isinstance(cmap.period, str):
        cmap.period = PeriodSpec(column=cmap.period)
    return cmap


# --------------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------------

def _needed_columns(cmap) -> list[str]:
    cols = list(cmap.renames)
    p = cmap.period
    if p is not None:
        cols += [c for c in (p.column, p.year, p.month, p.quarter) if c]
    if cmap.estimate_flag is not None:
        cols.append(cmap.estimate_flag.column)
    return list(dict.fromkeys(cols))


def _read_file(path: Path, cmap, cols: list[str]) -> pd.DataFrame:
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not path.exists():
            raise SourceFormatError("file not found", path=path)
        try:
            names = pq.ParquetFile(path).schema_arrow.names
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceFormatError(f"not a readable Parquet file ({exc})", path=path) from exc
        missing = [c for c in cols if c not in names]
        if missing:
            raise SourceFormatError(
                f"missing column(s) {', '.join(f'`{m}`' for m in missing)} named in the column map; the file "
                f"has: {', '.join(names[:20])}", path=path)
        df = pq.read_table(path, columns=cols).to_pandas()
        for c in df.columns:
            if not pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]):
                df[c] = df[c].astype("str").where(df[c].notna(), "")
        return df
    header = read_text_table(path, sep=cmap.sep, encoding=cmap.encoding, nrows=0, skiprows=cmap.skiprows or None)
    require_columns(header, cols, path, hint="Fix the column names under `renames`/`period` in the column map.")
    numeric = tuple(src for src, tgt in cmap.renames.items() if tgt in ("value_usd", "quantity"))
    return read_csv_columns(path, cols, sep=cmap.sep, encoding=cmap.encoding or detect_encoding(path),
                            skiprows=cmap.skiprows, keep_text=numeric)


def read_csv_columns(path: Path, cols: list[str], *, sep: str = ",", encoding: str = "utf-8",
                     skiprows: int = 0, keep_text: tuple[str, ...] = ()) -> pd.DataFrame:
    """Only ``cols`` of a (possibly gzipped) CSV, all as text, with Arrow's multithreaded reader.

    Same text rules as :func:`read_text_table` ("NA" stays Namibia, codes keep leading zeros); a few times
    faster and lighter on files of millions of rows. Columns other than ``keep_text`` come back categorical.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    enc = {"utf-8": "utf8", "utf-8-sig": "utf8"}.get(encoding.lower(), encoding)
    try:
        table = pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(encoding=enc, skip_rows=skiprows, block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=sep),
            convert_options=pcsv.ConvertOptions(include_columns=cols, column_types={c: pa.string() for c in cols},
                                                null_values=NA_VALUES, strings_can_be_null=True),
        )
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"cannot decode the bytes as {encoding} ({exc.reason}): save the file as UTF-8 "
                                f"or give `encoding` in the column map", path=path) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        msg = str(exc).splitlines()[0]
        if "UTF8" in msg or "decode" in msg:
            raise SourceFormatError(f"cannot decode the text as {encoding} ({msg}): save the file as UTF-8 or "
                                    f"set `encoding` in the column map (gb18030, latin-1, ...)", path=path) from exc
        raise SourceFormatError(f"not a well-formed CSV ({msg}); check `sep`, quoting and `encoding`",
                                path=path) from exc
    # dictionary-encode in Arrow: text columns arrive as categoricals, each distinct name is handled once
    for i, name in enumerate(table.column_names):
        if name not in keep_text:
            table = table.set_column(i, name, table.column(i).dictionary_encode())
    df = table.to_pandas()
    if encoding.lower() == "utf-8-sig" and len(df.columns) and df.columns[0].startswith("\ufeff"):
        df = df.rename(columns={df.columns[0]: df.columns[0][1:]})
    return df



def constant(n: int, value: str) -> pd.Categorical:
    """A text column holding one value, stored once."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value], dtype="str"))


def categorical_to_text(df: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns back to the "str" dtype through Arrow (``astype("str")`` is 10x slower)."""
    import pyarrow as pa

    out = df.copy(deep=False)
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = pa.array(s.cat.categories.astype("str").to_numpy(dtype=object), type=pa.string())
            codes = s.cat.codes.to_numpy()
            arr = cats.take(pa.array(codes, mask=codes < 0))
            out[c] = pd.Series(pd.array(arr, dtype="str"), index=s.index)
    return out


def _text(s: pd.Series) -> pd.Series:
    return by_distinct(s, lambda c: c.str.strip())


def _periods(df: pd.DataFrame, spec, path: Path) -> pd.Series:
    """Canonical period labels; an unparseable one raises naming the row (1-based file line) and the value."""
    if spec.value is not None:
        from ..periods import normalise_period

        label = normalise_period(spec.value)
        if label is None:
            raise ConfigError(f"key `period.value`: cannot read {spec.value!r} as a period (YYYY, YYYY-Qn, YYYY-MM)")
        return pd.Series(label, index=df.index, dtype="str")
    if spec.column is not None:
        col = spec.column
        raw = _text(df[col])
    else:
        col = spec.year
        raw = _text(df[spec.year]).astype("str")
        if spec.month:
            raw = raw + "-" + _text(df[spec.month]).astype("str")
            col = f"{spec.year}/{spec.month}"
        elif spec.quarter:
            q = _text(df[spec.quarter]).astype("str")
            raw = raw + "-Q" + q.str.removeprefix("Q").str.removeprefix("q")
            col = f"{spec.year}/{spec.quarter}"
        raw = raw.astype("category")
    if spec.format == "auto":
        out = by_distinct(raw, normalise_periods)
    else:
        def parse(c: pd.Series) -> pd.Series:
            dates = pd.to_datetime(c, format=spec.format, errors="coerce")
            if spec.frequency == "A":
                lab = dates.dt.strftime("%Y")
            elif spec.frequency == "Q":
                lab = dates.dt.strftime("%Y") + "-Q" + dates.dt.quarter.astype("Int64").astype("str")
            else:
                lab = dates.dt.strftime("%Y-%m")
            return lab.astype("str").where(dates.notna(), "")
        out = by_distinct(raw, parse)
    bad = ((out == "") & (raw.astype("str") != "")).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SourceFormatError(
            f"cannot read {raw.iloc[i]!r} as a period ({int(bad.sum())} row(s)); fix `period` in the column map "
            f"(format, frequency) or the file", path=path, row=i + 2, column=col)
    return out


def _read_one(path: Path, cmap, stage: str) -> ReadResult:
    df = _read_file(path, cmap, _needed_columns(cmap))
    ledger = Ledger(stage=stage, rows_in=len(df), inputs=[path.name])
    out = pd.DataFrame(index=df.index)
    for src, tgt in cmap.renames.items():
        out[tgt] = df[src] if tgt in ("value_usd", "quantity") else _text(df[src])
    for c, v in cmap.constants.items():
        out[c] = v if c in ("quantity", "estimated") else constant(len(out), str(v))
    if cmap.period is not None:
        out["period"] = _periods(df, cmap.period, path)
    elif "period" in cmap.renames.values():
        src = next(s for s, t in cmap.renames.items() if t == "period")
        out["period"] = _periods(out.rename(columns={"period": src}), _models()[1](column=src), path)
    if "hs" not in out:
        out["hs"] = constant(len(out), "TOTAL")
        ledger.notes.append(f"{path.name}: no product column, hs = TOTAL")
    elif "hs" in cmap.renames.values():
        from ..codes.hs import normalise_hs

        out["hs"] = by_distinct(out["hs"], normalise_hs)

    # flows: labels the map does not know are not flows of this table (balances, totals of both ways)
    labels = dict(cmap.flow_labels) or {f: f for f in FLOW_TYPES}
    flow = by_distinct(out["flow"], lambda c: c.map(labels).fillna(""))
    out = ledger.set_aside(out, (flow == "").to_numpy(), "other_flow")
    out["flow"] = flow.loc[out.index]

    if cmap.estimate_flag is not None:
        wanted = {str(v).strip() for v in cmap.estimate_flag.values}
        flag = by_distinct(df.loc[out.index, cmap.estimate_flag.column], lambda c: c.str.strip().isin(wanted))
        out["estimated"] = (flag == "True").to_numpy()
    elif "estimated" in cmap.renames.values():
        flag, bad = parse_flags(out["estimated"].astype("str"))
        out["estimated"] = flag
        out = ledger.set_aside(out, bad, "bad_estimated_flag")

    if "valuation" not in out:
        default = {"X": "FOB", "RX": "FOB", "M": "CIF", "RM": "CIF"} | dict(cmap.valuation)
        out["valuation"] = by_distinct(out["flow"], lambda c: c.map(default))

    values, missing, non_numeric = parse_numbers(out["value_usd"])
    out = ledger.set_aside(out, missing.to_numpy(), "missing_value")
    out = ledger.set_aside(out, non_numeric.loc[out.index].to_numpy(), "non_numeric_value")
    out["value_usd"] = values.loc[out.index] * cmap.value_multiplier
    # before the "not specified" buckets are summed, so that a negative one is not netted away
    out = ledger.set_aside(out, (out["value_usd"] < 0).to_numpy(), "negative_value")

    systems = cmap.country_system if isinstance(cmap.country_system, dict) else {}
    default_system = cmap.country_system if isinstance(cmap.country_system, str) else "auto"
    resolved = {}
    for c in ("reporter", "partner"):
        if c in cmap.renames.values():
            resolved[c] = resolve_country_column(out[c], systems.get(c, default_system))
    out = set_aside_countries(out, ledger, resolved)
    out = merge_not_specified(out, ledger)
    if "region" in cmap.renames.values():
        out = _regions(out, ledger)
    for c, v in (("region", ""), ("quantity_unit", ""), ("source", cmap.source)):
        if c not in out:
            out[c] = constant(len(out), v)
    return finish_flows(categorical_to_text(out), ledger, cmap.source,
                        where=f"{path.name} read with the column map")


def _regions(out: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    """Subnational units to ISO 3166-2 via the province crosswalk; empty stays national."""
    from ..codes.provinces import resolve_provinces

    raw = out["region"].astype("str").where(out["region"].notna(), "").str.strip()
    codes, uniques = pd.factorize(raw, sort=False)
    res = resolve_provinces(pd.Series(np.asarray(uniques, dtype=object), dtype="str"))
    iso = res.iloc[:, 0] if isinstance(res, pd.DataFrame) else res
    iso = np.asarray(pd.Series(iso).astype("str").fillna(""), dtype=object)[codes]
    unknown = (iso == "") & (raw.to_numpy() != "")
    ex = out.loc[unknown].head(3)
    out = out.assign(region=iso)
    if unknown.any():
        ledger.add("unknown_region", int(unknown.sum()), ex.assign(unknown=ex["region"]))
        out = out.loc[~unknown]
    return out.reset_index(drop=True)


def read(paths, *, column_map=None, **options) -> ReadResult:
    """Read files described by a column map (path to YAML, dict, or built map); see the module docstring.

    Options override top-level keys of the map (``source``, ``sep``, ``encoding``, ``value_multiplier`` ...).
    """
    if column_map is None:
        raise ConfigError("the table source needs a column map: --map MAP.yaml (examples in configs/maps/)")
    cmap = load_column_map(column_map)
    if options:
        ColumnMap, _ = _models()
        unknown = sorted(k for k in options if k not in ColumnMap.model_fields)
        if unknown:
            raise ConfigError(f"unknown option(s) {unknown} for the table source")
        cmap = load_column_map(cmap.model_dump() | options)
    stage = f"read:{cmap.source}" if cmap.source != "table" else "read:table"
    return combine_files(stage, (_read_one(Path(path), cmap, stage) for path in as_paths(paths)))


__all__ = ["read", "load_column_map", "resolve_country_column", "set_aside_countries", "merge_not_specified",
           "sum_same_key", "by_distinct", "parse_flags", "read_csv_columns"]
