"""Period labels: ``YYYY``, ``YYYY-Qn`` or ``YYYY-MM``; parsing the publishers' spellings; arithmetic."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

_PATTERNS = (
    # (regex, kind, builder)
    (re.compile(r"^(\d{4})$"), "A"),
    (re.compile(r"^(\d{4})\s*-?\s*[Qq]([1-4])$"), "Q"),
    (re.compile(r"^(\d{4})\s*[-/.Mm]\s*(\d{1,2})$"), "M"),
    (re.compile(r"^(\d{4})(\d{2})$"), "M"),
)


def normalise_period(label: object) -> str | None:
    """Turn a publisher's period spelling into the canonical one, or ``None`` when it is not a period.

    >>> [normalise_period(p) for p in ("2013", "2013Q1", "2024M2", "2024-02", "202402", "2024.10")]
    ['2013', '2013-Q1', '2024-02', '2024-02', '2024-02', '2024-10']
    """
    if label is None:
        return None
    if isinstance(label, (int, np.integer)):
        label = str(int(label))
    elif isinstance(label, float):
        if np.isnan(label) or label != int(label):
            return None
        label = str(int(label))
    s = str(label).strip()
    for rx, kind in _PATTERNS:
        m = rx.match(s)
        if not m:
            continue
        year = int(m.group(1))
        if not 1800 <= year <= 2200:
            return None
        if kind == "A":
            return f"{year:04d}"
        if kind == "Q":
            return f"{year:04d}-Q{int(m.group(2))}"
        month = int(m.group(2))
        if 1 <= month <= 12:
            return f"{year:04d}-{month:02d}"
        return None
    return None


def normalise_periods(values: pd.Series) -> pd.Series:
    """Vectorised :func:`normalise_period` over distinct values; unparseable labels become ``""``."""
    text = values.astype("str").fillna("")
    codes, uniq = pd.factorize(text)
    mapped = [normalise_period(u) or "" for u in uniq]
    if all(m == u for m, u in zip(mapped, uniq)):
        return text  # already canonical: nothing to rewrite
    return pd.Series(np.asarray(mapped, dtype=object)[codes], index=text.index, dtype="str", name=text.name)


def frequency(period: str) -> str:
    """``A``, ``Q`` or ``M`` for a canonical period label."""
    if len(period) == 4:
        return "A"
    return "Q" if period[5] == "Q" else "M"


def frequencies(periods: pd.Series) -> pd.Series:
    s = periods.astype("str")
    return pd.Series(np.where(s.str.len() == 4, "A", np.where(s.str.contains("Q"), "Q", "M")), index=s.index)


def period_ordinal(periods: pd.Series) -> np.ndarray:
    """Integer position of each period on its own frequency's axis (years, quarters or months since year 0)."""
    s = periods.astype("str")
    year = s.str.slice(0, 4).astype(int).to_numpy()
    sub = s.str.slice(5).to_numpy()
    out = year.astype(np.int64).copy()
    is_q = np.array([x.startswith("Q") for x in sub], dtype=bool)
    is_m = np.array([x != "" and not x.startswith("Q") for x in sub], dtype=bool)
    if is_q.any():
        out[is_q] = year[is_q] * 4 + np.array([int(x[1]) - 1 for x in sub[is_q]])
    if is_m.any():
        out[is_m] = year[is_m] * 12 + np.array([int(x) - 1 for x in sub[is_m]])
    return out


def season(periods: pd.Series) -> np.ndarray:
    """Month (1..12) for monthly periods, quarter (1..4) for quarterly, 0 for annual."""
    s = periods.astype("str")
    sub = s.str.slice(5)
    out = np.zeros(len(s), dtype=np.int64)
    for i, x in enumerate(sub.to_numpy()):
        if x.startswith("Q"):
            out[i] = int(x[1])
        elif x:
            out[i] = int(x)
    return out


def shift(period: str, n: int) -> str:
    """The period ``n`` steps after ``period`` on its own frequency (negative ``n`` goes back)."""
    f = frequency(period)
    y = int(period[:4])
    if f == "A":
        return f"{y + n:04d}"
    if f == "Q":
        k = y * 4 + int(period[6]) - 1 + n
        return f"{k // 4:04d}-Q{k % 4 + 1}"
    k = y * 12 + int(period[5:7]) - 1 + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def period_range(start: str, end: str) -> list[str]:
    """All periods from ``start`` to ``end`` inclusive (same frequency)."""
    if frequency(start) != frequency(end):
        raise ValueError(f"period range {start}:{end} mixes frequencies")
    out, p = [], start
    while p <= end:
        out.append(p)
        p = shift(p, 1)
    return out


def month_span(periods: pd.Series, end: bool) -> np.ndarray:
    """Month ordinal (year * 12 + month - 1) of the first (or, with ``end``, last) month each canonical period
    label covers (``2023`` -> January or December, ``2023-Q2`` -> April or June); -1 for an empty label. Labels
    of different frequencies are compared month by month this way."""
    s = pd.Series(periods).astype("str")
    codes, uniq = pd.factorize(s)
    vals = np.full(len(uniq), -1, dtype=np.int64)
    for k, p in enumerate(uniq):  # once per distinct label
        if not p:
            continue
        y = int(p[:4])
        if len(p) == 4:
            m = 12 if end else 1
        elif p[5] == "Q":
            q = int(p[6])
            m = 3 * q if end else 3 * q - 2
        else:
            m = int(p[5:7])
        vals[k] = y * 12 + m - 1
    return vals[codes] if len(codes) else np.zeros(0, dtype=np.int64)
