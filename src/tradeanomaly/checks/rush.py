"""Export rushing: shipments from O to D surge above their seasonal expectation in the months before a date, and
drop after it; the date may be a configured tariff date or any other period of the panel.

For every series O -> D (and O -> D x product), monthly or quarterly, the expectation for a period is the same
period a year earlier times the series' usual year-on-year growth (median of the history before the pre-event
window); each period's deviation is a robust z of log growth (spread: 1.4826 MAD of the history, floored), taken
against two years before as well where the history reaches so far (the deviation nearer zero counts, none when
the two disagree in sign: the year after a rush or a dip has a moved base, not a rush of its own). The
surge statistic is the best sum of z over the last k <= ``pre`` periods before the cut divided by sqrt(k), the
drop statistic the same over the first k <= ``post`` periods from it with the sign turned; the score is their sum
over sqrt(2) when both are positive (the same robust-z scale as the other checks).

Tariff dates are not all known in advance, and any exporter may rush. Besides the configured dates
(``rush.pre_tariff_surge``), every period is a candidate cut (``rush.surge_then_fall``): the score there is the
best-of-n on the scale of one pre-set date (Bonferroni over the n candidate periods, as a z), and both halves
must reach ``scan_min_side`` on their own, so that the year-on-year echo of last year's rush (a surge without a
fall) or a level that rose for good (a fall of growth without a surge) is not taken for one. A known date
therefore raises the score of the same shape; it is not required. Of one series' candidates closer than
``pre + post`` periods, the best stays (one finding per rush). Annual data cannot show a rush.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import periods as P
from ..errors import ConfigError
from .base import CheckResult, finish
from .panels import (
    AGGREGATE_PARTNERS,
    build_panel,
    expand_group,
    key_codes,
    period_mask,
    reach_rows,
    row_frequencies,
    SEASON,
    usable_rows,
    value_code,
    value_codes,
)
from .phrases import (
    amount,
    country,
    possessive,
    product,
)
from .robust import (
    lagged,
    merge_jan_feb,
    trailing_stats,
)

CHECK = "rush"
US_CHINA_TARIFF_DATES = ("2018-07-06", "2018-08-23", "2018-09-24", "2019-05-10", "2019-09-01", "2025-04-02")
#: tariff dates that exporters of any economy may run ahead of: the US section 232 duties on steel and aluminium
#: (2018-03-23), China's retaliatory lists (2018-04-02, 2019-06-01; the 2018 lists took effect with the US ones),
#: the 2025 US duties on China, Mexico and Canada (2025-02-04, 2025-03-04), on steel and aluminium (2025-03-12) and
#: the reciprocal tariffs (2025-04-02), besides the US-China section 301 dates
TARIFF_DATES = tuple(sorted(set(US_CHINA_TARIFF_DATES) | {"2018-03-23", "2018-04-02", "2019-06-01", "2025-02-04",
                                                          "2025-03-04", "2025-03-12"}))


@dataclass(frozen=True)
class RushParams:
    """Knobs of the rush check (defaults in brackets).

    - ``origins`` [("*",): every economy], ``destinations`` [("USA", "CHN", "EU27")]: codes or groups (EU members
      summed; an origin inside a destination group is not a shipment to it).
    - ``tariff_events`` [:data:`TARIFF_DATES`: the US-China section 301 dates 2018-07-06, 2018-08-23,
      2018-09-24, 2019-05-10, 2019-09-01, China's retaliation 2018-04-02 and 2019-06-01, the US section 232 duties
      2018-03-23, and 2025-02-04, 2025-03-04, 2025-03-12, 2025-04-02].
    - ``pre`` [{"M": 3, "Q": 1}] / ``post`` [{"M": 3, "Q": 1}]: periods before / after the event's period.
    - ``history`` [{"M": 6, "Q": 4}] (recent growth: tariff years bend trends), ``min_history`` [{"M": 3, "Q": 3}], ``min_scale`` [0.08]: a short
      history is allowed (the 2018 tariffs came early in many panels), with a wider spread floor to match.
    - ``cif_margin`` [0.06]; ``min_score`` [3.5].
    - ``scan`` [True]: every period is a candidate date besides the configured ones; ``scan_min_side`` [1.5]: the
      surge and the drop z each at least this at a date not configured.
    - ``two_year_base`` [True]: each period is also compared with two years before (twice the usual growth), and
      the smaller deviation of the two counts when they agree in sign, none when they do not, so that the year
      after a rush (whose base is inflated) or after a dip does not read as a rush of its own.
    """

    origins: tuple = ("*",)
    destinations: tuple = ("USA", "CHN", "EU27")
    tariff_events: tuple = TARIFF_DATES
    pre: dict = field(default_factory=lambda: {"M": 3, "Q": 1})
    post: dict = field(default_factory=lambda: {"M": 3, "Q": 1})
    history: dict = field(default_factory=lambda: {"M": 6, "Q": 4})
    min_history: dict = field(default_factory=lambda: {"M": 3, "Q": 3})
    min_scale: float = 0.08
    cif_margin: float = 0.06
    min_score: float = 3.5
    include_estimated: bool = False
    scan: bool = True
    scan_min_side: float = 1.5
    two_year_base: bool = True

    def __post_init__(self):
        for d in self.tariff_events:
            if P.normalise_period(str(d)[:7]) is None:
                raise ConfigError(f"rush: tariff event {d!r} is not a date (YYYY-MM-DD)")
        if self.min_scale <= 0:
            raise ConfigError("rush: min_scale must be > 0")


def _series(flows: pd.DataFrame, rows: np.ndarray, params: RushParams) -> pd.DataFrame:
    """O -> D shipments: the destination's imports (FOB) where reported, else the origin's exports (from the rows
    ``rows`` of ``flows``, selected on integer codes of the keys: only the few O -> D rows are read)."""
    dest_map = expand_group(params.destinations)
    if "*" in params.origins:
        from ..codes import is_country

        codes = pd.Series(pd.unique(pd.concat([flows["reporter"], flows["partner"]]).astype("str")))
        origins = set(codes[is_country(codes).to_numpy(dtype=bool)])
    else:
        origins = set(expand_group(params.origins))
    gc, gu = key_codes(flows["region"])
    rc, ru = key_codes(flows["reporter"])
    pc, pu = key_codes(flows["partner"])
    fc, fu = key_codes(flows["flow"])
    r, pa, fl = rc[rows], pc[rows], fc[rows]
    nat = (gc[rows] == value_code(gu, "")) & ~np.isin(pa, value_codes(pu, AGGREGATE_PARTNERS))
    m = flows.iloc[rows[nat & (fl == value_code(fu, "M")) & np.isin(r, value_codes(ru, dest_map))
                        & np.isin(pa, value_codes(pu, origins))]]
    x = flows.iloc[rows[nat & (fl == value_code(fu, "X")) & np.isin(r, value_codes(ru, origins))
                        & np.isin(pa, value_codes(pu, dest_map))]]
    fob = np.where(m["valuation"].to_numpy() == "FOB", 1.0, 1.0 / (1.0 + params.cif_margin))
    im = pd.DataFrame({"period": m["period"].to_numpy(), "o": m["partner"].to_numpy(),
                       "d": m["reporter"].map(dest_map).to_numpy(), "hs": m["hs"].to_numpy(),
                       "v": m["value_usd"].to_numpy(dtype=float) * fob})
    ex = pd.DataFrame({"period": x["period"].to_numpy(), "o": x["reporter"].to_numpy(),
                       "d": x["partner"].map(dest_map).to_numpy(), "hs": x["hs"].to_numpy(),
                       "v": x["value_usd"].to_numpy(dtype=float)})
    key = ["period", "o", "d", "hs"]
    # shipments inside a destination group (Germany to the EU) are not exports to it
    im = im.loc[im["o"].map(dest_map).fillna(im["o"]) != im["d"]]
    ex = ex.loc[ex["o"].map(dest_map).fillna(ex["o"]) != ex["d"]]
    im = im.groupby(key, sort=False)["v"].sum().reset_index()
    ex = ex.groupby(key, sort=False)["v"].sum().reset_index()
    both = im.merge(ex, on=key, how="outer", suffixes=("", "_x"))
    both["v"] = both["v"].fillna(both["v_x"])
    return both[key + ["v"]]


def _event(g, med, scale, cut, pre, post, g2=None):
    """Surge and drop statistics of every series around ``cut`` (the first period of the fall): the best sum of
    robust z over the last k <= ``pre`` periods before it over sqrt(k), and the same, sign turned, over the first
    k <= ``post`` periods from it, against one expectation frozen before the surge window.

    ``g2``: growth over two years. Where given, each period's deviation is the one against the year before and
    the one against two years before, whichever is nearer zero when both point the same way, else zero: a period
    a year after a rush (or after a dip) deviates from the year before only, because its base moved; a rush
    deviates from both years."""
    base = cut - pre
    m0, sc = med[:, base], scale[:, base]
    z_pre = (g[:, cut - pre:cut] - m0[:, None]) / sc[:, None]
    z_post = (g[:, cut:cut + post] - m0[:, None]) / sc[:, None]
    if g2 is not None:
        z_pre = _nearer_zero(z_pre, (g2[:, cut - pre:cut] - 2.0 * m0[:, None]) / sc[:, None])
        z_post = _nearer_zero(z_post, (g2[:, cut:cut + post] - 2.0 * m0[:, None]) / sc[:, None])
    surges = np.stack([z_pre[:, pre - k:].sum(axis=1) / np.sqrt(k) for k in range(1, pre + 1)], axis=1)
    drops = np.stack([-z_post[:, :k].sum(axis=1) / np.sqrt(k) for k in range(1, post + 1)], axis=1)
    surges = np.where(np.isfinite(surges), surges, -np.inf)
    drops = np.where(np.isfinite(drops), drops, -np.inf)
    return surges.max(axis=1), drops.max(axis=1), surges.argmax(axis=1) + 1, drops.argmax(axis=1) + 1


def _nearer_zero(z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
    """``z1`` where ``z2`` is missing; else the one of the two nearer zero when they share a sign, else 0."""
    both = np.where(np.sign(z1) == np.sign(z2), np.where(np.abs(z1) <= np.abs(z2), z1, z2), 0.0)
    return np.where(np.isnan(z2), z1, both)


def _scan_adjusted(score: np.ndarray, n: int) -> np.ndarray:
    """The score of the best of ``n`` candidate periods on the scale of one pre-set date: the normal tail
    probability times ``n`` (Bonferroni), as a z again; for tails below double precision, its asymptote
    sqrt(z^2 - 2 ln n)."""
    from scipy import special

    if n <= 1:
        return score
    s = np.asarray(score, dtype=float)
    logp = np.log(n) + special.log_ndtr(-np.where(np.isfinite(s), s, 0.0))
    exact = -special.ndtri(np.exp(np.minimum(np.maximum(logp, -700.0), 0.0)))
    approx = np.sqrt(np.maximum(s * s - 2.0 * np.log(n), 0.0))
    return np.where(~np.isfinite(s), s, np.where(logp > -700.0, exact, approx))


def _one_per_episode(ev: pd.DataFrame, gap: int) -> pd.DataFrame:
    """One finding per rush: of a series' candidate periods closer than ``gap`` to a better one, the best stays
    (ties: the earlier period)."""
    ev = ev.sort_values(["row", "score", "cut"], ascending=[True, False, True], kind="mergesort")
    keep, kept = [], {}
    for i, row, cut in zip(range(len(ev)), ev["row"].to_numpy(), ev["cut"].to_numpy()):
        mine = kept.setdefault(int(row), [])
        if all(abs(int(cut) - c) >= gap for c in mine):
            mine.append(int(cut))
            keep.append(i)
    return ev.iloc[keep].reset_index(drop=True)


def _findings(ev: pd.DataFrame, pn, v, lv, med, known: dict, pre: int, post: int, L: int) -> pd.DataFrame:
    """Finding rows of the kept candidates: the excess over the seasonal expectation in the surge window and
    the shortfall in the fall window; the amount at stake is the smaller of the two (the shipments moved forward)."""
    rows, cut = ev["row"].to_numpy(), ev["cut"].to_numpy()
    k_pre, k_post = ev["k_pre"].to_numpy(), ev["k_post"].to_numpy()
    pre_cols = cut[:, None] + np.arange(-pre, 0)[None, :]
    post_cols = cut[:, None] + np.arange(post)[None, :]
    m0 = med[rows, cut - pre][:, None]
    exp_pre = np.exp(lv[rows[:, None], pre_cols - L] + m0)
    exp_post = np.exp(lv[rows[:, None], post_cols - L] + m0)
    act_pre, act_post = v[rows[:, None], pre_cols], v[rows[:, None], post_cols]
    in_pre = np.arange(pre)[None, :] >= (pre - k_pre)[:, None]
    in_post = np.arange(post)[None, :] < k_post[:, None]
    exp_pre, act_pre = np.where(in_pre, exp_pre, 0.0), np.where(in_pre, act_pre, 0.0)
    exp_post, act_post = np.where(in_post, exp_post, 0.0), np.where(in_post, act_post, 0.0)
    excess = np.nansum(act_pre - exp_pre, axis=1)
    shortfall = np.nansum(exp_post - act_post, axis=1)
    keys = pn.keys.iloc[rows].reset_index(drop=True)
    labels = pn.labels
    details, signals, period = [], [], []
    for i in range(len(ev)):
        o, d, hs, c = keys.at[i, "o"], keys.at[i, "d"], keys.at[i, "hs"], int(cut[i])
        date = known.get(c)
        prod = "" if hs == "TOTAL" else f" of {product(hs)}"
        when = (f"before the tariff date {date}" if date else
                f"before a fall from {labels[c]} (a date not among the configured tariff dates)")
        details.append(
            f"{possessive(country(o))} shipments{prod} to {country(d)} ran {amount(excess[i])} USD "
            f"({100 * (np.nansum(act_pre[i]) / np.nansum(exp_pre[i]) - 1):+.0f}%) above their seasonal "
            f"expectation in {labels[c - k_pre[i]]}..{labels[c - 1]}, {when}, and {amount(shortfall[i])} "
            f"({100 * (np.nansum(act_post[i]) / np.nansum(exp_post[i]) - 1):+.0f}%) below it in "
            f"{labels[c]}..{labels[c + k_post[i] - 1]} (surge z {ev['surge'].iat[i]:+.1f}, drop z "
            f"{ev['drop'].iat[i]:+.1f})")
        signals.append("rush.pre_tariff_surge" if date else "rush.surge_then_fall")
        period.append(_event_period(date, labels, c) if date else labels[c])
    hs_col = np.where(keys["hs"] == "TOTAL", "", keys["hs"])
    return pd.DataFrame({
        "signal": signals,
        "subject": (keys["o"] + ">" + keys["d"] + np.where(hs_col == "", "", ":" + pd.Series(hs_col))).to_numpy(),
        "reporter": keys["o"].to_numpy(), "partner": keys["d"].to_numpy(), "hs": hs_col,
        "period": period, "score": ev["score"].to_numpy(), "value": act_pre.sum(axis=1),
        # the amount moved forward in time: what ran above the expectation before the date and was missing after
        # it (a surge twice its payback moved only the payback; the rest is a rise, whatever its cause)
        "expected": exp_pre.sum(axis=1), "usd_at_stake": np.maximum(np.minimum(excess, shortfall), 0.0),
        "detail": details,
    })


def _event_period(date: str, labels: list, cut: int) -> str:
    """The period a configured tariff date falls in (month or quarter of the panel)."""
    if "-Q" in labels[cut]:
        return f"{date[:4]}-Q{(int(date[5:7]) + 2) // 3}"
    return date[:7]


def _prepared(flows: pd.DataFrame, params: RushParams, periods: list[str] | None):
    """(ledger, {freq: O -> D shipments}) of the usable rows; annual rows are noted in the ledger and left out."""
    keep, led = usable_rows(flows, params.include_estimated, CHECK)
    usable = np.arange(len(flows)) if keep is None else np.flatnonzero(keep)
    by_freq, _ = row_frequencies(flows, usable)
    out = {}
    for freq, part in by_freq.items():
        if freq == "A":
            led.notes.append("rush: annual data cannot show a pre-tariff rush; annual rows not used")
            continue
        # With the scan on, the whole history is read whatever the periods under test: the scan's Bonferroni
        # count and its one-finding-per-rush choice look at every candidate period, so a run restricted to
        # some periods finds there exactly what the full run finds there. Without it, an event under test reads
        # the pre-event history a season back and the periods after it (rows without a period are left out).
        before = {freq: params.pre[freq] + params.history[freq] + SEASON[freq] * (2 if params.two_year_base else 1)
                  + 2}
        rows = reach_rows(flows, part, None if params.scan else periods, before, {freq: params.post[freq] + 1})
        out[freq] = _series(flows, rows, params)
    return led, out


def span_stats(flows: pd.DataFrame, params: RushParams | None = None,
               periods: list[str] | None = None) -> dict[str, tuple[set, int]]:
    """The global statistics of a run of the check, per frequency: the periods its shipments cover and the number
    of O -> D series. Summed over parts of the rows split by product (:func:`combine_span_stats`), they equal the
    whole table's, so that each product's part tests the same candidate dates with the same Bonferroni factor
    and reports the same ``n_tested``."""
    params = params or RushParams()
    return _stats_of(_prepared(flows, params, periods)[1])


def _stats_of(series: dict) -> dict[str, tuple[set, int]]:
    return {freq: (set(s["period"].astype("str")), int(len(s[["o", "d", "hs"]].drop_duplicates())))
            for freq, s in series.items() if len(s)}


def combine_span_stats(parts: list[dict]) -> dict[str, tuple[set, int]]:
    out: dict[str, tuple[set, int]] = {}
    for part in parts:
        for freq, (labels, n) in (part or {}).items():
            have = out.get(freq, (set(), 0))
            out[freq] = (have[0] | labels, have[1] + n)
    return out


def _panel_labels(labels: set) -> list[str]:
    """Every period from the first to the last of ``labels`` (one frequency)."""
    lab = pd.Series(sorted(labels), dtype="str")
    ords = P.period_ordinal(lab)
    first = lab.iloc[int(np.argmin(ords))]
    return [P.shift(first, i) for i in range(int(ords.max() - ords.min()) + 1)]


def _on_labels(pn, labels: list[str]):
    """The panel ``pn`` widened to the columns ``labels`` (a range containing its own): NaN where it has none."""
    if pn.labels == labels:
        return pn
    off = labels.index(pn.labels[0])
    values = np.full((pn.values.shape[0], len(labels)), np.nan)
    values[:, off:off + len(pn.labels)] = pn.values
    return type(pn)(pn.keys, list(labels), values, pn.freq)


def _candidates(labels: list[str], params: RushParams, periods: list[str] | None, freq: str):
    """(candidate cut columns, {cut: configured date}, the cuts under test) for a panel on ``labels``."""
    test = period_mask(labels, periods)
    pre, post, L = params.pre[freq], params.post[freq], SEASON[freq]
    known = {}
    for ev in params.tariff_events:
        ev = str(ev)
        p_e = ev[:7] if freq == "M" else f"{ev[:4]}-Q{(int(ev[5:7]) + 2) // 3}"
        te = labels.index(p_e) if p_e in labels else None
        if te is None or not (test[te] or params.scan):
            continue
        # the event's own period counts as "after" when the tariff applies for most of it
        frac_before = (int(ev[8:10]) - 1) / 30.0 if freq == "M" else ((int(ev[5:7]) - 1) % 3) / 3.0
        cut = te if frac_before <= 0.5 else te + 1
        if pre <= cut <= len(labels) - post:
            known.setdefault(cut, ev)
    # every other period is a candidate too: the tariff dates of the world are not all in the config
    cuts = sorted(known)
    if params.scan:
        cuts = sorted(set(cuts) | {c for c in range(pre + L + 1, len(labels) - post + 1) if c not in known})
    # a configured date is under test by its event's period
    under_test = [c for c in cuts if test[labels.index(_event_period(known[c], labels, c)) if c in known else c]]
    return cuts, known, under_test


def run(flows: pd.DataFrame, *, params: RushParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None, stats: dict | None = None) -> CheckResult:
    """Surges followed by drops; at a configured tariff date the finding's period is the event's period (month or
    quarter), which counts as "after" the event when the tariff applies for at least half of it; elsewhere it is
    the first period of the fall.

    A finding is kept when the event's period is under test (all when ``periods`` is ``None``). ``stats``: the
    run's :func:`span_stats` when ``flows`` is a part of the table split by product (the engines' partitions);
    computed from ``flows`` when absent."""
    params = params or RushParams()
    led, series = _prepared(flows, params, periods)
    if stats is None:
        stats = _stats_of(series)
    out = []
    tested = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for freq in ("Q", "M"):
            if freq not in stats:
                continue
            labels = _panel_labels(stats[freq][0])
            cuts, known, under_test = _candidates(labels, params, periods, freq)
            tested += stats[freq][1] * len(under_test)  # series x candidate periods under test, whole run
            s = series.get(freq)
            if s is None or s.empty:
                continue
            pn = _on_labels(build_panel(s, ["o", "d", "hs"], value="v", freq=freq), labels)
            L = SEASON[freq]
            v = merge_jan_feb(pn) if freq == "M" else pn.values
            with np.errstate(divide="ignore", invalid="ignore"):
                lv = np.log(np.where(v > 0, v, np.nan))
            g = lv - lagged(lv, L)
            g2 = lv - lagged(lv, 2 * L) if params.two_year_base else None
            med, spread, _ = trailing_stats(g, params.history[freq], params.min_history[freq])
            scale = np.maximum(np.nan_to_num(spread, nan=np.inf), params.min_scale)
            pre, post = params.pre[freq], params.post[freq]
            n_scan = sum(c not in known for c in cuts)
            ev_rows = []
            for cut in cuts:
                surge, drop, k_pre, k_post = _event(g, med, scale, cut, pre, post, g2)
                rows = np.arange(len(surge))
                score = (surge + drop) / np.sqrt(2.0)
                hit = (surge > 0) & (drop > 0)
                if cut not in known:
                    # at a date nobody announced, both halves must stand on their own: a surge without a fall
                    # (the year-on-year echo of last year's fall) or a fall without a surge (the echo of a level
                    # that rose for good) is no rush
                    score = _scan_adjusted(score, n_scan)
                    hit &= (surge >= params.scan_min_side) & (drop >= params.scan_min_side)
                hit &= np.isfinite(score) & (score >= params.min_score)
                if hit.any():
                    ev_rows.append(pd.DataFrame({"row": rows[hit], "cut": cut, "score": score[hit],
                                                 "surge": surge[hit], "drop": drop[hit], "k_pre": k_pre[hit],
                                                 "k_post": k_post[hit]}))
            if not ev_rows:
                continue
            ev = _one_per_episode(pd.concat(ev_rows, ignore_index=True), pre + post)
            found = _findings(ev, pn, v, lv, med, known, pre, post, L)
            if periods is not None:
                found = found.loc[found["period"].isin(set(map(str, periods)))].reset_index(drop=True)
            out.append(found)
    findings = finish(out, CHECK)
    findings["n_tested"] = float(tested)
    return CheckResult(check=CHECK, findings=findings, ledgers=[led])
