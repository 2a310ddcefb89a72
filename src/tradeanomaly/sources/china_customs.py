"""China Customs (GACC) monthly tables by province and by country/region, in Chinese or English.

Shapes read (CSV in UTF-8 or GB18030, or Excel ``.xlsx`` with the optional extra ``excel``):

* **Wide monthly table** as GACC publishes it: title lines ("(8)2024年3月进出口商品收发货人所在地总值表(美元值)",
  "China's Total Value of Imports and Exports by Location of Importers/Exporters, March 2024"), a unit line
  ("单位：千美元", "Unit: USD 1,000", "单位：万元"), one or two header rows (进出口 / 出口 / 进口, or Total / Exports /
  Imports, each with the month "3月" / "Mar." and the year to date "1至3月" / "Jan.-Mar."), one row per province or
  country, and footnotes ("注：..."). Percent-change columns are ignored (they are not figures).
* **Long form**: one row per period (``YYYY-MM``), location and flow, with a month value and/or a year-to-date
  cumulative value (columns such as 时间/period, 地区/location, 贸易方向/flow, 当月/month, 累计/cumulative).

Rows: a province (resolved with :func:`tradeanomaly.codes.provinces.resolve_provinces`) gives reporter ``CHN``,
region ``CN-xx``, partner ``WLD``; a country (Chinese or English name, shipped crosswalk) gives reporter ``CHN``,
region ``""``, partner its ISO3; 总值 / Total gives the national total (``CHN``, ``""``, ``WLD``). Groupings
(亚洲, 欧盟, 东盟, 合计 ...) are ``aggregate_area``; names that are not provinces in a province table are
``unknown_region``. Exports are ``X`` (FOB) and imports ``M`` (CIF); 进出口 (total trade) is not a flow and its cells
are ``not_a_flow``. ``hs`` is ``TOTAL``.

The ledger counts **cells** (one per location and value column: month or year-to-date, per flow).

**Year-to-date figures become monthly ones**: the figure for month m is cum(m) − cum(m−1) of the same year,
location and flow (January: cum(1)); the published month column is then redundant and set aside as
``month_column_superseded`` (with ``monthly_from="month"`` the month column wins and the year-to-date cell is
``cumulative_superseded``). Where the previous month's year-to-date figure is not among the inputs, the month
column is used and the year-to-date cell is ``cumulative_without_previous_month``. **January–February**: GACC
publishes January and February together. When a separate January figure is among the inputs, February is
cum(2) − cum(1). Otherwise, if the table also has a February month column, January is cum(2) − Feb. Otherwise the
combined value is split evenly into a January and a February row, both ``estimated=True`` (they are not reported
figures); such a cell counts as two cells in the ledger (``rows_in`` grows by one per split), and the ledger notes
say how many were split.

Units: 千美元 / USD thousand (x 1000), 万美元, 亿美元, 美元; 万元 / 亿元 / 元 (CNY) need an exchange rate: option
``cny_per_usd`` as a number, or the path of a CSV ``period,cny_per_usd`` of monthly rates (a month's figure is
converted at its own month's rate, after differencing in yuan). ``unit=`` overrides the unit found in the file.
Other options: ``period="2024-03"`` when the title does not say the month, ``table="province"|"country"|"auto"``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, SourceFormatError, require
from ..periods import normalise_period
from ..schema import Ledger
from .base import EMPTY_FILE, NA_VALUES, ReadResult, detect_encoding, finish_flows, parse_numbers

SOURCE = "china-customs"
STAGE = f"read:{SOURCE}"
HEADER_SCAN_ROWS = 40

#: unit spelling -> (currency, multiplier)
_UNITS = (
    (re.compile(r"千美元|usd\s*(?:1,?000|thousand)|thousand\s*(?:us\s*)?(?:dollars|usd)|us\$\s*(?:1,?000|thousand)",
                re.I), ("USD", 1e3)),
    (re.compile(r"亿美元|usd\s*100\s*million|hundred\s*million\s*(?:us\s*)?(?:dollars|usd)", re.I), ("USD", 1e8)),
    (re.compile(r"万美元|usd\s*10,?000|ten\s*thousand\s*(?:us\s*)?(?:dollars|usd)", re.I), ("USD", 1e4)),
    (re.compile(r"百万美元|usd\s*(?:1\s*)?million|million\s*(?:us\s*)?(?:dollars|usd)", re.I), ("USD", 1e6)),
    (re.compile(r"亿元|(?:cny|rmb|yuan)\s*100\s*million|hundred\s*million\s*(?:yuan|rmb|cny)", re.I), ("CNY", 1e8)),
    (re.compile(r"万元|(?:cny|rmb|yuan)\s*10,?000|(?:cny|rmb)\s*10\s*thousand|ten\s*thousand\s*(?:yuan|rmb|cny)",
                re.I), ("CNY", 1e4)),
    (re.compile(r"(?<![万亿千])美元|\bus\s*dollars?\b|\busd\b", re.I), ("USD", 1.0)),
    (re.compile(r"(?<![万亿千美])元|\byuan\b|\brmb\b|\bcny\b", re.I), ("CNY", 1.0)),
)
_UNIT_LINE = re.compile(r"单位|unit", re.I)

_MONTHS_EN = {m: i + 1 for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}
_EN_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_RX_CUM_ZH = re.compile(r"(\d{1,2})\s*(?:至|-|—|–|~|～|到)\s*(\d{1,2})\s*月")
_RX_CUM_EN = re.compile(_EN_MONTH + r"\s*(?:-|–|—|to|~)\s*" + _EN_MONTH, re.I)
_RX_MONTH_ZH = re.compile(r"(?<![\d至\-—–~～到])(\d{1,2})\s*月")
_RX_MONTH_EN = re.compile(r"\b" + _EN_MONTH, re.I)
_RX_YEAR = re.compile(r"((?:19|20)\d{2})\s*年|\b((?:19|20)\d{2})\b")
_RX_SKIP = re.compile(r"%|比|同比|增减|增长|change|growth|share|占比|比重", re.I)
_RX_CUM_WORD = re.compile(r"累计|year\s*to\s*date|ytd|cumulative", re.I)
_RX_MONTH_WORD = re.compile(r"当月|本月|当期|^month$|monthly|this\s*month", re.I)

_FLOW_LABELS = (
    (re.compile(r"进出口|imports?\s*(?:&|and)\s*exports?|exports?\s*(?:&|and)\s*imports?|total\s*trade|^total\b",
                re.I), "T"),
    (re.compile(r"出口|exports?", re.I), "X"),
    (re.compile(r"进口|imports?", re.I), "M"),
)
_FLOW_VALUES = {"进出口": "T", "出口": "X", "进口": "M", "x": "X", "m": "M", "t": "T", "export": "X",
                "exports": "X", "import": "M", "imports": "M", "total": "T", "total trade": "T"}

_FOOTNOTE = re.compile(r"^\s*(?:注|说明|备注|资料来源|数据来源|note|notes|source)\b|^\s*(?:注|说明|备注)", re.I)
_NATIONAL = {"总值", "总计", "全国", "全国总计", "全国合计", "总额", "total", "grand total", "china total",
             "全国总值", "进出口总值"}
_PROVINCE_HEADER = re.compile(r"收发货人所在地|境内目的地|货源地|省|province|location\s*of|domestic", re.I)
_COUNTRY_HEADER = re.compile(r"国别|国家|country|countries|economy", re.I)

_LONG_PERIOD = re.compile(r"^(?:期间|时间|日期|月份|年月|统计时间|period|month|date|time)$", re.I)
_LONG_LOCATION = re.compile(r"^(?:地区|省份|省市|省区市|收发货人所在地|境内目的地/货源地|境内目的地|货源地|国别|"
                            r"国别\(地区\)|国别（地区）|国家|国家\(地区\)|国家（地区）|location|province|region|"
                            r"country|partner|economy)$", re.I)
_LONG_FLOW = re.compile(r"^(?:贸易方向|流向|进出口方向|方向|flow|trade\s*flow|direction)$", re.I)


# ------------------------------------------------------------------------------------------------------------
# Loading a file as a grid of text cells
# ------------------------------------------------------------------------------------------------------------

def _grid(path: Path, sheet=None) -> list[list[str]]:
    if not path.exists():
        raise SourceFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise SourceFormatError(EMPTY_FILE, path=path)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        openpyxl = require("openpyxl", "excel", f"reading the Excel file {path.name}")
        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises several unrelated types for a damaged workbook
            raise SourceFormatError(f"cannot open the workbook ({exc}); save it again as .xlsx or CSV",
                                    path=path) from exc
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        rows = [["" if v is None else _cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
        return rows
    if suffix == ".xls":
        raise SourceFormatError("old .xls workbooks are not read: save the sheet as .xlsx or CSV", path=path)
    enc = detect_encoding(path)
    data = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        data = gzip.decompress(data)
    try:
        text = data.decode(enc)
    except UnicodeDecodeError as exc:
        raise SourceFormatError(f"cannot decode the bytes as {enc} ({exc.reason} at byte {exc.start}); save the "
                                "table as UTF-8 or GB18030", path=path) from exc
    first = text.split("\n", 1)[0]
    sep = "\t" if first.count("\t") > first.count(",") else ","
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text), delimiter=sep)]


def _cell_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _row_text(row: list[str]) -> str:
    return " ".join(c for c in row if c)


# ------------------------------------------------------------------------------------------------------------
# Labels: units, periods, flows
# ------------------------------------------------------------------------------------------------------------

def parse_unit(text: str) -> tuple[str, float] | None:
    """(currency, multiplier) named in ``text`` ("单位：千美元" -> ("USD", 1000.0)), or None."""
    for rx, unit in _UNITS:
        if rx.search(text):
            return unit
    return None


def _year_in(text: str) -> int | None:
    m = _RX_YEAR.search(text)
    return int(m.group(1) or m.group(2)) if m else None


def _title_period(text: str) -> tuple[int | None, str | None, int | None]:
    """(year, "cum"|"month"|None, month) read from a title line."""
    year = _year_in(text)
    m = _RX_CUM_ZH.search(text)
    if m and int(m.group(1)) == 1:
        return year, "cum", int(m.group(2))
    m = _RX_CUM_EN.search(text)
    if m and _MONTHS_EN[m.group(1).lower()[:3]] == 1:
        return year, "cum", _MONTHS_EN[m.group(2).lower()[:3]]
    m = _RX_MONTH_ZH.search(text)
    if m and 1 <= int(m.group(1)) <= 12:
        return year, "month", int(m.group(1))
    m = _RX_MONTH_EN.search(text)
    if m:
        return year, "month", _MONTHS_EN[m.group(1).lower()[:3]]
    return year, None, None


def _column_flow(label: str) -> str | None:
    for rx, flow in _FLOW_LABELS:
        if rx.search(label):
            return flow
    return None


def _column_period(label: str, title_kind: str | None, title_month: int | None):
    """("cum"|"month", month) for a value column label, or None when it is not a figure of one period."""
    m = _RX_CUM_ZH.search(label)
    if m:
        return ("cum", int(m.group(2))) if int(m.group(1)) == 1 else None
    m = _RX_CUM_EN.search(label)
    if m:
        start, end = _MONTHS_EN[m.group(1).lower()[:3]], _MONTHS_EN[m.group(2).lower()[:3]]
        return ("cum", end) if start == 1 else None
    if _RX_CUM_WORD.search(label):
        return ("cum", title_month) if title_month else None
    m = _RX_MONTH_ZH.search(label)
    if m and 1 <= int(m.group(1)) <= 12:
        return "month", int(m.group(1))
    stripped = re.sub(r"进出口|出口|进口|imports?\s*(?:&|and)\s*exports?|exports?|imports?|total\s*trade|total", "",
                      label, flags=re.I)
    m = _RX_MONTH_EN.search(stripped)
    if m:
        return "month", _MONTHS_EN[m.group(1).lower()[:3]]
    if _RX_MONTH_WORD.search(stripped.strip()):
        return ("month", title_month) if title_month else None
    if title_kind and title_month:
        return title_kind, title_month
    return None


# ------------------------------------------------------------------------------------------------------------
# Cells of one file
# ------------------------------------------------------------------------------------------------------------

@dataclass
class FileCells:
    path: Path
    cells: pd.DataFrame  # location, flow (T/X/M), kind (cum/month), year, month, raw, line
    currency: str
    multiplier: float
    table: str  # "province" | "country"
    notes: list[str] = field(default_factory=list)


def _find_unit(rows: list[list[str]], path: Path, unit_option) -> tuple[str, float]:
    if unit_option is not None:
        unit = parse_unit(str(unit_option))
        if unit is None:
            raise SourceFormatError(f"unknown unit `{unit_option}`: use 千美元, 万元, 'USD thousand', "
                                    "'CNY 10,000' ...", path=path)
        return unit
    for row in rows[:HEADER_SCAN_ROWS]:
        text = ",".join(c for c in row if c)  # "Unit: USD 1,000" is split by an unquoted comma
        if _UNIT_LINE.search(text):
            unit = parse_unit(text)
            if unit is not None:
                return unit
    for row in rows[:HEADER_SCAN_ROWS]:  # units written in the header cells, e.g. "出口(千美元)"
        for cell in row:
            if "(" in cell or "（" in cell:
                unit = parse_unit(cell)
                if unit is not None:
                    return unit
    raise SourceFormatError("no unit line (单位：千美元 / Unit: USD 1,000 / 单位：万元) found; pass the unit, "
                            "e.g. unit='千美元' (--option unit=千美元)", path=path)


def _title(rows: list[list[str]], header_at: int) -> str:
    return " ".join(_row_text(r) for r in rows[:header_at])


def _year_from_name(path: Path) -> tuple[int | None, int | None]:
    m = re.search(r"((?:19|20)\d{2})[-_.]?(0[1-9]|1[0-2])(?!\d)", path.stem)
    if m:
        return int(m.group(1)), int(m.group(2))
    m = re.search(r"((?:19|20)\d{2})", path.stem)
    return (int(m.group(1)), None) if m else (None, None)


def _is_long_header(row: list[str]) -> bool:
    cells = [c for c in row if c]
    return (any(_LONG_PERIOD.match(c) for c in cells) and any(_LONG_LOCATION.match(c) for c in cells)
            and any(_LONG_FLOW.match(c) for c in cells))


def _header_index(rows: list[list[str]]) -> int | None:
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        if _is_long_header(row):
            return i
        labelled = [c for c in row[1:] if c and _column_flow(c)]
        # a title line names flows too; a header row has at least two labelled cells and no numbers
        if labelled and len([c for c in row if c]) >= 2 and not any(_is_number(c) for c in row[1:]):
            return i
    return None


_NUM = re.compile(r"^-?[\d,\s\u00a0]+(?:\.\d+)?$")


def _is_number(text: str) -> bool:
    return bool(text) and bool(_NUM.match(text))


def _wide_cells(rows, header_at, path, period_option) -> tuple[pd.DataFrame, str]:
    title = _title(rows, header_at)
    t_year, t_kind, t_month = _title_period(title)
    if period_option is not None:
        p = normalise_period(period_option)
        if p is None or len(p) != 7:
            raise SourceFormatError(f"option period={period_option!r} is not a month (YYYY-MM)", path=path)
        t_year, t_month = int(p[:4]), int(p[5:])
        t_kind = t_kind or "month"
    n_year, n_month = _year_from_name(path)
    t_year = t_year or n_year
    if t_month is None and n_month is not None:
        t_month, t_kind = n_month, "month"
    head = rows[header_at]
    second = rows[header_at + 1] if header_at + 1 < len(rows) else []
    has_second = bool(second) and not any(_is_number(c) for c in second[1:]) and any(
        c and _column_period(c, None, None) for c in second[1:])
    width = max(len(head), len(second) if has_second else 0)
    upper, filled = [], ""
    for j in range(width):
        c = head[j] if j < len(head) else ""
        if c:
            filled = c
        upper.append(filled if has_second else c)
    labels = [(upper[j] + " " + (second[j] if has_second and j < len(second) else "")).strip()
              for j in range(width)]
    cols = []
    for j in range(1, width):
        lab = labels[j]
        if not lab or _RX_SKIP.search(lab):
            continue
        flow = _column_flow(lab)
        per = _column_period(lab, t_kind, t_month)
        if flow is None or per is None:
            continue
        year = _year_in(lab) or t_year
        cols.append((j, flow, per[0], per[1], year))
    if not cols:
        raise SourceFormatError(
            "no value columns recognised in the header row(s): expected 进出口/出口/进口 (or Total/Exports/"
            "Imports) with a month (3月, Mar.) or a year to date (1至3月, Jan.-Mar.)", path=path, row=header_at + 1)
    seen: dict = {}
    for j, flow, kind, month, year in cols:
        key = (flow, kind, month, year)
        if key in seen:
            raise SourceFormatError(f"columns {seen[key] + 1} and {j + 1} (`{labels[seen[key]]}`, `{labels[j]}`) hold "
                                    "the same figure (flow and period); keep one of them", path=path,
                                    row=header_at + 1, column=labels[j])
        seen[key] = j
    if any(c[4] is None for c in cols):
        raise SourceFormatError("the year is not in the title, the header or the file name; pass period=YYYY-MM",
                                path=path)
    start = header_at + (2 if has_second else 1)
    loc_col = 0
    firsts = [r[0] for r in rows[start:start + 20] if r and r[0]]
    if firsts and all(_is_number(c) for c in firsts):
        first = labels[0] if labels else ""
        raise SourceFormatError(f"the first column `{first}` holds numbers, not locations: the locations "
                                "(收发货人所在地, 国别(地区), Location, Country) must come first; add the location column",
                                path=path, row=start + 1, column=first)
    records = []
    for i in range(start, len(rows)):
        row = rows[i]
        if not any(row):
            continue  # blank line
        loc = row[loc_col] if row else ""
        if _FOOTNOTE.match(loc) or (loc and not any(row[1:]) and len(loc) > 30):
            continue  # footnote or note text
        for j, flow, kind, month, year in cols:
            raw = row[j] if j < len(row) else ""
            records.append((loc, flow, kind, year, month, raw, i + 1))
    cells = pd.DataFrame(records, columns=["location", "flow", "kind", "year", "month", "raw", "line"])
    return cells, head[0] if head else ""


def _long_cells(rows, header_at, path) -> tuple[pd.DataFrame, str]:
    head = rows[header_at]
    per_j = next(j for j, c in enumerate(head) if _LONG_PERIOD.match(c))
    loc_j = next(j for j, c in enumerate(head) if _LONG_LOCATION.match(c))
    flow_j = next(j for j, c in enumerate(head) if _LONG_FLOW.match(c))
    value_cols = []
    for j, c in enumerate(head):
        if j in (per_j, loc_j, flow_j) or not c or _RX_SKIP.search(c):
            continue
        if _RX_CUM_WORD.search(c):
            value_cols.append((j, "cum"))
        elif _RX_MONTH_WORD.search(c) or re.search(r"金额|value|^值$", c, re.I):
            value_cols.append((j, "month"))
    if not value_cols:
        raise SourceFormatError("long-form table without a value column: name it 当月/month and/or "
                                "累计/cumulative", path=path, row=header_at + 1)
    records = []
    for i in range(header_at + 1, len(rows)):
        row = rows[i]
        if not any(row):
            continue
        if _FOOTNOTE.match(row[0] if row else ""):
            continue
        get = lambda j: row[j] if j < len(row) else ""  # noqa: E731
        p = normalise_period(get(per_j))
        year, month = (int(p[:4]), int(p[5:])) if p and len(p) == 7 else (None, None)
        flow = _FLOW_VALUES.get(get(flow_j).strip().lower(), "?")
        for j, kind in value_cols:
            records.append((get(loc_j), flow, kind, year, month, get(j), i + 1))
    cells = pd.DataFrame(records, columns=["location", "flow", "kind", "year", "month", "raw", "line"])
    return cells, head[loc_j]


def read_cells(path: Path, *, unit=None, period=None, table="auto", sheet=None) -> FileCells:
    """The value cells of one GACC table with their location, flow, kind (month / year to date) and period."""
    rows = _grid(path, sheet)
    if not any(any(r) for r in rows):
        raise SourceFormatError("the file has no text: nothing to read", path=path)
    at = _header_index(rows)
    if at is None:
        raise SourceFormatError(
            "no header row with 进出口/出口/进口 (or Total/Exports/Imports) found in the first "
            f"{HEADER_SCAN_ROWS} lines; is this a GACC table? If the text looks garbled, save it as UTF-8 or "
            "GB18030", path=path)
    currency, mult = _find_unit(rows, path, unit)
    if _is_long_header(rows[at]):
        cells, loc_label = _long_cells(rows, at, path)
    else:
        cells, loc_label = _wide_cells(rows, at, path, period)
    kind = _table_kind(cells["location"], loc_label, table, path)
    return FileCells(path, cells, currency, mult, kind)


def _table_kind(locations: pd.Series, label: str, table: str, path: Path) -> str:
    if table in ("province", "country"):
        return table
    if table != "auto":
        raise SourceFormatError(f"option table={table!r}: use province, country or auto", path=path)
    if _PROVINCE_HEADER.search(label or ""):
        return "province"
    if _COUNTRY_HEADER.search(label or ""):
        return "country"
    from ..codes.provinces import resolve_provinces

    uniq = pd.Series(pd.unique(locations.astype("str")), dtype="str")
    share = (resolve_provinces(uniq) != "").mean() if len(uniq) else 0.0
    return "province" if share >= 0.5 else "country"


# ------------------------------------------------------------------------------------------------------------
# From cells to flows
# ------------------------------------------------------------------------------------------------------------

def _locate(fc: FileCells) -> pd.DataFrame:
    """reporter, region, partner and a set-aside reason ("" when usable) for each cell's location."""
    from ..codes.countries import resolve_countries
    from ..codes.provinces import resolve_provinces

    loc = fc.cells["location"].astype("str").str.strip().str.rstrip("*＊").str.strip()
    # "国别(地区)不详" and "国别不详" are the same line of the country table
    loc = loc.str.replace(r"[(（]地区[)）]", "", regex=True)
    uniq = pd.Series(pd.unique(loc), dtype="str")
    national = uniq.str.lower().isin(_NATIONAL).to_numpy()
    out = pd.DataFrame({"reporter": "CHN", "region": "", "partner": "WLD", "reason": ""}, index=uniq.index)
    if fc.table == "province":
        prov = resolve_provinces(uniq).astype("str").to_numpy()
        out["region"] = np.where(national, "", prov)
        countries = resolve_countries(uniq, system="name")
        agg = countries["kind"].isin(["aggregate", "world"]).to_numpy() & (prov == "") & ~national
        out["reason"] = np.where(national | (prov != ""), "", np.where(agg, "aggregate_area", "unknown_region"))
    else:
        res = resolve_countries(uniq, system="name")
        kind = res["kind"].to_numpy()
        out["partner"] = np.where(national, "WLD", res["iso3"].to_numpy())
        out["reason"] = np.where(national, "", np.where(kind == "aggregate", "aggregate_area", ""))
    out.loc[uniq == "", "reason"] = "no_location"
    out.index = uniq.to_numpy()
    located = out.reindex(loc.to_numpy())
    located.index = fc.cells.index
    return located


