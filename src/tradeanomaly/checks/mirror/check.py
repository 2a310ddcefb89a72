"""The mirror check's entry point: pairing, gaps, reliability and tempering, findings, unit values and the
tables (``run``), the results of partitions of the pairs as one (``combine_results``), and the files of
``tradeanomaly mirror`` (``write_outputs``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ...schema import make_findings
from ..base import ROW, CheckResult
from .findings import _label_tables, build_findings
from .gaps import cross_measures
from .params import CHECK, MirrorParams
from .stats import MirrorStats, cached_prepare, combine_stats, prepare, records, test_mask

#: the order of the findings (score first)
FINDING_SORT = ["score", "check", "signal", "subject", "period"]
#: the columns that order the detail tables
TABLE_KEYS = ["period", "exporter", "importer", "hs"]
#: a partition's counts of tests per signal (summed by :func:`combine_results`)
TESTED = "_tested"


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


def run(flows: pd.DataFrame, *, params: MirrorParams | None = None, periods: list[str] | None = None,
        stats: MirrorStats | None = None) -> CheckResult:
    """Mirror check over a flows table. Findings only for ``periods`` (all periods when ``None``); the history
    norm of each period uses the periods before it. Tables: ``mirror_gaps``, ``one_sided``, ``reliability``,
    ``unit_values``; ledger ``mirror.pairing``.

    ``stats``: the statistics across pairs of the whole run (:mod:`.stats`) when ``flows`` is one partition of
    its pairs; without them they come from ``flows`` alone. With ``stats`` the result also holds the table
    ``_tested`` (each signal's count of tests in this partition), which :func:`combine_results` sums into the
    findings' ``n_tested`` and removes."""
    from .. import unit_value

    params = params or MirrorParams()
    local = cached_prepare(flows, params)
    partitioned = stats is not None
    if stats is None:
        stats = combine_stats([records(local, params, periods)])
    elif stats.quantities and "qx" not in local.pairs.columns and len(local.pairs):
        local = prepare(flows, params, quantities=True)  # another partition's pairs carry quantities
    pairing = local.pairing
    gaps = cross_measures(local.pairs, local.own, pairing, params, stats)
    test = test_mask(gaps["p"].to_numpy(), pairing.period_labels, periods)

    # reliability from the periods not under test (a fraud under test must not excuse itself); all if none left:
    # fitted over every pair of the run (the reduce step)
    rel = stats.reliability.copy()
    rel_imp = pd.Series(rel["reliability_importer"].to_numpy(),
                        index=pd.Index(rel["country"].astype(str))).reindex(pairing.countries).to_numpy()
    temper = np.where(np.isfinite(rel_imp), rel_imp, 1.0)[gaps["i"].to_numpy()] if params.temper \
        else np.ones(len(gaps))
    gaps["temper"] = temper

    table = _label_tables(gaps, pairing)
    tested: dict[str, int] = {}
    total_x = stats.total_exports(pairing, gaps["p"].to_numpy()[test], gaps["e"].to_numpy()[test],
                                  local.own["level"][test])
    findings = build_findings(table, pairing, params, test, total_x=total_x, tested=tested)

    uv = unit_value.run_pairs(table, params, test, pairing, prep=local.uv, stats=stats, tested=tested,
                              order_key=ROW in flows.columns)
    if len(uv.findings):
        findings = make_findings(pd.concat([findings, uv.findings], ignore_index=True).sort_values(
            FINDING_SORT, ascending=[False, True, True, True, True], kind="stable"))

    # codes follow the sorted labels: sorting the codes sorts the table by period, exporter, importer, product
    mirror_gaps = table.drop(columns=["hist_first", "hist_last"])
    mirror_gaps = _in_order(mirror_gaps, TABLE_KEYS)
    one_sided = _in_order(_label_tables(pairing.one_sided, pairing), TABLE_KEYS + ["side"])
    tables = {"mirror_gaps": mirror_gaps.reset_index(drop=True), "one_sided": one_sided.reset_index(drop=True),
              "reliability": rel, "unit_values": uv.table}
    if partitioned:
        tables[TESTED] = pd.DataFrame({"signal": list(tested), "n": np.array(list(tested.values()), dtype=np.int64)})
    return CheckResult(check=CHECK, findings=findings.reset_index(drop=True), tables=tables,
                       ledgers=[pairing.ledger] + uv.ledgers)


def combine_results(results: list[CheckResult], stats: MirrorStats | None) -> CheckResult:
    """One result from the results of the partitions of the pairs (in any order): findings in the order of one
    table's run, with ``n_tested`` summed over the partitions; ``mirror_gaps``, ``one_sided`` and ``unit_values``
    concatenated, their labels coded over the whole run's labels and ordered as one table's run orders them; the
    one ``reliability`` table of the run; ledgers summed (their examples the first rows of the input)."""
    from .. import unit_value
    from ..base import merge_ledgers
    from .pairing import REASONS

    tested: dict[str, int] = {}
    for r in results:
        t = r.tables.get(TESTED)
        if t is not None:
            for sig, n in zip(t["signal"].tolist(), t["n"].tolist()):
                tested[sig] = tested.get(sig, 0) + int(n)
    if len(results) == 1:
        findings = results[0].findings
        tables = {k: v for k, v in results[0].tables.items() if k != TESTED}
    else:
        frames = [r.findings for r in results if len(r.findings)]
        findings = results[0].findings
        if frames:
            findings = make_findings(pd.concat(frames, ignore_index=True).sort_values(
                FINDING_SORT, ascending=[False, True, True, True, True], kind="stable")).reset_index(drop=True)
            n = findings["n_tested"].to_numpy().copy()
            sig = findings["signal"].astype(str).to_numpy()
            for s_, total in tested.items():
                n[sig == s_] = float(total)
            findings["n_tested"] = n
        tables = {"mirror_gaps": _merge(results, "mirror_gaps", stats, TABLE_KEYS),
                  "one_sided": _merge(results, "one_sided", stats, TABLE_KEYS + ["side"]),
                  "reliability": results[0].tables["reliability"],
                  "unit_values": _merge(results, "unit_values", stats, TABLE_KEYS)}
    ledgers = merge_ledgers([led for r in results for led in r.ledgers])
    order = {"mirror.pairing": REASONS, "unit_value.pairs": unit_value.REASONS}
    for led in ledgers:
        if led.stage in order and len(results) > 1:
            rank = {k: i for i, k in enumerate(order[led.stage])}
            keys = sorted(led.counts, key=lambda k: rank.get(k, len(rank)))
            led.counts = type(led.counts)((k, led.counts[k]) for k in keys)
            led.examples = {k: led.examples[k] for k in keys if k in led.examples}
    return CheckResult(check=results[0].check, findings=findings, tables=tables, ledgers=ledgers)


def _merge(results: list[CheckResult], name: str, stats: MirrorStats | None, keys: list[str]) -> pd.DataFrame:
    parts = [r.tables[name] for r in results if name in r.tables and len(r.tables[name].columns)]
    if not parts:
        return results[0].tables.get(name, pd.DataFrame())
    df = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    if stats is not None:
        vocab = {"period": stats.periods, "exporter": stats.countries, "importer": stats.countries, "hs": stats.hs,
                 "tau_source": stats.tau_labels}
    else:  # no run statistics: the labels the parts hold
        def union(cols, ordered=True):
            seen = [c for p in parts for col in cols if col in p.columns
                    for c in (p[col].cat.categories if isinstance(p[col].dtype, pd.CategoricalDtype) else [])]
            return sorted(set(seen)) if ordered else list(dict.fromkeys(seen))

        vocab = {"period": union(["period"]), "exporter": union(["exporter", "importer"]),
                 "importer": union(["exporter", "importer"]), "hs": union(["hs"]),
                 "tau_source": union(["tau_source"], ordered=False)}
    for col, labels in vocab.items():
        if col in df.columns:
            df[col] = pd.Categorical(df[col].astype(object), categories=pd.Index(labels))
    return _in_order(df, keys).reset_index(drop=True)


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
