"""The Benford check on the flows table: rows set aside (ledger), q-values across groups, findings and their
explanations, and the suspects behind each finding."""

from __future__ import annotations

import functools
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ...errors import SchemaError
from ...schema import Ledger, make_findings
from ..base import CheckResult
from ..digit_stats import CONFORMITY, DIGITS, FINDING_TESTS, NIGRINI_MAD, NONCONFORMING, log_bh
from ..digit_windows import run_windows
from .counting import _pow10
from .engine import GroupedBenford, analyse_groups
from .estimated import estimated_table


SIGNAL_LABEL = {
    "first_digit": "first-digit",
    "second_digit": "second-digit",
    "first_two_digits": "first-two-digits",
    "last_two_digits": "last-two-digits",
}
SCORE_CAP = 30.0
FLOW_WORDS = {"X": "export", "M": "import", "RX": "re-export", "RM": "re-import"}
_KEY_FINDING_COLUMNS = ("reporter", "partner", "hub", "region", "hs", "period")


def qvalues(gb: GroupedBenford) -> dict[str, np.ndarray]:
    """Benjamini-Hochberg across the groups with enough data, per test (log scale); stored on ``gb``."""
    out = {}
    for name in FINDING_TESTS:
        logp = np.where(gb.enough[name], gb.stats[name]["logp"], np.nan)
        out[name] = log_bh(logp)
    from scipy import stats

    with np.errstate(divide="ignore"):
        rn_logp = np.where(gb.round_numbers["n"] >= gb.min_n,
                           np.maximum(stats.binom.logsf(gb.round_numbers["count"] - 1, gb.round_numbers["n"], 0.01),
                                      -1e4), np.nan)
    out["round_numbers"] = log_bh(rn_logp)
    gb.qvalues = out
    return out


def _subject(keys: pd.DataFrame) -> pd.Series:
    cols = list(keys.columns)
    if not cols:
        return pd.Series(["all"] * len(keys), index=keys.index, dtype="str")
    parts = []
    if "reporter" in cols:
        rp = keys["reporter"].astype(str)
        if "partner" in cols:
            rp = rp + ">" + keys["partner"].astype(str)
        parts.append(rp)
    elif "partner" in cols:
        parts.append(">" + keys["partner"].astype(str))
    for c in cols:
        if c not in ("reporter", "partner"):
            parts.append(keys[c].astype(str))
    subj = parts[0]
    for p in parts[1:]:
        subj = subj + ":" + p
    return subj.astype("str")


@functools.lru_cache(maxsize=4096)
def _country_name(code: str) -> str:
    """The crosswalk's readable name (the one source of country names in the project), the code when unknown."""
    from ...codes import country_name

    return country_name(code)


def _describe_group(key: Mapping[str, object], flows_word: str) -> str:
    rep = key.get("reporter")
    par = key.get("partner")
    if key.get("flow"):
        flows_word = FLOW_WORDS.get(str(key["flow"]), str(key["flow"])) + " "
    who = f"{_country_name(str(rep))}'s" if rep else "the"
    what = f"reported {flows_word}values"
    if par:
        what += f" {'to' if flows_word.strip() in ('export', 're-export') else 'with'} {_country_name(str(par))}"
    extra = [f"{k} {v}" for k, v in key.items() if k not in ("reporter", "partner", "flow") and v != ""]
    return f"{who} {what}" + (f" ({', '.join(extra)})" if extra else "")


def _fmt_q(logq: float) -> str:
    if logq < math.log(1e-300):
        return "< 1e-300"
    q = math.exp(logq)
    return f"{q:.1g}" if q < 0.01 else f"{q:.2f}"


