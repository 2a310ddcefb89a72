"""Shared helpers of the signature-check tests (series, invoice_export, entrepot, rush): cached synthetic panels,
the real DOTS file read once, and ranking of planted subjects within a family."""

from __future__ import annotations

import functools

import pandas as pd


@functools.lru_cache(maxsize=3)
def synth_panel(seed: int):
    from tradeanomaly import synth

    return synth.generate(seed)


@functools.lru_cache(maxsize=None)
def check_run(name: str, seed: int, periods: tuple | None = None, signals: tuple | None = None):
    """One check's result on a synthetic panel, computed once per session (several tests read the same run)."""
    import importlib

    module = importlib.import_module(f"tradeanomaly.checks.{name}")
    kwargs = {"periods": list(periods) if periods is not None else None}
    if signals is not None:
        params_cls = {"series": "SeriesParams", "invoice_export": "InvoiceExportParams",
                      "entrepot": "EntrepotParams"}[name]
        kwargs["params"] = getattr(module, params_cls)(signals=signals)
    return module.run(synth_panel(seed).flows, **kwargs)


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


@functools.lru_cache(maxsize=1)
def census_flows(path: str) -> pd.DataFrame:
    from tradeanomaly.sources import read_source

    return read_source("census", [path]).flows


@functools.lru_cache(maxsize=1)
def comtrade_flows(path: str) -> pd.DataFrame:
    from tradeanomaly.sources import read_source

    return read_source("comtrade", [path], allow_sitc=True).flows


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[1]
