"""A held-out synthetic trade panel for evaluation only (never used to tune the method).

This generator was written independently of :mod:`tradeanomaly.synth` (only that module's output format was
looked at) so that a method tuned on the project's own synthetic data can be scored on data whose model, sizes,
noise and anomaly shapes were chosen by someone else. It returns the canonical flows table and a truth table of
planted anomalies and negative controls; see :func:`generate` and the command line at the bottom::

    python benchmarks/heldout_panel.py --seed 7 --out /tmp/heldout7   # writes flows.csv.gz and truth.csv

The model
=========

*Economies.* 38 economies (``ECONOMIES``): large and small, several outside the G20 (KHM, BGD, PAK, EGY, KAZ,
NGA, CHL, PER, MAR, NZL, ...). Each has an export mass, an import mass (bn USD a month), a position (for
great-circle distances) and trade-bloc memberships.

*Pair sizes.* Every ordered pair (exporter, importer) trades. Size = export mass^0.95 * import mass^0.85 /
distance^0.9 * bloc bonus * a pair effect exp(N(0, 0.95)) clipped to [-2.6, 1.6] (heavy tail), rescaled so that each exporter's
bilateral rows cover 72 % of its exports; China->USA is pinned at about 37 bn USD a month in 2016 (about 40 bn
later); pairs are floored at 0.4 mn USD a month.

*Time.* Monthly 2016-01..2022-12 (84 months). Value of a pair = size * global nominal index (piecewise linear,
weak 2016, boom 2021-22) * pair growth (exporter growth + pair deviation) * exporter business cycle (AR(1)) *
seasonality * the 2020 shock * true-trade noise. Seasonality: for every economy twelve month effects drawn from
a Dirichlet(150, ..., 150) (so no sine shape), a December peak for a few economies, and a Lunar New Year dip for
East Asian exporters (the 15-day holiday window split between January and February by the actual date of each
year). A pair's season is exporter^0.7 * importer^0.3. The 2020 shock: one global depth of 10-25 % in April and
May (half in June, a fifth in July), scaled by a pair sensitivity in [0.4, 1.6]; China's exports also dip in
February 2020.

*Chapters and quantities.* 20 HS chapters. Each exporter has a chapter profile (global weights times its
specialities); each pair draws its chapter shares from a Dirichlet around that profile; shares below 1.2 % are
zero (intermittent flows are not published), and shares drift by a random walk. Unit values (USD/kg) per
exporter and chapter = chapter level * exporter factor * a chapter price index * a random walk; kg = value /
unit value.

*Noise.* True trade noise (seen by both sides): log-normal with a per-pair scale drawn from a log-normal (1.5 %
to 25 %), plus a t(3) shock, plus rare legitimate one-month spikes (x1.8-4, e.g. a ship or aircraft delivery) in
a pair-chapter; these spikes are real trade and are NOT in the truth. Reporting noise: the exporter's ``X`` adds
a small pair-month noise and a chapter noise; the importer's ``M`` = a lagged mix of the goods (a part of a
month's shipments is booked the next month; the part is larger for small and distant importers) * (1 + tau) *
a larger noise for small economies. tau, the CIF/FOB margin, is 2-10 % growing with distance, varies by pair and
drifts slowly (mean-reverting).

*Publication.* Pairs involving CHN, HKG, SGP, USA, DEU or JPN publish chapter rows (value and kg) and a TOTAL row
that is the exact sum of the chapter rows; other pairs publish TOTAL rows only. China publishes exports to WLD
(bilateral exports / coverage) and 31 provinces' exports to WLD, which sum to the national WLD row exactly
(except for planted province padding, which is NOT in the national rows).

*Entrepôts (not fraud).* HKG and SGP re-export a large part of what they export (HKG about 95 %, SGP about
45 %). ``X`` rows are total exports, ``RX`` rows (total and chapters) the re-exported part. Re-exported goods
come from origins in proportion to origin weights (China about 60 % for HKG) times the origin's chapter
profile; the hubs' imports from each origin include them. Importers book re-exported goods by country of
origin (a share of 60-95 %, by importer; only in chapters the origin itself ships to the importer), so the
importer's ``M`` from the hub is far below the hub's ``X`` and its ``M`` from the origin is above the origin's
``X``: a structural mirror gap (negative control ``hub_reexport_gap``, written for a few hub-partner-chapter
subjects over the whole span, the first months included). China's imports from the hubs of goods of Chinese origin are re-imports and are left out.

*Publisher estimate (not fraud).* One small importer stops reporting for 12 months; the publisher fills its
imports (TOTAL and chapters, every partner) with estimates: the same month a year earlier, smoothed over 3
months, times the importer's trailing growth; those rows have ``estimated=true`` (negative control
``publisher_estimate``, one truth row per partner).

Planted anomalies (subjects, periods and sizes drawn from the seed)
===================================================================

========================  =====  ===============================================================================
kind                      count  what is planted
========================  =====  ===============================================================================
invoice_export_pair       4      exporter (2-3 times CHN, otherwise KOR, MYS, VNM, THA, JPN, ...) reports 1-3
                                 chapters to one partner (HKG, SGP, KOR, ARE, VNM, ...) with value and kg
                                 x1.4-2.5 for 2-14 months; the importer's report is untouched
invoice_export_province   3-4    one province's reported exports x1.3-2 for 2-6 months, in half the cases only
                                 in the quarter-opening months of the window; China's national rows exclude it
transshipment             4      from a date on, 25-60 % of China's exports of one chapter to D (USA, sometimes
                                 DEU) go through a hub H (VNM, MYS, THA, MEX, TUR, IDN, KHM, ARE): O->D falls,
                                 O->H rises by the same goods, H->D rises 0-2 months later with 60-100 %
                                 pass-through (and a 2-8 % markup); ramp 2-4 months, lasts 6-18 months
export_rush               4      an exporter (MEX, VNM, DEU, KOR, CAN, JPN, at most one CHN) ships 1-3 chapters
                                 to one destination at +30-120 % in the 1-3 months before a tariff date, then
                                 the same amount less over the 1-3 months after; real trade, both sides report
unit_value_mispricing     4      a pair-chapter's value x1.3-2 with kg unchanged for 2-14 months; in at least
                                 half of them both sides report the inflated value (collusion), else one side
fabricated_digits         3      one reporter's figures of one flow (X or M, every partner, chapters and TOTALs
                                 of pairs without chapters; TOTALs of chapter pairs stay the sum) replaced for
                                 3-8 months by numbers near the true level, rounded to 2-3 significant digits
                                 and pulled to favourite leading digits; kg untouched
========================  =====  ===============================================================================

Negative controls (``negative_control=true``): ``hub_reexport_gap`` (3 rows) and ``publisher_estimate``.

``truth.usd``: the dollars planted (inflation, diverted value, front-loaded value, added value, the value of
the invented figures, the structural gap, the estimated imports).
"""

from __future__ import annotations

import argparse
import gzip
import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FLOW_COLUMNS = ["period", "reporter", "region", "partner", "flow", "hs", "value_usd", "valuation", "quantity",
                "quantity_unit", "estimated", "source"]
