"""Digit tests by reporter, side and period window, judged against the reporter's own other windows.

A reporter that invents its figures for a few months is diluted to nothing in a test over its whole history, and a
reporter whose figures never followed Benford's law (a coarse publication unit, a few large shipments) fails every
window without anything having changed. So the digits of each **reporter x side** (its exports, re-exports
included, or its imports) are tested in **windows**: twelve months ending every ``step`` months for monthly data
(four quarters for quarterly data, one year for annual data), and each window's excess MAD (first-two digits: MAD
minus the MAD an honest sample of its size shows) is compared with the same reporter-side's windows that do not
overlap it (a leave-out norm: median and 1.4826 * MAD of their excess, floored at the honest sample's standard
deviation of the MAD). Where a reporter-side has fewer than ``min_history`` such windows, the other reporters' same
window is the norm instead.

A window becomes a finding (signal ``benford.window_first_two``) when its chi-square q-value (Benjamini-Hochberg
over all windows tested) is at most ``alpha``, its MAD is beyond the honest-sample bound, and its excess stands at
least ``z_min`` robust SD above the norm; ``score`` is that robust z (capped at 30). The finding's ``period`` is
the window's last period and ``period_start`` its first. ``usd_at_stake`` is left empty: digits say that figures
were invented, not by how much; the ranking takes the amounts from the mirror gaps of the reporter's pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..periods import frequencies, period_ordinal
from ..schema import make_findings
from .digit_stats import P_FIRST_TWO, Z_CRIT_MAD, log_bh, share_stats
from .digits import leading_digits

SIDES = {"X": "X", "RX": "X", "M": "M", "RM": "M"}
SIDE_WORDS = {"X": "export", "M": "import"}
SIGNAL = "benford.window_first_two"
SCORE_CAP = 30.0


def _label(freq: str, ordinal: int) -> str:
    if freq == "M":
        return f"{ordinal // 12:04d}-{ordinal % 12 + 1:02d}"
    if freq == "Q":
        return f"{ordinal // 4:04d}-Q{ordinal % 4 + 1}"
    return f"{ordinal:04d}"


#: each frequency's window length, in periods
LENGTH = {"M": 12, "Q": 4, "A": 1}
FREQS = ("M", "Q", "A")


def window_tests(values: np.ndarray, reporter: np.ndarray, side: np.ndarray, period: pd.Series,
                 *, step_months: int = 3, min_n: int = 300, min_history: int = 4) -> pd.DataFrame:
    """One row per reporter x side x window: keys, ``freq``, ``start``/``end`` labels, ``n``, ``mad``,
    ``mad_expected``, ``mad_critical``, ``excess``, ``logp`` (chi-square, first-two digits), ``norm`` (the
    leave-out norm of the excess), ``spread``, ``z`` and ``basis`` (``own`` or ``peers``)."""
    return window_norms([window_counts(values, reporter, side, period, step_months=step_months, min_n=min_n)],
                        min_history)


def window_spans(period: pd.Series, masks: list[np.ndarray], factorized=None) -> list[dict[str, tuple[int, int]]]:
    """For each mask of rows, per frequency, the first and last ordinal of their ``period`` (the reduce step of a
    run split by reporter: the windows of every part end where the whole table's do). ``factorized``: ``(codes,
    uniques)`` of ``period`` as text, when already made."""
    codes, uniq = factorized if factorized is not None else pd.factorize(period.astype("str"))
    u = pd.Series(np.asarray(uniq, dtype=object))
    freq = frequencies(u).to_numpy() if len(u) else np.zeros(0, dtype=object)
    ordn = period_ordinal(u) if len(u) else np.zeros(0, dtype=np.int64)
    out = []
    for m in masks:
        present = np.zeros(len(uniq), dtype=bool)
        present[codes[np.asarray(m, dtype=bool)]] = True
        spans = {}
        for fr in FREQS:
            o = ordn[present & (freq == fr)]
            if len(o):
                spans[fr] = (int(o.min()), int(o.max()))
        out.append(spans)
    return out


def window_counts(values: np.ndarray, reporter: np.ndarray, side: np.ndarray, period: pd.Series,
                  *, step_months: int = 3, min_n: int = 300, spans: dict | None = None,
                  first: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """Per frequency present, the windows of :func:`window_tests` before their norms, with ``_first`` (the
    position in the input of the reporter-side's first row, ``first``: the rows' positions, default 0..n-1).

    ``spans`` (:func:`window_spans` of the whole table, frequency -> first and last ordinal): the windows end where
    the whole table's end when the rows are some reporters' only; ``None``: the span of these rows."""
    x = np.asarray(values, dtype=np.float64)
    m2, _ = leading_digits(x, 2)
    per = period.astype("str").reset_index(drop=True)
    freq = frequencies(per).to_numpy()
    ordn = period_ordinal(per)
    first = np.arange(len(x), dtype=np.int64) if first is None else np.asarray(first, dtype=np.int64)
    rows = {}
    for fr in FREQS:
        sel = np.flatnonzero(freq == fr)
        if not len(sel):
            continue
        length = LENGTH[fr]
        step = {"M": max(1, step_months), "Q": 1, "A": 1}[fr]
        o = ordn[sel]
        lo, last = spans[fr] if spans is not None else (int(o.min()), int(o.max()))
        # windows end at the last period and every `step` periods before it
        ends = np.arange(last, lo - 1, -step)[::-1]
        key = pd.DataFrame({"reporter": reporter[sel], "side": side[sel]})
        kc, kuniq = pd.factorize(pd.MultiIndex.from_frame(key))
        kfirst = np.full(len(kuniq), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(kfirst, kc, first[sel])
        # each row belongs to the windows whose end lies in [o, o + length - 1]
        first_end = np.searchsorted(ends, o, side="left")
        counts = np.zeros((len(kuniq) * len(ends), 90), dtype=np.float64)
        for j in range(int(math.ceil(length / step)) + 1):
            w = first_end + j
            ok = (w < len(ends))
            ok[ok] &= ends[w[ok]] <= o[ok] + length - 1
            g = kc[ok] * len(ends) + w[ok]
            counts += np.bincount(g * 90 + (m2[sel][ok] - 10), minlength=counts.size).reshape(counts.shape)
        st = share_stats(counts, P_FIRST_TWO, Z_CRIT_MAD["first_two_digits"])
        gi = np.arange(counts.shape[0])
        t = pd.DataFrame({
            "reporter": [kuniq[i // len(ends)][0] for i in gi], "side": [kuniq[i // len(ends)][1] for i in gi],
            "freq": fr, "end_ord": ends[gi % len(ends)], "n": st["n"], "mad": st["mad"],
            "mad_expected": st["mad_expected"], "mad_critical": st["mad_critical"], "excess": st["excess_mad"],
            "logp": st["logp"],
        })
        t["mad_sd"] = (t["mad_critical"] - t["mad_expected"]) / Z_CRIT_MAD["first_two_digits"]
        t["start_ord"] = t["end_ord"] - length + 1
        keep = (t["n"] >= min_n).to_numpy()
        t = t.loc[keep].reset_index(drop=True)
        t["end"] = [_label(fr, int(v)) for v in t["end_ord"]]
        t["start"] = [_label(fr, int(v)) for v in t["start_ord"]]
        t["_first"] = kfirst[gi[keep] // len(ends)]
        rows[fr] = t
    return rows


def window_norms(parts: list[dict[str, pd.DataFrame]], min_history: int = 4) -> pd.DataFrame:
    """The windows table from the :func:`window_counts` of one or more parts (each reporter in one part): rows in
    the whole table's order (frequency, the reporter-side's first row, window end), then the leave-out norms, which
    compare a window with the other reporters' same window (:func:`_norms`)."""
    rows = []
    for fr in FREQS:
        frames = [p[fr] for p in parts if fr in p]
        if not frames:
            continue
        if len(frames) == 1:
            t = frames[0]
        else:
            t = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
            t = t.sort_values(["_first", "end_ord"], kind="mergesort").reset_index(drop=True)
        t = t.drop(columns="_first")
        _norms(t, LENGTH[fr], min_history)
        rows.append(t)
    if not rows:
        return pd.DataFrame(columns=["reporter", "side", "freq", "start", "end", "n", "mad", "mad_expected",
                                     "mad_critical", "excess", "logp", "norm", "spread", "z", "basis"])
    return pd.concat(rows, ignore_index=True)


