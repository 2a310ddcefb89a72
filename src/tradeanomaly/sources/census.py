"""US Census Bureau international trade API extracts (``api.census.gov/data/timeseries/intltrade``).

Reads CSV files of the imports endpoint (``imports/hs``: ``CTY_CODE, CTY_NAME, I_COMMODITY, CON_VAL_MO,
CON_VAL_YR, GEN_VAL_MO, GEN_VAL_YR, ...``) and of the exports endpoint (``exports/hs``: ``CTY_CODE, CTY_NAME,
E_COMMODITY, ALL_VAL_MO, ALL_VAL_YR``), in the API's upper-case names or lower-case with an optional ``_usd``
suffix (``con_val_yr_usd``), and product columns named ``hs2`` ... ``hs10``.

- Reporter ``USA``; flow ``M`` for import fields (``CON_*``, ``GEN_*``, ``I_COMMODITY``), ``X`` for export fields
  (``ALL_VAL_*``, ``E_COMMODITY``); override with ``flow="M"|"X"``.
- Valuation ``FOB``: Census import *customs value* is the price actually paid or payable excluding import
  duties, freight and insurance, and exports are valued f.a.s. at the US port, so both are FOB-like. The
  ``*_CIF_*`` fields (customs value plus freight and insurance) are read as ``CIF`` when chosen with
  ``value_column``.
- Imports basis: ``basis="consumption"`` (default, ``CON_*``) or ``"general"`` (``GEN_*``), when both exist.
- Periods: ``*_YR`` fields are year to date; with ``time``/``period`` ``YYYY-12`` they are the calendar year
  (period ``YYYY``); a year-to-date figure for another month is not a calendar period and is set aside as
  ``year_to_date_partial``. ``*_MO`` fields give ``YYYY-MM``. ``frequency="A"|"M"`` picks one when a file has
  both (default: annual). A file without a period column takes ``period=`` or, failing that, the single year
  in its file name (``us_imports_hs2_2024_all_countries.csv`` -> ``2024``, noted in the ledger).
- Countries by Census Schedule C code, name as fallback. Group codes (``0003`` European Union, other codes
  starting with ``0`` such as Pacific Rim, NAFTA/USMCA, OPEC; ``1XXX``-style continent totals) are set aside as
  ``aggregate_area``; ``-`` / "TOTAL FOR ALL COUNTRIES" is the world (``WLD``).
- Products: text with leading zeros; ``-`` (all commodities) becomes ``TOTAL``.
- Duties (``CAL_DUT_*``), descriptions and quantities are not part of the flows table and are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, SourceFormatError
from ..periods import normalise_periods
from ..schema import Ledger
from .base import ReadResult, describe_columns, as_paths, combine_files, finish_flows, parse_numbers, read_text_table
from .countries import by_distinct, resolve_country_column, set_aside_countries, sum_same_key

STAGE = "read:census"
SOURCE = "census"

_PRODUCT_COLUMNS = ("i_commodity", "e_commodity", "hs10", "hs8", "hs6", "hs4", "hs2", "hs", "commodity")
_VALUE_RE = re.compile(r"^(con|gen|all)_(val|cif)_(yr|mo)(?:_usd)?$")


def _canon(name: str) -> str:
    return str(name).strip().lower()


def _pick_value(columns: dict[str, str], *, basis: str, frequency: str | None, flow: str | None,
                value_column: str | None, path: Path) -> tuple[str, str, str, str]:
    """``(file column, flow, valuation, frequency A|M)`` of the value to read."""
    found = {c: _VALUE_RE.match(c) for c in columns}
    found = {c: m for c, m in found.items() if m}
    if value_column is not None:
        c = _canon(value_column)
        if c not in columns:
            raise SourceFormatError(f"value_column `{value_column}` is not in the file; it has "
                                    f"{', '.join(columns.values())}", path=path)
        if c not in found:
            raise ConfigError(f"value_column `{value_column}`: expected a Census value field such as CON_VAL_YR, "
                              f"GEN_VAL_MO or ALL_VAL_YR")
        chosen = c
    else:
        if not found:
            raise SourceFormatError(
                "no Census value column (CON_VAL_YR, CON_VAL_MO, GEN_VAL_YR, GEN_VAL_MO, ALL_VAL_YR, ALL_VAL_MO, "
                f"optionally with _usd); the file has: {', '.join(columns.values())}. Request one of them from "
                "the API, or pass value_column=", path=path)
        prefix = {"consumption": "con", "general": "gen"}[basis]
        freq = {"A": "yr", "M": "mo", None: None}[frequency]

        def rank(item):
            c, m = item
            return (m.group(2) != "val",  # customs value before CIF value
                    m.group(1) not in (prefix, "all"),
                    freq is not None and m.group(3) != freq,
                    m.group(3) != "yr")

        chosen = sorted(found.items(), key=rank)[0][0]
        if freq is not None and found[chosen].group(3) != freq:
            raise SourceFormatError(f"no {'monthly' if freq == 'mo' else 'year-to-date'} value column for "
                                    f"frequency={frequency}", path=path)
    m = found[chosen]
    file_flow = flow or ("X" if m.group(1) == "all" else "M")
    valuation = "CIF" if m.group(2) == "cif" else "FOB"
    return columns[chosen], file_flow, valuation, "A" if m.group(3) == "yr" else "M"


def _file_year(path: Path) -> str | None:
    years = set(re.findall(r"(?<!\d)(19\d\d|20\d\d)(?!\d)", path.name))
    return years.pop() if len(years) == 1 else None


def _read_one(path: Path, *, basis: str, frequency: str | None, flow: str | None, value_column: str | None,
              period: str | None) -> ReadResult:
    raw = read_text_table(path)
    columns = {_canon(c): c for c in raw.columns}
    for need in ("cty_code",):
        if need not in columns:
            raise SourceFormatError(f"missing column `CTY_CODE` (Census country code); the file has: "
                                    f"{describe_columns(raw.columns)}. Request it from the API (get=CTY_CODE,...)",
                                    path=path, column="CTY_CODE")
    vcol, file_flow, valuation, freq = _pick_value(columns, basis=basis, frequency=frequency, flow=flow,
                                                   value_column=value_column, path=path)
    product = next((columns[c] for c in _PRODUCT_COLUMNS if c in columns), None)
    if flow is None and product is not None:
        if _canon(product) == "e_commodity":
            file_flow = "X"
        elif _canon(product) == "i_commodity":
            file_flow = "M"
    ledger = Ledger(stage=STAGE, rows_in=len(raw), inputs=[path.name])
    ledger.notes.append(f"{path.name}: value from `{vcol}` ({'exports' if file_flow == 'X' else 'imports'}, "
                        f"{valuation}, {'year to date' if freq == 'A' else 'monthly'})")

    def text(c: str | None) -> pd.Series:
        if c is None:
            return pd.Series("", index=raw.index, dtype="str")
        return raw[c].astype("str").where(raw[c].notna(), "").str.strip()

    code, name = text(columns.get("cty_code")), text(columns.get("cty_name"))
    time_col = columns.get("time") or columns.get("period")
    if time_col is not None:
        raw_period = text(time_col)
        label = normalise_periods(raw_period)
        bad = (label == "") & (raw_period != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise SourceFormatError(f"cannot read {raw_period.iloc[i]!r} as a period: write it as YYYY-MM (2024-03), as the API's "
                                  "`time` field gives it", path=path,
                                    row=i + 2, column=time_col)
    else:
        given = period or _file_year(path)
        if given is None:
            raise SourceFormatError("no `time`/`period` column and no year in the file name: pass period=YYYY "
                                    "(or YYYY-MM for monthly fields)", path=path)
        label = normalise_periods(pd.Series(str(given), index=raw.index, dtype="str"))
        if (label == "").any():
            raise ConfigError(f"period {given!r} is not a period: use YYYY or YYYY-MM")
        if period is None:
            ledger.notes.append(f"{path.name}: no period column; period {label.iloc[0]} taken from the file name")
        if freq == "A" and len(label.iloc[0]) == 4:
            label = label + "-12"  # a year given for year-to-date fields means the whole year

    df = pd.DataFrame({
        "reporter": "USA",
        "partner": code,
        "cty_name": name,
        "flow": file_flow,
        "hs": text(product) if product is not None else "TOTAL",
        "value_usd": raw[vcol],
        "valuation": valuation,
        "period": label,
        "estimated": False,
    })
    if freq == "A":
        # year-to-date: only December closes a calendar year
        partial = (df["period"].str.len() > 4) & (df["period"].str.slice(5) != "12")
        df = ledger.set_aside(df, partial.to_numpy(), "year_to_date_partial")
        df["period"] = df["period"].str.slice(0, 4)
    elif (df["period"].str.len() != 7).any():
        bad = df["period"].str.len() != 7
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SourceFormatError(f"monthly field `{vcol}` needs monthly periods (YYYY-MM), found "
                                f"{df['period'].iloc[i]!r}", path=path, row=i + 2)

    if product is not None:
        from ..codes.hs import normalise_hs

        df["hs"] = by_distinct(df["hs"], lambda c: normalise_hs(c.where(c != "-", "TOTAL"))).astype("str")

    # the same line twice is a duplicate; two codes of one economy are summed below
    raw_key = ["partner", "hs", "period", "flow", "valuation"]
    df = ledger.set_aside(df, df.duplicated(raw_key, keep="first").to_numpy(), "duplicate")

    # group codes are not countries: the crosswalk does not list them all, so the Census rule decides
    pcode = df["partner"]
    is_world = (pcode == "-") | df["cty_name"].str.upper().str.startswith("TOTAL FOR ALL")
    is_group = (pcode.str.startswith("0") | pcode.str.upper().str.contains("X")) & ~is_world
    iso, kind = resolve_country_column(pcode.where(~is_world, ""), "census", df["cty_name"], "name")
    kind = np.where(is_world, "world", np.where(is_group, "aggregate", np.asarray(kind, dtype=object)))
    iso = np.where(is_world, "WLD", np.asarray(iso, dtype=object))
    df = set_aside_countries(df, ledger, {"partner": (iso, kind)})
    values, missing, non_numeric = parse_numbers(df["value_usd"])
    df = ledger.set_aside(df, missing.to_numpy(), "missing_value")
    df = ledger.set_aside(df, non_numeric.loc[df.index].to_numpy(), "non_numeric_value")
    df["value_usd"] = values.loc[df.index]
    df = ledger.set_aside(df, (df["value_usd"] < 0).to_numpy(), "negative_value")
    df = sum_same_key(df.assign(partner=df["partner"].astype("str")), ledger, np.ones(len(df), dtype=bool),
                      "merged_codes")
    df["source"] = SOURCE
    return finish_flows(df.drop(columns=["cty_name"]), ledger, SOURCE, where=f"{path.name} (US Census)")


def read(paths, *, column_map=None, basis: str = "consumption", frequency: str | None = None,
         flow: str | None = None, value_column: str | None = None, period: str | None = None,
         **options) -> ReadResult:
    """Read US Census trade API extracts into one flows table and one ledger (see the module docstring)."""
    if column_map is not None:
        raise ConfigError("the census source takes no column map; use --source table --map for other layouts")
    if options:
        raise ConfigError(f"unknown option(s) for census: {', '.join(sorted(options))} "
                          "(known: basis, frequency, flow, value_column, period)")
    if basis not in ("consumption", "general"):
        raise ConfigError(f"basis must be consumption or general, not {basis!r}")
    if frequency not in (None, "A", "M"):
        raise ConfigError(f"frequency must be A or M, not {frequency!r}")
    if flow not in (None, "M", "X"):
        raise ConfigError(f"flow must be M or X, not {flow!r}")
    return combine_files(STAGE, (_read_one(path, basis=basis, frequency=frequency, flow=flow,
                                           value_column=value_column, period=period) for path in as_paths(paths)))