TRUTH_COLUMNS = ["anomaly_id", "kind", "negative_control", "reporter", "partner", "hub", "region", "hs",
                 "period_start", "period_end", "usd", "note"]
SOURCE = "heldout"

START_YEAR, N_MONTHS = 2016, 84
PERIODS = [f"{START_YEAR + t // 12}-{t % 12 + 1:02d}" for t in range(N_MONTHS)]
MONTH_OF = np.arange(N_MONTHS) % 12  # 0 = January

# iso, lat, lon, export mass, import mass (bn USD / month, around 2016), blocs, flags
# flags: "E" East Asian exporter (Lunar New Year), "D" December peak
ECONOMIES = [
    ("CHN", 34.0, 110.0, 185.0, 140.0, "", "E"),
    ("USA", 39.0, -98.0, 125.0, 190.0, "NA", "D"),
    ("DEU", 51.0, 10.0, 110.0, 90.0, "EU", ""),
    ("JPN", 36.0, 138.0, 55.0, 53.0, "", "D"),
    ("KOR", 36.5, 127.8, 44.0, 38.0, "", "E"),
    ("NLD", 52.2, 5.3, 48.0, 42.0, "EU", ""),
    ("HKG", 22.3, 114.2, 42.0, 6.0, "", "E"),  # import mass: own use only
    ("SGP", 1.35, 103.8, 30.0, 12.0, "ASEAN", "E"),
    ("FRA", 46.5, 2.3, 42.0, 48.0, "EU", ""),
    ("ITA", 42.8, 12.5, 38.0, 34.0, "EU", ""),
    ("GBR", 54.0, -2.0, 34.0, 52.0, "", "D"),
    ("MEX", 23.6, -102.5, 32.0, 33.0, "NA", ""),
    ("CAN", 56.0, -106.0, 32.0, 34.0, "NA", ""),
    ("IND", 21.0, 78.0, 23.0, 33.0, "", ""),
    ("ARE", 24.0, 54.0, 24.0, 20.0, "GCC", ""),
    ("THA", 15.0, 101.0, 18.5, 16.5, "ASEAN", ""),
    ("VNM", 16.0, 107.8, 15.0, 14.5, "ASEAN", "E"),
    ("MYS", 4.2, 102.0, 16.5, 14.0, "ASEAN", "E"),
    ("POL", 52.0, 19.0, 17.0, 16.5, "EU", ""),
    ("AUS", -25.0, 134.0, 16.0, 16.5, "ANZ", "D"),
    ("BRA", -10.0, -52.0, 15.5, 12.0, "MER", ""),
    ("SAU", 24.0, 45.0, 15.0, 11.0, "GCC", ""),
    ("CZE", 49.8, 15.5, 13.0, 12.0, "EU", ""),
    ("TUR", 39.0, 35.0, 12.0, 16.5, "", ""),
    ("IDN", -2.5, 118.0, 12.0, 11.5, "ASEAN", ""),
    ("ZAF", -29.0, 24.0, 6.5, 6.8, "", "D"),
    ("PHL", 12.9, 122.0, 5.2, 8.0, "ASEAN", ""),
    ("CHL", -33.5, -70.7, 5.3, 5.0, "", ""),
    ("KAZ", 48.0, 67.0, 3.6, 2.6, "", ""),
    ("ARG", -34.6, -64.0, 4.8, 5.0, "MER", ""),
    ("NGA", 9.1, 8.7, 3.2, 3.0, "", ""),
    ("PER", -9.2, -75.0, 3.4, 3.3, "", ""),
    ("NZL", -41.0, 174.0, 3.0, 3.1, "ANZ", "D"),
    ("BGD", 23.7, 90.4, 3.0, 4.3, "", ""),
    ("EGY", 26.8, 30.8, 1.9, 5.0, "", ""),
    ("PAK", 30.4, 69.3, 1.8, 4.3, "", ""),
    ("MAR", 31.8, -7.1, 2.0, 3.6, "", ""),
    ("KHM", 12.6, 104.9, 1.0, 1.3, "ASEAN", ""),
]
ISO = [e[0] for e in ECONOMIES]
IDX = {c: i for i, c in enumerate(ISO)}
N_ECON = len(ISO)

# HS chapters, level of unit value (USD/kg)
CHAPTERS = [("03", 5.0), ("08", 1.8), ("10", 0.25), ("15", 0.9), ("22", 2.0), ("26", 0.12), ("27", 0.45),
            ("29", 2.5), ("30", 60.0), ("39", 2.2), ("44", 0.4), ("61", 22.0), ("64", 18.0), ("71", 2500.0),
            ("72", 0.8), ("84", 28.0), ("85", 35.0), ("87", 12.0), ("90", 90.0), ("94", 5.0)]
HS = [c for c, _ in CHAPTERS]
CIDX = {c: i for i, c in enumerate(HS)}
N_CH = len(HS)
GLOBAL_CHAPTER_WEIGHTS = np.array([1.0, 0.8, 0.8, 0.8, 0.6, 1.0, 5.0, 2.0, 2.0, 2.5, 0.7, 1.2, 0.8, 2.5, 1.8,
                                   9.0, 11.0, 6.0, 2.5, 1.2])