def _rates(option, path_hint: Path):
    """Function period -> CNY per USD; raises naming the period when a rate is missing."""
    if option is None:
        return None
    if isinstance(option, (int, float)) or (isinstance(option, str) and re.fullmatch(r"\s*\d+(?:\.\d+)?\s*",
                                                                                    option)):
        rate = float(option)
        if not rate > 0:
            raise SourceFormatError(f"cny_per_usd={option!r} must be a positive number", path=path_hint)
        return lambda periods: pd.Series(rate, index=periods.index)
    rates_path = Path(option)
    from .base import read_text_table

    df = read_text_table(rates_path)
    df.columns = [str(c).strip().lower() for c in df.columns]
    if not {"period", "cny_per_usd"} <= set(df.columns):
        raise SourceFormatError("an exchange-rate file needs the columns period,cny_per_usd (monthly, e.g. "
                                "2024-03,7.1)", path=rates_path)
    per = df["period"].map(normalise_period)
    val, _, bad = parse_numbers(df["cny_per_usd"])
    if bad.any() or per.isna().any() or (val <= 0).any():
        row = int(np.flatnonzero((bad | per.isna() | (val <= 0)).to_numpy())[0]) + 2
        raise SourceFormatError("every row needs a month YYYY-MM and a positive rate", path=rates_path, row=row)
    table = dict(zip(per, val))

    def lookup(periods: pd.Series) -> pd.Series:
        out = periods.map(table)
        if out.isna().any():
            missing = sorted(set(periods[out.isna()]))
            raise SourceFormatError(f"no CNY-per-USD rate for {', '.join(missing[:6])}; add the month(s) to the "
                                    "rate file", path=rates_path)
        return out.astype("float64")

    return lookup


