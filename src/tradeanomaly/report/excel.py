"""``flags.xlsx``: the cases, their members, every finding and the ledger, one sheet each (optional extra ``excel``).

Every text cell is stored as a string cell, so a partner or product name beginning with ``=``, ``+``, ``-`` or
``@`` opens as text and is never evaluated as a formula. Each sheet has a frozen header row and an autofilter.
The bytes are the same for the same tables: the workbook's created/modified times are fixed and the zip entries
carry one fixed timestamp.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import require

if TYPE_CHECKING:  # pragma: no cover
    from ..result import RunResult
    from ..schema import Ledger

#: rows a sheet holds below its header (Excel's limit is 1,048,576 including the header)
MAX_ROWS = 1_048_575
FIXED_TIME = _dt.datetime(2000, 1, 1)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def ledger_table(ledgers: "list[Ledger]") -> pd.DataFrame:
    """One row per stage and reason: rows counted and the examples set aside (up to three, ``|``-separated)."""
    rows = []
    for led in ledgers:
        d = led.to_dict()
        for reason, n in d["counts"].items():
            ex = d["examples"].get(reason) or [] if reason != "kept" else []
            rows.append({"stage": d["stage"], "unit": d["unit"], "reason": reason, "rows": int(n),
                         "rows_in_stage": int(d["rows_in"]), "example": " | ".join(str(e) for e in ex[:3])})
    return pd.DataFrame(rows, columns=["stage", "unit", "reason", "rows", "rows_in_stage", "example"])


def _cell_value(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return None if isinstance(v, float) and not math.isfinite(v) else v
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(v, "item"):  # numpy scalars
        return _cell_value(v.item())
    return str(v)


def _sheet(wb, title: str, df: pd.DataFrame, notes: list[str]) -> None:
    from openpyxl.utils import get_column_letter

    ws = wb.create_sheet(title)
    cols = [str(c) for c in df.columns]
    ws.append(cols)
    if len(df) > MAX_ROWS:
        notes.append(f"sheet {title}: the first {MAX_ROWS:,} of {len(df):,} rows (the rest are in the CSV files)")
        df = df.head(MAX_ROWS)
    for rec in df.astype(object).itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in rec])
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a string cell, whatever it begins with: never a formula
    ws.freeze_panes = "A2"
    if cols:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(cols))}{max(len(df) + 1, 1)}"
        for i, c in enumerate(cols, start=1):
            width = max([len(c)] + [len(str(v)) for v in df[df.columns[i - 1]].head(200)]) + 2
            ws.column_dimensions[get_column_letter(i)].width = min(width, 60)


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def _restamp(data: bytes) -> bytes:
    """The same zip with every entry stamped with one fixed time, in the original order, and the workbook's
    modified time (which openpyxl sets to the clock on saving) fixed like its created time."""
    src = zipfile.ZipFile(io.BytesIO(data))
    fixed_iso = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _MODIFIED.sub(rb"\g<1>" + fixed_iso + rb"\g<2>", body)
            dst.writestr(fixed, body)
    return buf.getvalue()


def workbook_bytes(flags: pd.DataFrame | None, members: pd.DataFrame | None, findings: pd.DataFrame | None,
                   ledger: pd.DataFrame) -> bytes:
    openpyxl = require("openpyxl", "excel", "Writing flags.xlsx")
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    notes: list[str] = []
    for title, df in (("cases", flags), ("members", members), ("findings", findings), ("ledger", ledger)):
        _sheet(wb, title, df if df is not None else pd.DataFrame(), notes)
    if notes:
        _sheet(wb, "notes", pd.DataFrame({"note": notes}), [])
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "tradeanomaly"
    buf = io.BytesIO()
    wb.save(buf)
    return _restamp(buf.getvalue())


def write_xlsx(result: "RunResult", path_or_buf) -> None:
    """Write ``flags.xlsx`` for ``result`` to a path or a binary stream."""
    data = workbook_bytes(result.flags, result.members, result.findings, ledger_table(result.ledgers))
    if isinstance(path_or_buf, (str, Path)):
        Path(path_or_buf).write_bytes(data)
    else:
        path_or_buf.write(data)


def excel_available() -> bool:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        return False
    return True