SPECIALITIES = {
    "CHN": {"85": 2.5, "84": 2.0, "61": 2.0, "64": 2.5, "94": 3.0, "39": 1.3, "27": 0.1, "26": 0.05},
    "USA": {"84": 1.5, "90": 2.0, "30": 1.5, "87": 1.2, "10": 1.5, "27": 0.8},
    "DEU": {"87": 2.5, "84": 1.8, "30": 2.0, "90": 1.5, "27": 0.1},
    "JPN": {"87": 2.5, "84": 2.0, "85": 1.5, "90": 1.8, "27": 0.05},
    "KOR": {"85": 3.0, "87": 2.0, "39": 1.5, "27": 0.5},
    "NLD": {"27": 1.5, "84": 1.4, "85": 1.4, "30": 1.5, "08": 2.0},
    "HKG": {"85": 3.5, "71": 3.0, "84": 1.5, "90": 1.5, "27": 0.02, "26": 0.02, "10": 0.05},
    "SGP": {"85": 3.0, "27": 1.5, "84": 1.3, "29": 2.0, "71": 1.2},
    "FRA": {"30": 2.0, "87": 1.4, "22": 4.0, "84": 1.2},
    "ITA": {"84": 1.8, "87": 1.2, "64": 2.0, "30": 1.5, "94": 1.5},
    "GBR": {"84": 1.5, "87": 1.6, "30": 2.0, "71": 2.0, "22": 2.5},
    "MEX": {"87": 3.0, "85": 2.0, "84": 1.5, "27": 0.7, "08": 2.0},
    "CAN": {"27": 3.0, "87": 1.8, "44": 3.0, "10": 2.0},
    "IND": {"71": 3.0, "27": 1.5, "30": 2.5, "29": 2.0, "61": 1.5, "10": 1.5},
    "ARE": {"27": 5.0, "71": 3.0},
    "THA": {"85": 1.8, "84": 1.8, "87": 1.5, "39": 1.5, "10": 2.0},
    "VNM": {"85": 3.5, "61": 3.0, "64": 4.0, "94": 2.5, "03": 2.0},
    "MYS": {"85": 3.5, "27": 1.5, "15": 6.0},
    "POL": {"87": 1.8, "94": 3.0, "84": 1.3},
    "AUS": {"26": 10.0, "27": 5.0, "10": 1.5, "71": 1.5},
    "BRA": {"26": 6.0, "27": 2.0, "10": 4.0, "72": 2.0, "08": 1.5},
    "SAU": {"27": 9.0, "29": 2.5, "39": 2.0},
    "CZE": {"87": 2.5, "84": 1.8, "85": 1.5},
    "TUR": {"87": 1.8, "61": 2.5, "72": 2.5, "71": 1.5, "08": 2.0},
    "IDN": {"27": 4.0, "15": 6.0, "64": 2.0, "72": 1.5},
    "ZAF": {"71": 4.0, "26": 4.0, "27": 2.0, "87": 1.2},
    "PHL": {"85": 4.0, "84": 1.5, "08": 2.0},
    "CHL": {"26": 8.0, "08": 3.0, "03": 3.0, "22": 2.0},
    "KAZ": {"27": 8.0, "26": 3.0, "72": 2.0},
    "ARG": {"10": 5.0, "15": 4.0, "87": 1.2, "27": 1.0},
    "NGA": {"27": 15.0},
    "PER": {"26": 8.0, "71": 4.0, "08": 2.0},
    "NZL": {"08": 2.0, "03": 2.0, "22": 1.5, "44": 3.0},
    "BGD": {"61": 12.0, "64": 2.0},
    "EGY": {"27": 3.0, "08": 2.5, "61": 1.5},
    "PAK": {"61": 6.0, "10": 3.0},
    "MAR": {"87": 2.0, "26": 3.0, "03": 2.0, "61": 1.5},
    "KHM": {"61": 10.0, "64": 4.0, "10": 1.5},
}
DETAIL = {"CHN", "HKG", "SGP", "USA", "DEU", "JPN"}
HUBS = {"HKG": 0.95, "SGP": 0.45}  # re-export share of total exports
HUB_ORIGINS = {
    "HKG": {"CHN": 0.62, "JPN": 0.06, "KOR": 0.05, "USA": 0.05, "SGP": 0.03, "VNM": 0.04, "MYS": 0.03,
            "THA": 0.03, "DEU": 0.03, "IND": 0.02, "PHL": 0.02, "GBR": 0.02},
    "SGP": {"CHN": 0.22, "MYS": 0.17, "USA": 0.10, "JPN": 0.08, "KOR": 0.08, "IDN": 0.08, "THA": 0.07,
            "DEU": 0.05, "VNM": 0.05, "IND": 0.05, "PHL": 0.05},
}
PROVINCES = {  # share of China's exports around 2016
    "GD": 0.265, "JS": 0.155, "ZJ": 0.125, "SH": 0.087, "SD": 0.062, "FJ": 0.048, "TJ": 0.019, "BJ": 0.024,
    "CQ": 0.019, "SC": 0.015, "HA": 0.014, "LN": 0.019, "HE": 0.014, "AH": 0.013, "JX": 0.014, "HB": 0.012,
    "HN": 0.009, "GX": 0.011, "YN": 0.005, "SN": 0.008, "SX": 0.004, "NM": 0.002, "JL": 0.002, "HL": 0.002,
    "XJ": 0.007, "GZ": 0.002, "HI": 0.0015, "GS": 0.0005, "NX": 0.0003, "QH": 0.0001, "XZ": 0.0002,
}
LUNAR_NEW_YEAR = {2016: (2, 8), 2017: (1, 28), 2018: (2, 16), 2019: (2, 5), 2020: (1, 25), 2021: (2, 12),
                  2022: (2, 1)}
LNY_DEPTH = {"CHN": 0.24, "HKG": 0.12, "VNM": 0.18, "KOR": 0.08, "SGP": 0.07, "MYS": 0.08}


def ym(t: int) -> str:
    return PERIODS[t]


# --------------------------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------------------------


def _distances() -> np.ndarray:
    lat = np.radians([e[1] for e in ECONOMIES])
    lon = np.radians([e[2] for e in ECONOMIES])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    d = 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    return np.maximum(d, 800.0)


def _bloc_bonus(a: str, b: str) -> float:
    ea, eb = ECONOMIES[IDX[a]], ECONOMIES[IDX[b]]
    bonus = 1.0
    if ea[5] and ea[5] == eb[5]:
        bonus *= {"EU": 2.5, "NA": 3.5, "ASEAN": 1.8, "ANZ": 3.0, "MER": 3.0, "GCC": 2.0}[ea[5]]
    return bonus


def _lny_effect(depth: float) -> np.ndarray:
    """Multiplier per month for a 15-day holiday window starting 3 days before the Lunar New Year."""
    out = np.ones(N_MONTHS)
    for y, (m, d) in LUNAR_NEW_YEAR.items():
        days = pd.date_range(pd.Timestamp(y, m, d) - pd.Timedelta(days=3), periods=15, freq="D")
        for mm in (1, 2, 3):
            frac = float(np.mean(days.month == mm))
            t = (y - START_YEAR) * 12 + mm - 1
            if 0 <= t < N_MONTHS:
                out[t] *= 1.0 - depth * frac * 1.6  # a 15-day window takes a large part of the month's output
    return out


def _seasonality(rng: np.random.Generator) -> np.ndarray:
    """(economy, month) multipliers: Dirichlet month effects, December peaks, Lunar New Year dips."""
    s = rng.dirichlet(np.full(12, 150.0), size=N_ECON) * 12.0
    for i, e in enumerate(ECONOMIES):
        if "D" in e[6]:
            s[i, 11] *= rng.uniform(1.08, 1.16)
            s[i, 0] *= rng.uniform(0.93, 0.98)
        s[i] /= s[i].mean()
    out = s[:, MONTH_OF]
    for c, depth in LNY_DEPTH.items():
        out[IDX[c]] *= _lny_effect(depth * rng.uniform(0.8, 1.2))
    return out


def _global_index() -> np.ndarray:
    knots_t = [0, 12, 24, 36, 48, 60, 72, 83]
    knots_v = [0.0, 0.05, 0.11, 0.09, 0.06, 0.14, 0.27, 0.22]
    return np.exp(np.interp(np.arange(N_MONTHS), knots_t, knots_v))


def _random_walk(rng, shape, sd, phi=1.0):
    """Random walk (phi=1) or AR(1) along the last axis, starting at 0."""
    z = rng.normal(0.0, sd, size=shape)
    if phi == 1.0:
        return np.cumsum(z, axis=-1) - z[..., :1]
    out = np.empty(shape)
    out[..., 0] = 0.0
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + z[..., t]
    return out


