"""The mirror check's entry point: pairing, gaps, reliability and tempering, findings, unit values and the
tables (``run``), and the files of ``tradeanomaly mirror`` (``write_outputs``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ...schema import make_findings
from ..base import CheckResult
from ..reliability import reliability_table
from .findings import _label_tables, build_findings
from .gaps import gap_measures
from .pairing import pair_flows
from .params import CHECK, MirrorParams


# ----------------------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------------------


def _code_order(df: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
    """Row order by the codes of ``columns`` (stable), ``None`` when the rows are in that order already (the pair
    table comes out of the pairing sorted by period, exporter, importer and product)."""
    codes = [df[c].cat.codes.to_numpy() for c in columns]
    sizes = [len(df[c].cat.categories) + 1 for c in columns]
    if len(df) > 1 and math.prod(sizes) < 2**62:
        key = np.zeros(len(df), dtype=np.int64)
        for c, size in zip(codes, sizes):
            key *= size
            key += c.astype(np.int64) + 1
        if (key[1:] > key[:-1]).all():
            return None
    return np.lexsort(codes[::-1])


def _in_order(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    order = _code_order(df, columns)
    return df if order is None else df.iloc[order]


def _test_mask(period_codes: np.ndarray, labels: np.ndarray, periods: list[str] | None) -> np.ndarray:
    if periods is None:
        return np.ones(len(period_codes), dtype=bool)
    wanted = np.isin(np.asarray(labels, dtype=object).astype(str), [str(p) for p in periods])
    return wanted[period_codes] if len(labels) else np.zeros(len(period_codes), dtype=bool)


def run(flows: pd.DataFrame, *, params: MirrorParams | None = None, periods: list[str] | None = None) -> CheckResult:
    """Mirror check over a flows table. Findings only for ``periods`` (all periods when ``None``); the history
    norm of each period uses the periods before it. Tables: ``mirror_gaps``, ``one_sided``, ``reliability``,
    ``unit_values``; ledger ``mirror.pairing``."""
    from .. import unit_value

    params = params or MirrorParams()
    pairing = pair_flows(flows, params)
    gaps = gap_measures(pairing, params)
    test = _test_mask(gaps["p"].to_numpy(), pairing.period_labels, periods)

    # reliability from the periods not under test (a fraud under test must not excuse itself); all if none left
    base = ~test if (~test).any() else np.ones(len(gaps), dtype=bool)
    lg = gaps["log_gap"].to_numpy()
    rel = reliability_table(pairing.countries, gaps["e"].to_numpy()[base], gaps["i"].to_numpy()[base],
                            np.abs(lg[base]), pairing.estimated_share)
    rel_imp = pd.Series(rel["reliability_importer"].to_numpy(),
                        index=pd.Index(rel["country"].astype(str))).reindex(pairing.countries).to_numpy()
    temper = np.where(np.isfinite(rel_imp), rel_imp, 1.0)[gaps["i"].to_numpy()] if params.temper \
        else np.ones(len(gaps))
    gaps["temper"] = temper

    table = _label_tables(gaps, pairing)
    findings = build_findings(table, pairing, params, test)

    uv = unit_value.run_pairs(table, params, test, pairing)
    if len(uv.findings):
        findings = make_findings(pd.concat([findings, uv.findings], ignore_index=True).sort_values(
            ["score", "check", "signal", "subject", "period"], ascending=[False, True, True, True, True],
            kind="stable"))

    # codes follow the sorted labels: sorting the codes sorts the table by period, exporter, importer, product
    mirror_gaps = table.drop(columns=["hist_first", "hist_last"])
    mirror_gaps = _in_order(mirror_gaps, ["period", "exporter", "importer", "hs"])
    one_sided = _in_order(_label_tables(pairing.one_sided, pairing), ["period", "exporter", "importer", "hs", "side"])
    return CheckResult(
        check=CHECK,
        findings=findings.reset_index(drop=True),
        tables={"mirror_gaps": mirror_gaps.reset_index(drop=True), "one_sided": one_sided.reset_index(drop=True),
                "reliability": rel, "unit_values": uv.table},
        ledgers=[pairing.ledger] + uv.ledgers,
    )


def write_outputs(result: CheckResult, out_dir, periods: list[str] | None = None) -> dict[str, Path]:
    """Write ``mirror_gaps.csv`` (the pairs of ``periods``, all when ``None``), ``findings.csv`` (ranked by
    score), ``one_sided.csv``, ``reliability.csv``, ``unit_values.csv`` and ``ledger.json`` into ``out_dir``."""
    from ...csvsafe import protect
    from ...schema import ledgers_to_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}

    def only(df: pd.DataFrame) -> pd.DataFrame:
        if periods is None or "period" not in df.columns:
            return df
        return df.loc[df["period"].astype(str).isin([str(p) for p in periods])]

    findings = result.findings.copy()
    findings.insert(0, "rank", np.arange(1, len(findings) + 1))
    frames = {"findings": findings, "mirror_gaps": only(result.tables["mirror_gaps"]),
              "one_sided": only(result.tables["one_sided"]), "reliability": result.tables["reliability"],
              "unit_values": only(result.tables["unit_values"])}
    for name, df in frames.items():
        path = out / f"{name}.csv"
        protect(df).to_csv(path, index=False, lineterminator="\n")
        written[name] = path
    path = out / "ledger.json"
    path.write_text(ledgers_to_json(result.ledgers), encoding="utf-8")
    written["ledger"] = path
    return written
