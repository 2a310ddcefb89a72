"""Export rushing: shipments from O to D surge above their seasonal expectation in the months before a tariff
date, and drop after it.

For every series O -> D (and O -> D x product), monthly or quarterly, the expectation for a period is the same
period a year earlier times the series' usual year-on-year growth (median of the history before the pre-event
window); each period's deviation is a robust z of log growth (spread: 1.4826 MAD of the history, floored). The
surge statistic is the best sum of z over the last k <= ``pre`` periods before the event divided by sqrt(k), the
drop statistic the same over the first k <= ``post`` periods after it with the sign turned; the score is their sum over sqrt(2)
when both are positive (the same robust-z scale as the other checks). Annual data cannot show a rush.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import periods as P
from ..errors import ConfigError
from .base import CheckResult
from .series import (
    AGGREGATE_PARTNERS,
    SEASON,
    amount,
    build_panel,
    country,
    expand_group,
    finish,
    lagged,
    merge_jan_feb,
    period_mask,
    possessive,
    key_codes,
    product,
    reach_rows,
    row_frequencies,
    trailing_stats,
    usable_rows,
    value_code,
    value_codes,
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


def run(flows: pd.DataFrame, *, params: RushParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None) -> CheckResult:
    """Pre-tariff surges followed by drops; the finding's period is the event's period (month or quarter), which
    counts as "after" the event when the tariff applies for at least half of it.

    A finding is kept when the event's period is under test (all when ``periods`` is ``None``)."""
    params = params or RushParams()
    keep, led = usable_rows(flows, params.include_estimated, CHECK)
    usable = np.arange(len(flows)) if keep is None else np.flatnonzero(keep)
    by_freq, _ = row_frequencies(flows, usable)
    out = []
    tested = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for freq, part in by_freq.items():
            if freq == "A":
                led.notes.append("rush: annual data cannot show a pre-tariff rush; annual rows not used")
                continue
            # an event under test reads the pre-event history a season back, and the periods after it
            # (rows without a period are left out: the sums below drop them)
            before = {freq: params.pre[freq] + params.history[freq] + SEASON[freq] + 2}
            s = _series(flows, reach_rows(flows, part, periods, before, {freq: params.post[freq] + 1}), params)
            if s.empty:
                continue
            pn = build_panel(s, ["o", "d", "hs"], value="v", freq=freq)
            L = SEASON[freq]
            v = merge_jan_feb(pn) if freq == "M" else pn.values
            with np.errstate(divide="ignore", invalid="ignore"):
                lv = np.log(np.where(v > 0, v, np.nan))
            g = lv - lagged(lv, L)
            med, spread, _ = trailing_stats(g, params.history[freq], params.min_history[freq])
            scale = np.maximum(np.nan_to_num(spread, nan=np.inf), params.min_scale)
            pos = {lb: i for i, lb in enumerate(pn.labels)}
            test = period_mask(pn.labels, periods)
            pre, post = params.pre[freq], params.post[freq]
            for ev in params.tariff_events:
                ev = str(ev)
                p_e = ev[:7] if freq == "M" else f"{ev[:4]}-Q{(int(ev[5:7]) + 2) // 3}"
                te = pos.get(p_e)
                if te is not None and test[te]:
                    tested += int(len(pn.keys))  # series x tariff events under test
                if te is None or not test[te]:
                    continue
                # the event's own period counts as "after" when the tariff applies for most of it
                frac_before = (int(ev[8:10]) - 1) / 30.0 if freq == "M" else ((int(ev[5:7]) - 1) % 3) / 3.0
                cut = te if frac_before <= 0.5 else te + 1
                if cut - pre < 0 or cut + post > len(pn.labels):
                    continue
                # one frozen expectation from the history before the pre-event window
                base = cut - pre
                m0 = med[:, base]
                sc = scale[:, base]
                z_pre = (g[:, cut - pre:cut] - m0[:, None]) / sc[:, None]
                z_post = (g[:, cut:cut + post] - m0[:, None]) / sc[:, None]
                # scan: the best window ending at the event (surge) and starting at it (drop), 1..pre periods
                ks = np.arange(1, pre + 1)
                surges = np.stack([z_pre[:, pre - k:].sum(axis=1) / np.sqrt(k) for k in ks], axis=1)
                kd = np.arange(1, post + 1)
                drops = np.stack([-z_post[:, :k].sum(axis=1) / np.sqrt(k) for k in kd], axis=1)
                surge = np.nanmax(np.where(np.isfinite(surges), surges, -np.inf), axis=1)
                drop = np.nanmax(np.where(np.isfinite(drops), drops, -np.inf), axis=1)
                k_pre = ks[np.argmax(np.where(np.isfinite(surges), surges, -np.inf), axis=1)]
                k_post = kd[np.argmax(np.where(np.isfinite(drops), drops, -np.inf), axis=1)]
                score = (surge + drop) / np.sqrt(2.0)
                hit = np.isfinite(score) & (surge > 0) & (drop > 0) & (score >= params.min_score)
                rows = np.flatnonzero(hit)
                if len(rows) == 0:
                    continue
                # one shape for the amounts: the longest windows, the chosen ones in the detail
                pre_cols = np.arange(cut - pre, cut)
                post_cols = np.arange(cut, cut + post)
                exp_pre = np.exp(lv[np.ix_(rows, pre_cols - L)] + m0[rows, None])
                exp_post = np.exp(lv[np.ix_(rows, post_cols - L)] + m0[rows, None])
                act_pre = v[np.ix_(rows, pre_cols)]
                act_post = v[np.ix_(rows, post_cols)]
                in_pre = np.arange(pre)[None, :] >= (pre - k_pre[rows])[:, None]
                in_post = np.arange(post)[None, :] < k_post[rows][:, None]
                exp_pre, act_pre = np.where(in_pre, exp_pre, 0.0), np.where(in_pre, act_pre, 0.0)
                exp_post, act_post = np.where(in_post, exp_post, 0.0), np.where(in_post, act_post, 0.0)
                excess = np.nansum(act_pre - exp_pre, axis=1)
                shortfall = np.nansum(exp_post - act_post, axis=1)
                keys = pn.keys.iloc[rows].reset_index(drop=True)
                details = []
                for i, r in enumerate(rows):
                    o, d, hs = keys.at[i, "o"], keys.at[i, "d"], keys.at[i, "hs"]
                    prod = "" if hs == "TOTAL" else f" of {product(hs)}"
                    details.append(
                        f"{possessive(country(o))} shipments{prod} to {country(d)} ran {amount(excess[i])} USD "
                        f"({100 * (act_pre[i].sum() / exp_pre[i].sum() - 1):+.0f}%) above their seasonal "
                        f"expectation in {pn.labels[cut - k_pre[r]]}..{pn.labels[cut - 1]}, before the tariff "
                        f"date {ev}, and {amount(shortfall[i])} "
                        f"({100 * (act_post[i].sum() / exp_post[i].sum() - 1):+.0f}%) below it in "
                        f"{pn.labels[cut]}..{pn.labels[cut + k_post[r] - 1]} (surge z {surge[r]:+.1f}, drop z "
                        f"{drop[r]:+.1f})")
                hs_col = np.where(keys["hs"] == "TOTAL", "", keys["hs"])
                out.append(pd.DataFrame({
                    "signal": "rush.pre_tariff_surge",
                    "subject": (keys["o"] + ">" + keys["d"]
                                + np.where(hs_col == "", "", ":" + pd.Series(hs_col))).to_numpy(),
                    "reporter": keys["o"].to_numpy(), "partner": keys["d"].to_numpy(), "hs": hs_col,
                    "period": p_e, "score": score[rows], "value": act_pre.sum(axis=1),
                    "expected": exp_pre.sum(axis=1), "usd_at_stake": np.maximum(excess, 0.0), "detail": details,
                }))
    findings = finish(out, CHECK)
    findings["n_tested"] = float(tested)
    return CheckResult(check=CHECK, findings=findings, ledgers=[led])
