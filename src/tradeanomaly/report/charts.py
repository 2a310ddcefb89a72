"""Small, dependency-free SVG charts for the report: deterministic text, escaped labels, no scripts.

Each function returns one ``<svg>`` element as a string. Every label passes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#7f8c8d")


@dataclass
class Line:
    label: str
    y: list[float]  # NaN for gaps
    color: str | None = None
    dashed: bool = False


@dataclass
class Band:
    label: str
    low: list[float]
    high: list[float]
    color: str = "#f1c40f"


@dataclass
class Marker:
    x_index: float
    label: str


@dataclass
class LineChart:
    title: str
    x_labels: list[str]
    lines: list[Line]
    bands: list[Band] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    highlight: list[int] = field(default_factory=list)  # x indices of the flagged periods
    y_unit: str = "USD"
    x_unit: str = "period"


def _fmt_amount(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.3g} bn"
    if a >= 1e6:
        return f"{v / 1e6:.3g} mn"
    if a >= 1e3:
        return f"{v / 1e3:.3g} k"
    return f"{v:.3g}"


def _nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 12))
        t += step
    return ticks


def line_chart(chart: LineChart, width: int = 640, height: int = 240) -> str:
    left, right, top, bottom = 64, 12, 28, 40
    pw, ph = width - left - right, height - top - bottom
    n = len(chart.x_labels)
    values = [v for ln in chart.lines for v in ln.y if v is not None and math.isfinite(v)]
    values += [v for b in chart.bands for v in b.low + b.high if v is not None and math.isfinite(v)]
    if n == 0 or not values:
        return _empty(chart.title, width, height)
    lo, hi = min(min(values), 0.0), max(values)
    if hi == lo:
        hi = lo + 1.0
    hi += (hi - lo) * 0.05

    def x(i: float) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{escape(chart.title)}" class="chart">',
           f'<text x="{left}" y="16" class="chart-title">{escape(chart.title)}</text>',
           f'<text x="{left - 4}" y="{top - 4}" text-anchor="end" class="tick">{escape(chart.y_unit)}</text>',
           f'<text x="2" y="{top + ph + 16}" class="tick">{escape(chart.x_unit)}</text>']
    for i in chart.highlight:
        if 0 <= i < n:
            w = max(pw / max(n - 1, 1), 3)
            out.append(f'<rect x="{x(i) - w / 2:.1f}" y="{top}" width="{w:.1f}" height="{ph}" '
                       f'fill="#fde2e2"/>')
    for t in _nice_ticks(lo, hi):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 4}" y="{y(t) + 4:.1f}" text-anchor="end" class="tick">'
                   f'{escape(_fmt_amount(t))}</text>')
    step = max(1, n // 8)
    for i in range(0, n, step):
        out.append(f'<text x="{x(i):.1f}" y="{top + ph + 16}" text-anchor="middle" class="tick">'
                   f'{escape(chart.x_labels[i])}</text>')
    for b in chart.bands:
        pts_hi = [(x(i), y(v)) for i, v in enumerate(b.high) if v is not None and math.isfinite(v)]
        pts_lo = [(x(i), y(v)) for i, v in enumerate(b.low) if v is not None and math.isfinite(v)]
        if pts_hi and pts_lo:
            poly = " ".join(f"{a:.1f},{c:.1f}" for a, c in pts_hi + pts_lo[::-1])
            out.append(f'<polygon points="{poly}" fill="{b.color}" fill-opacity="0.25" stroke="none">'
                       f'<title>{escape(b.label)}</title></polygon>')
    for k, ln in enumerate(chart.lines):
        color = ln.color or PALETTE[k % len(PALETTE)]
        segs, cur = [], []
        for i, v in enumerate(ln.y):
            if v is None or not math.isfinite(v):
                if cur:
                    segs.append(cur)
                cur = []
            else:
                cur.append(f"{x(i):.1f},{y(v):.1f}")
        if cur:
            segs.append(cur)
        dash = ' stroke-dasharray="5,3"' if ln.dashed else ""
        for s in segs:
            if len(s) == 1:
                cx, cy = s[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            else:
                out.append(f'<polyline points="{" ".join(s)}" fill="none" stroke="{color}" stroke-width="1.8"'
                           f'{dash}/>')
    for m in chart.markers:
        if 0 <= m.x_index <= n - 1:
            out.append(f'<line x1="{x(m.x_index):.1f}" x2="{x(m.x_index):.1f}" y1="{top}" y2="{top + ph}" '
                       f'stroke="#555" stroke-dasharray="2,2"/>')
            out.append(f'<text x="{x(m.x_index) + 3:.1f}" y="{top + 10}" class="tick">{escape(m.label)}</text>')
    # legend: one row per entry that would overflow the width; the chart grows to hold the rows
    entries = [(ln.label, ln.color or PALETTE[k % len(PALETTE)], "line") for k, ln in enumerate(chart.lines)]
    entries += [(b.label, b.color, "band") for b in chart.bands]
    if any(0 <= i < n for i in chart.highlight):
        entries.append(("flagged period" if len(chart.highlight) == 1 else "flagged periods", "#fde2e2", "shade"))
    rows: list[list[tuple[float, tuple]]] = [[]]
    lx = left
    for e in entries:
        w = 24 + 6.2 * len(e[0])
        if rows[-1] and lx + w > width - right:
            rows.append([])
            lx = left
        rows[-1].append((lx, e))
        lx += w
    extra = 14 * (len(rows) - 1)
    for r, row in enumerate(rows):
        ly = height - 10 + 14 * r
        for x0, (label, color, kind) in row:
            if kind == "line":
                out.append(f'<rect x="{x0:.0f}" y="{ly - 4}" width="10" height="3" fill="{color}"/>')
            elif kind == "shade":
                out.append(f'<rect x="{x0:.0f}" y="{ly - 8}" width="10" height="8" fill="{color}"/>')
            else:
                out.append(f'<rect x="{x0:.0f}" y="{ly - 8}" width="10" height="8" fill="{color}" '
                           f'fill-opacity="0.4"/>')
            out.append(f'<text x="{x0 + 14:.0f}" y="{ly}" class="legend">{escape(label)}</text>')
    if extra:
        out[0] = out[0].replace(f'viewBox="0 0 {width} {height}" width="{width}" height="{height}"',
                                f'viewBox="0 0 {width} {height + extra}" width="{width}" height="{height + extra}"')
    out.append("</svg>")
    return "".join(out)


@dataclass
class BarChart:
    title: str
    labels: list[str]
    observed: list[float]
    expected: list[float]
    low: list[float] | None = None  # acceptance band around expected (e.g. |Z| < 1.96)
    high: list[float] | None = None


def bar_chart(chart: BarChart, width: int = 640, height: int = 240) -> str:
    left, right, top, bottom = 48, 12, 28, 40
    pw, ph = width - left - right, height - top - bottom
    n = len(chart.labels)
    vals = [v for v in chart.observed + chart.expected + (chart.high or []) if math.isfinite(v)]
    if n == 0 or not vals:
        return _empty(chart.title, width, height)
    hi = max(vals) * 1.08 or 1.0
    bw = pw / n

    def y(v: float) -> float:
        return top + ph - v / hi * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{escape(chart.title)}" class="chart">',
           f'<text x="{left}" y="16" class="chart-title">{escape(chart.title)}</text>']
    for t in _nice_ticks(0, hi):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{left - 4}" y="{y(t) + 4:.1f}" text-anchor="end" class="tick">{t:.3g}</text>')
    step = max(1, n // 20)
    for i in range(n):
        x0 = left + i * bw
        if chart.low is not None and chart.high is not None:
            out.append(f'<rect x="{x0:.1f}" y="{y(chart.high[i]):.1f}" width="{bw:.1f}" '
                       f'height="{max(y(chart.low[i]) - y(chart.high[i]), 0.5):.1f}" fill="#f1c40f" '
                       f'fill-opacity="0.3"/>')
        out.append(f'<rect x="{x0 + bw * 0.15:.1f}" y="{y(chart.observed[i]):.1f}" width="{bw * 0.7:.1f}" '
                   f'height="{max(top + ph - y(chart.observed[i]), 0):.1f}" fill="{PALETTE[0]}">'
                   f'<title>{escape(chart.labels[i])}: {chart.observed[i]:.4f} observed, '
                   f'{chart.expected[i]:.4f} expected</title></rect>')
        out.append(f'<line x1="{x0:.1f}" x2="{x0 + bw:.1f}" y1="{y(chart.expected[i]):.1f}" '
                   f'y2="{y(chart.expected[i]):.1f}" stroke="{PALETTE[1]}" stroke-width="2"/>')
        if i % step == 0:
            out.append(f'<text x="{x0 + bw / 2:.1f}" y="{top + ph + 14}" text-anchor="middle" class="tick">'
                       f'{escape(chart.labels[i])}</text>')
    out.append(f'<rect x="{left}" y="{height - 14}" width="10" height="6" fill="{PALETTE[0]}"/>'
               f'<text x="{left + 14}" y="{height - 8}" class="legend">observed share</text>'
               f'<rect x="{left + 130}" y="{height - 12}" width="10" height="2" fill="{PALETTE[1]}"/>'
               f'<text x="{left + 144}" y="{height - 8}" class="legend">Benford expectation</text>')
    if chart.low is not None:
        out.append(f'<rect x="{left + 290}" y="{height - 16}" width="10" height="8" fill="#f1c40f" '
                   f'fill-opacity="0.4"/><text x="{left + 304}" y="{height - 8}" class="legend">'
                   f'|Z| &lt; 1.96 band</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass
class HBarChart:
    """Horizontal bars, one per item, largest first as given; ``groups`` colours the bars (one colour a kind)."""
    title: str
    labels: list[str]
    values: list[float]
    groups: list[str]
    links: list[str] | None = None  # in-page anchors, one per bar
    unit: str = "USD"


def hbar_chart(chart: HBarChart, width: int = 900, bar: int = 18) -> str:
    n = len(chart.labels)
    vals = [v for v in chart.values if v is not None and math.isfinite(v)]
    if n == 0 or not vals:
        return _empty(chart.title, width, 90)
    left, right, top = 210, 90, 28
    kinds = sorted(set(chart.groups))
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    height = top + n * (bar + 6) + 34
    pw = width - left - right
    hi = max(vals) or 1.0
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" role="img" aria-label="{escape(chart.title)}" class="chart overview-chart">',
           f'<text x="0" y="16" class="chart-title">{escape(chart.title)}</text>']
    for i, (label, v, g) in enumerate(zip(chart.labels, chart.values, chart.groups)):
        y0 = top + i * (bar + 6)
        v = v if v is not None and math.isfinite(v) else 0.0
        w = max(pw * v / hi, 1.0)
        text = label if len(label) <= 40 else label[:39] + "…"
        item = (f'<text x="{left - 6}" y="{y0 + bar - 5}" text-anchor="end" class="legend">{escape(text)}</text>'
                f'<rect x="{left}" y="{y0}" width="{w:.1f}" height="{bar}" fill="{colour[g]}">'
                f'<title>{escape(label)} ({escape(g)}): {escape(_fmt_amount(v))} {escape(chart.unit)}</title></rect>'
                f'<text x="{left + w + 4:.1f}" y="{y0 + bar - 5}" class="tick">{escape(_fmt_amount(v))}</text>')
        if chart.links:
            item = f'<a href="{escape(chart.links[i])}">{item}</a>'
        out.append(item)
    ly = height - 12
    lx = float(left)
    for k in kinds:
        out.append(f'<rect x="{lx:.0f}" y="{ly - 9}" width="10" height="10" fill="{colour[k]}"/>'
                   f'<text x="{lx + 14:.0f}" y="{ly}" class="legend">{escape(k.replace("_", " "))}</text>')
        lx += 24 + 6.5 * len(k)
    out.append(f'<text x="{width - 4}" y="{ly}" text-anchor="end" class="tick">{escape(chart.unit)} at stake</text>')
    out.append("</svg>")
    return "".join(out)


def _empty(title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height // 3}" width="{width}" '
            f'height="{height // 3}" class="chart"><text x="10" y="20" class="chart-title">{escape(title)}: '
            f'no data</text></svg>')
