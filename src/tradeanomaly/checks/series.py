"""Series breaks: growth against a series' own history, level shifts, and growth against its peers.

Every monthly, quarterly or annual series of the flows table (a pair, a province, a pair x product) is laid out
as a row of a (series x period) matrix (:mod:`.panels`), so that all the arithmetic below is column slicing on
numpy arrays.

Scores are robust z values: ``(observed - median of history) / spread``, where the spread is 1.4826 x the
median absolute deviation of the history, floored at ``min_scale`` and widened by the relative rounding error of
the published values (a series rounded to 0.1 m that moves between 0.3 and 0.5 m is noisy by construction, and
must not be flagged for it). A score of 3.5 is about as rare as 1 in 2,000 under Gaussian noise; the same scale is
used by the other signature checks (``invoice_export``, ``entrepot``, ``rush``).

The helpers those checks share live in :mod:`.panels` (panels, usable rows, key codes), :mod:`.robust` (robust
statistics) and :mod:`.phrases` (names and amounts in readable form); they are importable from here too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .base import CheckResult, finish, merge_ledgers
from .panels import (  # noqa: F401  (re-exported: the shared helpers were defined here)
    AGGREGATE_PARTNERS,
    SEASON,
    KeyTable,
    Panel,
    _fill_panels,
    _labels_in_reach,
    build_panel,
    build_panels,
    coded_panels,
    combine_codes,
    combine_spans,
    expand_group,
    group_rows,
    group_sorted,
    group_sums,
    key_codes,
    period_mask,
    period_ordinals,
    reach_rows,
    row_frequencies,
    split_frequencies,
    sum_by,
    usable_flows,
    usable_rows,
    value_code,
    value_codes,
    within_reach,
)
from .phrases import (  # noqa: F401
    amount,
    amounts,
    coastal_provinces,
    country,
    flow_phrase,
    pct,
    possessive,
    product,
    province,
)
from .robust import (  # noqa: F401
    MAD_TO_SD,
    lagged,
    leading,
    log_level,
    merge_jan_feb,
    nan_median,
    robust_cross_z,
    rolling_sum,
    rounding_var,
    row_resolution,
    trailing_stats,
    widen,
)

CHECK = "series"


@dataclass(frozen=True)
class SeriesParams:
    """Knobs of the series check (defaults in brackets).

    - ``min_score`` [3.5]: findings are reported at or above this robust z.
    - ``history`` [{"M": 36, "Q": 12, "A": 8}]: periods of trailing history for the expected growth and spread.
    - ``min_history`` [{"M": 12, "Q": 6, "A": 4}]: fewer past growth figures than this -> no finding.
    - ``min_scale`` [0.05]: floor of the spread of log growth (5%), so that a very smooth series is not flagged
      for an ordinary move.
    - ``level_window`` [{"M": 12, "Q": 4, "A": 3}]: periods compared before and after a candidate level shift.
    - ``min_peers`` [4]: a peer comparison needs this many other series in the group.
    - ``combine_jan_feb`` [True]: read January and February together (Chinese New Year moves between them).
    - ``include_estimated`` [False]: publisher estimates are not reports and are left out.
    - ``signals`` [own_history, level_shift, peer]: which tests to run.
    - ``classification`` ["HS"]: what the ``hs`` codes are, for the sentences: ``SITC`` when a Comtrade file was
      read with ``allow_sitc`` (SITC division 93 is "special transactions", HS chapter 93 arms).
    """

    min_score: float = 3.5
    history: dict = field(default_factory=lambda: {"M": 36, "Q": 12, "A": 8})
    min_history: dict = field(default_factory=lambda: {"M": 12, "Q": 6, "A": 4})
    min_scale: float = 0.05
    level_window: dict = field(default_factory=lambda: {"M": 12, "Q": 4, "A": 3})
    min_peers: int = 4
    combine_jan_feb: bool = True
    include_estimated: bool = False
    signals: tuple = ("own_history", "level_shift", "peer")
    classification: str = "HS"

    def __post_init__(self):
        if self.min_score < 0 or self.min_scale <= 0 or self.min_peers < 1:
            raise ConfigError("series: min_score >= 0, min_scale > 0 and min_peers >= 1 are required")
        bad = set(self.signals) - {"own_history", "level_shift", "peer"}
        if bad:
            raise ConfigError(f"series: unknown signal(s) {sorted(bad)}; use own_history, level_shift, peer")
        if self.classification not in ("HS", "SITC"):
            raise ConfigError(f"series: classification {self.classification!r} is not HS or SITC")


SERIES_KEYS = ["reporter", "region", "partner", "flow", "hs"]


def _subject(keys: pd.DataFrame) -> pd.Series:
    base = np.where(keys["region"] != "", keys["region"], keys["reporter"] + ">" + keys["partner"])
    base = pd.Series(base, index=keys.index, dtype="str")
    flow_tag = np.where(keys["flow"] == "X", "", "[" + keys["flow"] + "]")
    hs_tag = np.where(keys["hs"] == "TOTAL", "", ":" + keys["hs"])
    return base + pd.Series(hs_tag, index=keys.index) + pd.Series(flow_tag, index=keys.index)


class _What:
    """``China's exports of HS 85 to Hong Kong`` for series ``i`` of a panel, built only when asked for."""

    def __init__(self, keys: KeyTable, classification: str = "HS"):
        self.keys = keys
        self.classification = classification
        # plain arrays of codes and distinct values: label lookups on a frame cost more than the sentence itself
        self.codes = [keys.codes[c] for c in SERIES_KEYS]
        self.vals = [keys.values(c) for c in SERIES_KEYS]

    def col(self, j: int, i: int):
        return self.vals[j][self.codes[j][i]]

    def __getitem__(self, i: int) -> str:
        r, reg, p, f, hs = (v[c[i]] for c, v in zip(self.codes, self.vals))
        who = province(reg) if reg else country(r)
        name = product(hs) if self.classification == "HS" else f"SITC {hs}"
        prod = "" if hs == "TOTAL" else f" of {name}"
        verb = flow_phrase(f).split(" ")
        return f"{possessive(who)} {verb[0]}{prod} {verb[1]} {country(p)}"


