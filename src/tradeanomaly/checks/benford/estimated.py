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
    cmp = compare_estimated(v[ok], est[ok], min_value=min_value)
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
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    est = np.asarray(estimated, dtype=bool)
    gb = analyse_groups(values, est.astype(np.int64), min_value=min_value)
    labels = ["estimated" if k else "reported" for k in gb.keys["group"]]
    res = {lab: gb.result(i) for i, lab in enumerate(labels)}
    table = gb.counts["first_two_digits"]
    table = table[:, table.sum(axis=0) > 0]
    chi2, p, _, _ = stats.chi2_contingency(table)
    return EstimatedComparison(reported=res["reported"], estimated=res["estimated"], chi2_homogeneity=float(chi2),
                               homogeneity_pvalue=float(p))