def _derive(cells: pd.DataFrame, ledger: Ledger, monthly_from: str) -> pd.DataFrame:
    """Monthly figures from month and year-to-date cells; returns one row per emitted figure.

    Input cells carry the key columns, ``kind``, ``year``, ``month``, ``num`` (value in the file's currency unit,
    NaN when not a number) and ``raw``. Output rows have ``period``, ``amount`` (NaN for an unusable cell, whose
    ``raw`` text :func:`finish_flows` then sets aside), ``numeric`` and ``estimated``.
    """
    key = ["reporter", "region", "partner", "flow", "currency", "year"]
    c = cells.reset_index(drop=True).copy()
    c["valid"] = c["num"].notna()
    invalid = c.loc[~c["valid"]]
    c = c.loc[c["valid"]]
    cum = c.loc[c["kind"] == "cum"]
    mon = c.loc[c["kind"] == "month"]
    # several cells for the same figure (two files of the same month): the first is used, the others are
    # duplicates of it
    dup_cum = cum.duplicated(key + ["month"], keep="first")
    dup_mon = mon.duplicated(key + ["month"], keep="first")
    dups = pd.concat([cum.loc[dup_cum], mon.loc[dup_mon]])
    cum, mon = cum.loc[~dup_cum], mon.loc[~dup_mon]
    ledger.add("duplicate", len(dups), _examples(dups))

    # January's month figure is also its year to date
    ytd = pd.concat([cum[key + ["month", "num"]], mon.loc[mon["month"] == 1, key + ["month", "num"]]])
    ytd = ytd.drop_duplicates(key + ["month"], keep="first")
    prev = ytd.assign(month=ytd["month"] + 1).rename(columns={"num": "prev"})
    cum = cum.merge(prev, on=key + ["month"], how="left")
    have_mon = mon[key + ["month", "num"]].rename(columns={"num": "mon_num"})
    cum = cum.merge(have_mon, on=key + ["month"], how="left")
    any_jan = pd.concat([cells.loc[cells["month"] == 1, key]]).drop_duplicates().assign(jan=True)
    cum = cum.merge(any_jan, on=key, how="left")
    cum["jan"] = cum["jan"].fillna(False).astype(bool)

    derivable = (cum["month"] == 1) | cum["prev"].notna()
    derived = np.where(cum["month"] == 1, cum["num"], cum["num"] - cum["prev"])
    has_mon = cum["mon_num"].notna()
    jan_feb = (cum["month"] == 2) & ~cum["jan"] & ~derivable
    if monthly_from == "month":
        use_cum = derivable & ~has_mon
    else:
        use_cum = derivable
    jan_from_cum = jan_feb & has_mon                   # January = cum(2) - Feb month column
    split = jan_feb & ~has_mon                         # January and February halves, estimated

    rows = []
    used = cum.loc[use_cum]
    rows.append(used.assign(amount=derived[use_cum.to_numpy()], estimated=False))
    jc = cum.loc[jan_from_cum]
    rows.append(jc.assign(month=1, amount=jc["num"] - jc["mon_num"], estimated=False))
    sp = cum.loc[split]
    if len(sp):
        ledger.rows_in += len(sp)
        ledger.notes.append(
            f"{len(sp)} January-February combined figure(s) without a separate January were split evenly into "
            "January and February rows marked estimated=True (each counts as two cells here)")
        rows.append(sp.assign(month=1, amount=sp["num"] / 2, estimated=True))
        rows.append(sp.assign(month=2, amount=sp["num"] / 2, estimated=True))
    unused_cum = cum.loc[~use_cum & ~jan_from_cum & ~split]
    if monthly_from == "month":
        superseded = unused_cum["mon_num"].notna() & (derivable.loc[unused_cum.index])
        ledger.add("cumulative_superseded", int(superseded.sum()), _examples(unused_cum.loc[superseded]))
        unused_cum = unused_cum.loc[~superseded]
    ledger.add("cumulative_without_previous_month", len(unused_cum), _examples(unused_cum))
    # month cells: used unless the year-to-date figure gave this month
    taken = cum.loc[use_cum, key + ["month"]].assign(taken=True)
    mon = mon.merge(taken, on=key + ["month"], how="left")
    mon_used = mon["taken"].isna()
    ledger.add("month_column_superseded", int((~mon_used).sum()), _examples(mon.loc[~mon_used]))
    rows.append(mon.loc[mon_used].assign(amount=mon.loc[mon_used, "num"], estimated=False))
    rows.append(invalid.assign(amount=np.nan, estimated=False))
    out = pd.concat([r for r in rows if len(r)] or [invalid.assign(amount=np.nan, estimated=False)],
                    ignore_index=True)
    out["numeric"] = out["valid"].astype(bool)
    out["period"] = np.where(out["year"].notna() & out["month"].notna(),
                             out["year"].fillna(0).astype(int).astype(str) + "-"
                             + out["month"].fillna(0).astype(int).astype(str).str.zfill(2), "")
    return out