def _norms(t: pd.DataFrame, length: int, min_history: int) -> None:
    """Two leave-out norms of each window's excess: the same reporter-side's windows that do not overlap it (its own
    history), and the other reporters' windows ending at the same time (its peers). ``z`` is the larger of the two
    robust z: invented figures that last long enough to fill half of a reporter's own history still stand out
    against its peers, and a reporter that never followed Benford's law shows in every window (the ranking then
    lists it as chronic, not as news)."""
    z_own, z_peer = _leave_out(t, length, min_history, own=True), _leave_out(t, length, min_history, own=False)
    a, b = np.nan_to_num(z_own[0], nan=-np.inf), np.nan_to_num(z_peer[0], nan=-np.inf)
    use_own = a >= b
    t["z"] = np.where(use_own, z_own[0], z_peer[0])
    t["norm"] = np.where(use_own, z_own[1], z_peer[1])
    t["spread"] = np.where(use_own, z_own[2], z_peer[2])
    t["basis"] = np.where(np.isfinite(t["z"].to_numpy()), np.where(use_own, "own", "peers"), "")


def _leave_out(t: pd.DataFrame, length: int, min_history: int, own: bool):
    norm = np.full(len(t), np.nan)
    spread = np.full(len(t), np.nan)
    groups = t.groupby(["reporter", "side"], sort=False) if own else t.groupby(["end_ord", "side"], sort=False)
    for _, g in groups:
        idx = g.index.to_numpy()
        e = g["excess"].to_numpy()
        end = g["end_ord"].to_numpy()
        rep = g["reporter"].to_numpy()
        for a, i in enumerate(idx):
            other = (np.abs(end - end[a]) >= length) if own else (rep != rep[a])
            if other.sum() >= min_history:
                h = e[other]
                med = float(np.median(h))
                norm[i], spread[i] = med, 1.4826 * float(np.median(np.abs(h - med)))
    floor = t["mad_sd"].to_numpy()
    z = (t["excess"].to_numpy() - norm) / np.maximum(np.nan_to_num(spread), floor)
    return z, norm, spread


