"""Report tables as CSV that a spreadsheet opens as text, never as formulas.

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel, LibreOffice
and Google Sheets as a formula (CSV injection; OWASP, "CSV Injection"). Every report table the tool writes as CSV
(``flags.csv``, ``findings.csv``, ``case_members.csv``, the detail tables) goes through :func:`protect`, which
prefixes such text cells with a single quote, as OWASP advises; numeric columns are left as they are (a negative
number is a number). :func:`unprotect` undoes it when the tool reads its own flags back.
"""

from __future__ import annotations

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_columns(df: pd.DataFrame) -> list:
    return [c for c in df.columns if pd.api.types.is_object_dtype(df[c]) or pd.api.types.is_string_dtype(df[c])]


def protect(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells that a spreadsheet would run as a formula start with ``'``."""
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)
            and any(str(v).startswith(FORMULA_START) for v in df[c].cat.categories)]
    cols = [c for c in _text_columns(df) if len(df)]
    if not cols and not cats:
        return df
    out = df.copy()
    for c in cats:  # categories are renamed once (a category a formula would be is rare; the codes stay)
        cat = out[c].cat.categories
        out[c] = out[c].cat.rename_categories(
            ["'" + str(v) if str(v).startswith(FORMULA_START) else v for v in cat])
    for c in cols:
        s = out[c]
        text = s.astype("str")
        risky = s.notna() & text.str.startswith(FORMULA_START)
        if risky.any():
            out[c] = s.where(~risky, "'" + text)
    return out


def unprotect(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`protect` on text read back from such a CSV."""
    out = df.copy()
    for c in _text_columns(out):
        s = out[c]
        text = s.astype("str")
        quoted = s.notna() & text.str.startswith(tuple("'" + f for f in FORMULA_START))
        if quoted.any():
            out[c] = s.where(~quoted, text.str.slice(1))
    return out
