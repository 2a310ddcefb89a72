"""China Customs (GACC) tables read into cells (:mod:`tradeanomaly.sources.china_customs` turns them into flows):
a CSV or Excel file as a grid of text cells, the labels of its title, unit line and columns (units, periods,
flows), and one row per location and value column of a wide or long table (``read_cells``, ``FileCells``)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import SourceFormatError, require
from ..periods import normalise_period
from .base import EMPTY_FILE, detect_encoding

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
