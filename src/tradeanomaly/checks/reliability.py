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


def _group_median(codes: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    s = pd.Series(values).groupby(codes, sort=True).median()
    out[s.index.to_numpy()] = s.to_numpy()
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
    m[m_seen] = _group_median(importer, g / 2.0, n_countries)[m_seen]
    for _ in range(iterations):
        e_new = _group_median(exporter, g - m[importer], n_countries)
        e = np.where(np.isfinite(e_new), e_new, 0.0)
        m_new = _group_median(importer, g - e[exporter], n_countries)
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