@dataclass
class Panel:
    """The arrays of one panel: pairs p (exporter ex[p], importer im[p]), chapters c, months t."""

    ex: np.ndarray
    im: np.ndarray
    pid: dict
    detail: np.ndarray  # (P,) pair publishes chapters
    V: np.ndarray  # true goods value at FOB (P, C, T)
    Q: np.ndarray  # true kg (P, C, T)
    UV: np.ndarray  # unit value of the exporter (E, C, T)


# --------------------------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------------------------


def _base_panel(rng: np.random.Generator) -> Panel:
    dist = _distances()
    xm = np.array([e[3] for e in ECONOMIES]) * 1e9
    mm = np.array([e[4] for e in ECONOMIES]) * 1e9
    ex, im = np.array([(a, b) for a in range(N_ECON) for b in range(N_ECON) if a != b]).T
    P = len(ex)
    pid = {(ISO[a], ISO[b]): p for p, (a, b) in enumerate(zip(ex, im))}
    detail = np.array([ISO[a] in DETAIL or ISO[b] in DETAIL for a, b in zip(ex, im)])

    # pair sizes (gravity with a heavy-tailed pair effect)
    g = xm[ex] ** 0.95 * mm[im] ** 0.85 / dist[ex, im] ** 0.9
    g *= np.array([_bloc_bonus(ISO[a], ISO[b]) for a, b in zip(ex, im)])
    g *= np.exp(np.clip(rng.normal(0.0, 0.95, size=P), -2.6, 1.6))
    size = np.empty(P)
    for e in range(N_ECON):
        sel = ex == e
        size[sel] = g[sel] / g[sel].sum() * 0.72 * xm[e]
    size[pid[("CHN", "USA")]] = 37e9
    size = np.maximum(size, 0.4e6)

    T = N_MONTHS
    # growth, cycles, seasonality, 2020 shock
    g_ex = rng.normal(0.035, 0.03, size=N_ECON)
    g_pair = g_ex[ex] + rng.normal(0.0, 0.035, size=P)
    g_pair[pid[("CHN", "USA")]] = 0.0
    years = np.arange(T) / 12.0
    trend = np.exp(np.outer(g_pair, years))
    cycle = np.exp(_random_walk(rng, (N_ECON, T), 0.012, phi=0.92))
    season = _seasonality(rng)
    pair_season = season[ex] ** 0.7 * season[im] ** 0.3
    depth = rng.uniform(0.10, 0.25)
    sens = rng.uniform(0.4, 1.6, size=P)
    shock = np.ones((P, T))
    for t, f in ((PERIODS.index("2020-03"), 0.25), (PERIODS.index("2020-04"), 1.0),
                 (PERIODS.index("2020-05"), 1.0), (PERIODS.index("2020-06"), 0.5), (PERIODS.index("2020-07"), 0.2)):
        shock[:, t] = np.clip(1.0 - depth * f * sens, 0.3, 1.0)
    shock[ex == IDX["CHN"], PERIODS.index("2020-02")] *= rng.uniform(0.72, 0.85)
    level = size[:, None] * _global_index()[None, :] * trend * cycle[ex] * pair_season * shock  # (P, T)

    # chapter shares: exporter profile, pair Dirichlet, threshold, random-walk drift
    prof = np.tile(GLOBAL_CHAPTER_WEIGHTS, (N_ECON, 1))
    for c, sp in SPECIALITIES.items():
        for h, w in sp.items():
            prof[IDX[c], CIDX[h]] *= w
    prof *= np.exp(rng.normal(0.0, 0.3, size=prof.shape))
    prof /= prof.sum(axis=1, keepdims=True)
    shares = np.array([rng.dirichlet(prof[a] * 25.0 + 1e-3) for a in ex])
    shares[shares < 0.012] = 0.0
    shares /= shares.sum(axis=1, keepdims=True)
    drift = np.exp(_random_walk(rng, (P, N_CH, T), 0.018))
    sh = shares[:, :, None] * drift
    sh /= sh.sum(axis=1, keepdims=True)

    # true trade noise: per-pair scale, t(3) shocks
    sigma = np.clip(np.exp(rng.normal(np.log(0.045), 0.55, size=P)), 0.015, 0.25)
    z = rng.normal(size=(P, N_CH, T)) * sigma[:, None, None]
    z += 0.025 * np.clip(rng.standard_t(3, size=(P, N_CH, T)), -12, 12)
    V = level[:, None, :] * sh * np.exp(z)
    # legitimate one-off spikes (not anomalies)
    spikes = (rng.random((P, N_CH, T)) < 0.0015) & (V > 0)
    V[spikes] *= rng.uniform(1.8, 4.0, size=int(spikes.sum()))

    # unit values per exporter-chapter
    uv0 = np.array([u for _, u in CHAPTERS])
    price = np.exp(_random_walk(rng, (N_CH, T), 0.012))
    oil = CIDX["27"]
    price[oil] *= np.exp(np.interp(np.arange(T), [0, 24, 48, 52, 60, 76, 83], [0, 0.3, 0.2, -0.45, 0.1, 0.6, 0.4]))
    uv = uv0[None, :, None] * np.exp(rng.normal(0.0, 0.3, size=(N_ECON, N_CH, 1))) * price[None] \
        * np.exp(_random_walk(rng, (N_ECON, N_CH, T), 0.01))
    Q = V / uv[ex]
    return Panel(ex=ex, im=im, pid=pid, detail=detail, V=V, Q=Q, UV=uv)


class Planner:
    """Draws subjects and periods, keeps them apart, and collects truth rows."""

    def __init__(self, rng: np.random.Generator, panel: Panel):
        self.rng = rng
        self.panel = panel
        self.used_pairs: set[tuple[str, str]] = set()
        self.used_reporters: set[str] = set()
        self.truth: list[dict] = []
        self.counter: dict[str, int] = {}

    def add(self, kind: str, *, reporter="", partner="", hub="", region="", hs="", t0: int, t1: int, usd: float,
            note: str, control: bool = False) -> None:
        n = self.counter.get(kind, 0) + 1
        self.counter[kind] = n
        self.truth.append({"anomaly_id": f"{kind}-{n:02d}", "kind": kind,
                           "negative_control": "true" if control else "false", "reporter": reporter,
                           "partner": partner, "hub": hub, "region": region, "hs": hs,
                           "period_start": ym(t0), "period_end": ym(t1), "usd": int(round(usd)), "note": note})

    def window(self, dur_lo: int, dur_hi: int, earliest: int = 3, latest: int = N_MONTHS - 1) -> tuple[int, int]:
        d = int(self.rng.integers(dur_lo, dur_hi + 1))
        t0 = int(self.rng.integers(earliest, latest - d + 2))
        return t0, t0 + d - 1

    def pair_chapters(self, a: str, b: str, k: int, prefer: tuple[str, ...] = ()) -> list[int]:
        """k chapters with a substantial share in the pair, drawn by value (preferred chapters weighted up)."""
        p = self.panel.pid[(a, b)]
        tot = self.panel.V[p].sum(axis=1)
        w = np.where(tot > 0.03 * tot.sum(), tot, 0.0)
        for h in prefer:
            w[CIDX[h]] *= 4.0
        k = min(k, int((w > 0).sum()))
        return sorted(int(c) for c in self.rng.choice(N_CH, size=k, replace=False, p=w / w.sum()))


