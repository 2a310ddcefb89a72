"""One subject's drill-down: text for the terminal and a one-subject HTML page."""

from __future__ import annotations

import math

import pandas as pd

from . import _env, fmt_num, fmt_usd
from .evidence import charts_for, subject_series


def _subject_rows(df: pd.DataFrame | None, subject: str) -> pd.DataFrame:
    if df is None or len(df) == 0 or "subject" not in df:
        return pd.DataFrame()
    sub = df[df["subject"] == subject]
    if len(sub) == 0:  # a pair also shows its product-level subjects
        sub = df[df["subject"].astype(str).str.startswith(subject + ":")]
    return sub


def explain_subject(result, subject: str, periods_shown: int = 12) -> str:
    lines = [f"{subject}: periods under test {result.periods[0]}"
             + (f" to {result.periods[-1]}" if len(result.periods) > 1 else "")]
    flags = _subject_rows(result.flags, subject)
    if len(flags):
        lines.append("")
        lines.append("Flags:")
        for f in flags.itertuples(index=False):
            rank = getattr(f, "rank", "")
            lines.append(f"  #{rank} {f.period}  score {fmt_num(f.score)}  {fmt_usd(f.usd_at_stake)} USD  "
                         f"[{getattr(f, 'label', '')}, {getattr(f, 'status', '')}]")
            lines.append(f"     {f.explanation}")
    else:
        lines.append("Not flagged in this run.")
    findings = _subject_rows(result.findings, subject).sort_values("score", ascending=False, kind="mergesort")
    lines.append("")
    lines.append(f"Findings ({len(findings)}):" if len(findings) else "No findings.")
    for f in findings.head(20).itertuples(index=False):
        lines.append(f"  {f.signal:<32} {f.period:<8} score {fmt_num(f.score):>7}  {f.detail}")
    last = result.periods[-1]
    if len(flags):
        last = str(flags["period"].iloc[0]).split(":")[-1]
    axis, series = subject_series(result.flows, subject, last, n=periods_shown)
    if series and axis:
        lines.append("")
        lines.append("Series (USD):")
        width = max(len(k) for k in series)
        lines.append(" " * (width + 2) + "".join(f"{p:>12}" for p in axis))
        for label, vals in series.items():
            cells = "".join(f"{fmt_usd(v) if not math.isnan(v) else '-':>12}" for v in vals)
            lines.append(f"  {label:<{width}}{cells}")
    return "\n".join(lines)


def render_subject_html(result, subject: str) -> str:
    import markupsafe

    flags = _subject_rows(result.flags, subject)
    findings = _subject_rows(result.findings, subject).sort_values("score", ascending=False, kind="mergesort")
    flag = flags.iloc[0].to_dict() if len(flags) else {"subject": subject, "period": result.periods[-1],
                                                        "signals": ";".join(findings["signal"].unique())}
    charts = [markupsafe.Markup(s) for s in charts_for(result.flows, flag, result.tables)]
    env = _env()
    return env.get_template("subject.html.j2").render(
        subject=subject, flags=flags.astype(object).where(flags.notna(), None).to_dict("records"),
        findings=findings.head(50).astype(object).where(findings.head(50).notna(), None).to_dict("records"),
        charts=charts, run_id=result.run_id)
