"""IMF Direction of Trade Statistics (DOTS), bulk CSV layout from data.imf.org.

Columns ``Country Name, Country Code, Indicator Name, Indicator Code, Counterpart Country Name, Counterpart
Country Code, Attribute`` then one column per period (``2019``, ``2019Q1``, ``2024M2``), usually with an empty
trailing column (each line ends with a comma). Each series has a ``Value`` row and, optionally, a ``Status``
row holding a status code per period (``e`` estimated, ``r`` revised, ...).

Indicators: ``TXG_FOB_USD`` exports FOB (flow X), ``TMG_CIF_USD`` imports CIF (M), ``TMG_FOB_USD`` imports FOB
(M, reported by a few countries beside the CIF series), ``TBG_USD`` the trade balance (set aside as
``not_a_flow``); any other indicator is set aside as ``other_indicator``. Values of the bulk download are in
US dollars (units); ``value_multiplier`` scales otherwise (1e6 for an export in millions).

Countries are read by IMF code (``Country Code``, ``Counterpart Country Code``), the name being the fallback.

The ledger counts **cells** (``ledger.unit == "cell"``): one row × one period column. A ``Status`` cell is
merged into the ``Value`` cell of the same series and period and counted as ``status_row``; a status cell
without a value row is ``orphan_status``. Empty value cells are ``missing_value``. The number of file lines is
in ``ledger.notes``.

Options: ``import_valuation`` — ``"CIF"`` (default: the FOB import series is kept only where no CIF figure
exists for the same reporter, partner and period, else set aside as ``other_valuation``), ``"FOB"`` (the
mirror image), ``"both"``; ``estimate_codes`` (default ``("e",)``); ``value_multiplier`` (default 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..periods import normalise_period
from ..schema import Ledger
from .base import ReadResult, parse_numbers, as_paths, combine_files, finish_flows, read_text_table, require_columns
from .countries import resolve_country_column, set_aside_countries

STAGE = "read:imf-dots"
SOURCE = "imf-dots"
KEY_COLUMNS = ["Country Name", "Country Code", "Indicator Code", "Counterpart Country Name",
               "Counterpart Country Code", "Attribute"]
#: indicator code -> (flow, valuation)
INDICATORS = {
    "TXG_FOB_USD": ("X", "FOB"),
    "TMG_CIF_USD": ("M", "CIF"),
    "TMG_FOB_USD": ("M", "FOB"),
}
NOT_FLOWS = {"TBG_USD"}
_SERIES = ["Country Code", "Indicator Code", "Counterpart Country Code"]


def _period_columns(columns, path: Path) -> tuple[list[str], dict[str, str], list[str]]:
    """Period columns with their canonical labels, and the other non-key columns (ignored)."""
    periods, labels, other = [], {}, []
    for c in columns:
        if c in KEY_COLUMNS or c == "Indicator Name":
            continue
        label = normalise_period(c)
        if label is not None:
            periods.append(c)
            labels[c] = label
        else:
            other.append(c)
    if not periods:
        from ..errors import SourceFormatError

        raise SourceFormatError(
            "no period columns (2019, 2019Q1, 2024M2 ...) after the `Attribute` column; is this the DOTS bulk "
            "CSV layout? For DOTS in long form use --source table --map configs/maps/imf-dots-long.yaml",
            path=path)
    return periods, labels, other


def _read_one(path: Path, *, import_valuation: str, estimate_codes: tuple[str, ...],
              value_multiplier: float) -> ReadResult:
    raw = read_text_table(path)
    require_columns(raw, KEY_COLUMNS, path, hint="Download the DOTS data as CSV from data.imf.org (bulk layout).")
    periods, labels, other = _period_columns(list(raw.columns), path)
    n_lines, n_periods = len(raw), len(periods)
    ledger = Ledger(stage=STAGE, rows_in=n_lines * n_periods, inputs=[path.name], unit="cell")
    ledger.notes.append(f"{path.name}: {n_lines} data line(s) x {n_periods} period column(s) = "
                        f"{n_lines * n_periods} cell(s)")
    empty_other = [c for c in other if (raw[c].fillna("") == "").all()]
    if other:
        kept_out = [c for c in other if c not in empty_other]
        if kept_out:
            ledger.notes.append(f"{path.name}: ignored column(s) {', '.join(kept_out)}")

    keys = raw[KEY_COLUMNS].apply(lambda s: s.fillna("").str.strip())
    attr = keys["Attribute"].str.lower()
    is_value, is_status = (attr == "value").to_numpy(), (attr == "status").to_numpy()
    other_attr = ~(is_value | is_status)
    if other_attr.any():
        ledger.add("other_attribute", int(other_attr.sum()) * n_periods, keys.loc[other_attr].head(3))

    # status cells: look each up by series and period; duplicates of a status line add nothing
    status = raw.loc[is_status, periods].fillna("").to_numpy(dtype=object)
    series = (keys[_SERIES[0]] + "|" + keys[_SERIES[1]] + "|" + keys[_SERIES[2]]).to_numpy(dtype=object)
    status_keys, value_keys = series[is_status], series[is_value]
    ledger.add("status_row", int(np.isin(status_keys, value_keys).sum()) * n_periods)
    orphan = ~np.isin(status_keys, value_keys)
    if orphan.any():
        ledger.add("orphan_status", int(orphan.sum()) * n_periods,
                   keys.loc[is_status].loc[orphan].head(3))
    first_status = pd.Series(np.arange(len(status_keys))).groupby(status_keys).first()

    # value cells, long: one row per (value line, period)
    vals = raw.loc[is_value, periods].to_numpy(dtype=object)
    vk = keys.loc[is_value].reset_index(drop=True)
    n_val = len(vk)
    line = np.repeat(np.arange(n_val), n_periods)
    col = np.tile(np.arange(n_periods), n_val)
    cell = vals.ravel()
    pos = first_status.reindex(value_keys).to_numpy()  # status line of each value line, NaN when none
    has_status = ~np.isnan(pos)
    stat = np.full(n_val * n_periods, "", dtype=object)
    if has_status.any():
        rows = np.repeat(has_status, n_periods)
        stat[rows] = status[pos[has_status].astype(int)].ravel()

    empty = pd.isna(cell) | (pd.Series(cell, dtype="str").fillna("").str.strip() == "").to_numpy()
    ledger.add("missing_value", int(empty.sum()))
    line, col, cell, stat = line[~empty], col[~empty], cell[~empty], stat[~empty]

    period_labels = np.array([labels[p] for p in periods], dtype=object)
    long = pd.DataFrame({
        "reporter": vk["Country Code"].to_numpy()[line],
        "reporter_name": vk["Country Name"].to_numpy()[line],
        "partner": vk["Counterpart Country Code"].to_numpy()[line],
        "partner_name": vk["Counterpart Country Name"].to_numpy()[line],
        "indicator": vk["Indicator Code"].to_numpy()[line],
        "period": period_labels[col],
        "value_usd": cell,
        "status": stat,
    })
    long = ledger.set_aside(long, long["indicator"].isin(NOT_FLOWS).to_numpy(), "not_a_flow")
    long = ledger.set_aside(long, ~long["indicator"].isin(list(INDICATORS)).to_numpy(), "other_indicator")
    long["flow"] = long["indicator"].map({k: v[0] for k, v in INDICATORS.items()})
    long["valuation"] = long["indicator"].map({k: v[1] for k, v in INDICATORS.items()})
    long = long.reset_index(drop=True)

    if import_valuation != "both":
        other_val = "FOB" if import_valuation == "CIF" else "CIF"
        imp = long["flow"] == "M"
        pair = long["reporter"] + "|" + long["partner"] + "|" + long["period"]
        preferred = set(pair[imp & (long["valuation"] == import_valuation)])
        drop = (imp & (long["valuation"] == other_val) & pair.isin(preferred)).to_numpy()
        long = ledger.set_aside(long, drop, "other_valuation").reset_index(drop=True)

    tokens = long["status"].astype("str").str.lower().str.findall(r"[a-z]+")
    codes = {c.lower() for c in estimate_codes}
    long["estimated"] = tokens.map(lambda t: bool(codes.intersection(t))).to_numpy(dtype=bool)

    # thousands separators are read; a decimal comma (12,5) stays text and is set aside, never rescaled
    numbers, _, _ = parse_numbers(long["value_usd"])
    long["value_usd"] = long["value_usd"].where(numbers.isna(), numbers * value_multiplier)

    resolved = {
        "reporter": resolve_country_column(long["reporter"], "imf", long["reporter_name"], "name"),
        "partner": resolve_country_column(long["partner"], "imf", long["partner_name"], "name"),
    }
    long = set_aside_countries(long, ledger, resolved)
    long["hs"] = "TOTAL"
    long["source"] = SOURCE
    return finish_flows(long, ledger, SOURCE, where=f"{path.name} (IMF DOTS)")


def read(paths, *, column_map=None, import_valuation: str = "CIF", estimate_codes=("e",),
         value_multiplier: float = 1.0, **options) -> ReadResult:
    """Read IMF DOTS bulk CSV files into one flows table and one cell ledger (see the module docstring)."""
    if column_map is not None:
        raise ConfigError("the imf-dots source reads the bulk CSV layout and takes no column map; for DOTS in "
                          "long form use --source table --map configs/maps/imf-dots-long.yaml")
    if options:
        raise ConfigError(f"unknown option(s) for imf-dots: {', '.join(sorted(options))} "
                          "(known: import_valuation, estimate_codes, value_multiplier)")
    if import_valuation not in ("CIF", "FOB", "both"):
        raise ConfigError(f"import_valuation must be CIF, FOB or both, not {import_valuation!r}")
    if isinstance(estimate_codes, str):
        estimate_codes = tuple(re.split(r"[,\s]+", estimate_codes.strip()))
    return combine_files(STAGE, (_read_one(path, import_valuation=import_valuation,
                                           estimate_codes=tuple(estimate_codes),
                                           value_multiplier=float(value_multiplier)) for path in as_paths(paths)),
                         unit="cell")
