"""The flags table: its columns, its byte-stable CSV form, and its status against the previous run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import frequencies, period_ordinal

FLAG_COLUMNS: tuple[str, ...] = (
    "rank", "case_id", "subject", "reporter", "partner", "hub", "region", "hs", "period", "kind", "score",
    "evidence", "confidence", "signals", "usd_at_stake", "members", "persistence", "status", "label", "headline",
    "explanation",
)
#: the case's members (see :func:`tradeanomaly.ranking.rank`)
MEMBER_COLUMNS: tuple[str, ...] = (
    "case_id", "subject", "period", "check", "signal", "score", "evidence", "usd_at_stake", "detail",
)
NUMERIC = ("score", "evidence", "usd_at_stake")
INTEGER = ("members", "persistence")
LABELS = ("fraud_signal", "structural", "chronic")


def empty_flags() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="str") for c in FLAG_COLUMNS})
    for c in NUMERIC:
        df[c] = df[c].astype(float)
    for c in INTEGER:
        df[c] = pd.Series(dtype="int64")
    df["rank"] = pd.Series(dtype="Int64")
    return df


def split_range(period: str) -> tuple[str, str]:
    a, _, b = str(period).partition(":")
    return a, (b or a)


def period_range(first: str, last: str) -> str:
    """``first:last``, or one label when they are equal or one is empty (a test over the whole sample)."""
    first, last = str(first or ""), str(last or "")
    if not first or not last or first == last:
        return first or last
    return f"{first}:{last}"


def _bounds(periods: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    first, last = zip(*[split_range(p) for p in periods.astype("str")]) if len(periods) else ((), ())
    first = pd.Series(first, dtype="str")
    last = pd.Series(last, dtype="str")
    ok = (first != "").to_numpy()
    f = np.where(ok, period_ordinal(first.where(first != "", "2000")), 0)
    la = np.where(ok, period_ordinal(last.where(last != "", "2000")), 0)
    fr = np.where(ok, frequencies(first.where(first != "", "2000")), "")
    return f, la, fr


def with_status(flags: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """``persisting`` when the previous run flagged the same subject with the same label in a period range that
    overlaps or touches this one; ``new`` otherwise. Previous flags (not themselves resolved) that match nothing now
    are appended as ``resolved`` with an empty rank."""
    flags = flags.copy()
    flags["status"] = "new"
    if previous is None or len(previous) == 0:
        return flags
    prev = previous.copy()
    for c in FLAG_COLUMNS:
        if c not in prev.columns:
            prev[c] = np.nan if c in (*NUMERIC, *INTEGER, "rank") else ""
    prev = prev.loc[prev["status"].astype("str") != "resolved"].reset_index(drop=True)
    for c in FLAG_COLUMNS:
        if c not in (*NUMERIC, *INTEGER, "rank"):
            prev[c] = prev[c].astype("str").where(prev[c].notna(), "")
    cf, cl, cfr = _bounds(flags["period"])
    pf, pl, pfr = _bounds(prev["period"])
    a = flags[["subject", "label"]].assign(_i=np.arange(len(flags)), _f=cf, _l=cl, _fr=cfr)
    b = prev[["subject", "label"]].assign(_j=np.arange(len(prev)), _pf=pf, _pl=pl, _pfr=pfr)
    m = a.merge(b, on=["subject", "label"])
    m = m.loc[(m["_fr"] == m["_pfr"]) & (m["_f"] <= m["_pl"] + 1) & (m["_pf"] <= m["_l"] + 1)]
    flags.loc[flags.index[np.unique(m["_i"].to_numpy())], "status"] = "persisting"
    gone = prev.loc[~prev.index.isin(np.unique(m["_j"].to_numpy()))].copy()
    if gone.empty:
        return flags
    gone["status"] = "resolved"
    gone["rank"] = pd.NA
    for c in NUMERIC:
        gone[c] = pd.to_numeric(gone[c], errors="coerce")
    for c in INTEGER:
        gone[c] = pd.to_numeric(gone[c], errors="coerce").fillna(0).astype("int64")
    gone = gone.sort_values(["subject", "period"], kind="mergesort")
    return pd.concat([flags, gone[list(FLAG_COLUMNS)]], ignore_index=True)


def finish(flags: pd.DataFrame) -> pd.DataFrame:
    """Column order and types of a flags table (rounded so the CSV is byte-stable)."""
    out = flags.copy()
    for c in FLAG_COLUMNS:
        if c not in out.columns:
            out[c] = "" if c not in (*NUMERIC, *INTEGER, "rank") else np.nan
    out["rank"] = out["rank"].astype("Int64")
    for c in INTEGER:
        out[c] = pd.to_numeric(out[c], errors="coerce").fillna(0).astype("int64")
    out["score"] = out["score"].astype(float).round(6)
    out["evidence"] = out["evidence"].astype(float).round(6)
    out["usd_at_stake"] = out["usd_at_stake"].astype(float).round(2)
    return out[list(FLAG_COLUMNS)].reset_index(drop=True)


def write_flags_csv(flags: pd.DataFrame, path_or_buf) -> None:
    """Write flags as CSV with fixed formatting (byte-identical for identical flags); text a spreadsheet would run
    as a formula is quoted (:mod:`tradeanomaly.csvsafe`)."""
    from ..csvsafe import protect

    protect(flags[list(FLAG_COLUMNS)]).to_csv(path_or_buf, index=False, lineterminator="\n")


def read_flags_csv(path_or_buf) -> pd.DataFrame:
    """Read a flags CSV written by :func:`write_flags_csv` (codes as text, ``NA`` kept as Namibia)."""
    from ..csvsafe import unprotect

    df = unprotect(pd.read_csv(path_or_buf, dtype=str, keep_default_na=False, na_values=[]))
    for c in NUMERIC:
        if c in df:
            df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="coerce")
    for c in INTEGER:
        if c in df:
            df[c] = pd.to_numeric(df[c].replace("", "0"), errors="coerce").fillna(0).astype("int64")
    if "rank" in df:
        df["rank"] = pd.to_numeric(df["rank"].replace("", np.nan), errors="coerce").astype("Int64")
    return df
