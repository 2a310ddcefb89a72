"""Publisher estimates against reported values: every test on each side, and whether both share one
first-two-digits distribution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine import analyse_groups
from .results import BenfordResult, _plain


def estimated_table(flows: pd.DataFrame, *, min_value: float = 10.0, min_n: int = 300) -> pd.DataFrame | None:
    """The publisher's estimated values beside its reported ones (product level where it exists): one row each,
    with the digit statistics and the chi-square test that both share one first-two-digits distribution.

    ``None`` when either side has fewer than ``min_n`` amounts of at least ``min_value``.
    """
    sel = flows
    if "hs" in flows.columns:
        total = (flows["hs"].astype("str") == "TOTAL").to_numpy()
        if total.any() and not total.all():
            sel = flows.loc[~total]
    v = pd.to_numeric(sel["value_usd"], errors="coerce").to_numpy(dtype=np.float64)
    est = sel["estimated"].fillna(False).to_numpy(dtype=bool)
    ok = np.isfinite(v) & (v >= min_value)
    if min(int((ok & est).sum()), int((ok & ~est).sum())) < min_n:
        return None
    return _table(compare_estimated(v[ok], est[ok], min_value=min_value))


def _table(cmp: "EstimatedComparison") -> pd.DataFrame:
    rows = []
    for label, res in (("reported", cmp.reported), ("estimated", cmp.estimated)):
        f2 = res.tests["first_two_digits"]
        over = [d for d, _ in sorted(zip(f2.digits, f2.z or ()), key=lambda t: -t[1])[:3]] if f2.z else []
        rows.append({
            "values": label, "n": res.n,
            "first_digit_mad": res.tests["first_digit"].mad,
            "first_digit_conformity": res.tests["first_digit"].conformity,
            "first_two_digits_mad": f2.mad, "first_two_digits_mad_expected": f2.mad_expected,
            "first_two_digits_conformity": f2.conformity,
            "second_digit_mad": res.tests["second_digit"].mad,
            "round_number_share": res.round_numbers.to_dict().get("share"),
            "most_over_represented": " ".join(str(d) for d in over),
            "chi2_same_distribution": cmp.chi2_homogeneity, "pvalue_same_distribution": cmp.homogeneity_pvalue,
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class EstimatedComparison:
    """Digit conformity of a publisher's estimated values beside the values it reports."""

    reported: BenfordResult
    estimated: BenfordResult
    chi2_homogeneity: float
    homogeneity_pvalue: float

    def to_dict(self) -> dict:
        return _plain({"reported": self.reported.to_dict(), "estimated": self.estimated.to_dict(),
                       "chi2_homogeneity": self.chi2_homogeneity, "homogeneity_pvalue": self.homogeneity_pvalue})


def compare_estimated(values, estimated, *, min_value: float = 10.0) -> EstimatedComparison:
    """Run every test on the reported and on the estimated values, and a chi-square test that both share one
    first-two-digits distribution."""
    values = np.asarray(values, dtype=np.float64)
    est = np.asarray(estimated, dtype=bool)
    return _comparison(analyse_groups(values, est.astype(np.int64), min_value=min_value))


def _comparison(gb) -> EstimatedComparison:
    from scipy import stats

    labels = ["estimated" if k else "reported" for k in gb.keys["group"]]
    res = {lab: gb.result(i) for i, lab in enumerate(labels)}
    table = gb.counts["first_two_digits"]
    table = table[:, table.sum(axis=0) > 0]
    chi2, p, _, _ = stats.chi2_contingency(table)
    return EstimatedComparison(reported=res["reported"], estimated=res["estimated"], chi2_homogeneity=float(chi2),
                               homogeneity_pvalue=float(p))