def run_windows(df: pd.DataFrame, periods: list[str] | None, *, min_n: int = 300, alpha: float = 0.05,
                z_min: float = 3.0, step_months: int = 3, min_history: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings, the windows table) for the rows of ``df`` (``reporter``, ``flow``, ``period``, ``value_usd``:
    already filtered as the digit tests require). Findings only for windows ending in ``periods`` (all if None)."""
    part = window_part(df, min_n=min_n, step_months=step_months)
    return window_result([part], periods, alpha=alpha, z_min=z_min, min_history=min_history)


def window_part(df: pd.DataFrame, *, min_n: int = 300, step_months: int = 3, spans: dict | None = None,
                first: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """The part of :func:`run_windows` that reads the rows: :func:`window_counts` of ``df``'s reporters x sides
    (``spans`` and ``first`` as there, ``first`` one position per row of ``df``)."""
    side = df["flow"].astype("str").map(SIDES).fillna("").to_numpy(dtype=object)
    keep = side != ""
    d = df.loc[keep]
    return window_counts(d["value_usd"].to_numpy(dtype=np.float64), d["reporter"].astype("str").to_numpy(dtype=object),
                         side[keep], d["period"], step_months=step_months, min_n=min_n, spans=spans,
                         first=None if first is None else np.asarray(first)[keep])


def window_result(parts: list[dict[str, pd.DataFrame]], periods: list[str] | None, *, alpha: float = 0.05,
                  z_min: float = 3.0, min_history: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(findings, the windows table) from the :func:`window_part` of every part: the global steps (the peers'
    norms, the q-values over all windows, ``n_tested``) run here, over the windows of all reporters."""
    from ..codes import country_name

    t = window_norms(parts, min_history)
    if t.empty:
        return make_findings(), t
    t["logq"] = log_bh(t["logp"].to_numpy())
    tested = np.ones(len(t), dtype=bool) if periods is None else t["end"].isin([str(p) for p in periods]).to_numpy()
    hit = (tested & (t["logq"].to_numpy() <= math.log(alpha)) & (t["mad"] > t["mad_critical"]).to_numpy()
           & (np.nan_to_num(t["z"].to_numpy(), nan=-np.inf) >= z_min))
    f = t.loc[hit]
    details = []
    for r in f.itertuples(index=False):
        who = f"{country_name(r.reporter) or r.reporter}'s {SIDE_WORDS[r.side]} figures"
        span = r.end if r.start == r.end else f"{r.start}..{r.end}"
        base = ("its own windows that do not overlap this one" if r.basis == "own"
                else "other reporters' figures over the same months")
        details.append(
            f"Digits of {who} over {span} (n = {int(r.n):,}) depart from Benford's law: first-two-digits MAD "
            f"{r.mad:.4f} against {r.mad_expected:.4f} for honest data of this size; its excess of {r.excess:+.4f} "
            f"is {r.z:.1f} robust SD above {base} ({r.norm:+.4f}); q = {_fmt_q(r.logq)}.")
    findings = make_findings(pd.DataFrame({
        "check": "benford", "signal": SIGNAL,
        "subject": [f"{a}[{b}]" for a, b in zip(f["reporter"], f["side"])], "reporter": f["reporter"].to_numpy(),
        "period": f["end"].to_numpy(), "period_start": np.where(f["start"] == f["end"], "", f["start"]),
        "score": np.minimum(f["z"].to_numpy(), SCORE_CAP), "value": f["mad"].to_numpy(),
        "expected": (f["mad_expected"] + f["norm"]).to_numpy(), "usd_at_stake": np.nan,
        "n_tested": float(tested.sum()), "detail": details,
    }))
    table = t.drop(columns=["end_ord", "start_ord"]).rename(columns={"start": "period_start", "end": "period"})
    return findings, table


def _fmt_q(logq: float) -> str:
    if logq < math.log(1e-300):
        return "< 1e-300"
    q = math.exp(logq)
    return f"{q:.1g}" if q < 0.01 else f"{q:.2f}"