def _fmt_digits(digits: Sequence[int], width: int) -> str:
    ds = [str(d).zfill(width) for d in digits]
    if len(ds) <= 1:
        return "".join(ds)
    return ", ".join(ds[:-1]) + " and " + ds[-1]


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
    """
    group_by = list(group_by)
    missing = [c for c in group_by + ["value_usd"] if c not in flows.columns]
    if missing:
        raise SchemaError(f"benford check: flows table lacks column(s) {missing}; "
                          f"group by columns of the flows table ({', '.join(flows.columns)})")
    ledger = Ledger(stage="check:benford", rows_in=len(flows))
    # reasons in order of precedence; each row is counted under the first that applies; one filter at the end
    left = np.ones(len(flows), dtype=bool)

    def aside(mask, reason):
        hit = left & np.asarray(mask, dtype=bool)
        n = int(hit.sum())
        if n:
            ledger.add(reason, n, flows.iloc[np.flatnonzero(hit)[:3]])
            left[hit] = False

    if exclude_estimated and "estimated" in flows.columns:
        aside(flows["estimated"].fillna(False).astype(bool).to_numpy(), "estimated")
    if "hs" in flows.columns:
        total = (flows["hs"].astype("str") == "TOTAL").to_numpy()
        if total.any() and not total.all():
            aside(total, "aggregate_product")
    if "partner" in flows.columns:
        wld = (flows["partner"].astype("str") == "WLD").to_numpy()
        if wld.any() and not wld.all():
            aside(wld, "aggregate_partner")
    v = pd.to_numeric(flows["value_usd"], errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        aside(~(np.isfinite(v) & (v > 0)), "not_positive")
        aside(v < min_value, "below_min_value")
    extra = [c for c in ("flow", "period", "reporter") if c in flows.columns and c not in group_by]
    df_all = flows.loc[left, group_by + ["value_usd"] + extra]
    ledger.finish(df_all)
    window_f, window_t = None, None
    if windows and {"reporter", "flow", "period"} <= set(flows.columns):
        window_f, window_t = run_windows(df_all, list(periods) if periods is not None else None, min_n=min_n,
                                         alpha=alpha, z_min=window_z_min, step_months=window_step_months,
                                         min_history=window_min_history)
    df = df_all if periods is None else df_all.loc[df_all["period"].astype("str").isin([str(p) for p in periods])]
    if periods is not None:
        flows = flows.loc[flows["period"].astype("str").isin([str(p) for p in periods])]
    keys_df = df[group_by].astype("str") if group_by else None
    gb = analyse_groups(df["value_usd"].to_numpy(dtype=np.float64), keys_df, min_value=min_value,
                        min_n=min_n, min_span=min_span)
    q = qvalues(gb)
    keys = gb.keys.reset_index(drop=True)
    key_rows = keys[group_by].astype("str").to_dict("records") if group_by else [{}]
    subjects = _subject(keys) if group_by else pd.Series(["all"], dtype="str")
    flows_word = ""
    if "flow" in df.columns:
        fl = sorted(df["flow"].astype("str").unique())
        if len(fl) == 1:
            flows_word = FLOW_WORDS.get(fl[0], fl[0]) + " "
    rec = gb.records
    records: list[dict] = []
    suspects: list[pd.DataFrame] = []
    value_all = rec["value"]
    row_index = df.index.to_numpy()
    for name in FINDING_TESTS:
        st = gb.stats[name]
        conf = gb.conformity[name]
        bad = np.isin(conf, ["marginally acceptable conformity", "nonconformity", NONCONFORMING])
        logq = q[name]
        hit = np.flatnonzero(bad & gb.enough[name] & (np.nan_to_num(logq, nan=0.0) <= math.log(alpha)))
        if len(hit) == 0:
            continue
        # suspect digits: the most over-represented (z > 1.96 above the expected share) of each flagged group
        z = np.where(st["diff"][hit] > 0, np.nan_to_num(st["z"][hit]), 0.0)
        order = np.argsort(-z, axis=1, kind="stable")[:, :top_digits]
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
            digs = [int(DIGITS[name][j]) for j, zz in zip(order[i], zsel[i]) if zz > 1.96]
            key = key_rows[gi]
            nig = NIGRINI_MAD.get(name)
            mad_txt = (f"{SIGNAL_LABEL[name]} MAD {st['mad'][gi]:.4f} against {st['mad_expected'][gi]:.4f} expected "
                       f"for honest data of this size")
            if nig:
                mad_txt += f" (Nigrini: {conf[gi]} above {nig[1 if conf[gi] == CONFORMITY[2] else 2]})"
            width = 2 if name in ("first_two_digits", "last_two_digits") else 1
            dig_txt = f"; {_fmt_digits(digs, width)} over-represented" if digs else ""
            detail = (f"Digits of {_describe_group(key, flows_word)} (n = {int(st['n'][gi]):,}) depart from "
                      f"Benford's law: {mad_txt}{dig_txt} (q = {_fmt_q(logq[gi])}).")
            if name == "last_two_digits":
                detail = (f"Last two digits of {_describe_group(key, flows_word)} (n = {int(st['n'][gi]):,}) are "
                          f"not uniform: MAD {st['mad'][gi]:.4f} against {st['mad_expected'][gi]:.4f} expected for "
                          f"honest data of this size{dig_txt} (q = {_fmt_q(logq[gi])}).")
            records.append({
                "check": "benford", "signal": f"benford.{name}", "subject": subjects.iloc[gi],
                **{c: (key.get(c, "") if c in group_by else "") for c in _KEY_FINDING_COLUMNS},
                "score": min(-logq[gi] / math.log(10), SCORE_CAP), "value": st["mad"][gi],
                "expected": st["mad_expected"][gi], "usd_at_stake": at_stake[gi], "detail": detail,
                "_tiebreak": st["excess_mad"][gi],
            })
        suspects.append(_suspect_rows(rec, in_susp, rec_digit, f"benford.{name}", subjects, row_index,
                                      max_suspects))
    # round numbers
    rn = gb.round_numbers
    logq = q["round_numbers"]
    hit = np.flatnonzero((np.nan_to_num(logq, nan=0.0) <= math.log(alpha)) & (np.nan_to_num(rn["share"]) >= 0.02))
    if len(hit):
        at_stake = np.bincount(rec["group"][rec["round"]], weights=value_all[rec["round"]], minlength=gb.n_groups)
        for gi in hit:
            key = key_rows[gi]
            unit = float(_pow10(int(gb.unit_exp[gi]) - 2)) * 100
            detail = (f"{rn['share'][gi]:.1%} of {_describe_group(key, flows_word)} (n = {int(rn['n'][gi]):,}) are "
                      f"round multiples of {unit:,.0f} USD against 1% expected at the data's own precision "
                      f"(q = {_fmt_q(logq[gi])}).")
            records.append({
                "check": "benford", "signal": "benford.round_numbers", "subject": subjects.iloc[gi],
                **{c: (key.get(c, "") if c in group_by else "") for c in _KEY_FINDING_COLUMNS},
                "score": min(-logq[gi] / math.log(10), SCORE_CAP), "value": rn["share"][gi], "expected": 0.01,
                "usd_at_stake": at_stake[gi], "detail": detail, "_tiebreak": rn["share"][gi] - 0.01,
            })
        suspects.append(_suspect_rows(rec, rec["round"] & np.isin(rec["group"], hit), rec["last_two"],
                                      "benford.round_numbers", subjects, row_index, max_suspects))
    if window_f is not None:
        # the windows carry the distribution tests; padding (round numbers, last two digits) of the periods under
        # test stays a finding of the group, since a window of first-two digits does not see it
        padding = [r for r in records if r["signal"] in ("benford.round_numbers", "benford.last_two_digits")]
        parts = [window_f]
        if padding:
            fr = pd.DataFrame(padding).sort_values(["score", "_tiebreak", "subject", "signal"],
                                                   ascending=[False, False, True, True], kind="mergesort")
            fr = make_findings(fr.drop(columns="_tiebreak"))
            if periods is not None and len(periods) and "period" not in group_by:
                # a test over the periods under test: its window is their span
                ps = sorted(str(x) for x in periods)
                fr = fr.assign(period=np.where(fr["period"] == "", ps[-1], fr["period"]),
                               period_start=np.where(fr["period"] == "", ps[0], fr["period_start"]))
            parts.append(fr)
        findings = pd.concat(parts, ignore_index=True) if len(parts) > 1 else window_f
        findings = findings.sort_values(["score", "subject", "period", "signal"], ascending=[False, True, True, True],
                                        kind="mergesort").reset_index(drop=True)
    elif records:
        fr = pd.DataFrame(records).sort_values(["score", "_tiebreak", "subject", "signal"],
                                                ascending=[False, False, True, True], kind="mergesort")
        findings = make_findings(fr.drop(columns="_tiebreak"))
    else:
        findings = make_findings()
    audit = gb.audit_table()
    if group_by:
        audit.insert(0, "subject", subjects.to_numpy())
    sus = (pd.concat(suspects, ignore_index=True) if suspects else
           pd.DataFrame({"signal": pd.Series(dtype="str"), "subject": pd.Series(dtype="str"),
                         "row": pd.Series(dtype="int64"), "value_usd": pd.Series(dtype="float64"),
                         "digits": pd.Series(dtype="int64")}))
    tables = {"benford_audit": audit, "benford_suspects": sus}
    if window_t is not None:
        tables["benford_windows"] = window_t
    if "estimated" in flows.columns:
        est_table = estimated_table(flows, min_value=min_value, min_n=min_n)
        if est_table is not None:
            tables["benford_estimated"] = est_table
    return CheckResult(check="benford", findings=findings, tables=tables, ledgers=[ledger])



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