def _period_text(label: str, freq: str, jan_feb: bool) -> str:
    if freq == "M" and jan_feb and label[5:7] == "02":
        return f"January-February {label[:4]}"
    return label


class _SeriesState:
    """Growth, history and noise of one frequency's panel."""

    def __init__(self, panel: Panel, params: SeriesParams, cols: np.ndarray | None = None):
        self.panel = panel
        f = panel.freq
        L = panel.season
        v = merge_jan_feb(panel) if params.combine_jan_feb else panel.values.copy()
        self.v = v
        self.res = row_resolution(panel.values)
        lv = log_level(v, self.res)
        self.lv = lv
        self.g = lv - lagged(lv, L)
        rv = rounding_var(v, self.res)
        # Jan/Feb merged values are means of two rounded figures: half the variance
        self.noise_var = rv + lagged(rv, L)
        self.med, self.spread, self.cnt = trailing_stats(self.g, params.history[f], params.min_history[f],
                                                         cols=cols)
        self.scale = np.sqrt(np.maximum(np.nan_to_num(self.spread, nan=np.inf), params.min_scale) ** 2
                             + np.nan_to_num(self.noise_var, nan=0.0))
        with np.errstate(invalid="ignore"):
            self.z = (self.g - self.med) / self.scale
        # January duplicates February after merging: report the pair once, at February
        self.skip = np.zeros(len(panel.labels), dtype=bool)
        if f == "M" and params.combine_jan_feb:
            self.skip = np.array([lb[5:7] == "01" for lb in panel.labels])


def _own_history(st: _SeriesState, params: SeriesParams, test: np.ndarray, what: _What) -> pd.DataFrame:
    pn = st.panel
    L = pn.season
    score = np.abs(st.z)
    hit = np.isfinite(score) & (score >= params.min_score) & test[None, :] & ~st.skip[None, :]
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    v = st.v[rows, cols]
    prev = st.v[rows, cols - L]
    g = st.g[rows, cols]
    med = st.med[rows, cols]
    expected = prev * np.exp(med)
    keys = pn.keys.frame(rows)
    details = []
    for i in range(len(rows)):
        lab = pn.labels[cols[i]]
        details.append(
            f"{what[rows[i]]} {'rose' if g[i] > 0 else 'fell'} {100 * abs(np.expm1(g[i])):.0f}% in "
            f"{_period_text(lab, pn.freq, params.combine_jan_feb)} ({amount(v[i])} USD against {amount(prev[i])} "
            f"in {_period_text(pn.labels[cols[i] - L], pn.freq, params.combine_jan_feb)}), where its own history "
            f"says {pct(np.expm1(med[i]))} (spread {100 * st.scale[rows[i], cols[i]]:.0f}%): "
            f"robust z {st.z[rows[i], cols[i]]:+.1f}"
        )
    return _frame(keys, pn, cols, "series.own_history", score[rows, cols], v, expected,
                  np.abs(v - expected), details)


