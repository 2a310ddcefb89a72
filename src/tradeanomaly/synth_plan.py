"""The plan of the synthetic panel's plants: which subjects and periods each planted anomaly takes for a seed
(``_draw_plan``), before any data are made, and which pairs carry chapter detail (``_is_detail``)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError
from .synth_world import (
    CHAPTERS,
    COUNTS,
    DETAIL_ECONOMIES,
    ENTREPOTS,
    ISO3,
    TARIFF_EVENTS,
    TRANSSHIPMENT_EVENTS,
    TRANSSHIPMENT_HUBS,
    _ESTIMATE_CANDIDATES,
    _FABRICATION_CANDIDATES,
    _INLAND_CANDIDATES,
    _INVOICE_PAIRS,
    _RUSH_CHAPTERS,
    _TRANSSHIP_CHAPTERS,
    _event_month,
)


@dataclass
class _Plan:
    """The subjects drawn for one seed, before any data are made."""

    invoice: list
    province: list
    transship: list
    rush: list
    mispricing: list
    fabricated: list
    estimates: list


def _draw_plan(rng, labels, T, counts: dict | None = None) -> _Plan:
    """Choose planted subjects and periods; kinds and counts are fixed (``counts``, default :data:`COUNTS`),
    positions vary with the seed."""
    n_of = {**COUNTS, **(counts or {})}
    def window(lo_len, hi_len, lo_start=12):
        lo_start = min(lo_start, T // 4)  # keep history before the anomaly in short panels
        hi_len = min(hi_len, T - lo_start - 1)
        length = int(rng.integers(min(lo_len, hi_len), hi_len + 1))
        first = int(rng.integers(lo_start, T - length + 1))
        return first, first + length - 1

    used: set[tuple] = set()  # (exporter, importer, chapter) touched by a plant
    tr_hubs = rng.choice(TRANSSHIPMENT_HUBS, size=n_of["transshipment"], replace=False)
    tr_chapters = rng.choice(_TRANSSHIP_CHAPTERS, size=n_of["transshipment"], replace=False)
    transship = []
    for h, c in zip(tr_hubs, tr_chapters):
        events = [e for e in TRANSSHIPMENT_EVENTS if _event_month(e, labels) is not None
                  and _event_month(e, labels) >= 6]
        if not events:
            raise ConfigError(f"the panel {labels[0]}..{labels[-1]} contains no tariff date with 6 months of history "
                              f"before it ({', '.join(TRANSSHIPMENT_EVENTS)}): start earlier or add months")
        ev = str(rng.choice(events))
        transship.append(dict(hub=str(h), hs=str(c), event=ev, t0=_event_month(ev, labels),
                              share=float(rng.uniform(0.25, 0.45))))
        used |= {("CHN", "USA", str(c)), ("CHN", str(h), str(c)), (str(h), "USA", str(c))}

    rush_cands = []
    for date, o, d, measure in TARIFF_EVENTS:
        t0 = _event_month(date, labels)
        if t0 is None or t0 < 6 or t0 > T - 5:
            continue
        for c in _RUSH_CHAPTERS[(o, d)]:
            if (o, d, c) not in used:
                rush_cands.append((date, o, d, measure, c, t0))
    n_rush = n_of["export_rush"]
    if len(rush_cands) < n_rush:
        raise ConfigError("the panel is too short to hold the tariff dates of 2018-2019: use the default span")
    rush = []
    taken_events = set()
    for k in rng.permutation(len(rush_cands)):
        date, o, d, measure, c, t0 = rush_cands[int(k)]
        if (o, d, c) in used or date in taken_events:
            continue
        before, after = int(rng.integers(1, 4)), int(rng.integers(2, 5))
        rush.append(dict(exporter=o, importer=d, hs=c, event=date, measure=measure, t0=t0,
                         before=before, after=after, surge=float(rng.uniform(1.5, 2.2)),
                         drop=float(rng.uniform(0.55, 0.75))))
        used.add((o, d, c))
        taken_events.add(date)
        if len(rush) == n_rush:
            break
    if len(rush) < n_rush:  # fewer distinct dates than instances: allow a repeated date
        for k in rng.permutation(len(rush_cands)):
            date, o, d, measure, c, t0 = rush_cands[int(k)]
            if (o, d, c) in used:
                continue
            rush.append(dict(exporter=o, importer=d, hs=c, event=date, measure=measure, t0=t0,
                             before=int(rng.integers(1, 4)), after=int(rng.integers(2, 5)),
                             surge=float(rng.uniform(1.5, 2.2)), drop=float(rng.uniform(0.55, 0.75))))
            used.add((o, d, c))
            if len(rush) == n_rush:
                break

    invoice = []
    pair_taken = {("CHN", "USA")} | {("CHN", t["hub"]) for t in transship} | {(t["hub"], "USA") for t in transship}
    for k in rng.permutation(len(_INVOICE_PAIRS)):
        e, i = _INVOICE_PAIRS[int(k)]
        if (e, i) in pair_taken:
            continue
        c = str(rng.choice(["71", "85"]))
        t1, t2 = window(6, 12)
        invoice.append(dict(exporter=e, importer=i, hs=c, t1=t1, t2=t2, factor=float(rng.uniform(1.8, 2.3))))
        pair_taken.add((e, i))
        used.add((e, i, c))
        if len(invoice) == n_of["invoice_export_pair"]:
            break

    province = []
    for p in rng.choice(_INLAND_CANDIDATES, size=n_of["invoice_export_province"], replace=False):
        t1, t2 = window(12, 24)
        province.append(dict(region=str(p), t1=t1, t2=t2, level=float(rng.uniform(1.1, 1.3)),
                             spike=rng.uniform(1.8, 2.6, size=T)))

    detail_pairs = [(e, i) for e in ISO3 for i in ISO3 if e != i and _is_detail(e, i)]
    estimates = [str(x) for x in rng.choice(_ESTIMATE_CANDIDATES, size=2, replace=False)]
    mispricing = []
    for k in rng.permutation(len(detail_pairs)):
        e, i = detail_pairs[int(k)]
        if (e, i) in pair_taken or e in ENTREPOTS or i in estimates or e in estimates:
            continue
        c = str(rng.choice([ch for ch in CHAPTERS if (e, i, ch) not in used]))
        t1, t2 = window(3, 6)
        up = bool(rng.integers(0, 2))
        f = float(rng.uniform(2.5, 4.0))
        mispricing.append(dict(exporter=e, importer=i, hs=c, t1=t1, t2=t2, side=str(rng.choice(["X", "M"])),
                               factor=f if up else 1 / f))
        pair_taken.add((e, i))
        used.add((e, i, c))
        if len(mispricing) == n_of["unit_value_mispricing"]:
            break

    # a reporter that fabricates touches every pair it reports: keep it clear of the other plants
    involved = {"CHN", "USA"} | set(ENTREPOTS) | set(estimates) | {t["hub"] for t in transship}
    involved |= {e for e, _ in pair_taken} | {i for _, i in pair_taken}
    fabricated = []
    candidates = [r for group in _FABRICATION_CANDIDATES for r in rng.permutation(group)]
    for r in map(str, candidates):
        if r in involved:
            continue
        t1, t2 = window(24, 36)
        fabricated.append(dict(reporter=r, t1=t1, t2=t2, style="uniform" if len(fabricated) % 2 == 0 else "favourite"))
        if len(fabricated) == n_of["fabricated_digits"]:
            break
    return _Plan(invoice, province, transship, rush, mispricing, fabricated, estimates)


def _is_detail(e: str, i: str) -> bool:
    return (e in DETAIL_ECONOMIES and i in DETAIL_ECONOMIES) or e == "CHN" or i == "CHN"
