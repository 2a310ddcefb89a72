"""Report writers: `report.md`, a self-contained `report.html` (inline CSS, SVG and a short sorting script; no
network) and `flags.xlsx` (see :mod:`.excel`).

Every string taken from the data goes through Jinja2's autoescaping (HTML) or :func:`md_cell` (Markdown), so a
country or product name can never inject markup.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..fmt import fmt_usd as _fmt_usd

if TYPE_CHECKING:  # pragma: no cover
    from ..result import RunResult

#: ranked cases that get an evidence card with the chart of their series (all of them up to this many)
TOP_CARDS = 50
#: bars in the overview chart of the top cases by dollars
TOP_BARS = 12
TEMPLATES = Path(__file__).parent / "templates"

METHODS = [
    ("Mirror gaps",
     "Each exporter's report X(A→B) is paired with the importer's report M(B←A) for the same period and product "
     "level. Imports are brought to FOB as M/(1+τ), τ = 6% by default (IMF DOTS convention), configurable by pair, "
     "partner, group or HS section or estimated from the pair's own history. The signed log gap ln(X/M_FOB) is "
     "scored as a robust z (median/MAD) against the pair's own history and against the reporter's other partners; "
     "reporter reliability (exporter and importer effects of the absolute log gaps) tempers gaps whose counterpart "
     "reports poorly. Persistent gaps of entrepôts are labelled structural.",
     "IMF, Direction of Trade Statistics Guide (CIF/FOB factor 1.06); Gaulier & Zignago (2010), BACI, CEPII WP "
     "2010-23; Global Financial Integrity, Trade-Related Illicit Financial Flows (2019–2021)."),
    ("Unit values",
     "Where quantities exist, each flow's unit value is compared with the partner's report of the same flow and with "
     "the product's distribution across partners using the adjusted boxplot, whose fences follow the medcouple "
     "skewness, not the raw interquartile rule.",
     "Hubert & Vandervieren (2008), An adjusted boxplot for skewed distributions, CSDA 52(12)."),
    ("Digit tests",
     "First, second, first-two and last-two digits, summation, number duplication, round numbers and the mantissa "
     "arc test, from the exact decimal digits of each value. Conformity by Nigrini's MAD classes, with the MAD "
     "expected for an honest sample of the same size; groups tested in one pass with a Benjamini–Hochberg "
     "correction.",
     "Nigrini (2012), Benford's Law, Wiley; Alexander (2009), Remarks on the use of Benford's law; Benjamini & "
     "Hochberg (1995), JRSS B 57(1)."),
    ("Signatures",
     "Series breaks against a series' own seasonal history (January and February read together around Chinese New "
     "Year), level shifts and peers; invoice exports (mirror ratio bands from 1.4, product concentration, "
     "quarter-opening spikes, round-number padding); entrepôt rerouting (pass-through bound min(O→H, H→D)/H→D, "
     "co-movement, import-share shifts around tariff events, thin hubs, origin washing); export rushing before "
     "tariff dates.",
     "Iyoha, Malesky, Wen & Wu (2024), Exports in Disguise? Trade Rerouting during the US-China Trade War; "
     "Rotunno, Vézina & Wang (2013), The rise and fall of (Chinese) African apparel exports, JDE 105."),
    ("Scoring and ranking",
     "Every finding's score becomes a tail probability against what its check tested in this run; families of "
     "evidence (the two reports of a flow, a series, digits, a route, prices) add their surprisals, with the "
     "percentile of a pyod ensemble (IsolationForest, ECOD, COPOD) beside them. Findings that share a cause form one "
     "case: a subject's near-consecutive periods, a pair's products, a route's legs, a fabricating reporter's pairs. "
     "A case's score weighs its evidence by the dollars at stake on a log scale, a large amount needing less rarity; "
     "chronic differences and structural causes are listed apart, never ranked as fraud.",
     "Liu, Ting & Zhou (2008), Isolation Forest, ICDM; Li et al. (2022), ECOD, IEEE TKDE; Zhao, Nasrullah & Li "
     "(2019), PyOD, JMLR 20; Wilson (2019), The harmonic mean p-value, PNAS 116."),
]


def fmt_usd(v) -> str:
    """Dollars in the report's tables: two decimals of billions, no trillions, empty when not a number."""
    return _fmt_usd(v, trn=False, bn_digits=2, missing="")


def fmt_num(v, digits: int = 2) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return f"{v:.{digits}f}" if math.isfinite(v) else ""


def md_cell(v) -> str:
    """Text safe inside a Markdown table cell (no markup, no column breaks)."""
    s = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
            .replace("\n", " "))


def _records(df: pd.DataFrame | None, n: int | None = None) -> list[dict]:
    if df is None or len(df) == 0:
        return []
    d = df if n is None else df.head(n)
    return d.astype(object).where(d.notna(), None).to_dict("records")