def _hs_label(chs: list[int]) -> tuple[str, str]:
    names = [HS[c] for c in chs]
    return (names[0] if len(names) == 1 else ""), "/".join(names)


def _plant_real_trade(pl: Planner) -> None:
    """Transshipment and export rushes change the goods themselves (both sides see them)."""
    rng, pan = pl.rng, pl.panel
    V, Q = pan.V, pan.Q
    # --- transshipment
    hubs = ["VNM", "MYS", "THA", "MEX", "TUR", "IDN", "KHM", "ARE"]
    hubs = list(rng.choice(hubs, size=4, replace=False))
    used_ch: set[tuple[str, int]] = set()
    for h in hubs:
        d = "USA" if rng.random() < 0.75 or h == "MEX" else "DEU"
        o = "CHN"
        for _ in range(20):
            c = pl.pair_chapters(o, d, 1, prefer=("85", "84", "94", "64", "61", "39", "72"))[0]
            if (d, c) not in used_ch:
                break
        used_ch.add((d, c))
        dur = int(rng.integers(6, 19))
        ramp = int(rng.integers(2, 5))
        lag = int(rng.integers(0, 3))
        t0 = int(rng.integers(18, N_MONTHS - dur - lag + 1))
        t1 = t0 + dur - 1
        f = rng.uniform(0.25, 0.6)
        passthrough = rng.uniform(0.6, 1.0)
        markup = rng.uniform(1.02, 1.08)
        w = np.zeros(N_MONTHS)
        w[t0:t1 + 1] = np.minimum(1.0, (np.arange(t0, t1 + 1) - t0 + 1) / ramp)
        pod, poh, phd = pan.pid[(o, d)], pan.pid[(o, h)], pan.pid[(h, d)]
        dv = f * w * V[pod, c]
        dq = f * w * Q[pod, c]
        V[pod, c] -= dv
        Q[pod, c] -= dq
        V[poh, c] += dv
        Q[poh, c] += dq
        V[phd, c, lag:] += (passthrough * markup * dv)[: N_MONTHS - lag]
        Q[phd, c, lag:] += (passthrough * dq)[: N_MONTHS - lag]
        pl.used_pairs |= {(o, d), (o, h), (h, d)}
        pl.add("transshipment", reporter=o, partner=d, hub=h, hs=HS[c], t0=t0, t1=min(t1 + lag, N_MONTHS - 1),
               usd=dv.sum(),
               note=f"from {ym(t0)} {f:.0%} of {o}'s exports of chapter {HS[c]} to {d} go via {h} (ramp "
                    f"{ramp} months, {dur} months): {o}->{h} rises by the same goods, {h}->{d} {lag} month(s) "
                    f"later with {passthrough:.0%} pass-through and a {markup - 1:.0%} markup")

    # --- export rushes before a tariff date (real trade)
    cands = [("MEX", "USA"), ("VNM", "USA"), ("DEU", "USA"), ("KOR", "USA"), ("CAN", "USA"), ("JPN", "USA"),
             ("KOR", "CHN"), ("DEU", "CHN"), ("THA", "USA"), ("CHN", "USA"), ("JPN", "CHN"), ("MYS", "USA")]
    cands = [c for c in cands if c not in pl.used_pairs or c == ("CHN", "USA")]
    order = rng.permutation(len(cands))
    picked, n_chn = [], 0
    for i in order:
        a, b = cands[i]
        if a == "CHN":
            if n_chn:
                continue
            n_chn += 1
        picked.append((a, b))
        if len(picked) == 4:
            break
    for a, b in picked:
        p = pan.pid[(a, b)]
        k = int(rng.integers(1, 4))
        chs = [c for c in pl.pair_chapters(a, b, k) if (b, c) not in used_ch or a != "CHN"]
        if not chs:
            chs = pl.pair_chapters(a, b, 1)
        n_pre = int(rng.integers(1, 4))
        n_post = int(rng.integers(1, 4))
        td = int(rng.integers(n_pre + 6, N_MONTHS - n_post - 1))  # first month under the tariff
        up = rng.uniform(0.3, 1.2)
        extra = 0.0
        for c in chs:
            add_v = up * V[p, c, td - n_pre:td]
            add_q = up * Q[p, c, td - n_pre:td]
            V[p, c, td - n_pre:td] += add_v
            Q[p, c, td - n_pre:td] += add_q
            base_post = V[p, c, td:td + n_post]
            cut = np.minimum(add_v.sum() * base_post / base_post.sum(), 0.85 * base_post)
            frac = cut / np.maximum(base_post, 1e-9)
            V[p, c, td:td + n_post] -= cut
            Q[p, c, td:td + n_post] *= 1.0 - frac
            extra += add_v.sum()
        pl.used_pairs.add((a, b))
        hs, names = _hs_label(chs)
        pl.add("export_rush", reporter=a, partner=b, hs=hs, t0=td - n_pre, t1=td + n_post - 1, usd=extra,
               note=f"chapters {names}: {n_pre} month(s) at +{up:.0%} before a tariff date {ym(td)}-01, then "
                    f"{n_post} month(s) lower by the same total; real trade, both sides report it")


def _reexports(pan: Panel, rng: np.random.Generator):
    """Hub re-exports: R (hub pairs, C, T); origin flows into the hubs; importer attribution by origin.

    Returns (R, Mb, Qb, gaps): R re-exported value per hub export pair, Mb/Qb the goods as booked by the
    importer (before lag, CIF and noise), gaps[(hub, partner)] the (C, T) value moved away from the hub."""
    V, Q = pan.V, pan.Q
    R = {}
    prof_ex = V.sum(axis=2)  # (P, C)
    for h, share in HUBS.items():
        rx_c = np.clip(share * np.exp(rng.normal(0.0, 0.04, size=N_CH)), 0.0, 0.99)
        origins = HUB_ORIGINS[h]
        # origin shares per chapter: weight * origin's export profile
        ow = np.zeros((len(origins), N_CH))
        for k, (o, w) in enumerate(origins.items()):
            prof = prof_ex[pan.ex == IDX[o]].sum(axis=0)
            ow[k] = w * prof / prof.sum() + 1e-12
        ow /= ow.sum(axis=0, keepdims=True)
        inflow_v = np.zeros((N_CH, N_MONTHS))
        for j in ISO:
            if j == h:
                continue
            p = pan.pid[(h, j)]
            R[p] = rx_c[:, None] * V[p]
            inflow_v += R[p]
        markup = rng.uniform(1.04, 1.08)
        for k, o in enumerate(origins):
            p_oh = pan.pid[(o, h)]
            add = ow[k][:, None] * inflow_v / markup
            V[p_oh] += add
            Q[p_oh] += add / pan.UV[IDX[o]]
        R[("origins", h)] = (list(origins), ow)
    Mb, Qb = V.copy(), Q.copy()
    gaps = {}
    for h in HUBS:
        names, ow = R.pop(("origins", h))
        for j in ISO:
            if j == h:
                continue
            p = pan.pid[(h, j)]
            attrib = 0.95 if j in ("USA", "CHN", "JPN", "DEU", "GBR", "FRA", "CAN", "AUS") else rng.uniform(0.6, 0.9)
            moved = np.zeros((N_CH, N_MONTHS))
            for k, o in enumerate(names):
                s = attrib * ow[k][:, None] * R[p]
                if o == j:  # goods back home: re-imports, not published
                    moved += s
                    continue
                po = pan.pid[(o, j)]
                s = s * (V[po].sum(axis=1) > 0)[:, None]  # only chapters the origin ships to j itself
                Mb[po] += s
                Qb[po] += s / pan.UV[IDX[o]]
                moved += s
            frac = np.where(V[p] > 0, moved / np.maximum(V[p], 1e-9), 0.0)
            Mb[p] -= moved
            Qb[p] *= 1.0 - frac
            gaps[(h, j)] = moved
    return R, Mb, Qb, gaps


