"""Shared helpers of the signature-check tests (series, invoice_export, entrepot, rush): cached synthetic panels,
the real DOTS file read once, and ranking of planted subjects within a family."""

from __future__ import annotations

import functools

import pandas as pd


@functools.lru_cache(maxsize=3)
def synth_panel(seed: int):
    from tradeanomaly import synth

    return synth.generate(seed)


def subject_ranks(findings: pd.DataFrame) -> pd.Series:
    """Rank (0 = best) of each distinct subject by its best score."""
    best = findings.sort_values(["score", "subject"], ascending=[False, True]).drop_duplicates("subject")
    return pd.Series(range(len(best)), index=best["subject"].to_numpy())


def truth_subject(row) -> str:
    if row["kind"] == "transshipment":
        return f"{row['reporter']}>{row['hub']}>{row['partner']}:{row['hs']}"
    if row["region"]:
        return row["region"]
    return f"{row['reporter']}>{row['partner']}" + (f":{row['hs']}" if row["hs"] else "")


@functools.lru_cache(maxsize=1)
def dots_flows(path: str) -> pd.DataFrame:
    from tradeanomaly.sources import read_source

    return read_source("table", [path], column_map=str(_repo() / "configs/maps/imf-dots-long.yaml")).flows


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]