def _frame(keys, pn, cols, signal, score, value, expected, usd, details) -> pd.DataFrame:
    return pd.DataFrame({
        "check": CHECK, "signal": signal, "subject": _subject(keys).to_numpy(),
        "reporter": keys["reporter"].to_numpy(), "partner": keys["partner"].to_numpy(),
        "region": keys["region"].to_numpy(), "hs": np.where(keys["hs"] == "TOTAL", "", keys["hs"]),
        "period": [pn.labels[c] for c in cols], "score": score, "value": value, "expected": expected,
        "usd_at_stake": usd, "detail": details,
    })


def _level_shift(st: _SeriesState, params: SeriesParams, test: np.ndarray, what: _What) -> pd.DataFrame:
    """A change point at t: the mean log level over [t, t+k) against the mean over [t-k, t), net of the trend
    the history expects, in units of the history's growth spread (widened for the averaging of a random walk)."""
    pn = st.panel
    L = pn.season
    k = params.level_window[pn.freq]
    n, T = st.lv.shape
    if T < 2 * k + 1:
        return None
    from numpy.lib.stride_tricks import sliding_window_view

    lv = st.lv
    win_mean = np.full((n, T), np.nan)  # mean over [t, t+k)
    w = sliding_window_view(lv, k, axis=1)
    full = np.all(np.isfinite(w), axis=-1)
    win_mean[:, : T - k + 1] = np.where(full, w.mean(axis=-1), np.nan)
    after = win_mean
    before = lagged(win_mean, k)
    m = k / L  # seasons between the two block centres
    blocks = max(1, int(round(m)))
    c = np.sqrt(blocks * (2 * blocks ** 2 + 1) / 3.0) / blocks  # sd of a block-mean difference, random walk
    jump = after - before - m * st.med
    with np.errstate(invalid="ignore"):
        z = jump / (st.scale * c)
    score = np.abs(z)
    # keep the strongest point of each break: a local maximum within +-k
    padded = np.concatenate([np.full((n, k), -np.inf), np.nan_to_num(score, nan=-np.inf),
                             np.full((n, k), -np.inf)], axis=1)
    local = sliding_window_view(padded, 2 * k + 1, axis=1).max(axis=-1)[:, :T]
    hit = (np.isfinite(score) & (score >= params.min_score) & (score >= local) & test[None, :]
           & ~st.skip[None, :])
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    lin = np.exp(lv) - st.res[:, None]
    val = np.array([np.nanmean(lin[r, c:c + k]) for r, c in zip(rows, cols)])
    base = np.array([np.nanmean(lin[r, c - k:c]) for r, c in zip(rows, cols)])
    exp_ = base * np.exp(m * st.med[rows, cols])
    keys = pn.keys.frame(rows)
    details = []
    for i, (r, cc) in enumerate(zip(rows, cols)):
        a, b = pn.labels[cc], pn.labels[min(cc + k - 1, T - 1)]
        details.append(
            f"{what[r]} shifted {'up' if jump[r, cc] > 0 else 'down'} from {a}: {amount(val[i])} USD a period on "
            f"average over {a}..{b} against {amount(base[i])} over the {k} periods before, where the trend "
            f"expects {amount(exp_[i])} (robust z {z[r, cc]:+.1f})"
        )
    # a short, erratic history can extrapolate its trend far beyond anything traded (a +1,292% median growth
    # over three years): the shift cannot explain more dollars than the series carried before or after it
    # (per period, like every amount of a finding; and no more than the level actually moved)
    at_stake = np.minimum(np.minimum(np.abs(val - exp_), np.maximum(val, base)), np.abs(val - base))
    return _frame(keys, pn, cols, "series.level_shift", score[rows, cols], val, exp_, at_stake, details)


