"""Evidence for one flag, drawn from the flows themselves: the series behind a subject, as charts.

Subjects follow the findings' conventions: ``A>B`` or ``A>B:hs`` (a pair), ``O>H>D`` or ``O>H>D:hs`` (origin,
hub, destination), ``CN-XX`` (a province), ``XXX`` (a reporter; digit evidence).
"""

from __future__ import annotations

import math
import re
from html import escape

import numpy as np
import pandas as pd

from ..periods import frequency, period_range
from .charts import Band, BarChart, Line, LineChart, Marker, bar_chart, line_chart

TARIFF_EVENTS = ("2018-07", "2019-09", "2025-04")


def _name(iso3: str) -> str:
    try:
        from ..codes import country_name

        return country_name(iso3) or iso3
    except Exception:  # codes unavailable or unknown code
        return iso3


def _window(periods: list[str], last: str, n: int) -> list[str]:
    same = sorted(p for p in periods if len(p) == len(last) and p <= last)
    if not same:
        return []
    return period_range(same[max(0, len(same) - n)], same[-1]) if len(same) > 1 else same


def _members(code: str) -> list[str]:
    """A group code (EU27, ASEAN) stands for its members; a country for itself."""
    if re.fullmatch(r"[A-Z]{3}", code):
        return [code]
    try:
        from ..codes.groups import expand

        return list(expand([code]))
    except Exception:
        return [code]


def _series(flows: pd.DataFrame, axis: list[str], **keys) -> list[float]:
    m = np.ones(len(flows), dtype=bool)
    for k, v in keys.items():
        if k in ("reporter", "partner"):
            m &= flows[k].isin(_members(v)).to_numpy()
        else:
            m &= (flows[k] == v).to_numpy()
    m &= ~flows["estimated"].to_numpy()
    s = flows.loc[m].groupby("period")["value_usd"].sum()
    return [float(s.get(p, np.nan)) for p in axis]


def _sum_by_period(flows: pd.DataFrame, axis: list[str], mask: np.ndarray) -> list[float]:
    s = flows.loc[mask & ~flows["estimated"].to_numpy()].groupby("period")["value_usd"].sum()
    return [float(s.get(p, np.nan)) for p in axis]


def _x_unit(axis: list[str]) -> str:
    if not axis:
        return "period"
    return {"M": "month", "Q": "quarter", "A": "year"}.get(frequency(axis[-1]), "period")


def flag_period_end(period: str) -> str:
    return period.split(":")[-1]


def _highlight(axis: list[str], period: str) -> list[int]:
    parts = period.split(":")
    a, b = parts[0], parts[-1]
    return [i for i, p in enumerate(axis) if a <= p <= b]


def pair_chart(flows: pd.DataFrame, exporter: str, importer: str, hs: str, period: str, tau: float = 0.06,
               export_flow: str = "X") -> str:
    """Both reports of one flow over time: the exporter's (FOB) and the importer's (CIF), with the band the
    importer's figure should fall in if the only difference were freight and insurance (X to X·(1+τ))."""
    last = flag_period_end(period)
    n = 36 if frequency(last) == "M" else 20
    axis = _window(sorted(pd.unique(flows["period"])), last, n)
    hs = hs or "TOTAL"
    x = _series(flows, axis, reporter=exporter, partner=importer, flow=export_flow, hs=hs, region="")
    m = _series(flows, axis, reporter=importer, partner=exporter, flow="M", hs=hs, region="")
    ex, im = _name(exporter), _name(importer)
    product = "" if hs == "TOTAL" else f", HS {hs}"
    what = "re-exports" if export_flow == "RX" else "exports"
    chart = LineChart(
        title=f"Mirror: {ex} → {im}{product}",
        x_labels=axis,
        lines=[Line(f"{ex}'s {what} (FOB)", x), Line(f"{im}'s imports (CIF)", m)],
        bands=[Band(f"{what} + freight band (τ = {tau:.0%})", x, [v * (1 + tau) for v in x])],
        highlight=_highlight(axis, period), x_unit=_x_unit(axis),
    )
    return line_chart(chart)


