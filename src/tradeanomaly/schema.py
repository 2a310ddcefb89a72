"""The flows and findings contracts, their validation, and the row ledger.

Every reader returns a flows table with exactly :data:`FLOW_COLUMNS`; every check returns a findings table with
exactly :data:`FINDING_COLUMNS`. Validation collects every problem at once and names the column, the rows and
the fix. The :class:`Ledger` accounts for every input row: ``rows_in == sum(counts.values())``, always.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from .errors import SchemaError

# --------------------------------------------------------------------------------------------------------------
# The flows table
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str  # "str", "float", "bool"
    meaning: str
    nullable: bool = False  # may be empty ("" for text, NaN for numbers)


FLOWS_SCHEMA: tuple[ColumnSpec, ...] = (
    ColumnSpec("period", "str", "YYYY, YYYY-Qn or YYYY-MM"),
    ColumnSpec("reporter", "str", "ISO3 of the economy that published the figure"),
    ColumnSpec("region", "str", "ISO 3166-2 subdivision of the reporter (CN-GD), empty for national", True),
    ColumnSpec("partner", "str", "ISO3 of the counterpart, WLD for world, NES for not specified"),
    ColumnSpec("flow", "str", "X exports, M imports, RX re-exports, RM re-imports"),
    ColumnSpec("hs", "str", "product code with leading zeros, or TOTAL"),
    ColumnSpec("value_usd", "float", "US dollars (units), >= 0"),
    ColumnSpec("valuation", "str", "FOB or CIF"),
    ColumnSpec("quantity", "float", "physical quantity", True),
    ColumnSpec("quantity_unit", "str", "unit of quantity (kg, u, ...)", True),
    ColumnSpec("estimated", "bool", "the publisher estimated the value"),
    ColumnSpec("source", "str", "reader that produced the row (imf-dots, comtrade, ...)"),
)
FLOW_COLUMNS: tuple[str, ...] = tuple(c.name for c in FLOWS_SCHEMA)
FLOW_TYPES = ("X", "M", "RX", "RM")
VALUATIONS = ("FOB", "CIF")
TEXT_DTYPE = "str"
_TEXT = pd.api.types.pandas_dtype(TEXT_DTYPE)

PERIOD_RE = r"^\d{4}(?:-Q[1-4]|-(?:0[1-9]|1[0-2]))?$"
ISO3_RE = r"^[A-Z]{3}$"
REGION_RE = r"^(?:[A-Z]{2}-[A-Z0-9]{1,3})?$"
HS_RE = r"^(?:TOTAL|\d{2}|\d{4}|\d{6}|\d{8}|\d{10})$"


def empty_flows() -> pd.DataFrame:
    """A flows table with no rows and the declared column types."""
    return coerce_flows(pd.DataFrame({c: [] for c in FLOW_COLUMNS}))


def coerce_flows(df: pd.DataFrame) -> pd.DataFrame:
    """Put the flows columns in order with their declared dtypes (text columns as strings, empty as "")."""
    out = pd.DataFrame(index=df.index)
    for spec in FLOWS_SCHEMA:
        col = df[spec.name] if spec.name in df.columns else None
        if spec.dtype == "str":
            if col is None:
                out[spec.name] = pd.Series("", index=df.index, dtype=TEXT_DTYPE)
            elif col.dtype == _TEXT and not col.hasnans:
                out[spec.name] = col  # already text with no missing cell
            else:
                out[spec.name] = col.astype(TEXT_DTYPE).where(col.notna(), "")
        elif spec.dtype == "float":
            out[spec.name] = np.nan if col is None else pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            out[spec.name] = False if col is None else col.fillna(False).astype(bool)
    return out.reset_index(drop=True)


def text_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """The distinct values of a text column and where each row's value sits among them.

    Returns ``(codes, uniques)``: ``codes`` (int32, one per row, ``-1`` where the cell is missing) index
    ``uniques`` (an object array of distinct strings). A check on millions of rows then runs once per distinct
    value (a few hundred codes) and is broadcast back by ``codes``. ``None`` when the column is not an
    Arrow-backed text column (the callers then use the row-by-row path).
    """
    dtype = series.dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    data = series.array.__arrow_array__()
    if isinstance(data, pa.ChunkedArray):
        if data.num_chunks == 0:
            return np.zeros(0, dtype=np.int32), np.array([], dtype=object)
        enc = pc.dictionary_encode(data).combine_chunks() if data.num_chunks > 1 else \
            pc.dictionary_encode(data.chunk(0))
    else:
        enc = pc.dictionary_encode(data)
    indices = enc.indices
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    codes = indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    uniques = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    return codes, uniques


def by_value(coded: tuple[np.ndarray, np.ndarray], fn, missing: str = "") -> np.ndarray:
    """``fn`` (a text Series -> boolean Series) evaluated once per distinct value and broadcast to the rows.

    Missing cells are evaluated as the text ``missing``.
    """
    codes, uniques = coded
    values = pd.Series(np.append(uniques, np.array([missing], dtype=object)), dtype=TEXT_DTYPE)
    per_value = np.asarray(fn(values), dtype=bool)
    return per_value[codes]  # code -1 takes the last entry: the missing text


def _problems_for(df: pd.DataFrame, column: str, bad, check: str, fix: str) -> list[dict]:
    idx = np.flatnonzero(np.asarray(bad, dtype=bool))
    if len(idx) == 0:
        return []
    return [{
        "column": column,
        "check": check,
        "n_rows": int(len(idx)),
        "rows": [int(i) for i in idx[:5]],
        "examples": [str(v) for v in df[column].iloc[idx[:5]].tolist()],
        "fix": fix,
    }]


def flows_failures(df: pd.DataFrame, codes: dict | None = None) -> pd.DataFrame:
    """Every contract violation of a flows table, one row per (column, check), with rows and a fix.

    Row numbers are 0-based positions in ``df``. ``codes`` may give :func:`text_codes` of some columns already
    computed by the caller (for the rows of ``df`` as they are).
    """
    problems: list[dict] = []
    missing = [c for c in FLOW_COLUMNS if c not in df.columns]
    for c in missing:
        spec = next(s for s in FLOWS_SCHEMA if s.name == c)
        problems.append({"column": c, "check": "present", "n_rows": len(df), "rows": [], "examples": [],
                         "fix": f"add a column `{c}` ({spec.meaning})"})
    extra = [c for c in df.columns if c not in FLOW_COLUMNS]
    for c in extra:
        problems.append({"column": c, "check": "unexpected", "n_rows": 0, "rows": [], "examples": [],
                         "fix": f"drop column `{c}` or map it with a column map (--source table --map ...)"})
    codes = dict(codes or {})

    def text(c: str) -> pd.Series:
        return df[c].astype(TEXT_DTYPE).fillna("")

    def bad_text(c: str, fn) -> np.ndarray:
        """``fn`` on the text of column ``c`` (missing as ""), once per distinct value when it can be."""
        if c not in codes:
            codes[c] = text_codes(df[c])
        if codes[c] is None:
            return np.asarray(fn(text(c)), dtype=bool)
        return by_value(codes[c], fn, "")

    if "period" in df:
        problems += _problems_for(df, "period", bad_text("period", lambda s: ~s.str.match(PERIOD_RE)), "format",
                                  "write periods as YYYY, YYYY-Qn or YYYY-MM")
    for c in ("reporter", "partner"):
        if c in df:
            problems += _problems_for(df, c, bad_text(c, lambda s: ~s.str.match(ISO3_RE)), "iso3",
                                      f"write `{c}` as an ISO 3166-1 alpha-3 code (WLD/NES for aggregates)")
    if "region" in df:
        problems += _problems_for(df, "region", bad_text("region", lambda s: ~s.str.match(REGION_RE)),
                                  "iso3166-2", "write regions as ISO 3166-2 codes (CN-GD) or leave them empty")
    if "flow" in df:
        problems += _problems_for(df, "flow", bad_text("flow", lambda s: ~s.isin(FLOW_TYPES)), "allowed",
                                  "use X, M, RX or RM")
    if "hs" in df:
        problems += _problems_for(df, "hs", bad_text("hs", lambda s: ~s.str.match(HS_RE)), "format",
                                  "write HS codes as text with leading zeros (2, 4, 6, 8 or 10 digits) or TOTAL")
    if "valuation" in df:
        problems += _problems_for(df, "valuation", bad_text("valuation", lambda s: ~s.isin(VALUATIONS)),
                                  "allowed", "use FOB or CIF")
    if "value_usd" in df:
        v = pd.to_numeric(df["value_usd"], errors="coerce")
        problems += _problems_for(df, "value_usd", v.isna(), "numeric",
                                  "give a number in US dollars (units, not thousands)")
        problems += _problems_for(df, "value_usd", v < 0, "non_negative",
                                  "values must be >= 0; book returns and corrections apart")
    if "quantity" in df:
        if pd.api.types.is_numeric_dtype(df["quantity"]):  # no text to check: only the sign
            q = df["quantity"]
            bad = pd.Series(False, index=df.index)
        else:
            q = pd.to_numeric(df["quantity"], errors="coerce")
            bad = q.isna() & df["quantity"].notna() & (df["quantity"].astype(TEXT_DTYPE) != "")
        problems += _problems_for(df, "quantity", bad | (q < 0), "numeric",
                                  "give a non-negative number or leave it empty")
    if "estimated" in df:
        e = df["estimated"]
        ok = e.isin([True, False]) if e.dtype != bool else pd.Series(True, index=df.index)
        problems += _problems_for(df, "estimated", ~ok, "bool", "use true/false")
    if "source" in df:
        problems += _problems_for(df, "source", bad_text("source", lambda s: s == ""), "present",
                                  "name the source of each row")
    return pd.DataFrame(problems, columns=["column", "check", "n_rows", "rows", "examples", "fix"])


def describe_failures(failures: pd.DataFrame, where: str = "flows table") -> str:
    lines = [f"{where}: {len(failures)} problem(s)"]
    for f in failures.itertuples(index=False):
        rows = f", rows {f.rows}" if f.rows else ""
        ex = f" e.g. {f.examples}" if f.examples else ""
        lines.append(f"  column `{f.column}` [{f.check}] {f.n_rows} row(s){rows}{ex}: {f.fix}")
    return "\n".join(lines)


def validate_flows(df: pd.DataFrame, where: str = "flows table") -> pd.DataFrame:
    """Return ``df`` with declared dtypes or raise :class:`SchemaError` listing every problem at once."""
    failures = flows_failures(df)
    if len(failures):
        raise SchemaError(describe_failures(failures, where), failures)
    return coerce_flows(df)


# --------------------------------------------------------------------------------------------------------------
# The findings table
# --------------------------------------------------------------------------------------------------------------

#: ``period_start``: the first period of the window a finding measures (a digit test over twelve months, a
#: growth over a year); empty when the finding is about ``period`` alone
FINDING_COLUMNS: tuple[str, ...] = (
    "check", "signal", "subject", "reporter", "partner", "hub", "region", "hs", "period", "period_start",
    "score", "value", "expected", "usd_at_stake", "n_tested", "detail",
)
#: ``n_tested``: how many subject-periods the signal assessed in the run (the finding is one of them), so that the
#: ranking can say how rare a score is; empty when the check does not say
_FINDING_FLOATS = ("score", "value", "expected", "usd_at_stake", "n_tested")


def make_findings(records: pd.DataFrame | Iterable[dict] | None = None) -> pd.DataFrame:
    """Build a findings table from records or a frame; missing key columns become "" and numbers NaN."""
    df = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records or []))
    out = pd.DataFrame(index=df.index)
    for c in FINDING_COLUMNS:
        if c in _FINDING_FLOATS:
            out[c] = pd.to_numeric(df[c], errors="coerce").astype("float64") if c in df else np.nan
        else:
            out[c] = df[c].astype(TEXT_DTYPE).where(df[c].notna(), "") if c in df else ""
            out[c] = out[c].astype(TEXT_DTYPE)
    return out.reset_index(drop=True)


def validate_findings(df: pd.DataFrame, where: str = "findings") -> pd.DataFrame:
    problems = []
    for c in FINDING_COLUMNS:
        if c not in df.columns:
            problems.append(f"column `{c}` is missing")
    if not problems:
        s = pd.to_numeric(df["score"], errors="coerce")
        if (s < 0).any() or s.isna().any():
            problems.append("column `score` must be a number >= 0 (higher is more anomalous)")
        for c in ("check", "signal", "subject"):
            if (df[c].astype(TEXT_DTYPE).fillna("") == "").any():
                problems.append(f"column `{c}` has empty values")
    if problems:
        raise SchemaError(f"{where}: " + "; ".join(problems))
    return make_findings(df)


# --------------------------------------------------------------------------------------------------------------
# The ledger
# --------------------------------------------------------------------------------------------------------------

MAX_EXAMPLES = 3


def _plain(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v if isinstance(v, (int, float, bool, str)) or v is None else str(v)


@dataclass
class Ledger:
    """Row accounting for one stage (a reader, a filter, a check).

    ``rows_in`` rows entered; each left either as ``kept`` or set aside under a reason. ``unit`` says what a row is
    (``row`` of a file, or ``cell`` for wide files where one line holds several periods).
    """

    stage: str
    rows_in: int = 0
    counts: "OrderedDict[str, int]" = field(default_factory=OrderedDict)
    examples: dict[str, list[dict]] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    unit: str = "row"
    notes: list[str] = field(default_factory=list)

    # -- recording ---------------------------------------------------------------------------------------------
    def add(self, reason: str, n: int, examples: pd.DataFrame | list[dict] | None = None) -> None:
        if n < 0:
            raise ValueError("a ledger count cannot be negative")
        if n == 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + int(n)
        if examples is not None:
            if isinstance(examples, pd.DataFrame):
                examples = examples.head(MAX_EXAMPLES).to_dict("records")
            have = self.examples.setdefault(reason, [])
            for ex in examples[: max(0, MAX_EXAMPLES - len(have))]:
                have.append({str(k): _plain(v) for k, v in ex.items()})

    def set_aside(self, df: pd.DataFrame, mask, reason: str) -> pd.DataFrame:
        """Count the rows of ``df`` where ``mask`` is true under ``reason`` and return the others."""
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n:
            self.add(reason, n, df.loc[mask].head(MAX_EXAMPLES))
            return df.loc[~mask]
        return df

    def keep(self, n: int) -> None:
        self.add("kept", n)

    def finish(self, df: pd.DataFrame) -> pd.DataFrame:
        """Record the rows of ``df`` as kept and check the invariant."""
        self.keep(len(df))
        self.check()
        return df

    # -- reading -----------------------------------------------------------------------------------------------
    @property
    def kept(self) -> int:
        return self.counts.get("kept", 0)

    @property
    def set_aside_total(self) -> int:
        return sum(v for k, v in self.counts.items() if k != "kept")

    def check(self) -> None:
        total = sum(self.counts.values())
        if total != self.rows_in:
            raise AssertionError(
                f"ledger `{self.stage}` does not balance: {self.rows_in} rows in, {total} accounted for "
                f"({dict(self.counts)})"
            )

    def merge(self, other: "Ledger") -> "Ledger":
        """Add another ledger of the same stage (for example the next file of a multi-file read)."""
        self.rows_in += other.rows_in
        for k, v in other.counts.items():
            self.add(k, v, other.examples.get(k))
        self.inputs += [i for i in other.inputs if i not in self.inputs]
        self.notes += [n for n in other.notes if n not in self.notes]
        return self

    def to_dict(self) -> dict:
        return {
            "stage": self.stage,
            "unit": self.unit,
            "inputs": list(self.inputs),
            "rows_in": int(self.rows_in),
            "kept": int(self.kept),
            "set_aside": int(self.set_aside_total),
            "counts": {k: int(v) for k, v in self.counts.items()},
            "examples": self.examples,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Ledger":
        led = cls(stage=d["stage"], rows_in=d["rows_in"], unit=d.get("unit", "row"),
                  inputs=list(d.get("inputs", [])), notes=list(d.get("notes", [])))
        led.counts = OrderedDict((k, int(v)) for k, v in d["counts"].items())
        led.examples = {k: list(v) for k, v in d.get("examples", {}).items()}
        return led

    def summary(self) -> str:
        parts = [f"{self.stage}: {self.rows_in:,} {self.unit}s in"]
        for k, v in self.counts.items():
            parts.append(f"{k} {v:,}")
        return ", ".join(parts)


def ledgers_to_json(ledgers: Iterable[Ledger]) -> str:
    return json.dumps([led.to_dict() for led in ledgers], indent=2, ensure_ascii=False, default=_plain) + "\n"


def text_mask(series: pd.Series, pattern: str) -> pd.Series:
    """True where the text of ``series`` matches the anchored regular expression ``pattern``."""
    return series.astype(TEXT_DTYPE).fillna("").str.match(re.compile(pattern))