def _importer_view(Mb: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """A part ``lam`` (per pair) of each month's goods is booked by the importer the month after."""
    prev = np.concatenate([Mb[..., :1], Mb[..., :-1]], axis=-1)
    return (1.0 - lam[:, None, None]) * Mb + lam[:, None, None] * prev


def _favourite_digits(rng, true_v: np.ndarray, favourites: list[int], sig: int) -> np.ndarray:
    """Numbers near ``true_v`` with favourite leading digits, rounded to ``sig`` significant digits."""
    v = true_v * np.exp(rng.normal(0.0, 0.12, size=true_v.shape))
    v = np.maximum(v, 1.0)
    e = np.floor(np.log10(v))
    m = v / 10 ** e  # mantissa in [1, 10)
    fav = np.array(sorted(favourites), dtype=float)
    pull = rng.random(v.shape) < 0.8
    lead = np.floor(m)
    nearest = fav[np.argmin(np.abs(lead[..., None] - fav), axis=-1)]
    m = np.where(pull, nearest + (m - lead), m)
    step = 10.0 ** (sig - 1)
    m = np.round(m * step) / step
    return m * 10 ** e


def generate(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held-out panel of ``seed``: (flows in the canonical layout, truth table)."""
    ss = np.random.SeedSequence([20240917, int(seed)])
    rng_base, rng_plan, rng_rep, rng_misc = (np.random.default_rng(s) for s in ss.spawn(4))
    pan = _base_panel(rng_base)
    pl = Planner(rng_plan, pan)
    _plant_real_trade(pl)
    R, Mb, Qb, gaps = _reexports(pan, rng_misc)
    P, T = len(pan.ex), N_MONTHS
    V, Q = pan.V, pan.Q

    # --- reporting
    mass = np.array([e[3] + e[4] for e in ECONOMIES])
    small = 1.0 - (np.log(mass) - np.log(mass).min()) / (np.log(mass).max() - np.log(mass).min())
    dist = _distances()[pan.ex, pan.im]
    sx = 0.008 + 0.02 * small[pan.ex]
    nx = np.exp(rng_rep.normal(size=(P, 1, T)) * sx[:, None, None] + rng_rep.normal(0, 0.02, size=(P, N_CH, T)))
    X = V * nx
    Qx = Q * np.exp(rng_rep.normal(0, 0.02, size=(P, N_CH, T)))
    lam = np.clip(0.03 + 0.22 * small[pan.im] + 0.08 * dist / 20000.0, 0.0, 0.4)
    sm = 0.012 + 0.06 * small[pan.im]
    tau0 = np.clip((0.02 + 0.075 * (dist / 19000.0) ** 0.8) * rng_rep.uniform(0.75, 1.25, size=P), 0.015, 0.11)
    tau = np.clip(tau0[:, None] * np.exp(_random_walk(rng_rep, (P, T), 0.02, phi=0.97)), 0.01, 0.13)
    nm = np.exp(rng_rep.normal(size=(P, 1, T)) * sm[:, None, None]
                + rng_rep.normal(size=(P, N_CH, T)) * (0.025 + 0.04 * small[pan.im])[:, None, None])
    M = _importer_view(Mb, lam) * (1.0 + tau[:, None, :]) * nm
    Qm = _importer_view(Qb, lam) * np.exp(rng_rep.normal(size=(P, N_CH, T)) * (0.02 + 0.03 * small[pan.im])[:, None, None])
    RX = {p: R[p] * nx[p] for p in R}

    rng = pl.rng
    # --- invoice_export_pair: exporter side only, value and kg
    cands = [("CHN", "HKG"), ("CHN", "SGP"), ("CHN", "KOR"), ("CHN", "ARE"), ("CHN", "VNM"), ("CHN", "MYS"),
             ("CHN", "THA")]
    others = [("KOR", "HKG"), ("MYS", "SGP"), ("VNM", "HKG"), ("THA", "HKG"), ("JPN", "HKG"), ("IDN", "SGP"),
              ("TUR", "DEU"), ("IND", "USA"), ("PHL", "HKG"), ("ARE", "CHN")]
    n_chn = int(rng.integers(2, 4))
    chn = [c for c in cands if c not in pl.used_pairs]
    oth = [c for c in others if c not in pl.used_pairs]
    picks = [chn[i] for i in rng.choice(len(chn), n_chn, replace=False)] + \
        [oth[i] for i in rng.choice(len(oth), 4 - n_chn, replace=False)]
    for a, b in picks:
        p = pan.pid[(a, b)]
        chs = pl.pair_chapters(a, b, int(rng.choice([1, 1, 2, 3])), prefer=("85", "71", "84", "90"))
        t0, t1 = pl.window(2, 14)
        f = rng.uniform(1.4, 2.5)
        added = (f - 1.0) * X[p][chs, t0:t1 + 1].sum()
        for c in chs:
            X[p, c, t0:t1 + 1] *= f
            Qx[p, c, t0:t1 + 1] *= f
            if p in RX:
                RX[p][c, t0:t1 + 1] *= f
        pl.used_pairs.add((a, b))
        hs, names = _hs_label(chs)
        pl.add("invoice_export_pair", reporter=a, partner=b, hs=hs, t0=t0, t1=t1, usd=added,
               note=f"{a}'s reported exports to {b} of chapter(s) {names}: value and kg x{f:.2f}; "
                    f"{b}'s import report untouched")

    # --- unit_value_mispricing: value up, kg unchanged; collusive (both sides) in at least half
    uv_cands = [k for k, p in pan.pid.items() if pan.detail[p] and k not in pl.used_pairs
                and k[0] not in HUBS and k[1] not in HUBS and 3e7 < V[p].sum() / T < 3e9]
    sides = ["both", "both"] + list(rng.choice(["both", "X", "M"], size=2, p=[0.2, 0.4, 0.4]))
    for side in sides:
        a, b = uv_cands[int(rng.integers(len(uv_cands)))]
        while (a, b) in pl.used_pairs:
            a, b = uv_cands[int(rng.integers(len(uv_cands)))]
        p = pan.pid[(a, b)]
        c = pl.pair_chapters(a, b, 1)[0]
        t0, t1 = pl.window(2, 14)
        f = rng.uniform(1.3, 2.0)
        sl = slice(t0, t1 + 1)
        base = X[p, c, sl].sum() if side != "M" else M[p, c, sl].sum()
        if side in ("both", "X"):
            X[p, c, sl] *= f
        if side in ("both", "M"):
            M[p, c, sl] *= f
        pl.used_pairs.add((a, b))
        who = {"both": "both sides (exporter and importer) report", "X": f"only the exporter ({a}) reports",
               "M": f"only the importer ({b}) reports"}[side]
        pl.add("unit_value_mispricing", reporter=a, partner=b, hs=HS[c], t0=t0, t1=t1, usd=(f - 1) * base,
               note=f"{who} chapter {HS[c]} at x{f:.2f} its value with kg unchanged")

    # --- round and aggregate
    Xr, Mr = np.round(X), np.round(M)
    Xr[Xr < 1] = 0
    Mr[Mr < 1] = 0
    Qxr = np.where(Xr > 0, np.maximum(np.round(Qx), 1), 0)
    Qmr = np.where(Mr > 0, np.maximum(np.round(Qm), 1), 0)
    RXr = {p: np.round(v) for p, v in RX.items()}
    estimated = np.zeros((P, T), dtype=bool)

    def totals(arr):  # (C, T) -> (T,): the TOTAL of one pair
        return arr.sum(axis=-2)

    # --- fabricated digits: one reporter, one flow, every partner
    fab_cands = ["TUR", "EGY", "NGA", "PAK", "ARG", "KAZ", "IDN", "PHL", "BGD", "ZAF", "CHL", "POL", "PER", "MAR",
                 "THA", "BRA"]
    involved = {x for k in pl.used_pairs for x in k}
    fab_cands = [c for c in fab_cands if c not in involved]
    fab = list(rng.choice(fab_cands, size=3, replace=False))
    override_tot: dict[tuple[str, int], np.ndarray] = {}  # ("X"/"M", p) -> (T,) fabricated TOTAL
    for r in fab:
        flow = str(rng.choice(["X", "M"]))
        t0, t1 = pl.window(3, 8)
        favourites = list(rng.choice(np.arange(2, 10), size=int(rng.integers(2, 4)), replace=False))
        sig = int(rng.integers(2, 4))
        sel = np.flatnonzero((pan.ex if flow == "X" else pan.im) == IDX[r])
        arr = Xr if flow == "X" else Mr
        sl = slice(t0, t1 + 1)
        usd = 0.0
        for p in sel:
            if pan.detail[p]:
                block = arr[p, :, sl]
                new = np.where(block > 0, _favourite_digits(rng, block, favourites, sig), 0.0)
                arr[p, :, sl] = new
                usd += new.sum()
            else:
                tot = totals(arr[p])
                new = tot.copy()
                new[sl] = _favourite_digits(rng, tot[sl], favourites, sig)
                override_tot[(flow, p)] = new
                usd += new[sl].sum()
        pl.used_reporters.add(r)
        pl.add("fabricated_digits", reporter=r, t0=t0, t1=t1, usd=usd,
               note=f"flow {flow}: every figure {r} reports as {'exports' if flow == 'X' else 'imports'} (all "
                    f"partners; chapter rows, and TOTAL rows of pairs without chapters) invented near the true level"
                    f", {sig} significant digits, favourite leading digits {sorted(int(d) for d in favourites)}; "
                    f"TOTALs of chapter pairs are the sum of the invented chapters; kg untouched")

    # --- publisher estimate: one small importer, 12 months, all partners
    est_cands = [c for c in ["KHM", "NGA", "PAK", "EGY", "BGD", "KAZ", "MAR", "PER"]
                 if c not in fab and c not in involved]
    s = str(rng.choice(est_cands))
    t0 = int(rng.integers(26, N_MONTHS - 12 + 1))
    t1 = t0 + 11
    sel = np.flatnonzero(pan.im == IDX[s])
    tot_s = np.array([totals(Mr[p]) for p in sel]).sum(axis=0)
    growth = float(np.clip(tot_s[t0 - 12:t0].sum() / tot_s[t0 - 24:t0 - 12].sum(), 0.85, 1.2))
    for p in sel:
        for t in range(t0, t1 + 1):
            lo, hi = max(t - 13, 0), t - 10  # months t-13..t-11: a 3-month average around t-12
            Mr[p, :, t] = np.round(Mr[p, :, lo:hi].mean(axis=1) * growth)
            Qmr[p, :, t] = np.where(Mr[p, :, t] > 0, np.maximum(np.round(Qmr[p, :, lo:hi].mean(axis=1) * growth), 1), 0)
        estimated[p, t0:t1 + 1] = True
        a = ISO[pan.ex[p]]
        pl.add("publisher_estimate", reporter=a, partner=s, t0=t0, t1=t1,
               usd=totals(Mr[p])[t0:t1 + 1].sum(), control=True,
               note=f"{s} did not report imports for 12 months; the publisher estimated them (estimated=true) from "
                    f"the same months a year earlier, smoothed over 3 months, x{growth:.3f} trailing growth")

    # --- hub re-export gap negative controls (product level, whole span)
    for h, j in [("HKG", "USA"), ("HKG", str(rng.choice(["DEU", "JPN", "GBR", "AUS"]))), ("SGP", "USA")]:
        g = gaps[(h, j)]
        c = int(np.argmax(g.sum(axis=1)))
        pl.add("hub_reexport_gap", reporter=h, partner=j, hs=HS[c], t0=0, t1=N_MONTHS - 1, usd=g[c].sum(),
               control=True,
               note=f"{h} re-exports ~{HUBS[h]:.0%} of its exports; {j} books re-exported goods by origin, so its "
                    f"imports from {h} of chapter {HS[c]} are far below {h}'s exports (structural, not fraud)")

    # --- provinces (China's exports to WLD)
    chn_pairs = np.flatnonzero(pan.ex == IDX["CHN"])
    chn_x = np.array([totals(Xr[p]) for p in chn_pairs]).sum(axis=0)
    national = np.round(chn_x / 0.74 * np.exp(rng_misc.normal(0, 0.008, size=T)))
    names = list(PROVINCES)
    w0 = np.array([PROVINCES[n] for n in names])
    psz = np.log(w0)
    psmall = (psz.max() - psz) / (psz.max() - psz.min())
    pseason = rng_misc.dirichlet(np.full(12, 120.0), size=len(names))[:, MONTH_OF] * 12
    pw = w0[:, None] * pseason * np.exp(
        _random_walk(rng_misc, (len(names), T), 1.0) * (0.012 + 0.025 * psmall)[:, None]  # share drift
        + rng_misc.normal(size=(len(names), T)) * (0.02 + 0.08 * psmall)[:, None])  # monthly noise
    pw /= pw.sum(axis=0, keepdims=True)
    prov = np.floor(pw * national[None, :])
    prov[0] += national - prov.sum(axis=0)  # the largest province takes the rounding: exact sum
    n_prov = int(rng.integers(3, 5))
    for k in rng.choice(np.arange(1, len(names)), size=n_prov, replace=False):
        t0, t1 = pl.window(2, 6)
        quarter_only = rng.random() < 0.5
        if quarter_only:  # make the window contain at least one quarter-opening month
            qs = [t for t in range(t0, t1 + 1) if MONTH_OF[t] % 3 == 0]
            if not qs:
                t0 = max(0, t0 - int(MONTH_OF[t0] % 3))
                qs = [t0]
            months = qs
        else:
            months = list(range(t0, t1 + 1))
        f = rng.uniform(1.3, 2.0)
        added = np.round(prov[k, months] * (f - 1.0))
        prov[k, months] += added
        pl.add("invoice_export_province", reporter="CHN", region=f"CN-{names[k]}", t0=t0, t1=t1, usd=added.sum(),
               note=f"CN-{names[k]}'s reported exports x{f:.2f} in "
                    f"{'the quarter-opening months ' + ', '.join(ym(t) for t in months) if quarter_only else 'every month'}"
                    f"; the padding is NOT in China's national rows (provinces then sum to more than the national "
                    f"WLD row by exactly the padding)")

    flows = _assemble(pan, Xr, Mr, Qxr, Qmr, RXr, override_tot, estimated, national, prov, names)
    truth = pd.DataFrame(pl.truth, columns=TRUTH_COLUMNS)
    order = {k: i for i, k in enumerate(["invoice_export_pair", "invoice_export_province", "transshipment",
                                         "export_rush", "unit_value_mispricing", "fabricated_digits",
                                         "hub_reexport_gap", "publisher_estimate"])}
    truth = truth.sort_values("anomaly_id", key=lambda s: s.map(lambda x: (order[x.rsplit("-", 1)[0]], x)))
    return flows, truth.reset_index(drop=True)


def _assemble(pan, Xr, Mr, Qxr, Qmr, RXr, override_tot, estimated, national, prov, prov_names) -> pd.DataFrame:
    """Published rows: chapter rows of detail pairs, TOTAL rows of every pair, RX rows, WLD and provinces."""
    P, T = len(pan.ex), N_MONTHS
    parts = []
    t_idx = np.arange(T)

    def chapter_rows(reporter_of, partner_of, flow, val, qty, pairs, est=None):
        pp, cc, tt = np.nonzero(val[pairs] > 0)
        p = pairs[pp]
        parts.append(pd.DataFrame({
            "t": tt, "reporter": reporter_of[p], "region": "", "partner": partner_of[p], "flow": flow,
            "hs": np.array(HS, dtype=object)[cc], "value_usd": val[pairs][pp, cc, tt],
            "quantity": qty[pairs][pp, cc, tt], "quantity_unit": "kg",
            "estimated": est[p, tt] if est is not None else False}))

    def total_rows(reporter_of, partner_of, flow, tot, pairs, est=None):
        p = np.repeat(pairs, T)
        tt = np.tile(t_idx, len(pairs))
        parts.append(pd.DataFrame({
            "t": tt, "reporter": reporter_of[p], "region": "", "partner": partner_of[p], "flow": flow,
            "hs": "TOTAL", "value_usd": tot[pairs].reshape(-1), "quantity": np.nan, "quantity_unit": "",
            "estimated": est[p, tt] if est is not None else False}))

    iso = np.array(ISO, dtype=object)
    exp_of, imp_of = iso[pan.ex], iso[pan.im]
    all_p = np.arange(P)
    det_p = np.flatnonzero(pan.detail)
    Xt, Mt = Xr.sum(axis=1), Mr.sum(axis=1)
    for (flow, p), v in override_tot.items():
        (Xt if flow == "X" else Mt)[p] = v
    chapter_rows(exp_of, imp_of, "X", Xr, Qxr, det_p)
    chapter_rows(imp_of, exp_of, "M", Mr, Qmr, det_p, estimated)
    total_rows(exp_of, imp_of, "X", Xt, all_p)
    total_rows(imp_of, exp_of, "M", Mt, all_p, estimated)
    # re-exports
    rx_p = np.array(sorted(RXr))
    RXa = np.zeros((P, N_CH, T))
    for p in rx_p:
        RXa[p] = RXr[p]
    Qrx = np.where(RXa > 0, np.maximum(np.round(Qxr * np.divide(RXa, Xr, out=np.zeros_like(RXa), where=Xr > 0)), 1), 0)
    chapter_rows(exp_of, imp_of, "RX", RXa, Qrx, rx_p)
    total_rows(exp_of, imp_of, "RX", RXa.sum(axis=1), rx_p)
    # China to the world and its provinces
    parts.append(pd.DataFrame({"t": t_idx, "reporter": "CHN", "region": "", "partner": "WLD", "flow": "X",
                               "hs": "TOTAL", "value_usd": national, "quantity": np.nan, "quantity_unit": "",
                               "estimated": False}))
    for k, n in enumerate(prov_names):
        parts.append(pd.DataFrame({"t": t_idx, "reporter": "CHN", "region": f"CN-{n}", "partner": "WLD",
                                   "flow": "X", "hs": "TOTAL", "value_usd": prov[k], "quantity": np.nan,
                                   "quantity_unit": "", "estimated": False}))
    df = pd.concat(parts, ignore_index=True)
    df["period"] = np.array(PERIODS, dtype=object)[df.pop("t").to_numpy()]
    df["valuation"] = np.where(df["flow"] == "M", "CIF", "FOB")
    df["source"] = SOURCE
    df = df.sort_values(["reporter", "region", "partner", "flow", "hs", "period"], kind="mergesort")
    return df[FLOW_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------


def flows_csv_bytes(flows: pd.DataFrame) -> bytes:
    """The canonical CSV text: integer dollars and kg, empty quantity where there is none, lower-case booleans."""
    out = flows.copy()
    out["value_usd"] = out["value_usd"].round().astype("int64").astype(str)
    q = out["quantity"]
    out["quantity"] = np.where(q.notna(), q.fillna(0).round().astype("int64").astype(str), "")
    out["estimated"] = np.where(out["estimated"].astype(bool), "true", "false")
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def write(seed: int, out_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    flows, truth = generate(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(flows_csv_bytes(flows), compresslevel=6, mtime=0)
    (out_dir / "flows.csv.gz").write_bytes(data)
    buf = io.StringIO()
    truth.to_csv(buf, index=False, lineterminator="\n")
    (out_dir / "truth.csv").write_bytes(buf.getvalue().encode("utf-8"))
    return flows, truth


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Write the held-out evaluation panel (flows.csv.gz, truth.csv).")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    flows, truth = write(args.seed, args.out)
    print(f"seed {args.seed}: {len(flows):,} flow rows, {len(truth)} truth rows "
          f"({(truth.negative_control == 'false').sum()} planted) in {time.perf_counter() - t:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