def reporter_chart(flows: pd.DataFrame, reporter: str, flow: str, period: str, tau: float = 0.06) -> str:
    """A reporter's own figures for one direction, all partners together, against its partners' mirror reports
    (the band is the freight allowance around the exporters' side)."""
    last = flag_period_end(period)
    n = 36 if frequency(last) == "M" else 20
    axis = _window(sorted(pd.unique(flows["period"])), last, n)
    base = ((flows["hs"] == "TOTAL") & (flows["region"] == "")).to_numpy()
    partner_ok = ~flows["partner"].isin(["WLD", "NES"]).to_numpy()
    other = (flows["reporter"] != reporter).to_numpy()
    own_flow, mirror_flow = ("M", "X") if flow == "M" else ("X", "M")
    own = _sum_by_period(flows, axis, base & partner_ok & (flows["reporter"] == reporter).to_numpy()
                         & (flows["flow"] == own_flow).to_numpy())
    mirror = _sum_by_period(flows, axis, base & other & (flows["partner"] == reporter).to_numpy()
                            & (flows["flow"] == mirror_flow).to_numpy())
    name = _name(reporter)
    if own_flow == "M":
        lines = [Line(f"{name}'s imports, all partners (CIF)", own), Line(f"partners' exports to {name} (FOB)",
                                                                          mirror)]
        band = Band(f"partners' exports + freight band (τ = {tau:.0%})", mirror, [v * (1 + tau) for v in mirror])
    else:
        lines = [Line(f"{name}'s exports, all partners (FOB)", own), Line(f"partners' imports from {name} (CIF)",
                                                                          mirror)]
        band = Band(f"{name}'s exports + freight band (τ = {tau:.0%})", own, [v * (1 + tau) for v in own])
    what = "imports" if own_flow == "M" else "exports"
    return line_chart(LineChart(title=f"{name}'s {what} against its partners' mirror reports", x_labels=axis,
                                lines=lines, bands=[band], highlight=_highlight(axis, period),
                                x_unit=_x_unit(axis)))


def entrepot_chart(flows: pd.DataFrame, origin: str, hub: str, dest: str, hs: str, period: str) -> str:
    last = flag_period_end(period)
    n = 48 if frequency(last) == "M" else 12
    axis = _window(sorted(pd.unique(flows["period"])), last, n)
    hs = hs or "TOTAL"
    o, h, d = _name(origin), _name(hub), _name(dest)
    lines = [
        Line(f"{o} → {h} ({h}'s imports)", _series(flows, axis, reporter=hub, partner=origin, flow="M", hs=hs,
                                                   region="")),
        Line(f"{h} → {d} ({d}'s imports)", _series(flows, axis, reporter=dest, partner=hub, flow="M", hs=hs,
                                                   region="")),
        Line(f"{o} → {d} ({d}'s imports)", _series(flows, axis, reporter=dest, partner=origin, flow="M", hs=hs,
                                                   region="")),
    ]
    markers = []
    for ev in TARIFF_EVENTS:
        key = ev if frequency(last) == "M" else ev[:4]
        if key in axis:
            markers.append(Marker(axis.index(key), f"tariff {ev}"))
    product = "" if hs == "TOTAL" else f", HS {hs}"
    return line_chart(LineChart(title=f"Rerouting: {o} → {h} → {d}{product}", x_labels=axis, lines=lines,
                                markers=markers, highlight=_highlight(axis, period), x_unit=_x_unit(axis)))


def province_chart(flows: pd.DataFrame, region: str, period: str) -> str:
    last = flag_period_end(period)
    prov = flows[(flows["region"] != "") & (flows["flow"] == "X") & (flows["hs"] == "TOTAL")]
    axis = _window(sorted(pd.unique(prov["period"])), last, 36)
    if not axis:
        return line_chart(LineChart(title=f"Province {region}", x_labels=[], lines=[]))
    wide = prov[prov["period"].isin(axis)].pivot_table(index="period", columns="region", values="value_usd",
                                                       aggfunc="sum").reindex(axis)
    index = wide / wide.mean()
    own = index[region].tolist() if region in index else [math.nan] * len(axis)
    peers = index.drop(columns=[region], errors="ignore")
    med = peers.median(axis=1).tolist()
    q1, q3 = peers.quantile(0.25, axis=1).tolist(), peers.quantile(0.75, axis=1).tolist()
    name = region
    try:
        from ..codes.provinces import province_name

        name = province_name(region) or region
    except Exception:
        pass
    chart = LineChart(title=f"{name}: monthly exports against the other provinces (index, mean = 1)",
                      x_labels=axis, lines=[Line(name, own), Line("median of other provinces", med, dashed=True)],
                      bands=[Band("interquartile range of other provinces", q1, q3, color="#95a5a6")],
                      highlight=_highlight(axis, period), y_unit="index", x_unit=_x_unit(axis))
    return line_chart(chart)


def digit_chart(flows: pd.DataFrame, reporter: str, period: str) -> str:
    """First-two-digit shares of a reporter's product-level values against Benford, with the |Z| < 1.96 band."""
    from ..checks import benford

    last = flag_period_end(period)
    first = period.split(":")[0]
    sel = flows[(flows["reporter"] == reporter) & ~flows["estimated"] & (flows["hs"] != "TOTAL")]
    if frequency(last) != "A":
        sel = sel[(sel["period"] >= first[:4]) & (sel["period"].str.slice(0, 4) <= last[:4])]
    values = sel["value_usd"].to_numpy()
    res = benford.benford(values, min_n=1).tests["first_two_digits"]
    exp = np.asarray(res.expected, dtype=float)
    obs = np.asarray(res.observed, dtype=float)
    n = max(int(res.n), 1)
    half = 1.96 * np.sqrt(exp * (1 - exp) / n) + 1 / (2 * n)
    return bar_chart(BarChart(title=f"{_name(reporter)}: first two digits of product-level values (n = {n:,})",
                              labels=[str(d) for d in res.digits], observed=obs.tolist(), expected=exp.tolist(),
                              low=np.clip(exp - half, 0, None).tolist(), high=(exp + half).tolist()))


