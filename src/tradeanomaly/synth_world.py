"""The world of the synthetic panel (:mod:`tradeanomaly.synth`): the truth vocabulary (kinds, counts per seed,
truth columns and keys), the reference tables (economies, chapters, provinces, tariff dates, the candidates for
each plant) and the building blocks of the series (months, distances and CIF margins, seasonality, the 2020 shock,
AR(1) noise, rounding to significant digits). Hard-coded, so the generator is reproducible whatever the code
tables hold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import ConfigError

SOURCE = "synth"
TRUTH_COLUMNS = ("anomaly_id", "kind", "negative_control", "reporter", "partner", "hub", "region", "hs",
                 "period_start", "period_end", "usd", "note")
KINDS = ("invoice_export_pair", "invoice_export_province", "transshipment", "export_rush",
         "unit_value_mispricing", "fabricated_digits")
NEGATIVE_CONTROLS = ("hub_reexport_gap", "publisher_estimate")
#: kind -> truth columns identifying its subject (besides the period)
TRUTH_KEYS = {
    "invoice_export_pair": ("reporter", "partner", "hs"),
    "invoice_export_province": ("region",),
    "transshipment": ("reporter", "partner", "hub", "hs"),
    "export_rush": ("reporter", "partner", "hs"),
    "unit_value_mispricing": ("reporter", "partner", "hs"),
    "fabricated_digits": ("reporter",),
    "hub_reexport_gap": ("reporter", "partner"),
    "publisher_estimate": ("reporter", "partner"),
}
#: kind -> planted instances per seed (publisher_estimate: per estimating economy, one row per exporter)
COUNTS = {"invoice_export_pair": 3, "invoice_export_province": 3, "transshipment": 3, "export_rush": 3,
          "unit_value_mispricing": 3, "fabricated_digits": 2, "hub_reexport_gap": 2, "publisher_estimate": 2}

# --------------------------------------------------------------------------------------------------------------
# Reference tables (approximate 2018 GDP in bn USD, an economic centre's latitude/longitude, export and import
# openness relative to gravity). Hard-coded so the generator is reproducible whatever the code tables hold.
# --------------------------------------------------------------------------------------------------------------

_ECONOMIES = (
    # iso3, GDP (bn USD), latitude, longitude, monthly exports (bn USD, 2017), import openness
    ("CHN", 13900, 31.2, 121.5, 190.0, 1.0), ("HKG", 360, 22.3, 114.2, 46.0, 8.0),
    ("USA", 20500, 37.0, -95.0, 130.0, 1.4), ("VNM", 245, 16.0, 107.0, 18.0, 3.5),
    ("MEX", 1220, 23.0, -102.0, 34.0, 1.2), ("MYS", 358, 3.1, 101.7, 18.0, 2.0),
    ("THA", 505, 13.7, 100.5, 20.0, 1.6), ("SGP", 373, 1.35, 103.8, 31.0, 3.0),
    ("DEU", 3950, 51.0, 10.0, 120.0, 1.3), ("NLD", 914, 52.4, 4.9, 55.0, 2.2),
    ("JPN", 4970, 35.7, 139.7, 58.0, 0.5), ("KOR", 1720, 37.5, 127.0, 48.0, 0.6),
    ("TWN", 590, 25.0, 121.5, 26.0, 0.8), ("FRA", 2780, 46.6, 2.3, 44.0, 1.0),
    ("ITA", 2080, 42.0, 12.5, 42.0, 0.9), ("GBR", 2860, 52.0, -1.0, 37.0, 1.0),
    ("CAN", 1710, 45.4, -75.7, 35.0, 1.0), ("BRA", 1870, -23.5, -46.6, 18.0, 0.5),
    ("IND", 2700, 21.0, 78.0, 25.0, 0.8), ("IDN", 1040, -6.2, 106.8, 14.0, 0.8),
    ("PHL", 347, 14.6, 121.0, 6.0, 1.3), ("AUS", 1430, -33.9, 151.2, 19.0, 0.8),
    ("RUS", 1660, 55.75, 37.6, 30.0, 0.6), ("SAU", 787, 24.7, 46.7, 18.0, 0.8),
    ("ARE", 422, 25.2, 55.3, 25.0, 2.0), ("TUR", 780, 41.0, 29.0, 13.0, 1.0),
    ("CHE", 705, 46.9, 7.4, 25.0, 1.3), ("ZAF", 368, -26.2, 28.0, 7.0, 0.9),
    ("ARG", 520, -34.6, -58.4, 5.0, 0.5), ("CHL", 298, -33.4, -70.6, 6.0, 0.9),
    ("NGA", 397, 6.5, 3.4, 4.0, 0.6), ("EGY", 250, 30.0, 31.2, 2.0, 0.8),
    ("PAK", 315, 24.9, 67.0, 2.0, 0.8), ("BGD", 274, 23.8, 90.4, 3.0, 0.8),
    ("KHM", 24.5, 11.6, 104.9, 1.2, 2.0), ("NZL", 205, -36.8, 174.8, 3.0, 0.9),
    ("ISR", 370, 32.0, 34.8, 5.0, 0.9), ("COL", 334, 4.7, -74.0, 3.0, 0.7),
    ("PER", 222, -12.0, -77.0, 4.0, 0.7), ("KAZ", 179, 51.2, 71.4, 4.0, 0.6),
)
ISO3 = tuple(e[0] for e in _ECONOMIES)
HUBS = ("HKG", "SGP", "VNM", "MEX", "MYS", "THA")
EU_MEMBERS = ("DEU", "NLD", "FRA", "ITA")
DETAIL_ECONOMIES = ("CHN",) + HUBS + ("USA",) + EU_MEMBERS
ENTREPOTS = {"HKG": (0.95, 0.60), "SGP": (0.50, 0.30)}  # re-export share of exports, Chinese-origin share of it
_BLOCS = (("USA", "MEX", "CAN"), EU_MEMBERS + ("GBR",), ("VNM", "MYS", "THA", "SGP", "IDN", "PHL", "KHM"))

# chapter, world share, unit value in USD per kg
_CHAPTERS = (
    ("03", 0.010, 5.0), ("10", 0.010, 0.25), ("26", 0.030, 0.12), ("27", 0.120, 0.5), ("29", 0.030, 3.0),
    ("30", 0.030, 60.0), ("39", 0.040, 2.0), ("40", 0.012, 3.0), ("44", 0.010, 0.6), ("48", 0.012, 1.5),
    ("52", 0.008, 3.0), ("61", 0.015, 20.0), ("62", 0.015, 25.0), ("64", 0.012, 15.0), ("71", 0.030, 2000.0),
    ("72", 0.025, 0.8), ("73", 0.020, 3.0), ("76", 0.012, 3.5), ("84", 0.140, 25.0), ("85", 0.170, 40.0),
    ("87", 0.080, 12.0), ("90", 0.030, 80.0), ("94", 0.020, 4.0), ("95", 0.012, 8.0),
)
CHAPTERS = tuple(c[0] for c in _CHAPTERS)
_SPECIALTIES = {
    "CHN": {"85": 3, "84": 2.5, "94": 3, "95": 4, "61": 3, "62": 3, "64": 3, "73": 2, "39": 1.5},
    "VNM": {"85": 4, "61": 4, "62": 4, "64": 5, "94": 4, "03": 2}, "MYS": {"85": 4, "27": 2, "40": 3, "39": 2},
    "THA": {"85": 2.5, "84": 2.5, "87": 2, "40": 3, "10": 3}, "MEX": {"87": 4, "85": 3, "84": 2.5, "90": 2},
    "HKG": {"71": 6, "85": 4}, "SGP": {"85": 3, "27": 3, "84": 2, "29": 2}, "USA": {"84": 1.5, "90": 2, "30": 2,
                                                                                 "10": 2, "87": 1.5},
    "DEU": {"87": 3, "84": 2.5, "30": 2, "90": 2}, "NLD": {"27": 2, "84": 2, "30": 1.5},
    "FRA": {"30": 2, "87": 1.5, "10": 1.5}, "ITA": {"84": 2, "30": 1.5, "64": 2},
    "SAU": {"27": 20, "29": 3}, "RUS": {"27": 15, "72": 3, "10": 3}, "ARE": {"27": 8, "71": 5},
    "NGA": {"27": 25}, "KAZ": {"27": 12, "72": 3}, "AUS": {"26": 15, "27": 6, "71": 3},
    "BRA": {"26": 10, "10": 6, "27": 3}, "CHL": {"26": 20, "03": 4}, "PER": {"26": 20, "71": 5},
    "CHE": {"71": 10, "30": 8}, "IND": {"71": 4, "30": 3, "29": 3}, "KHM": {"61": 10, "62": 10, "64": 6},
    "BGD": {"61": 15, "62": 15}, "PAK": {"52": 8, "61": 4}, "ZAF": {"71": 6, "26": 6, "87": 2},
    "JPN": {"87": 3, "84": 2, "85": 2}, "KOR": {"85": 3, "87": 2.5}, "TWN": {"85": 5, "84": 2},
}

# China's provinces (ISO 3166-2) with an approximate share of national exports and whether they are coastal.
_PROVINCES = (
    ("CN-AH", 0.014, False), ("CN-BJ", 0.030, False), ("CN-CQ", 0.025, False), ("CN-FJ", 0.050, True),
    ("CN-GD", 0.265, True), ("CN-GS", 0.001, False), ("CN-GX", 0.013, True), ("CN-GZ", 0.002, False),
    ("CN-HA", 0.020, False), ("CN-HB", 0.014, False), ("CN-HE", 0.015, True), ("CN-HI", 0.002, True),
    ("CN-HL", 0.002, False), ("CN-HN", 0.012, False), ("CN-JL", 0.002, False), ("CN-JS", 0.165, True),
    ("CN-JX", 0.014, False), ("CN-LN", 0.020, True), ("CN-NM", 0.002, False), ("CN-NX", 0.0006, False),
    ("CN-QH", 0.0002, False), ("CN-SC", 0.025, False), ("CN-SD", 0.065, True), ("CN-SH", 0.085, True),
    ("CN-SN", 0.016, False), ("CN-SX", 0.005, False), ("CN-TJ", 0.020, True), ("CN-XJ", 0.006, False),
    ("CN-XZ", 0.0002, False), ("CN-YN", 0.006, False), ("CN-ZJ", 0.130, True),
)
PROVINCES = tuple(p[0] for p in _PROVINCES)
_INLAND_CANDIDATES = ("CN-HA", "CN-CQ", "CN-SC", "CN-HB", "CN-AH", "CN-JX", "CN-HN", "CN-SN", "CN-SX", "CN-YN",
                      "CN-XJ", "CN-GZ")

#: tariff events: (date, origin, destination, measure)
TARIFF_EVENTS = (
    ("2018-07-06", "CHN", "USA", "US section 301 tariffs, list 1"),
    ("2018-08-23", "CHN", "USA", "US section 301 tariffs, list 2"),
    ("2018-09-24", "CHN", "USA", "US section 301 tariffs, list 3"),
    ("2019-05-10", "CHN", "USA", "US list 3 tariffs raised to 25 %"),
    ("2019-09-01", "CHN", "USA", "US section 301 tariffs, list 4A"),
    ("2018-07-06", "USA", "CHN", "China's retaliatory tariffs"),
)
TRANSSHIPMENT_EVENTS = ("2018-07-06", "2019-09-01")
TRANSSHIPMENT_HUBS = ("VNM", "MYS", "THA", "MEX")
_RUSH_CHAPTERS = {("CHN", "USA"): ("84", "85", "94", "39", "73", "90", "40", "87", "76", "48"),
                  ("USA", "CHN"): ("10", "87", "03", "44", "90")}
_TRANSSHIP_CHAPTERS = ("85", "84", "94", "61", "62", "64", "95", "73", "39", "40")
_INVOICE_PAIRS = (("CHN", "HKG"), ("CHN", "SGP"), ("CHN", "VNM"), ("CHN", "MYS"), ("CHN", "THA"), ("CHN", "KOR"),
                  ("CHN", "TWN"), ("CHN", "ARE"), ("VNM", "HKG"), ("MYS", "SGP"), ("THA", "HKG"), ("MEX", "USA"))
# reporters that fabricate: economies with chapter detail towards many partners first (a digit test needs many
# independent series), then others; fabricating only their own exports keeps every pair the fabrication disturbs
# under the reporter's name (reporter>partner)
_FABRICATION_CANDIDATES = (("DEU", "NLD", "FRA", "ITA", "THA", "MYS", "VNM", "MEX"),
                           ("JPN", "KOR", "TWN", "GBR", "CAN", "IND", "AUS", "RUS"))
_ESTIMATE_CANDIDATES = ("NGA", "KHM", "PAK", "BGD", "EGY", "KAZ", "PER", "COL")
# Chinese New Year (first day), for the holiday dip
_CNY = {2010: (2, 14), 2011: (2, 3), 2012: (1, 23), 2013: (2, 10), 2014: (1, 31), 2015: (2, 19), 2016: (2, 8),
        2017: (1, 28), 2018: (2, 16), 2019: (2, 5), 2020: (1, 25), 2021: (2, 12), 2022: (2, 1), 2023: (1, 22),
        2024: (2, 10), 2025: (1, 29), 2026: (2, 17), 2027: (2, 6), 2028: (1, 26), 2029: (2, 13), 2030: (2, 3)}

MIN_CHAPTER_USD = 5e6  # a pair's chapter below this monthly mean is not published

_FAVOURITE_DIGITS = np.array([0.07, 0.10, 0.12, 0.08, 0.20, 0.08, 0.17, 0.09, 0.09])  # P(first digit = 1..9)
#: the largest pairs at their published order of size (bn USD a month, 2017); gravity spreads the rest
_PINNED = {("CHN", "USA"): 36.0, ("CHN", "HKG"): 23.0, ("CHN", "JPN"): 11.0, ("CHN", "KOR"): 8.5,
           ("HKG", "CHN"): 19.0, ("HKG", "USA"): 3.5, ("MEX", "USA"): 26.0, ("CAN", "USA"): 25.0,
           ("USA", "CAN"): 24.0, ("USA", "MEX"): 20.0, ("USA", "CHN"): 11.0, ("JPN", "CHN"): 12.0,
           ("KOR", "CHN"): 12.0, ("TWN", "CHN"): 7.5, ("DEU", "CHN"): 7.8, ("DEU", "USA"): 9.5}



# --------------------------------------------------------------------------------------------------------------
# Building blocks of the series
# --------------------------------------------------------------------------------------------------------------


def _month_index(start: str, months: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    try:
        p0 = pd.Period(start, freq="M")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start `{start}` is not a month: write it as YYYY-MM (e.g. 2017-01)") from exc
    if not isinstance(months, (int, np.integer)) or months < 24:
        raise ConfigError(f"months={months}: give at least 24 months so that anomalies have history around them")
    periods = pd.period_range(p0, periods=int(months), freq="M")
    return [str(p) for p in periods], periods.year.to_numpy(), periods.month.to_numpy()


def _event_month(date: str, labels: list[str]) -> int | None:
    """Index of the first month mostly under the measure (the month itself when it starts by the 15th)."""
    d = pd.Timestamp(date)
    p = pd.Period(d, freq="M") + (1 if d.day > 15 else 0)
    return labels.index(str(p)) if str(p) in labels else None


def _haversine(lat, lon):
    la, lo = np.radians(lat), np.radians(lon)
    dla = la[:, None] - la[None, :]
    dlo = lo[:, None] - lo[None, :]
    a = np.sin(dla / 2) ** 2 + np.cos(la[:, None]) * np.cos(la[None, :]) * np.sin(dlo / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def _margin_matrix() -> tuple[np.ndarray, np.ndarray]:
    """Distance in km and the CIF/FOB margin (2 % next door, 12 % at 19,000 km, log-linear in between)."""
    lat = np.array([e[2] for e in _ECONOMIES])
    lon = np.array([e[3] for e in _ECONOMIES])
    km = np.maximum(_haversine(lat, lon), 500.0)
    tau = 0.02 + 0.10 * np.clip((np.log(km) - np.log(500)) / (np.log(19000) - np.log(500)), 0, 1)
    return km, tau


def cif_margins() -> pd.DataFrame:
    """The CIF/FOB margin of every ordered pair: ``exporter, importer, distance_km, margin`` (M = X * (1+margin))."""
    km, tau = _margin_matrix()
    e, i = np.nonzero(~np.eye(len(ISO3), dtype=bool))
    return pd.DataFrame({"exporter": np.array(ISO3)[e], "importer": np.array(ISO3)[i],
                         "distance_km": km[e, i].round(0), "margin": tau[e, i]})


def _seasonality(years, months, n_eco) -> np.ndarray:
    """(economy, month) multiplier: a mild cycle everywhere, the Chinese New Year dip for CHN and HKG."""
    base = 1 + 0.04 * np.sin(2 * np.pi * (months - 4) / 12) + 0.03 * (months == 12) - 0.03 * (months == 8)
    out = np.tile(base, (n_eco, 1))
    cny = np.ones(len(months))
    for k, (y, m) in enumerate(zip(years, months)):
        cm, cd = _CNY.get(int(y), (2, 1))
        if m == cm:
            cny[k] = 0.74 if cd > 7 else 0.80
        elif m == 1 and cm == 2:
            cny[k] = 1.02 if cd > 7 else 0.90
        elif m == 2 and cm == 1:
            cny[k] = 0.84 if cd > 20 else 0.95
        elif m == 3:
            cny[k] = 0.96
    out[ISO3.index("CHN")] *= cny
    out[ISO3.index("HKG")] *= 1 - (1 - cny) * 0.5
    return out


def _common_shock(labels: list[str], n_eco: int) -> np.ndarray:
    """(exporter, month) multiplier for 2020: China's February halt, then the world's spring."""
    f = np.ones((n_eco, len(labels)))
    world = {"2020-04": 0.86, "2020-05": 0.85, "2020-06": 0.92, "2020-07": 0.97}
    china = {"2020-02": 0.80, "2020-03": 0.90}
    for k, lab in enumerate(labels):
        f[:, k] *= world.get(lab, 1.0)
        f[ISO3.index("CHN"), k] *= china.get(lab, 1.0)
    return f


def _ar1(rng, shape, phi, sigma) -> np.ndarray:
    """Log AR(1) noise along the last axis, stationary variance sigma**2."""
    e = rng.normal(0.0, sigma * np.sqrt(1 - phi ** 2), size=shape)
    out = np.empty(shape)
    out[..., 0] = rng.normal(0.0, sigma, size=shape[:-1])
    for t in range(1, shape[-1]):
        out[..., t] = phi * out[..., t - 1] + e[..., t]
    return out


def _round_sig(x: np.ndarray, sig: int) -> np.ndarray:
    """Round to ``sig`` significant digits (x > 0)."""
    mag = 10.0 ** (np.floor(np.log10(x)) - sig + 1)
    return np.rint(x / mag) * mag