def _peer(st: _SeriesState, params: SeriesParams, test: np.ndarray, what: _What) -> pd.DataFrame:
    """Growth against peers: a province against the other provinces (and the national total, in the detail);
    a pair against the reporter's other partners (same flow and product). The excess growth is then judged
    against its own history, so that a series that always grows faster than its peers is not flagged."""
    pn = st.panel
    keys = pn.keys
    is_region = ~keys.eq("region", "")
    agg = keys.isin("partner", AGGREGATE_PARTNERS)
    # peer groups: provinces share reporter/partner/flow/hs; national pairs share reporter/flow/hs (integer codes
    # of the key tuples; the other rows form one group, as they did under an empty label)
    eligible = is_region | ~agg
    kc = keys.codes
    sizes = [len(keys.uniques[k]) for k in ("reporter", "partner", "flow", "hs")]
    reg_key = combine_codes([kc["reporter"], kc["partner"], kc["flow"], kc["hs"]], sizes)
    nat_key = combine_codes([kc["reporter"], kc["flow"], kc["hs"]], [sizes[0], sizes[2], sizes[3]])
    gid = np.where(eligible, np.where(is_region, 2 * reg_key + 1, 2 * nat_key), -1)
    gcodes, _ = pd.factorize(gid)
    size = np.bincount(gcodes[eligible], minlength=int(gcodes.max()) + 1 if len(gcodes) else 0)[gcodes]
    ok = eligible & (size - 1 >= params.min_peers)
    if not ok.any():
        return None
    f = pn.freq
    tested = test & ~st.skip
    # the excess growth e = g - peer median is finite only where g is: fewer finite g than ``min_history`` in every
    # window under test means no finite score (the peer medians need not be computed)
    if not tested.any() or not (st.cnt[np.ix_(ok, tested)] >= params.min_history[f]).any():
        return None
    # the excess growth is needed at the periods under test and over the history before them
    need = widen(tested, before=params.history[f])
    cols = np.flatnonzero(need)
    gmed = pd.DataFrame(st.g[np.ix_(ok, cols)]).groupby(gcodes[ok]).transform("median").to_numpy()
    e = np.full(st.g.shape, np.nan)
    e[np.ix_(ok, cols)] = st.g[np.ix_(ok, cols)] - gmed
    peer_med = np.full(st.g.shape, np.nan)
    peer_med[np.ix_(ok, cols)] = gmed
    med, spread, _ = trailing_stats(e, params.history[f], params.min_history[f], cols=tested)
    scale = np.sqrt(np.maximum(np.nan_to_num(spread, nan=np.inf), params.min_scale) ** 2
                    + np.nan_to_num(st.noise_var, nan=0.0))
    with np.errstate(invalid="ignore"):
        z = (e - med) / scale
    score = np.abs(z)
    hit = np.isfinite(score) & (score >= params.min_score) & test[None, :] & ~st.skip[None, :]
    rows, cols = np.nonzero(hit)
    if len(rows) == 0:
        return None
    # the national total beside each province, for the detail
    rep_c, flow_c, hs_c = kc["reporter"], kc["flow"], kc["hs"]
    nat = {}
    if is_region[rows].any():
        for r in np.flatnonzero((~is_region) & keys.eq("partner", "WLD")):
            nat[(rep_c[r], flow_c[r], hs_c[r])] = r
    L = pn.season
    v = st.v[rows, cols]
    prev = st.v[rows, cols - L]
    expected = prev * np.exp(peer_med[rows, cols] + med[rows, cols])
    sub = keys.frame(rows)
    details = []
    for i, (r, c) in enumerate(zip(rows, cols)):
        lab = _period_text(pn.labels[c], f, params.combine_jan_feb)
        peers = ("the other provinces" if is_region[r]
                 else f"{possessive(country(what.col(0, r)))} other partners")
        text = (f"{what[r]} changed {pct(np.expm1(st.g[r, c]))} in {lab} ({amount(v[i])} USD) while "
                f"{peers} changed {pct(np.expm1(peer_med[r, c]))} (median); the usual gap is "
                f"{100 * med[r, c]:+.0f} points (robust z {z[r, c]:+.1f})")
        if is_region[r]:
            nr = nat.get((rep_c[r], flow_c[r], hs_c[r]))
            if nr is not None and np.isfinite(st.g[nr, c]):
                text += f"; the national total grew {pct(np.expm1(st.g[nr, c]))}"
        details.append(text)
    return _frame(sub, pn, cols, "series.peer", score[rows, cols], v, expected, np.abs(v - expected), details)


def run(flows: pd.DataFrame, *, params: SeriesParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None, stats: dict | None = None) -> CheckResult:
    """Series breaks for every series of ``flows`` (any mix of frequencies; each is analysed on its own axis).

    ``periods`` are the periods under test (findings only for them; earlier periods are history).
    ``mirror_gaps`` is not needed by this check and is ignored. ``stats``: :func:`combine_axis_stats` of every part's
    :func:`axis_stats` when ``flows`` holds some reporters' rows only (their panels then take the whole table's
    periods, so that a reporter that stopped reporting early is tested, and counted in ``n_tested``, at the same
    periods as in the whole table).
    """
    return _run(flows, params, periods, stats)[0]


#: the private entry of a part's result that carries its count of tests (series x periods under test)
_TESTED = "_series_tested"