_CODE = r"([A-Z][A-Z0-9]{2,5})"
_PAIR = re.compile(rf"^{_CODE}>{_CODE}(?::(\w+))?(?:\[(X|M|RX)\])?$")
_TRIPLE = re.compile(rf"^{_CODE}>{_CODE}>{_CODE}(?::(\w+))?$")
_REGION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_REPORTER = re.compile(r"^([A-Z]{3})(?::(\w+))?$")
_REPORTER_FLOW = re.compile(r"^([A-Z]{3})\[(X|M)\]$")


def subject_series(flows: pd.DataFrame, subject: str, period: str, n: int = 24) -> tuple[list[str], dict]:
    """The numeric series behind a subject over the last ``n`` periods up to ``period``: (axis, {label: values})."""
    last = flag_period_end(period)
    axis = _window(sorted(pd.unique(flows["period"])), last, n)
    out: dict[str, list[float]] = {}
    if m := _TRIPLE.match(subject):
        o, h, d, hs = m.group(1), m.group(2), m.group(3), m.group(4) or "TOTAL"
        out[f"{o}>{h} ({h} imports)"] = _series(flows, axis, reporter=h, partner=o, flow="M", hs=hs, region="")
        out[f"{h}>{d} ({d} imports)"] = _series(flows, axis, reporter=d, partner=h, flow="M", hs=hs, region="")
        out[f"{o}>{d} ({d} imports)"] = _series(flows, axis, reporter=d, partner=o, flow="M", hs=hs, region="")
    elif m := _PAIR.match(subject):
        a, b, hs = m.group(1), m.group(2), m.group(3) or "TOTAL"
        if m.group(4) == "M":  # an import series: the reporter is the importer
            a, b = b, a
        out[f"{a} exports to {b}"] = _series(flows, axis, reporter=a, partner=b, flow="X", hs=hs, region="")
        out[f"{b} imports from {a}"] = _series(flows, axis, reporter=b, partner=a, flow="M", hs=hs, region="")
    elif _REGION.match(subject):
        out[f"{subject} exports"] = _series(flows, axis, region=subject, flow="X", hs="TOTAL")
    elif m := _REPORTER.match(subject):
        bilateral = flows[~flows["partner"].isin(["WLD", "NES"])]
        out[f"{subject} exports, all partners"] = _series(bilateral, axis, reporter=m.group(1), flow="X",
                                                          hs="TOTAL", region="")
        out[f"{subject} imports, all partners"] = _series(bilateral, axis, reporter=m.group(1), flow="M",
                                                          hs="TOTAL", region="")
    return axis, out


def charts_for(flows: pd.DataFrame, flag: dict, tables: dict[str, pd.DataFrame] | None = None) -> list[str]:
    """The SVG charts that show the evidence for one flag (may be empty for subjects without series)."""
    subject = str(flag.get("subject", ""))
    period = str(flag.get("period", ""))
    signals = str(flag.get("signals", ""))
    out: list[str] = []
    try:
        if m := _TRIPLE.match(subject):
            out.append(entrepot_chart(flows, m.group(1), m.group(2), m.group(3), m.group(4) or "", period))
        elif m := _PAIR.match(subject):
            tau = 0.06
            exporter, importer = (m.group(2), m.group(1)) if m.group(4) == "M" else (m.group(1), m.group(2))
            gaps = (tables or {}).get("mirror_gaps")
            if gaps is not None and {"tau", "exporter", "importer"} <= set(gaps.columns):
                sel = gaps[(gaps["exporter"] == exporter) & (gaps["importer"] == importer)]
                if len(sel):
                    tau = float(sel["tau"].median())
            out.append(pair_chart(flows, exporter, importer, m.group(3) or "", period, tau,
                                  export_flow="RX" if m.group(4) == "RX" else "X"))
            if "benford" in signals:
                out.append(digit_chart(flows, m.group(1), period))
        elif m := _REPORTER_FLOW.match(subject):
            out.append(reporter_chart(flows, m.group(1), m.group(2), period))
            if "benford" in signals:
                out.append(digit_chart(flows, m.group(1), period))
        elif _REGION.match(subject):
            out.append(province_chart(flows, subject, period))
        elif (m := _REPORTER.match(subject)) and "benford" in signals:
            out.append(digit_chart(flows, m.group(1), period))
    except Exception as exc:  # evidence drawing must never sink a report; say what failed instead
        out.append(f'<p class="muted">Chart unavailable for {escape(subject)}: {escape(type(exc).__name__)}</p>')
    return out