def _split_flags(flags: pd.DataFrame | None) -> dict[str, pd.DataFrame]:
    """The flags by role: ``ranked`` cases, ``chronic`` (standing differences, not news), ``structural`` causes and
    ``resolved`` flags of the previous run."""
    if flags is None or len(flags) == 0:
        empty = pd.DataFrame(columns=["rank", "case_id", "subject", "period", "kind", "score", "confidence",
                                      "usd_at_stake", "status", "headline", "explanation", "signals", "label"])
        return {"ranked": empty, "chronic": empty, "structural": empty, "resolved": empty}
    label = flags["label"] if "label" in flags else pd.Series("fraud_signal", index=flags.index)
    status = flags["status"] if "status" in flags else pd.Series("new", index=flags.index)
    live = status != "resolved"
    return {"ranked": flags[(label == "fraud_signal") & live], "chronic": flags[(label == "chronic") & live],
            "structural": flags[~label.isin(["fraud_signal", "chronic"]) & live], "resolved": flags[~live]}


def kind_label(kind) -> str:
    return str(kind or "other").replace("_", " ")


def _count_phrase(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind_label(k)}" for k, n in counts.items())


def overview(groups: dict[str, pd.DataFrame], previous_run: str | None) -> dict:
    """The run in three lines: cases by kind, dollars at stake by kind, and what changed since the previous run.

    Kinds are listed largest first (ties by name), so the lines are the same for the same flags."""
    ranked = groups["ranked"]
    kinds = ranked["kind"].astype(str) if len(ranked) else pd.Series(dtype=str)
    usd = pd.to_numeric(ranked["usd_at_stake"], errors="coerce").fillna(0.0) if len(ranked) else pd.Series(
        dtype=float)
    counts = kinds.value_counts()
    counts = {k: int(counts[k]) for k in sorted(counts.index, key=lambda k: (-int(counts[k]), k))}
    money = usd.groupby(kinds).sum() if len(ranked) else pd.Series(dtype=float)
    money = {k: float(money[k]) for k in sorted(money.index, key=lambda k: (-float(money[k]), k))}
    aside = [f"{len(groups[g]):,} {g}" for g in ("chronic", "structural") if len(groups[g])]
    if len(ranked):
        cases = f"{len(ranked):,} ranked case{'s' if len(ranked) != 1 else ''}: {_count_phrase(counts)}."
    else:
        cases = "No case crossed the flagging threshold."
    if aside:
        cases += f" Listed apart, not ranked: {' and '.join(aside)}."
    total = float(usd.sum()) if len(ranked) else 0.0
    dollars = (f"{fmt_usd(total)} USD at stake in the ranked cases: "
               + ", ".join(f"{kind_label(k)} {fmt_usd(v)}" for k, v in money.items()) + ".") if len(ranked) \
        else "No dollars at stake in ranked cases."
    status = ranked["status"].astype(str) if len(ranked) else pd.Series(dtype=str)
    n_new, n_persisting = int((status == "new").sum()), int((status == "persisting").sum())
    n_resolved = len(groups["resolved"])
    if previous_run:
        change = (f"Since the previous run {previous_run}: {n_new:,} new, {n_persisting:,} persisting, "
                  f"{n_resolved:,} resolved (flagged then, not now).")
    else:
        change = "No previous run to compare with: every case is new (give --previous FOLDER or run again into " \
                 "the same reports folder)."
    return {"cases": cases, "dollars": dollars, "change": change, "counts": counts, "money": money,
            "total_usd": total, "new": n_new, "persisting": n_persisting, "resolved": n_resolved}


def top_cases_chart(ranked: pd.DataFrame, n_cards: int, n: int = TOP_BARS) -> str:
    """Inline SVG: the ranked cases with the most dollars at stake, each bar linked to its evidence card."""
    from .charts import HBarChart, hbar_chart

    if len(ranked) == 0:
        return ""
    d = ranked.reset_index(drop=True).copy()
    d["_pos"] = range(1, len(d) + 1)
    d["_usd"] = pd.to_numeric(d["usd_at_stake"], errors="coerce").fillna(0.0)
    d = d.sort_values(["_usd", "_pos"], ascending=[False, True], kind="mergesort").head(n)
    labels = [f"#{r} {s}" for r, s in zip(d["rank"], d["subject"])]
    links = [f"#card-{p}" if p <= n_cards else "#flags" for p in d["_pos"]]
    return hbar_chart(HBarChart(title=f"Top {len(d)} cases by dollars at stake", labels=labels,
                                values=d["_usd"].tolist(), groups=[kind_label(k) for k in d["kind"]],
                                links=links))