def estimated_counts(flows: pd.DataFrame, *, min_value: float = 10.0, drop_totals: bool = False) -> dict:
    """What :func:`estimated_table` reads of some reporters' rows, as counts that add up over the parts of a table
    split by reporter (:func:`estimated_table_from_counts`): per side (reported, estimated), the amounts, their
    first two digits, decimal exponents and trailing zeros of cents, and the round numbers at each precision.
    ``drop_totals``: the whole table has product rows beside its totals, so its totals are left out."""
    from ..digit_stats import MAX_CENTS, ROUND_MIN_UNITS
    from ..digits import integer_part, leading_digits
    from .counting import _E_BINS, _E_OFFSET, _POW10_F, N_TZ, _trailing_zeros_some

    sel = flows
    if drop_totals and "hs" in flows.columns:
        sel = flows.loc[~(flows["hs"].astype("str") == "TOTAL").to_numpy()]
    v = pd.to_numeric(sel["value_usd"], errors="coerce").to_numpy(dtype=np.float64)
    est = sel["estimated"].fillna(False).to_numpy(dtype=bool)
    ok = np.isfinite(v) & (v >= min_value)
    out = {"n_ok": np.array([int((ok & ~est).sum()), int((ok & est).sum())], dtype=np.int64)}
    x, side = v[ok], est[ok].astype(np.int64)
    with np.errstate(invalid="ignore"):
        take = (x >= min_value) & (x > 0) & (x < np.inf)
    x, side = x[take], side[take]
    m2, e = leading_digits(x, 2) if len(x) else (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    out["c_ft"] = np.bincount(side * 90 + (m2 - 10), minlength=180).reshape(2, 90)
    out["dec"] = np.bincount(side * _E_BINS + (e + _E_OFFSET), minlength=2 * _E_BINS).reshape(2, _E_BINS)
    small = x < MAX_CENTS / 100
    cents = np.where(small, integer_part(np.where(small, x, 0) * 100, as_float=True), -1.0) if len(x) else x
    pos, tz = _trailing_zeros_some(cents) if len(x) else (None, np.zeros(0, dtype=np.int8))
    tz_all = tz if pos is None else np.zeros(len(x), dtype=np.int8)
    if pos is not None:
        tz_all[pos] = tz
    good = cents >= 0
    out["tz_hist"] = np.bincount((side * N_TZ + tz_all)[good], minlength=2 * N_TZ).reshape(2, N_TZ)
    rn_n = np.zeros((2, N_TZ), dtype=np.int64)
    rn_k = np.zeros((2, N_TZ), dtype=np.int64)
    for u in range(N_TZ):
        units = np.floor(cents / _POW10_F[u])
        elig = units >= ROUND_MIN_UNITS
        hit = elig & (units - np.floor(units / 100) * 100 == 0)
        rn_n[:, u] = np.bincount(side[elig], minlength=2)
        rn_k[:, u] = np.bincount(side[hit], minlength=2)
    out["rn_n"], out["rn_k"] = rn_n, rn_k
    return out


def estimated_table_from_counts(parts: list, *, min_n: int = 300, min_value: float = 10.0) -> pd.DataFrame | None:
    """:func:`estimated_table` of the whole table from the :func:`estimated_counts` of its parts (the same table,
    bit for bit: every statistic it shows is one of counts)."""
    from ..digit_stats import EXPECTED, UNIT_SHARE, Z_CRIT_MAD, _conformity, share_stats
    from .counting import _round_stats
    from .engine import GroupedBenford

    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    tot = {k: sum(p[k] for p in parts) for k in ("n_ok", "c_ft", "dec", "tz_hist", "rn_n", "rn_k")}
    if int(tot["n_ok"].min()) < min_n:
        return None
    c_ft = tot["c_ft"]
    n_rec = c_ft.sum(axis=1)
    cum = np.cumsum(tot["dec"], axis=1) / np.maximum(n_rec, 1)[:, None]
    lo = np.argmax(cum >= 0.01, axis=1)
    hi = np.argmax(cum >= 0.99, axis=1)
    span = np.where(n_rec > 0, (hi - lo).astype(np.float64), np.nan)
    tzc = tot["tz_hist"]
    at_least = np.cumsum(tzc[:, ::-1], axis=1)[:, ::-1] / np.maximum(tzc.sum(axis=1), 1)[:, None]
    unit_exp = np.maximum((at_least >= UNIT_SHARE).sum(axis=1) - 1, 0)
    rows = np.arange(2)
    round_numbers = _round_stats(tot["rn_n"][rows, unit_exp], tot["rn_k"][rows, unit_exp])
    counts = {"first_digit": c_ft.reshape(2, 9, 10).sum(axis=2), "second_digit": c_ft.reshape(2, 9, 10).sum(axis=1),
              "first_two_digits": c_ft, "last_two_digits": np.zeros((2, 100), dtype=np.int64)}
    min_n_cmp, min_span = 100, 2.0  # those of compare_estimated's analyse_groups
    stats_, conf, nig, enough = {}, {}, {}, {}
    span_ok = np.nan_to_num(span, nan=-1) >= min_span
    for name, c in counts.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            st = share_stats(c, EXPECTED[name], Z_CRIT_MAD[name])
        stats_[name] = st
        enough[name] = (st["n"] >= min_n_cmp) & span_ok
        conf[name], nig[name] = _conformity(name, st, enough[name])
    nan2 = np.full(2, np.nan)
    gb = GroupedBenford(
        keys=pd.DataFrame({"group": [0, 1]}), min_value=float(min_value), sign="positive", min_n=min_n_cmp,
        min_span=min_span, n_records=n_rec, span_decades=span, counts=counts, stats=stats_, conformity=conf,
        conformity_nigrini=nig, enough=enough, sums=np.zeros((2, 90)), distortion_factor=nan2,
        arc={"n": n_rec, "l2": nan2, "pvalue": nan2, "mean": nan2, "variance": nan2}, round_numbers=round_numbers,
        duplicates={"n": n_rec, "top_values": np.full((2, 5), np.nan), "top_counts": np.zeros((2, 5), dtype=np.int64),
                    "duplicated_share": nan2},
        unit_exp=unit_exp)
    return _table(_comparison(gb))