def axis_stats(flows: pd.DataFrame, params: SeriesParams | None = None, periods: list[str] | None = None) -> dict:
    """The reduce step of a run split by reporter: per frequency, the periods' axis ``(first ordinal, last ordinal,
    first label)`` of the rows the check uses (those :func:`usable_rows` keeps; the axis :func:`coded_panels` gives
    them); :func:`combine_axis_stats` of the parts' is the whole table's."""
    from .. import periods as P

    params = params or SeriesParams()
    v = pd.to_numeric(flows["value_usd"], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(v) & (v >= 0)
    if not params.include_estimated and "estimated" in flows:
        keep &= ~flows["estimated"].fillna(False).astype(bool).to_numpy()
    pc, pu = key_codes(flows["period"])
    present = np.zeros(len(pu) + 1, dtype=bool)
    present[np.where(pc >= 0, pc, len(pu))[keep]] = True
    labels = pd.Series(np.asarray(pu, dtype=object)[np.flatnonzero(present[:-1])], dtype="str")
    spans = {}
    if len(labels):
        fu = P.frequencies(labels).to_numpy()
        for fr in ("A", "Q", "M"):
            sel = np.flatnonzero(fu == fr)
            if len(sel):
                o = P.period_ordinal(labels.iloc[sel])
                i = int(np.argmin(o))
                spans[fr] = (int(o[i]), int(o.max()), str(labels.iloc[sel[i]]))
    return {"spans": spans}


def combine_axis_stats(parts: list) -> dict:
    freqs = dict.fromkeys(f for p in parts if p for f in p["spans"])
    return {"spans": {f: combine_spans([p["spans"].get(f) for p in parts if p]) for f in freqs}}


def run_part(flows: pd.DataFrame, *, params: SeriesParams | None = None, periods: list[str] | None = None,
             stats: dict | None = None) -> CheckResult:
    """:func:`run` of some reporters' rows, with its count of tests for :func:`combine_parts`."""
    res, tested = _run(flows, params, periods, stats)
    res.tables[_TESTED] = tested
    return res


def combine_parts(results: list[CheckResult]) -> CheckResult:
    """One result from the parts' :func:`run_part` (each reporter in one part): findings in the whole table's order,
    ``n_tested`` the sum of the parts' tests, the ledgers summed (reasons in the order of one table's ledger)."""
    findings = finish([r.findings for r in results], CHECK)
    findings["n_tested"] = float(sum(int(r.tables.get(_TESTED, 0)) for r in results))
    ledgers = merge_ledgers([led for r in results for led in r.ledgers])
    rank = {k: i for i, k in enumerate(("estimated", "no_value", "kept"))}
    for led in ledgers:
        led.counts = type(led.counts)(sorted(led.counts.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        led.examples = dict(sorted(led.examples.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    return CheckResult(check=CHECK, findings=findings, ledgers=ledgers)


def _run(flows: pd.DataFrame, params: SeriesParams | None, periods: list[str] | None,
         stats: dict | None) -> tuple[CheckResult, int]:
    params = params or SeriesParams()
    keep, led = usable_rows(flows, params.include_estimated, "series")
    rows = np.arange(len(flows)) if keep is None else np.flatnonzero(keep)
    by_freq, no_period = row_frequencies(flows, rows)
    spans = (stats or {}).get("spans") or {}
    out = []
    if no_period:
        # rows without a period: the frame path's bookkeeping, exactly as it places them
        df = flows if keep is None else flows.loc[keep]
        panels = []
        for freq, part in split_frequencies(df).items():
            pn = build_panel(part, SERIES_KEYS, freq=freq)
            panels.append(Panel(KeyTable.from_frame(pn.keys), pn.labels, pn.values, freq))
    else:
        vals = flows["value_usd"].to_numpy(dtype=float)
        panels = (coded_panels(flows, r, SERIES_KEYS, {"value_usd": vals[r]}, freq, span=spans.get(freq))["value_usd"]
                  for freq, r in by_freq.items())
    tested = 0
    for panel in panels:
        freq = panel.freq
        test = period_mask(panel.labels, periods)
        tested += int(len(panel.keys)) * int(test.sum())
        # growth statistics only where a test reads them: the periods under test, and the neighbours a level
        # shift's local maximum compares
        need = test.copy()
        if "level_shift" in params.signals:
            k = params.level_window[freq]
            need = widen(test, before=k, after=k)
        st = _SeriesState(panel, params, cols=need)
        what = _What(panel.keys, params.classification)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if "own_history" in params.signals:
                out.append(_own_history(st, params, test, what))
            if "level_shift" in params.signals:
                out.append(_level_shift(st, params, test, what))
            if "peer" in params.signals:
                out.append(_peer(st, params, test, what))
        del st, panel
    findings = finish(out, CHECK)
    findings["n_tested"] = float(tested)  # series x periods under test
    return CheckResult(check=CHECK, findings=findings, ledgers=[led]), tested