EXAMPLE_COLUMNS = ["file", "line", "location", "flow", "kind", "year", "month", "raw"]


def _examples(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in EXAMPLE_COLUMNS if c in df.columns]].head(3)


def _set_aside(ledger: Ledger, cells: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
    mask = np.asarray(mask, dtype=bool)
    ledger.add(reason, int(mask.sum()), _examples(cells.loc[mask]))
    return cells.loc[~mask]


def read(paths: list[Path], *, column_map=None, cny_per_usd=None, unit=None, period=None, table: str = "auto",
         monthly_from: str = "cumulative", sheet=None, **options) -> ReadResult:
    """Read GACC tables (see the module docstring) into one flows table and one ledger (unit: cell)."""
    if column_map is not None:
        raise ConfigError("the china-customs source finds its columns itself and takes no column map; use "
                          "--source table --map MAP.yaml for other layouts")
    if options:
        raise ConfigError(f"unknown option(s) for china-customs: {', '.join(sorted(options))} (known: "
                          "cny_per_usd, unit, period, table, monthly_from, sheet)")
    if monthly_from not in ("cumulative", "month"):
        raise ConfigError(f"monthly_from={monthly_from!r}: use cumulative or month")
    if table not in ("auto", "province", "country"):
        raise ConfigError(f"table={table!r}: use auto, province or country")
    paths = [Path(p) for p in paths]
    ledger = Ledger(stage=STAGE, unit="cell", inputs=[p.name for p in paths])
    frames = []
    for p in paths:
        fc = read_cells(p, unit=unit, period=period, table=table, sheet=sheet)
        cells = fc.cells
        ledger.rows_in += len(cells)
        if fc.currency == "CNY" and cny_per_usd is None:
            raise SourceFormatError(
                "values are in yuan (CNY); give the exchange rate: cny_per_usd=7.1 for one rate, or "
                "cny_per_usd=RATES.csv with monthly rates (columns period,cny_per_usd)", path=p)
        loc = _locate(fc)
        cells = pd.concat([cells, loc], axis=1)
        cells["currency"], cells["file"] = fc.currency, p.name
        cells["raw"] = cells["raw"].astype("str").where(~cells["raw"].isin(NA_VALUES), "")
        num, _, _ = parse_numbers(cells["raw"])
        cells["num"] = num * fc.multiplier
        cells = _set_aside(ledger, cells, cells["flow"] == "T", "not_a_flow")
        cells = _set_aside(ledger, cells, cells["flow"] == "?", "unknown_flow")
        for reason in ("aggregate_area", "unknown_region", "no_location"):
            cells = _set_aside(ledger, cells, cells["reason"] == reason, reason)
        cells = _set_aside(ledger, cells, cells["year"].isna() | cells["month"].isna(), "bad_period")
        ledger.notes.append(f"{p.name}: {fc.table} table, unit {fc.currency} x {fc.multiplier:g}")
        frames.append(cells)
    cells = pd.concat(frames, ignore_index=True)
    cells["year"] = cells["year"].astype("float64")
    cells["month"] = cells["month"].astype("float64")
    rows = _derive(cells, ledger, monthly_from)
    # currency: a number in the file's unit -> US dollars (yuan at the month's own rate)
    usd = rows["amount"].astype("float64")
    cny = rows["numeric"] & (rows["currency"] == "CNY")
    if cny.any():
        rate = _rates(cny_per_usd, paths[0])
        usd.loc[cny] = usd.loc[cny] / rate(rows.loc[cny, "period"]).to_numpy()
    # an unusable cell keeps its text, so finish_flows sets it aside as missing or non-numeric
    value = usd.astype(object).where(rows["numeric"], rows["raw"].astype(object))
    flows = pd.DataFrame({
        "period": rows["period"],
        "reporter": rows["reporter"],
        "region": rows["region"],
        "partner": rows["partner"],
        "flow": rows["flow"],
        "hs": "TOTAL",
        "value_usd": value,
        "valuation": np.where(rows["flow"] == "M", "CIF", "FOB"),
        "estimated": rows["estimated"].astype(bool),
        "source": SOURCE,
    })
    flows = flows.sort_values(["period", "reporter", "region", "partner", "flow"], kind="stable")
    return finish_flows(flows, ledger, SOURCE, where=f"{', '.join(p.name for p in paths)}: china-customs output")