def build_context(result: "RunResult", top: int = TOP_CARDS) -> dict:
    from .evidence import charts_for

    groups = _split_flags(result.flags)
    ranked, chronic, structural, resolved = (groups[k] for k in ("ranked", "chronic", "structural", "resolved"))
    findings = result.findings
    members = result.members
    cards = []
    for flag in _records(ranked, top):
        subject, period = flag.get("subject", ""), str(flag.get("period", ""))
        lo, hi = period.split(":")[0], period.split(":")[-1]
        if members is not None and len(members) and "case_id" in members:
            # the findings behind the case: its members (pairs, periods, products), strongest first
            fsub = members[members["case_id"] == flag.get("case_id")]
        else:
            fsub = findings[(findings["subject"] == subject) & (findings["period"] >= lo)
                            & (findings["period"] <= hi)]
        cards.append({
            "flag": flag,
            "findings": _records(fsub.sort_values("score", ascending=False, kind="mergesort"), 8),
            "n_members": int(len(fsub)),
            "charts": charts_for(result.flows, flag, result.tables),
        })
    ledgers = [led.to_dict() for led in result.ledgers]
    reliability = result.tables.get("reliability")
    benford_audit = result.tables.get("benford_audit")
    return {
        "run_id": result.run_id,
        "periods": result.periods,
        "period_text": result.periods[0] if len(result.periods) == 1
        else f"{result.periods[0]} to {result.periods[-1]}",
        "manifest": result.manifest,
        "n_flows": result.n_flows or len(result.flows),
        "n_findings": len(findings),
        "ranked": _records(ranked),
        "overview": overview(groups, result.previous_run),
        "top_chart": top_cases_chart(ranked, min(top, len(ranked))),
        "kinds": sorted({str(k) for k in ranked["kind"]}) if len(ranked) else [],
        "chronic": _records(chronic, 50),
        "structural": _records(structural, 50),
        "resolved": _records(resolved),
        "cards": cards,
        "ledgers": ledgers,
        "reliability": _records(reliability, 25),
        "reliability_columns": list(reliability.columns) if reliability is not None else [],
        "benford_audit": _records(benford_audit, 25),
        "estimates_sentence": estimates_sentence(result.tables.get("benford_estimated")),
        "benford_columns": list(benford_audit.columns)[:12] if benford_audit is not None else [],
        "methods": METHODS,
        "previous_run": result.previous_run,
        "reproduce": result.manifest.get("reproduce", ""),
        "reproduce_md": reproduce_markdown(result.manifest.get("reproduce", "")),
        "inputs": result.inputs,
        "findings_by_check": findings.groupby("check").size().to_dict() if len(findings) else {},
    }


def reproduce_command(config_path, out_root) -> str:
    """The command that runs again with the saved configuration, paths quoted for a POSIX shell."""
    import shlex

    return f"tradeanomaly run --config {shlex.quote(str(config_path))} --out {shlex.quote(str(out_root))}"


def reproduce_markdown(command: str) -> str:
    """``command`` as a Markdown code block that nothing in it can close: the fence is one backtick longer than
    the longest run of backticks in the text (at least three), so a path with backticks, newlines or HTML stays
    code."""
    import re

    longest = max((len(m) for m in re.findall(r"`+", command)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}sh\n{command}\n{fence}"


def estimates_sentence(table: pd.DataFrame | None) -> str:
    """What the digits say about the publisher's estimated values against its reported ones."""
    if table is None or len(table) != 2:
        return ""
    rep, est = (table[table["values"] == k].iloc[0] for k in ("reported", "estimated"))
    p = float(est["pvalue_same_distribution"])
    verdict = ("do not share one first-two-digits distribution" if p < 0.001
               else "are consistent with one first-two-digits distribution")
    return (f"The publisher's {int(est['n']):,} estimated values have a first-two-digits MAD of "
            f"{float(est['first_two_digits_mad']):.4f} ({est['first_two_digits_conformity']}; most over-represented "
            f"{est['most_over_represented']}) against {float(rep['first_two_digits_mad']):.4f} "
            f"({rep['first_two_digits_conformity']}) for its {int(rep['n']):,} reported values; the two "
            f"{verdict} (chi-square {float(est['chi2_same_distribution']):,.0f}, p = {p:.1e}). Estimates are "
            f"never used as one side of a mirror pair.")


def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["usd"] = fmt_usd
    env.filters["num"] = fmt_num
    env.filters["md"] = md_cell
    return env


def render_html(context: dict) -> str:
    import markupsafe

    ctx = dict(context)
    # charts are SVG built by report.charts with every label escaped there
    ctx["cards"] = [dict(c, charts=[markupsafe.Markup(s) for s in c["charts"]]) for c in context["cards"]]
    ctx["top_chart"] = markupsafe.Markup(context["top_chart"])
    ctx["script"] = markupsafe.Markup((TEMPLATES / "table.js").read_text(encoding="utf-8"))
    return _env().get_template("report.html.j2").render(**ctx)


def render_markdown(context: dict) -> str:
    return _env().get_template("report.md.j2").render(**context)


def write_reports(result: "RunResult", out_dir: Path, excel: str = "auto") -> None:
    """``report.html``, ``report.md`` and ``flags.xlsx``. ``excel``: ``auto`` writes the workbook when openpyxl is
    installed, ``yes`` requires it (a clear error naming the extra when missing), ``no`` skips it."""
    from .excel import excel_available, write_xlsx

    if excel == "yes" or (excel == "auto" and excel_available()):
        write_xlsx(result, out_dir / "flags.xlsx")
    ctx = build_context(result)
    (out_dir / "report.html").write_text(render_html(ctx), encoding="utf-8")
    (out_dir / "report.md").write_text(render_markdown(ctx), encoding="utf-8")
