"""The Benford check on the flows table: rows set aside (ledger), q-values across groups, findings and their
explanations, and the suspects behind each finding."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...errors import ConfigError, SchemaError
from ...schema import Ledger, make_findings
from ..base import ROW, CheckResult, merge_ledgers
from ..digit_stats import CONFORMITY, DIGITS, FINDING_TESTS, NIGRINI_MAD, NONCONFORMING, log_bh
from ..digit_windows import SIDES, window_part, window_result, window_spans
from . import counting
from .counting import _pow10
from .engine import GroupedBenford, analyse_groups
from .estimated import estimated_counts, estimated_table, estimated_table_from_counts
from .words import FLOW_WORDS, _describe_group, _fmt_digits, _fmt_q, _subject


SIGNAL_LABEL = {
    "first_digit": "first-digit",
    "second_digit": "second-digit",
    "first_two_digits": "first-two-digits",
    "last_two_digits": "last-two-digits",
}
SCORE_CAP = 30.0
_KEY_FINDING_COLUMNS = ("reporter", "partner", "hub", "region", "hs", "period")


def qvalues(gb: GroupedBenford) -> dict[str, np.ndarray]:
    """Benjamini-Hochberg across the groups with enough data, per test (log scale); stored on ``gb``."""
    out = {name: log_bh(lp) for name, lp in _logp(gb).items()}
    gb.qvalues = out
    return out


_DEFAULTS = dict(group_by=("reporter",), min_value=10.0, min_n=300, min_span=2.0, alpha=0.05, exclude_estimated=True,
                 top_digits=3, max_suspects=200, windows=True, window_step_months=3, window_min_history=4,
                 window_z_min=3.0)
#: the columns whose aggregate rows (``hs == "TOTAL"``, ``partner == "WLD"``) are set aside when the table also has
#: the rows they sum
_AGGREGATES = (("hs", "TOTAL", "aggregate_product"), ("partner", "WLD", "aggregate_partner"))
_BAD = ["marginally acceptable conformity", "nonconformity", NONCONFORMING]
_PART = "_benford_part"


def run(
    flows: pd.DataFrame,
    *,
    group_by: Sequence[str] = ("reporter",),
    min_value: float = 10.0,
    min_n: int = 300,
    min_span: float = 2.0,
    alpha: float = 0.05,
    exclude_estimated: bool = True,
    top_digits: int = 3,
    max_suspects: int = 200,
    periods: Sequence[str] | None = None,
    windows: bool = True,
    window_step_months: int = 3,
    window_min_history: int = 4,
    window_z_min: float = 3.0,
) -> CheckResult:
    """Benford findings for every group of the flows table (default: one group per reporter).

    With ``windows`` (the default) the findings are the windowed tests of :mod:`..digit_windows` (each reporter's
    exports and imports, twelve months at a time, against its own other windows), for the windows ending in
    ``periods``; the tests of each group over the ``periods`` under test stay in the ``benford_audit`` table. Without
    ``windows`` those group tests are the findings, as described below.

    Rows left out (ledger reasons): ``estimated`` (publisher estimates are the partner's figure with a factor, not
    a report of their own), ``aggregate_product`` (``hs == "TOTAL"`` where product-level rows exist: totals are
    sums of the rows beside them), ``aggregate_partner`` (``partner == "WLD"`` where partner rows exist),
    ``not_positive`` (zero or missing) and ``below_min_value``.

    A group yields a finding for a test when (i) it has ``min_n`` amounts spanning ``min_span`` decades, (ii) the
    Benjamini-Hochberg q-value of its chi-square across all groups is at most ``alpha``, and (iii) its MAD is
    beyond what an honest sample of its size shows and, where Nigrini gives bounds, at least "marginally
    acceptable". For round numbers: q at most ``alpha`` and at least twice the expected 1 % share. ``score`` is
    ``-log10(q)`` capped at 30 (higher = more anomalous). ``usd_at_stake`` sums the amounts whose digits are the
    most over-represented (the suspects, listed in the ``benford_suspects`` table).

    The same as :func:`combine_parts` of one :func:`run_part` of the whole table; a run split by reporter calls
    :func:`reduce_part` on each part, :func:`reduce_combine`, :func:`run_part` on each part and :func:`combine_parts`.
    """
    params = dict(group_by=group_by, min_value=min_value, min_n=min_n, min_span=min_span, alpha=alpha,
                  exclude_estimated=exclude_estimated, top_digits=top_digits, max_suspects=max_suspects,
                  windows=windows, window_step_months=window_step_months, window_min_history=window_min_history,
                  window_z_min=window_z_min)
    return combine_parts([run_part(flows, periods=periods, **params)], periods=periods, **params)


def _aside_rules(flows: pd.DataFrame, exclude_estimated: bool, min_value: float,
                 flags: Mapping[str, bool] | None, masks: Mapping[str, np.ndarray] | None = None
                 ) -> list[tuple[str, np.ndarray]]:
    """``(reason, mask)`` of the rows set aside, in order of precedence (a row counts under the first that applies).
    ``flags``: per column of :data:`_AGGREGATES`, whether its aggregate rows are set aside (the whole table's
    decision); ``None``: decided on ``flows`` (where it has both aggregate and other rows). ``masks``: the aggregate
    rows of a column where already known."""
    rules = []
    if exclude_estimated and "estimated" in flows.columns:
        rules.append(("estimated", flows["estimated"].fillna(False).astype(bool).to_numpy()))
    for col, code, reason in _AGGREGATES:
        if col in flows.columns:
            if flags is not None and not flags.get(col, False):
                continue
            m = masks[col] if masks is not None and col in masks else (flows[col].astype("str") == code).to_numpy()
            if (m.any() and not m.all()) if flags is None else True:
                rules.append((reason, m))
    v = pd.to_numeric(flows["value_usd"], errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        rules.append(("not_positive", ~(np.isfinite(v) & (v > 0))))
        rules.append(("below_min_value", v < min_value))
    return rules


def _in_periods(flows: pd.DataFrame, periods) -> np.ndarray | None:
    if periods is None:
        return None
    return flows["period"].astype("str").isin([str(p) for p in periods]).to_numpy()


def _mixed(parts: list, key) -> dict:
    """Per column, whether the parts together hold aggregate rows and other rows (any and not all)."""
    out = {}
    for p in parts:
        for col, (a, b) in (p.get(key) or {}).items():
            prev = out.get(col, (False, True))
            out[col] = (prev[0] or a, prev[1] and b)
    return {col: bool(a and not b) for col, (a, b) in out.items()}


def reduce_part(flows: pd.DataFrame, *, periods: Sequence[str] | None = None, **params) -> dict:
    """This part's share of the whole table's statistics that the Benford check needs when the table is split by
    reporter (:func:`reduce_combine` adds them up): its rows; per aggregate column, whether it has aggregate rows and
    whether all its rows are (the totals and world-partner rows are set aside only where the whole table has both
    kinds, and the publisher-estimates table leaves out totals likewise over the periods under test); and, for each
    choice of those two settings, the periods its windowed rows span, the number of groups of the digit tests and
    where their records are (a bitmap over the rows' positions in the input)."""
    p = {**_DEFAULTS, **params}
    group_by = list(p["group_by"])
    out: dict = {"n_rows": len(flows), "mixed": {}, "mixed_test": {}, "spans": None, "groups": None}
    masks = {}
    for col, code, _ in _AGGREGATES:
        if col in flows.columns:
            masks[col] = (flows[col].astype("str") == code).to_numpy()
            out["mixed"][col] = (bool(masks[col].any()), bool(masks[col].all()))
    test = None
    per = pd.factorize(flows["period"].astype("str")) if "period" in flows.columns else None
    if periods is not None and per is not None:
        test = np.isin(np.asarray(per[1], dtype=object), [str(x) for x in periods])[per[0]]
    if "hs" in masks and "estimated" in flows.columns:
        m = masks["hs"] if test is None else masks["hs"][test]
        out["mixed_test"]["hs"] = (bool(m.any()), bool(m.all()))
    if not len(flows) or any(c not in flows.columns for c in group_by + ["value_usd"]):
        return out
    base = np.ones(len(flows), dtype=bool)
    for _, m in _aside_rules(flows, p["exclude_estimated"], p["min_value"], {}, masks):
        base &= ~m
    combos = [(a, b) for a in (False, True) for b in (False, True)]
    keeps = {}
    for a, b in combos:
        # a setting changes nothing where this part has no such aggregate rows
        eff = (a and "hs" in masks and out["mixed"]["hs"][0], b and "partner" in masks and out["mixed"]["partner"][0])
        if eff not in keeps:
            k = base.copy()
            if eff[0]:
                k &= ~masks["hs"]
            if eff[1]:
                k &= ~masks["partner"]
            keeps[eff] = k
        keeps[(a, b)] = keeps[eff]
    codes = np.zeros(len(flows), dtype=np.int64)
    for c in group_by:
        cc, uniq = pd.factorize(flows[c].astype("str"))
        codes = codes * (len(uniq) + 1) + cc
    # the records of the group tests (rows kept, in the periods under test): how many groups they form (one group
    # takes the one-sample passes), and where they are in the input (the whole table's record pass cuts its chunks
    # every so many records: the parts cut theirs at the same rows, so each group's sums keep their bits)
    # (without the rows' positions, ``_row``, the parts keep their own chunks: see :func:`reduce_combine`)
    rows = flows[ROW].to_numpy(dtype=np.int64) if ROW in flows.columns else None
    out["groups"], out["records"] = {}, ({} if rows is not None else None)
    for combo in combos:
        kt = keeps[combo] if test is None else keeps[combo] & test
        ck = codes[kt]
        dense = len(ck) and int(ck.max()) < 4 * len(flows) + 1024
        out["groups"][combo] = int(np.count_nonzero(np.bincount(ck))) if dense else int(len(pd.unique(ck)))
        if rows is None:
            continue
        r = rows[kt]
        bitmap = np.zeros(int(r.max()) + 1 if len(r) else 0, dtype=bool)
        bitmap[r] = True
        out["records"][combo] = np.packbits(bitmap)
    if p["windows"] and {"reporter", "flow", "period"} <= set(flows.columns):
        side = flows["flow"].astype("str").isin(list(SIDES)).to_numpy(dtype=bool)
        spans = window_spans(flows["period"], [keeps[c] & side for c in combos], per)
        out["spans"] = dict(zip(combos, spans))
    return out


def reduce_combine(parts: list) -> dict:
    """The whole table's statistics from the parts' :func:`reduce_part` (see there)."""
    parts = [p for p in parts if p is not None]
    out = {"n_rows": sum(int(p["n_rows"]) for p in parts), "flags": _mixed(parts, "mixed"),
           "flags_test": _mixed(parts, "mixed_test"), "spans": None, "groups": None}
    spans: dict = {}
    groups: dict = {}
    cuts: dict = {}
    for p in parts:
        for combo, n in (p.get("groups") or {}).items():
            groups[combo] = groups.get(combo, 0) + n
        for combo, sp in (p.get("spans") or {}).items():
            acc = spans.setdefault(combo, {})
            for fr, (lo, hi) in sp.items():
                a = acc.get(fr, (lo, hi))
                acc[fr] = (min(a[0], lo), max(a[1], hi))
    out["spans"] = spans or None
    out["groups"] = groups or None
    if any(int(p["n_rows"]) > 0 and p.get("groups") is not None and p.get("records") is None for p in parts):
        # a part without its rows' positions: the parts cut their own chunks (the float sums of a group whose
        # records the whole table's pass spreads over several chunks may then differ in their last bits)
        cuts = None
    elif sum(int(p["n_rows"]) > 0 for p in parts) > 1:
        # the positions at which the whole table's record pass starts each chunk after the first
        for combo, n_groups in groups.items():
            maps = [p["records"][combo] for p in parts if p.get("records")]
            union = np.zeros(max((len(m) for m in maps), default=0), dtype=np.uint8)
            for m in maps:
                union[:len(m)] |= m
            size = max(counting._PASS_CHUNK, 8 * n_groups)
            cuts[combo] = np.flatnonzero(np.unpackbits(union))[size::size]
    out["cuts"] = cuts
    return out


def _logp(gb: GroupedBenford) -> dict[str, np.ndarray]:
    """Per test, the log p-value of each group with enough data (NaN for the others)."""
    out = {}
    for name in FINDING_TESTS:
        out[name] = np.where(gb.enough[name], gb.stats[name]["logp"], np.nan)
    from scipy import stats

    with np.errstate(divide="ignore"):
        out["round_numbers"] = np.where(
            gb.round_numbers["n"] >= gb.min_n,
            np.maximum(stats.binom.logsf(gb.round_numbers["count"] - 1, gb.round_numbers["n"], 0.01), -1e4), np.nan)
    return out


def run_part(flows: pd.DataFrame, *, periods: Sequence[str] | None = None, stats: dict | None = None,
             **params) -> CheckResult:
    """The Benford check's work on some reporters' rows (``stats``: :func:`reduce_combine` of every part's
    :func:`reduce_part`; ``None``: ``flows`` is the whole table): the ledger, and what :func:`combine_parts` needs to
    finish the check over all parts: each group's tests and p-values, the candidate findings (q-values are taken
    over all groups, so without them every group that fails a test otherwise), their suspects, the windows' counts.

    A part that holds every row of the table does the global steps itself (only its findings are candidates)."""
    p = {**_DEFAULTS, **params}
    group_by = list(p["group_by"])
    min_value, min_n, alpha = p["min_value"], p["min_n"], p["alpha"]
    missing = [c for c in group_by + ["value_usd"] if c not in flows.columns]
    if missing:
        raise SchemaError(f"benford check: flows table lacks column(s) {missing}; "
                          f"group by columns of the flows table ({', '.join(flows.columns)})")
    whole = stats is None or len(flows) == int(stats["n_rows"])
    flags = None if stats is None else stats["flags"]
    ledger = Ledger(stage="check:benford", rows_in=len(flows))
    # reasons in order of precedence; each row is counted under the first that applies; one filter at the end
    left = np.ones(len(flows), dtype=bool)
    for reason, mask in _aside_rules(flows, p["exclude_estimated"], min_value, flags):
        hit = left & np.asarray(mask, dtype=bool)
        n = int(hit.sum())
        if n:
            ledger.add(reason, n, flows.iloc[np.flatnonzero(hit)[:3]])
            left[hit] = False
    combo = None if flags is None else (bool(flags.get("hs", False)), bool(flags.get("partner", False)))
    extra = [c for c in ("flow", "period", "reporter") if c in flows.columns and c not in group_by]
    if ROW in flows.columns and ROW not in group_by:
        extra.append(ROW)
    df_all = flows.loc[left, group_by + ["value_usd"] + extra]
    ledger.finish(df_all)
    part: dict = {"windows": None, "groups": None, "candidates": [], "suspects": {}, "flows": None,
                  "estimated": None, "whole": whole}
    if p["windows"] and {"reporter", "flow", "period"} <= set(flows.columns):
        spans = None if stats is None or stats.get("spans") is None else stats["spans"].get(combo, {})
        part["windows"] = window_part(df_all, min_n=min_n, step_months=p["window_step_months"], spans=spans,
                                      first=df_all[ROW].to_numpy() if ROW in df_all.columns else None)
    test = _in_periods(df_all, periods)
    df = df_all if test is None else df_all.loc[test]
    if periods is not None:
        flows = flows.loc[_in_periods(flows, periods)]
    if "flow" in df.columns:
        part["flows"] = set(df["flow"].astype("str").unique())
    if "estimated" in flows.columns:
        if whole:
            part["estimated"] = ("table", estimated_table(flows, min_value=min_value, min_n=min_n))
        else:
            part["estimated"] = ("counts", estimated_counts(flows, min_value=min_value,
                                                            drop_totals=stats["flags_test"].get("hs", False)))
    if whole or len(df):
        _group_part(df, part, group_by, p, whole, stats, combo)
    return CheckResult(check="benford", tables={_PART: part}, ledgers=[ledger])


def _group_part(df: pd.DataFrame, part: dict, group_by: list[str], p: dict, whole: bool, stats: dict | None,
                combo) -> None:
    """Each group's tests (the audit rows without q-values, with the log p-values), the candidate findings and
    their suspects, into ``part``."""
    min_n, alpha = p["min_n"], p["alpha"]
    keys_df = df[group_by].astype("str") if group_by else None
    # beside other groups, one group takes the passes of many (the bits of its sums are those of the whole run)
    grouped = not whole and (stats.get("groups") or {}).get(combo, 2) > 1
    chunks = None
    if grouped and ROW in df.columns and stats.get("cuts") is not None:
        # cut where the whole table's record pass cuts (every record of df is one of its amounts)
        at = np.searchsorted(df[ROW].to_numpy(), (stats.get("cuts") or {}).get(combo, np.zeros(0, dtype=np.int64)))
        edges = np.unique(np.concatenate([[0], at, [len(df)]]))
        chunks = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    gb = analyse_groups(df["value_usd"].to_numpy(dtype=np.float64), keys_df, min_value=p["min_value"],
                        min_n=min_n, min_span=p["min_span"], grouped=grouped, chunks=chunks)
    logp = _logp(gb)
    q = {name: log_bh(lp) for name, lp in logp.items()} if whole else None
    keys = gb.keys.reset_index(drop=True)
    key_rows = keys[group_by].astype("str").to_dict("records") if group_by else [{}]
    subjects = _subject(keys) if group_by else pd.Series(["all"], dtype="str")
    rec = gb.records
    value_all = rec["value"]
    row_index = df[ROW].to_numpy() if ROW in df.columns else df.index.to_numpy()
    candidates = part["candidates"]

    def passes(name):
        return np.ones(gb.n_groups, dtype=bool) if q is None else (np.nan_to_num(q[name], nan=0.0) <= math.log(alpha))

    for name in FINDING_TESTS:
        st = gb.stats[name]
        conf = gb.conformity[name]
        bad = np.isin(conf, _BAD)
        hit = np.flatnonzero(bad & gb.enough[name] & passes(name))
        if len(hit) == 0:
            continue
        # suspect digits: the most over-represented (z > 1.96 above the expected share) of each flagged group
        z = np.where(st["diff"][hit] > 0, np.nan_to_num(st["z"][hit]), 0.0)
        order = np.argsort(-z, axis=1, kind="stable")[:, :p["top_digits"]]
        zsel = np.take_along_axis(z, order, axis=1)
        susp = np.zeros((gb.n_groups, len(DIGITS[name])), dtype=bool)
        rows = np.repeat(hit, order.shape[1])
        ok = (zsel > 1.96).ravel()
        susp[rows[ok], order.ravel()[ok]] = True
        rec_digit = _record_digit(name, rec)
        eligible = rec_digit >= 0
        in_susp = np.zeros(len(value_all), dtype=bool)
        in_susp[eligible] = susp[rec["group"][eligible], rec_digit[eligible]]
        at_stake = np.bincount(rec["group"][in_susp], weights=value_all[in_susp], minlength=gb.n_groups)
        for i, gi in enumerate(hit):
            candidates.append({
                "test": name, "key": key_rows[gi], "subject": subjects.iloc[gi], "n": int(st["n"][gi]),
                "value": st["mad"][gi], "expected": st["mad_expected"][gi], "conf": conf[gi],
                "digits": [int(DIGITS[name][j]) for j, zz in zip(order[i], zsel[i]) if zz > 1.96],
                "usd_at_stake": at_stake[gi], "_tiebreak": st["excess_mad"][gi],
            })
        part["suspects"][f"benford.{name}"] = _suspect_rows(rec, in_susp, rec_digit, f"benford.{name}", subjects,
                                                            row_index, p["max_suspects"])
    # round numbers
    rn = gb.round_numbers
    ok_n = np.isfinite(logp["round_numbers"])
    hit = np.flatnonzero(ok_n & passes("round_numbers") & (np.nan_to_num(rn["share"]) >= 0.02))
    if len(hit):
        at_stake = np.bincount(rec["group"][rec["round"]], weights=value_all[rec["round"]], minlength=gb.n_groups)
        for gi in hit:
            candidates.append({
                "test": "round_numbers", "key": key_rows[gi], "subject": subjects.iloc[gi], "n": int(rn["n"][gi]),
                "value": rn["share"][gi], "expected": 0.01, "unit": float(_pow10(int(gb.unit_exp[gi]) - 2)) * 100,
                "usd_at_stake": at_stake[gi], "_tiebreak": rn["share"][gi] - 0.01,
            })
        part["suspects"]["benford.round_numbers"] = _suspect_rows(
            rec, rec["round"] & np.isin(rec["group"], hit), rec["last_two"], "benford.round_numbers", subjects,
            row_index, p["max_suspects"])
    audit = gb.audit_table()
    if group_by:
        audit.insert(0, "subject", subjects.to_numpy())
    for name, lp in logp.items():
        audit[f"_logp_{name}"] = lp
    part["groups"] = audit


def combine_parts(results: list[CheckResult], *, periods: Sequence[str] | None = None, **params) -> CheckResult:
    """The Benford check's result from the :func:`run_part` of every part (each reporter in one part): the
    Benjamini-Hochberg q-values over all groups and all windows, the findings they pass, their explanations (which
    name the flow when the whole run has one), the suspects of the findings and the audit, windows and estimates
    tables, in the order of the whole table's run."""
    p = {**_DEFAULTS, **params}
    group_by = list(p["group_by"])
    alpha = p["alpha"]
    parts = [r.tables[_PART] for r in results]
    ledgers = merge_ledgers([led for r in results for led in r.ledgers])
    for led in ledgers:  # reasons in the order of precedence, as one table's ledger lists them
        order = ["estimated"] + [a[2] for a in _AGGREGATES] + ["not_positive", "below_min_value", "kept"]
        rank = {k: i for i, k in enumerate(order)}
        led.counts = OrderedDict(sorted(led.counts.items(), key=lambda kv: rank.get(kv[0], len(order))))
        led.examples = dict(sorted(led.examples.items(), key=lambda kv: rank.get(kv[0], len(order))))
    # -- the groups: every group in one part; q-values over all of them -----------------------------------------
    audits = [pt["groups"] for pt in parts if pt["groups"] is not None]
    if len(audits) > 1 and any(pt["whole"] for pt in parts):
        audits = [pt["groups"] for pt in parts if pt["whole"] and pt["groups"] is not None][:1]
    if len(audits) == 1:
        audit = audits[0]
    else:
        audit = pd.concat([a for a in audits if len(a)] or audits[:1], ignore_index=True)
        if group_by:
            audit = audit.sort_values(group_by, kind="mergesort").reset_index(drop=True)
        if (audit.duplicated(group_by).any() if group_by else len(audit) > 1):
            raise ConfigError(f"checks.benford.params.group_by {group_by}: a group has rows of several reporters, so "
                              "the Benford check cannot run split by reporter; group by columns that include reporter "
                              "or run with --engine pandas")
    q: dict[str, np.ndarray] = {}
    for name in list(FINDING_TESTS) + ["round_numbers"]:
        col = f"_logp_{name}"
        q[name] = log_bh(audit[col].to_numpy(dtype=np.float64))
        after = "round_pvalue" if name == "round_numbers" else f"{name}_pvalue"
        audit.insert(audit.columns.get_loc(after) + 1, "round_qvalue" if name == "round_numbers" else f"{name}_qvalue",
                     np.exp(q[name]))
    audit = audit.drop(columns=[c for c in audit.columns if c.startswith("_logp_")])
    index = {tuple(k): i for i, k in enumerate(audit[group_by].astype("str").itertuples(index=False, name=None))} \
        if group_by else {(): 0}
    flow_sets = [pt["flows"] for pt in parts if pt["flows"] is not None]
    flows_word = ""
    if flow_sets:
        fl = sorted(set().union(*flow_sets))
        if len(fl) == 1:
            flows_word = FLOW_WORDS.get(fl[0], fl[0]) + " "
    # -- findings of the groups, in the whole run's order --------------------------------------------------------
    tests = list(FINDING_TESTS) + ["round_numbers"]
    cands = sorted(((tests.index(c["test"]), index[tuple(c["key"][k] for k in group_by)], c)
                    for pt in parts for c in pt["candidates"]), key=lambda t: (t[0], t[1]))
    records: list[dict] = []
    hit_subjects: dict[str, set] = {}
    for _, gi, c in cands:
        name = c["test"]
        logq = q[name][gi]
        if not (np.nan_to_num(logq, nan=0.0) <= math.log(alpha)):
            continue
        hit_subjects.setdefault(f"benford.{name}", set()).add(c["subject"])
        key = c["key"]
        if name == "round_numbers":
            detail = (f"{c['value']:.1%} of {_describe_group(key, flows_word)} (n = {c['n']:,}) are "
                      f"round multiples of {c['unit']:,.0f} USD against 1% expected at the data's own precision "
                      f"(q = {_fmt_q(logq)}).")
        else:
            nig = NIGRINI_MAD.get(name)
            conf = c["conf"]
            mad_txt = (f"{SIGNAL_LABEL[name]} MAD {c['value']:.4f} against {c['expected']:.4f} expected "
                       f"for honest data of this size")
            if nig:
                mad_txt += f" (Nigrini: {conf} above {nig[1 if conf == CONFORMITY[2] else 2]})"
            width = 2 if name in ("first_two_digits", "last_two_digits") else 1
            dig_txt = f"; {_fmt_digits(c['digits'], width)} over-represented" if c["digits"] else ""
            detail = (f"Digits of {_describe_group(key, flows_word)} (n = {c['n']:,}) depart from "
                      f"Benford's law: {mad_txt}{dig_txt} (q = {_fmt_q(logq)}).")
            if name == "last_two_digits":
                detail = (f"Last two digits of {_describe_group(key, flows_word)} (n = {c['n']:,}) are "
                          f"not uniform: MAD {c['value']:.4f} against {c['expected']:.4f} expected for "
                          f"honest data of this size{dig_txt} (q = {_fmt_q(logq)}).")
        records.append({
            "check": "benford", "signal": f"benford.{name}", "subject": c["subject"],
            **{k: (key.get(k, "") if k in group_by else "") for k in _KEY_FINDING_COLUMNS},
            "score": min(-logq / math.log(10), SCORE_CAP), "value": c["value"], "expected": c["expected"],
            "usd_at_stake": c["usd_at_stake"], "detail": detail, "_tiebreak": c["_tiebreak"],
        })
    suspects = []
    for name in tests:
        signal = f"benford.{name}"
        if signal not in hit_subjects:
            continue
        frames = [pt["suspects"][signal] for pt in parts if signal in pt["suspects"]]
        block = frames[0] if len(frames) == 1 else pd.concat([f for f in frames if len(f)] or frames[:1],
                                                             ignore_index=True)
        keep = block["subject"].isin(hit_subjects[signal]).to_numpy()
        if len(frames) > 1 or not keep.all():
            block = block.loc[keep].sort_values(["subject", "value_usd", "row"], ascending=[True, False, True],
                                                kind="mergesort").reset_index(drop=True)
        suspects.append(block)
    # -- the windows ------------------------------------------------------------------------------------------
    window_f, window_t = None, None
    wparts = [pt["windows"] for pt in parts if pt["windows"] is not None]
    if wparts:
        window_f, window_t = window_result(wparts, list(periods) if periods is not None else None, alpha=alpha,
                                           z_min=p["window_z_min"], min_history=p["window_min_history"])
    if window_f is not None:
        # the windows carry the distribution tests; padding (round numbers, last two digits) of the periods under
        # test stays a finding of the group, since a window of first-two digits does not see it
        padding = [r for r in records if r["signal"] in ("benford.round_numbers", "benford.last_two_digits")]
        fparts = [window_f]
        if padding:
            fr = pd.DataFrame(padding).sort_values(["score", "_tiebreak", "subject", "signal"],
                                                   ascending=[False, False, True, True], kind="mergesort")
            fr = make_findings(fr.drop(columns="_tiebreak"))
            if periods is not None and len(periods) and "period" not in group_by:
                # a test over the periods under test: its window is their span
                ps = sorted(str(x) for x in periods)
                fr = fr.assign(period=np.where(fr["period"] == "", ps[-1], fr["period"]),
                               period_start=np.where(fr["period"] == "", ps[0], fr["period_start"]))
            fparts.append(fr)
        findings = pd.concat(fparts, ignore_index=True) if len(fparts) > 1 else window_f
        findings = findings.sort_values(["score", "subject", "period", "signal"], ascending=[False, True, True, True],
                                        kind="mergesort").reset_index(drop=True)
    elif records:
        fr = pd.DataFrame(records).sort_values(["score", "_tiebreak", "subject", "signal"],
                                                ascending=[False, False, True, True], kind="mergesort")
        findings = make_findings(fr.drop(columns="_tiebreak"))
    else:
        findings = make_findings()
    sus = (pd.concat(suspects, ignore_index=True) if suspects else
           pd.DataFrame({"signal": pd.Series(dtype="str"), "subject": pd.Series(dtype="str"),
                         "row": pd.Series(dtype="int64"), "value_usd": pd.Series(dtype="float64"),
                         "digits": pd.Series(dtype="int64")}))
    tables = {"benford_audit": audit, "benford_suspects": sus}
    if window_t is not None:
        tables["benford_windows"] = window_t
    est = [pt["estimated"] for pt in parts if pt["estimated"] is not None]
    direct = [e[1] for e in est if e[0] == "table"]
    est_table = direct[0] if direct else (estimated_table_from_counts([e[1] for e in est], min_n=p["min_n"])
                                          if est else None)
    if est_table is not None:
        tables["benford_estimated"] = est_table
    return CheckResult(check="benford", findings=findings, tables=tables, ledgers=ledgers)


def _record_digit(name: str, rec: dict) -> np.ndarray:
    """Column index of each record's digit(s) in the test's digit list (-1 where the record is not eligible)."""
    if name == "first_digit":
        return rec["first_two"] // 10 - 1
    if name == "second_digit":
        return rec["first_two"] % 10
    if name == "first_two_digits":
        return rec["first_two"] - 10
    return rec["last_two"]


def _suspect_rows(rec, mask, digit, signal, subjects, row_index, max_rows) -> pd.DataFrame:
    idx = np.flatnonzero(mask)
    out = pd.DataFrame({"signal": signal, "subject": subjects.to_numpy()[rec["group"][idx]],
                        "row": row_index[rec["pos"][idx]], "value_usd": rec["value"][idx],
                        "digits": digit[idx] + (10 if signal == "benford.first_two_digits" else
                                                1 if signal == "benford.first_digit" else 0)})
    out = out.sort_values(["subject", "value_usd", "row"], ascending=[True, False, True], kind="mergesort")
    out = out.groupby("subject", sort=False).head(max_rows).reset_index(drop=True)
    out["signal"] = out["signal"].astype("str")
    out["subject"] = out["subject"].astype("str")
    return out
