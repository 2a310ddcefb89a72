"""Reporter reliability from mirror agreement (after CEPII BACI's reliability weights).

Every paired flow gives an absolute log gap ``|ln(X_A>B / M_B<A,FOB)|``. It is split additively into an exporter
effect of A and an importer effect of B, ``|g_AB| ~ e_A + m_B``, fitted by alternating medians (robust
backfitting: one wild pair cannot make a good reporter look bad). A country whose reports disagree with all its
partners has a large effect; its partners' gaps are then tempered, because the disagreement is more likely its
reporting than their fraud.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: smallest effect (log units) so that a near-perfect reporter does not divide by zero
EFFECT_FLOOR = 0.01


class _Groups:
    """Rows grouped once by an integer code (``order`` puts them group after group), for repeated per-group
    medians of values computed directly in that order."""

    def __init__(self, codes: np.ndarray, n: int):
        # a stable sort of small codes is a radix sort when they fit in 16 bits
        small = codes.astype(np.int16) if n <= np.iinfo(np.int16).max else codes
        self.order = np.argsort(small, kind="stable")
        counts = np.bincount(codes, minlength=n)
        self.bounds = np.r_[0, np.cumsum(counts)]
        self.present = np.flatnonzero(counts)
        self.n = n

    def median(self, v: np.ndarray) -> np.ndarray:
        """Per code, the median of ``v`` (given in ``order``; NaN for an absent code): the two middle order
        statistics of each group averaged as ``(a + b) / 2``, as pandas' group median does; NaN values skipped."""
        out = np.full(self.n, np.nan)
        nan = np.isnan(v).any()
        for c in self.present:
            seg = v[self.bounds[c]:self.bounds[c + 1]]
            if nan:
                seg = seg[~np.isnan(seg)]
            k = len(seg)
            if k == 0:
                continue
            hi = k // 2
            part = np.partition(seg, hi)
            # the lower middle value of an even group is the largest value left of the upper one
            out[c] = part[hi] if k % 2 else (part[:hi].max() + part[hi]) / 2
        return out


def fit_effects(exporter: np.ndarray, importer: np.ndarray, abs_gap: np.ndarray, n_countries: int,
                iterations: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Exporter and importer effects (arrays indexed by country code; NaN for a country never seen in a role).

    ``abs_gap ~ e[exporter] + m[importer]`` by alternating medians, starting from an even split.
    """
    ok = np.isfinite(abs_gap)
    exporter, importer, g = exporter[ok], importer[ok], abs_gap[ok]
    e = np.zeros(n_countries)
    m = np.full(n_countries, 0.0)
    m_seen = np.zeros(n_countries, dtype=bool)
    m_seen[np.unique(importer)] = True
    # the pairs laid out once by exporter and once by importer: each step's medians read contiguous groups
    by_e = _Groups(exporter, n_countries)
    g_e, imp_e = g[by_e.order], importer[by_e.order]
    by_m = _Groups(importer, n_countries)
    g_m, exp_m = g[by_m.order], exporter[by_m.order]
    m[m_seen] = by_m.median(g_m / 2.0)[m_seen]
    for _ in range(iterations):
        e_new = by_e.median(g_e - m[imp_e])
        e = np.where(np.isfinite(e_new), e_new, 0.0)
        m_new = by_m.median(g_m - e[exp_m])
        m = np.where(np.isfinite(m_new), m_new, 0.0)
    e_out = np.full(n_countries, np.nan)
    m_out = np.full(n_countries, np.nan)
    seen_e = np.bincount(exporter, minlength=n_countries) > 0
    e_out[seen_e] = np.maximum(e[seen_e], EFFECT_FLOOR)
    m_out[m_seen] = np.maximum(m[m_seen], EFFECT_FLOOR)
    return e_out, m_out


def reliability_table(countries: np.ndarray, exporter: np.ndarray, importer: np.ndarray, abs_gap: np.ndarray,
                      estimated_share: np.ndarray | None = None) -> pd.DataFrame:
    """One row per country: its exporter and importer effects, how many pairs they rest on, and the indices.

    ``reliability_exporter`` / ``reliability_importer`` are ``min(1, median effect / own effect)``: 1 for a
    country that agrees with its partners at least as well as the typical reporter, towards 0 for one whose
    reports are far off. ``estimated_share`` is the share of the country's rows that the publisher estimated (a
    country that mostly does not report at all).
    """
    n = len(countries)
    e, m = fit_effects(exporter, importer, abs_gap, n)
    ok = np.isfinite(abs_gap)
    n_x = np.bincount(exporter[ok], minlength=n)
    n_m = np.bincount(importer[ok], minlength=n)
    ref_e = np.nanmedian(e) if np.isfinite(e).any() else np.nan
    ref_m = np.nanmedian(m) if np.isfinite(m).any() else np.nan
    out = pd.DataFrame({
        "country": pd.array(countries, dtype="str"),
        "exporter_effect": e,
        "importer_effect": m,
        "n_as_exporter": n_x.astype("int64"),
        "n_as_importer": n_m.astype("int64"),
        "reliability_exporter": np.minimum(1.0, ref_e / e),
        "reliability_importer": np.minimum(1.0, ref_m / m),
        "estimated_share": estimated_share if estimated_share is not None else np.nan,
    })
    keep = (n_x > 0) | (n_m > 0)
    return out.loc[keep].sort_values("country", kind="stable").reset_index(drop=True)
