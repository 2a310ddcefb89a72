"""A realistic synthetic trade panel with planted anomalies and their truth labels (the embedded default).

:func:`generate` makes a monthly panel of 40 economies (gravity-sized: GDP, distance, openness, trade blocs),
reported from both sides: the exporter's ``X`` at FOB, the importer's ``M`` at CIF = FOB * (1 + tau), where the
freight-and-insurance margin tau grows with distance from 2 % to 12 %, each side with a few percent of lognormal
reporting noise. Flows grow at a pair-specific rate, dip at the Chinese New Year (flows of China and Hong Kong)
and follow a mild seasonal cycle elsewhere; 2020 has a common shock. Pairs among China, the hubs (HKG, SGP, VNM,
MEX, MYS, THA), the USA and the EU members present (DEU, NLD, FRA, ITA), and every pair involving China, have
up to 24 HS chapters with quantities in kg (unit values by exporter and chapter; a pair's small chapters are left
out, as intermittent flows are in published data); their chapter rows sum exactly to the ``TOTAL`` row of the
same reporter, partner, flow and month. Sizes: each exporter's total at its published order of size (2017), spread
over destinations by gravity (importer GDP, distance, openness, trade blocs), the largest pairs pinned (China's
exports to the USA about 36 bn USD a month in 2017). China's 31 provinces report monthly exports (reporter
``CHN``, region ``CN-xx``, partner ``WLD``, hs ``TOTAL``) that sum exactly to China's national ``X`` row to
``WLD`` (the world total also covers economies outside the panel, so it exceeds the sum of the bilateral rows).

Known structure that is not fraud:

* Hong Kong and Singapore are entrepôts. Their ``X`` rows are total exports (domestic exports plus re-exports,
  as both publish them); their ``RX`` rows (total and chapters) give the re-exported part. China records imports
  by country of origin, so Chinese-origin goods re-exported to China are booked as imports from China, not from
  the hub: ``HKG>CHN`` and ``SGP>CHN`` carry a persistent gap (negative control ``hub_reexport_gap``).
* Publisher estimates: two small economies stop reporting imports from a month between a third and half of the
  span to its end, and the publisher fills the gap from the partners' exports (X * 1.10 * a distortion of at
  least 25 % either way, fixed per pair); those rows have ``estimated=True`` (negative control
  ``publisher_estimate``).

Planted anomalies (counts per seed; the subjects are drawn afresh for every seed from plausible candidates):

=========================  =====  ==============================================================================
kind                       count  what is planted
=========================  =====  ==============================================================================
invoice_export_pair        3      exporter's ``X`` (value and kg) inflated 1.8-2.3x in HS 71 or 85 for 6-12
                                  months; the importer's ``M`` is untouched
invoice_export_province    3      an inland province's exports flat and round (two significant digits), with
                                  spikes in January, April, July and October, for 12-24 months
transshipment              3      from a tariff date (2018-07-06 or 2019-09-01) on, 25-45 % of CHN->USA in one
                                  chapter goes CHN->hub->USA (hub VNM, MYS, THA or MEX): USA's imports from CHN
                                  fall, the hub's imports from CHN and exports to USA rise by the same kg, so the
                                  added goods carry China's unit value (+5 %); ramp over 4 months, to the end
export_rush                3      CHN->USA (or USA->CHN before China's retaliation) shipments in a chapter surge
                                  1.5-2.2x in the 1-3 months before a tariff date and fall to 0.55-0.75x for 2-4
                                  months after (both sides report it); the period covers surge and fall
unit_value_mispricing      3      one side's value of one chapter multiplied by 2.5-4 or divided by 2.5-4 for 3-6
                                  months, quantity unchanged
fabricated_digits          2      every chapter-level export figure one reporter publishes (all partners) replaced
                                  for 24-36 months by made-up numbers (uniform mantissas, or people's favourite
                                  first digits; 3 significant digits) of the same order of magnitude; the
                                  reporter is kept clear of the other plants; its import figures are genuine
hub_reexport_gap           2      negative control: HKG>CHN and SGP>CHN (see above), the whole span
publisher_estimate         2x39   negative control: one row per (exporter, estimating importer) pair
=========================  =====  ==============================================================================

Truth convention (``truth.csv``; the evaluation matches flags to it by these keys and period overlap):

* ``reporter`` and ``partner`` give the direction of the goods, like a finding's subject ``reporter>partner``:
  ``reporter`` is the exporting economy, ``partner`` the importing one, whichever side's figure carries the
  anomaly (``note`` says which side). For ``transshipment`` ``reporter`` is the origin (CHN), ``partner`` the
  destination and ``hub`` the economy the goods pass through. Province rows: ``reporter`` CHN, ``region`` the ISO
  3166-2 code, ``partner`` empty (the flows' partner is WLD). ``fabricated_digits`` concerns a reporter as a whole:
  ``partner`` is empty.
* A key left empty places no constraint on a matching flag, so every row sets the keys that identify its subject
  (:data:`TRUTH_KEYS`).
* ``hs`` is the two-digit chapter ("85") or empty when the anomaly is not tied to one chapter.
* ``period_start``/``period_end`` are inclusive ``YYYY-MM``; ``usd`` is the planted amount in US dollars (the
  excess, the rerouted value, the mispriced difference, the fabricated difference, or for negative controls the
  structural gap).

The same seed gives byte-identical files; other seeds plant the same kinds and counts on other subjects. The
default (72 months from 2017-01, about 700,000 rows, 8 MB gzipped) is generated in a few seconds.

The embedded default is seed 0: :func:`default_sample_path` and :func:`default_truth_path` find it (package data,
else the checkout's ``data/sample``, else a copy generated once into the user cache).
"""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError
from .schema import FLOW_COLUMNS, coerce_flows

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


@dataclass
class SynthPanel:
    """A generated panel: ``flows`` (flows table), ``truth`` (one row per planted anomaly or control)."""

    flows: pd.DataFrame
    truth: pd.DataFrame
    seed: int
    start: str
    months: int

    def write(self, out_dir) -> dict[str, Path]:
        """Write ``flows.csv.gz`` (canonical CSV) and ``truth.csv`` into ``out_dir``; same panel, same bytes."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"flows": out / "flows.csv.gz", "truth": out / "truth.csv"}
        _write_bytes(paths["flows"], gzip_bytes(flows_csv_bytes(self.flows)))
        _write_bytes(paths["truth"], truth_csv_bytes(self.truth))
        return paths


def flows_csv_bytes(flows: pd.DataFrame) -> bytes:
    """The canonical CSV of a flows table: the flows columns, whole dollars and kg, ``estimated`` as true/false.

    Codes never contain commas or quotes, so fields are written bare (pyarrow's writer, for speed).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    df = flows.loc[:, list(FLOW_COLUMNS)]
    arrays = []
    for c in FLOW_COLUMNS:
        col = df[c]
        if c == "value_usd":
            arrays.append(pa.array(np.rint(col.to_numpy(dtype=float)).astype(np.int64)))
        elif c == "quantity":
            q = col.to_numpy(dtype=float)
            arrays.append(pa.array(np.rint(np.nan_to_num(q)).astype(np.int64), mask=np.isnan(q)))
        elif c == "estimated":
            arrays.append(pa.array(col.to_numpy(dtype=bool)))
        else:
            arrays.append(pa.array(col.to_numpy(dtype=object), type=pa.string()))
    table = pa.Table.from_arrays(arrays, names=list(FLOW_COLUMNS))
    buf = io.BytesIO()
    buf.write((",".join(FLOW_COLUMNS) + "\n").encode())
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def truth_csv_bytes(truth: pd.DataFrame) -> bytes:
    df = truth.loc[:, list(TRUTH_COLUMNS)].copy()
    df["negative_control"] = np.where(df["negative_control"].to_numpy(dtype=bool), "true", "false")
    return df.to_csv(index=False, float_format="%.0f", lineterminator="\n").encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """gzip without a timestamp or file name in the header, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as fh:
        fh.write(data)
    return buf.getvalue()


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_truth(path) -> pd.DataFrame:
    """Read a ``truth.csv`` with text keys (``hs`` keeps its leading zeros) and typed ``usd``/``negative_control``."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    missing = [c for c in TRUTH_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"{path}: truth file lacks column(s) {', '.join(missing)}; expected {TRUTH_COLUMNS}")
    df["usd"] = pd.to_numeric(df["usd"], errors="coerce")
    df["negative_control"] = df["negative_control"].str.lower().eq("true")
    return df.loc[:, list(TRUTH_COLUMNS)]


# --------------------------------------------------------------------------------------------------------------
# Generation
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


#: the counts the quality evaluation plants (more than the sample's, so that a top 20 of one case per cause can be
#: all planted anomalies: 23 instances of the six kinds)
EVALUATION_COUNTS = {"invoice_export_pair": 4, "invoice_export_province": 4, "transshipment": 4, "export_rush": 4,
                     "unit_value_mispricing": 4, "fabricated_digits": 3}


def generate(seed: int = 0, start: str = "2017-01", months: int = 72, counts: dict | None = None) -> SynthPanel:
    """Generate the panel and its truth labels (see the module docstring); ``counts`` overrides planted instances
    per kind (:data:`COUNTS`)."""
    labels, years, mons = _month_index(start, months)
    T = len(labels)
    n = len(ISO3)
    idx = {c: k for k, c in enumerate(ISO3)}
    rng_plan, rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    unknown = set(counts or {}) - set(COUNTS)
    if unknown:
        raise ConfigError(f"synth: unknown kind(s) {sorted(unknown)} in counts; known: {', '.join(COUNTS)}")
    plan = _draw_plan(rng_plan, labels, T, counts)

    # -- gravity base ------------------------------------------------------------------------------------------
    gdp = np.array([e[1] for e in _ECONOMIES], dtype=float)
    lat = np.array([e[2] for e in _ECONOMIES])
    lon = np.array([e[3] for e in _ECONOMIES])
    exports = np.array([e[4] for e in _ECONOMIES]) * 1e9
    om = np.array([e[5] for e in _ECONOMIES])
    dist = np.maximum(_haversine(lat, lon), 3000.0)  # neighbours do not trade without bound
    bloc = np.ones((n, n))
    for members in _BLOCS:
        m = np.array([c in members for c in ISO3])
        bloc[np.ix_(m, m)] *= 2.0
    # destinations by gravity; each exporter's sum to the panel is ~75 % of its exports (the rest of the world
    # is outside the panel); the largest pairs are pinned to their published order of size
    grav = (gdp[None, :] ** 0.85) * om[None, :] * bloc / dist ** 0.7 * np.exp(rng.normal(0, 0.3, size=(n, n)))
    np.fill_diagonal(grav, 0.0)
    pinned = np.zeros((n, n), dtype=bool)
    target = np.zeros((n, n))
    for (e, i), v in _PINNED.items():
        pinned[idx[e], idx[i]] = True
        target[idx[e], idx[i]] = v * 1e9
    free = np.where(pinned, 0.0, grav)
    rest = np.maximum(0.75 * exports - target.sum(axis=1), 0.2 * exports)
    grav = np.where(pinned, target, free / free.sum(axis=1, keepdims=True) * rest[:, None])
    _, tau = _margin_matrix()

    ex_i, im_i = np.nonzero(~np.eye(n, dtype=bool))  # ordered pairs, exporter-major
    P = len(ex_i)
    growth = rng.normal(0.05, 0.04, size=P)
    tt = np.arange(T) / 12.0
    season = _seasonality(years, mons, n)
    shock = _common_shock(labels, n)
    seas_pair = np.sqrt(season[ex_i] * season[im_i])
    S = (grav[ex_i, im_i][:, None] * np.exp(growth[:, None] * tt[None, :]) * seas_pair * shock[ex_i]
         * np.exp(_ar1(rng, (P, T), 0.6, 0.05)))  # true FOB shipments

    # -- chapter detail ----------------------------------------------------------------------------------------
    detail = np.array([_is_detail(ISO3[a], ISO3[b]) for a, b in zip(ex_i, im_i)])
    hp = np.flatnonzero(detail)  # pair index of each detailed pair
    H, C = len(hp), len(CHAPTERS)
    pair_pos = {(ISO3[ex_i[p]], ISO3[im_i[p]]): p for p in range(P)}
    hpos = {(ISO3[ex_i[p]], ISO3[im_i[p]]): h for h, p in enumerate(hp)}
    cpos = {c: k for k, c in enumerate(CHAPTERS)}
    w = np.array([c[1] for c in _CHAPTERS])
    ca = np.exp(rng.normal(0, 0.8, size=(n, C)))
    for e, spec in _SPECIALTIES.items():
        for c, f in spec.items():
            if c in cpos:
                ca[idx[e], cpos[c]] *= f
    share0 = w[None, :] * ca[ex_i[hp]] * np.exp(rng.normal(0, 0.4, size=(H, C)))
    share0 /= share0.sum(axis=1, keepdims=True)
    # small pair-chapter flows are intermittent in published data; leave them out (structural zeros)
    # (a soft threshold, so that the size distribution keeps a smooth lower tail and natural first digits)
    cutoff = MIN_CHAPTER_USD * np.exp(rng.normal(0, 1.0, size=(H, C)))
    present = (share0 >= 0.002) & (share0 * S[hp].mean(axis=1, keepdims=True) >= cutoff)
    present[np.arange(H), share0.argmax(axis=1)] = True
    forced = [(d["exporter"], d["importer"], d["hs"], 0.08) for d in plan.invoice]
    forced += [(d["exporter"], d["importer"], d["hs"], 0.05) for d in plan.mispricing + plan.rush]
    for t in plan.transship:
        forced += [("CHN", "USA", t["hs"], 0.05), ("CHN", t["hub"], t["hs"], 0.02), (t["hub"], "USA", t["hs"], 0.02)]
    for e, i, c, floor in forced:
        h, k = hpos[(e, i)], cpos[c]
        share0[h, k] = max(share0[h, k], floor)
        present[h, k] = True
    share0 = np.where(present, share0, 0.0)
    share0 /= share0.sum(axis=1, keepdims=True)
    drift = np.cumsum(rng.normal(0, 0.015, size=(H, C, T)), axis=2)
    share = share0[:, :, None] * np.exp(drift)
    share /= share.sum(axis=1, keepdims=True)
    V = S[hp][:, None, :] * share * np.exp(rng.normal(0, 0.06, size=(H, C, T)))
    uv_c = np.array([c[2] for c in _CHAPTERS])
    uv = uv_c[None, :, None] * np.exp(rng.normal(0, 0.3, size=(n, C)))[:, :, None] * (1.02 ** tt)[None, None, :]
    Q = V / uv[ex_i[hp]]

    truth: list[dict] = []

    # -- plants on the shipments themselves (both sides see them) ------------------------------------------------
    for t in plan.transship:
        k = cpos[t["hs"]]
        a, b, c = hpos[("CHN", "USA")], hpos[("CHN", t["hub"])], hpos[(t["hub"], "USA")]
        t0 = t["t0"]
        ramp = np.clip((np.arange(T) - t0 + 1) / 4.0, 0, 1)
        moved = V[a, k] * t["share"] * ramp
        moved_q = Q[a, k] * t["share"] * ramp
        V[a, k] -= moved
        Q[a, k] -= moved_q
        V[b, k] += moved
        Q[b, k] += moved_q
        V[c, k] += moved * 1.05  # the hub's small margin
        Q[c, k] += moved_q
        truth.append(dict(kind="transshipment", reporter="CHN", partner="USA", hub=t["hub"], hs=t["hs"],
                          period_start=labels[t0], period_end=labels[-1], usd=float(moved.sum()),
                          note=f"from {t['event']} {t['share']:.0%} of China's exports to the USA in chapter "
                               f"{t['hs']} go through {t['hub']} (ramp over 4 months); hub adds 5 %"))
    for r in plan.rush:
        h, k = hpos[(r["exporter"], r["importer"])], cpos[r["hs"]]
        t0 = r["t0"]
        f = np.ones(T)
        f[t0 - r["before"]:t0] = r["surge"]
        f[t0:t0 + r["after"]] = r["drop"]
        excess = V[h, k] * (np.maximum(f, 1) - 1)
        V[h, k] *= f
        Q[h, k] *= f
        truth.append(dict(kind="export_rush", reporter=r["exporter"], partner=r["importer"], hub="", hs=r["hs"],
                          period_start=labels[t0 - r["before"]], period_end=labels[t0 + r["after"] - 1],
                          usd=float(excess.sum()),
                          note=f"{r['before']} month(s) at {r['surge']:.2f}x before {r['event']} ({r['measure']}),"
                               f" then {r['after']} month(s) at {r['drop']:.2f}x"))

    # -- what each side reports ----------------------------------------------------------------------------------
    tau_p = tau[ex_i, im_i]
    XH = V * np.exp(rng.normal(0, 0.025, size=V.shape))
    MH = V * (1 + tau_p[hp])[:, None, None] * np.exp(rng.normal(0, 0.025, size=V.shape))
    QX = Q * np.exp(rng.normal(0, 0.02, size=Q.shape))
    QM = Q * np.exp(rng.normal(0, 0.02, size=Q.shape))
    XT = S * np.exp(rng.normal(0, 0.025, size=S.shape))
    MT = S * (1 + tau_p)[:, None] * np.exp(rng.normal(0, 0.025, size=S.shape))

    # entrepôts: China books Chinese-origin goods re-exported to it as imports from China
    rx_noise = {}
    for hub, (rx_share, cn_share) in ENTREPOTS.items():
        rows = np.flatnonzero(ex_i == idx[hub])
        hrows = np.array([hpos[(hub, ISO3[im_i[p]])] for p in rows if detail[p]])
        rx_noise[hub] = (rows, hrows, rx_share * np.exp(rng.normal(0, 0.02, size=(len(rows), T))),
                         rx_share * np.exp(rng.normal(0, 0.02, size=(len(hrows), C, T))))
        p = pair_pos[(hub, "CHN")]
        cut = 1 - rx_share * cn_share
        MT[p] *= cut
        MH[hpos[(hub, "CHN")]] *= cut
        gap = XH[hpos[(hub, "CHN")]].sum() * (1 + tau_p[p]) - MH[hpos[(hub, "CHN")]].sum()
        truth.append(dict(kind="hub_reexport_gap", reporter=hub, partner="CHN", hub="", hs="",
                          period_start=labels[0], period_end=labels[-1], usd=float(gap), negative_control=True,
                          note=f"{hub}'s exports include {rx_share:.0%} re-exports; {cn_share:.0%} of those sent to "
                               f"China are of Chinese origin and China books them as imports from China"))

    # -- plants on one side's report -----------------------------------------------------------------------------
    for d in plan.invoice:
        h, k = hpos[(d["exporter"], d["importer"])], cpos[d["hs"]]
        sl = slice(d["t1"], d["t2"] + 1)
        excess = XH[h, k, sl] * (d["factor"] - 1)
        XH[h, k, sl] *= d["factor"]
        QX[h, k, sl] *= d["factor"]
        truth.append(dict(kind="invoice_export_pair", reporter=d["exporter"], partner=d["importer"], hub="",
                          hs=d["hs"], period_start=labels[d["t1"]], period_end=labels[d["t2"]],
                          usd=float(excess.sum()),
                          note=f"exporter-reported value and kg of chapter {d['hs']} x{d['factor']:.2f}; "
                               f"importer's report untouched"))
    for d in plan.mispricing:
        h, k = hpos[(d["exporter"], d["importer"])], cpos[d["hs"]]
        sl = slice(d["t1"], d["t2"] + 1)
        arr = XH if d["side"] == "X" else MH
        before = arr[h, k, sl].copy()
        arr[h, k, sl] *= d["factor"]
        who = d["exporter"] if d["side"] == "X" else d["importer"]
        truth.append(dict(kind="unit_value_mispricing", reporter=d["exporter"], partner=d["importer"], hub="",
                          hs=d["hs"], period_start=labels[d["t1"]], period_end=labels[d["t2"]],
                          usd=float(np.abs(arr[h, k, sl] - before).sum()),
                          note=f"{'exporter' if d['side'] == 'X' else 'importer'} ({who}) reports chapter "
                               f"{d['hs']} at {d['factor']:.2f}x its value, same kg ({d['side']} side only)"))
    for d in plan.fabricated:
        k = idx[d["reporter"]]
        sl = slice(d["t1"], d["t2"] + 1)
        usd = 0.0
        for arr, rows in ((XH, np.flatnonzero(ex_i[hp] == k)),):
            orig = arr[rows, :, sl]
            if d["style"] == "uniform":
                mant = rng.uniform(1.0, 10.0, size=orig.shape)
            else:
                first = rng.choice(np.arange(1, 10), p=_FAVOURITE_DIGITS / _FAVOURITE_DIGITS.sum(), size=orig.shape)
                mant = first + rng.uniform(0, 1, size=orig.shape)
            # the power of ten that keeps each made-up figure nearest the true one
            expo = np.round(np.log10(np.maximum(orig, 1.0)) - np.log10(mant))
            fake = np.where(present[rows][:, :, None], _round_sig(mant * 10.0 ** expo, 3), 0.0)
            usd += float(np.abs(fake - orig).sum())
            arr[rows, :, sl] = fake
        truth.append(dict(kind="fabricated_digits", reporter=d["reporter"], partner="", hub="", hs="",
                          period_start=labels[d["t1"]], period_end=labels[d["t2"]], usd=usd,
                          note=f"all chapter-level exports {d['reporter']} reports (every partner) replaced by "
                               f"made-up 3-significant-digit numbers "
                               f"({'uniform mantissas' if d['style'] == 'uniform' else 'favourite first digits'})"))

    # -- whole dollars and kilograms; totals are the sums of the chapter rows ---------------------------------------
    XH = np.where(present[:, :, None], np.rint(XH), 0.0)
    MH = np.where(present[:, :, None], np.rint(MH), 0.0)
    QX = np.where(present[:, :, None], np.maximum(np.rint(QX), 1.0), np.nan)
    QM = np.where(present[:, :, None], np.maximum(np.rint(QM), 1.0), np.nan)
    XT = np.rint(XT)
    MT = np.rint(MT)

    # -- publisher estimates: imports filled in from the partners' exports ----------------------------------------
    est_t = np.zeros((P, T), dtype=bool)
    for j, eco in enumerate(plan.estimates):
        t1 = int(rng.integers(T // 3, T // 2))
        rows = np.flatnonzero(im_i == idx[eco])
        logf = rng.normal(0, 0.45, size=len(rows))
        logf = np.sign(logf) * np.maximum(np.abs(logf), 0.25)  # a large distortion, never close to 1
        factor = 1.10 * np.exp(logf)
        for p, f in zip(rows, factor):
            if detail[p]:
                h = hpos[(ISO3[ex_i[p]], eco)]
                before = MH[h, :, t1:].sum(axis=0)
                MH[h, :, t1:] = np.rint(XH[h, :, t1:] * f)
                QM[h, :, t1:] = QX[h, :, t1:]
                after = MH[h, :, t1:].sum(axis=0)
            else:
                before = MT[p, t1:].copy()
                MT[p, t1:] = np.rint(XT[p, t1:] * f)
                after = MT[p, t1:]
            est_t[p, t1:] = True
            truth.append(dict(kind="publisher_estimate", reporter=ISO3[ex_i[p]], partner=eco, hub="", hs="",
                              period_start=labels[t1], period_end=labels[-1],
                              usd=float(np.abs(after - before).sum()), negative_control=True,
                              note=f"{eco}'s imports from {ISO3[ex_i[p]]} estimated by the publisher from the "
                                   f"exporter's figure x{f:.2f}"))
    XT[hp] = XH.sum(axis=1)
    MT[hp] = MH.sum(axis=1)
    # re-exports: a part of the hub's exports, chapter rows summing to the total like every other flow
    rx_t, rx_h = {}, {}
    for hub, (rows, hrows, f_t, f_h) in rx_noise.items():
        vals_h = np.minimum(np.rint(XH[hrows] * f_h), XH[hrows])
        vals_t = np.minimum(np.rint(XT[rows] * f_t), XT[rows])
        vals_t[detail[rows]] = vals_h.sum(axis=1)
        rx_t[hub], rx_h[hub] = vals_t, (hrows, vals_h)

    # -- provinces ----------------------------------------------------------------------------------------------
    china_x = XT[ex_i == idx["CHN"]].sum(axis=0) * 1.3  # the rest of the world adds ~30 %
    pshare0 = np.array([p[1] for p in _PROVINCES])
    npv = len(PROVINCES)
    plog = (rng.normal(0.0, 0.04, size=npv)[:, None] * tt[None, :] + _ar1(rng, (npv, T), 0.5, 0.06))
    psh = pshare0[:, None] * np.exp(plog)
    psh /= psh.sum(axis=0, keepdims=True)
    PV = np.rint(china_x[None, :] * psh)
    for d in plan.province:
        r = PROVINCES.index(d["region"])
        sl = np.arange(d["t1"], d["t2"] + 1)
        base = PV[r, sl].copy()
        level = PV[r, max(d["t1"] - 12, 0):d["t1"]].mean() * d["level"]
        newv = np.where(np.isin(mons[sl], (1, 4, 7, 10)), level * d["spike"][sl], level)
        newv = _round_sig(newv, 2)
        PV[r, sl] = newv
        truth.append(dict(kind="invoice_export_province", reporter="CHN", partner="", hub="",
                          region=d["region"], hs="", period_start=labels[d["t1"]], period_end=labels[d["t2"]],
                          usd=float((newv - base).clip(min=0).sum()),
                          note="flat round monthly exports (2 significant digits) with spikes in Jan/Apr/Jul/Oct, "
                               "decoupled from national growth"))
    china_wld = PV.sum(axis=0)

    flows = _assemble(labels, ex_i, im_i, hp, present, XT, MT, XH, MH, QX, QM, est_t, rx_t, rx_h, PV, china_wld)
    return SynthPanel(flows=flows, truth=_truth_frame(truth), seed=int(seed), start=labels[0], months=T)


def _truth_frame(records: list[dict]) -> pd.DataFrame:
    order = {k: i for i, k in enumerate(KINDS + NEGATIVE_CONTROLS)}
    df = pd.DataFrame(records)
    for c in TRUTH_COLUMNS:
        if c not in df:
            df[c] = ""
    df["negative_control"] = df["negative_control"].fillna(False).astype(bool)
    for c in ("reporter", "partner", "hub", "region", "hs", "note"):
        df[c] = df[c].fillna("").astype(str)
    df["usd"] = df["usd"].astype(float).round(0)
    df["_k"] = df["kind"].map(order)
    df = df.sort_values(["_k", "reporter", "partner", "hub", "region", "hs", "period_start"], kind="stable")
    df = df.reset_index(drop=True)
    counters: dict[str, int] = {}
    ids = []
    for k in df["kind"]:
        counters[k] = counters.get(k, 0) + 1
        ids.append(f"{k}-{counters[k]:02d}")
    df["anomaly_id"] = ids
    return df.loc[:, list(TRUTH_COLUMNS)]


def _assemble(labels, ex_i, im_i, hp, present, XT, MT, XH, MH, QX, QM, est_t, rx_t, rx_h, PV, china_wld):
    """Long flows table, sorted by reporter, region, partner, flow, hs, period (integer keys, then labels)."""
    T = len(labels)
    n = len(ISO3)
    codes = np.array(list(ISO3) + ["WLD"], dtype=object)
    hs_codes = np.array(list(CHAPTERS) + ["TOTAL"], dtype=object)
    regions = np.array([""] + list(PROVINCES), dtype=object)
    flow_codes = np.array(["X", "M", "RX"], dtype=object)
    tidx = np.arange(T)
    blocks = []

    def block(rep, reg, par, flw, hs, t, value, qty, est):
        blocks.append(dict(rep=rep, reg=reg, par=par, flw=flw, hs=hs, t=t, value=value, qty=qty, est=est))

    P = len(ex_i)
    TOT = len(CHAPTERS)
    rep = np.repeat(ex_i, T)
    par = np.repeat(im_i, T)
    tt = np.tile(tidx, P)
    block(rep, 0, par, 0, TOT, tt, XT.ravel(), np.full(P * T, np.nan), np.zeros(P * T, bool))
    block(par, 0, rep, 1, TOT, tt, MT.ravel(), np.full(P * T, np.nan), est_t.ravel())
    # chapter rows (present chapters only)
    h_idx, c_idx = np.nonzero(present)
    m = len(h_idx)
    hh = np.repeat(h_idx, T)
    cc = np.repeat(c_idx, T)
    t3 = np.tile(tidx, m)
    pe, pi = ex_i[hp][hh], im_i[hp][hh]
    block(pe, 0, pi, 0, cc, t3, XH[hh, cc, t3], QX[hh, cc, t3], np.zeros(m * T, bool))
    block(pi, 0, pe, 1, cc, t3, MH[hh, cc, t3], QM[hh, cc, t3], est_t[hp][hh, t3])
    # re-exports of the entrepôts
    for hub, arr in rx_t.items():
        k = ISO3.index(hub)
        rows = np.flatnonzero(ex_i == k)
        block(np.full(len(rows) * T, k), 0, np.repeat(im_i[rows], T), 2, TOT, np.tile(tidx, len(rows)),
              arr.ravel(), np.full(len(rows) * T, np.nan), np.zeros(len(rows) * T, bool))
        hrows, rxv = rx_h[hub]
        hh2, cc2 = np.nonzero(present[hrows])
        mm = len(hh2)
        hh2r, cc2r, t4 = np.repeat(hh2, T), np.repeat(cc2, T), np.tile(tidx, mm)
        vals = rxv[hh2r, cc2r, t4]
        qfac = vals / np.maximum(XH[hrows][hh2r, cc2r, t4], 1.0)
        block(np.full(mm * T, k), 0, im_i[hp][hrows][hh2r], 2, cc2r, t4, vals,
              np.maximum(np.rint(QX[hrows][hh2r, cc2r, t4] * qfac), 1.0), np.zeros(mm * T, bool))
    # provinces and China's exports to the world
    npv = len(PROVINCES)
    chn = ISO3.index("CHN")
    block(np.full(npv * T, chn), np.repeat(np.arange(1, npv + 1), T), np.full(npv * T, n), 0, TOT,
          np.tile(tidx, npv), PV.ravel(), np.full(npv * T, np.nan), np.zeros(npv * T, bool))
    block(np.full(T, chn), 0, np.full(T, n), 0, TOT, tidx, china_wld, np.full(T, np.nan), np.zeros(T, bool))

    cols = {}
    for key in ("rep", "reg", "par", "flw", "hs", "t", "value", "qty", "est"):
        parts = []
        for b in blocks:
            v = b[key]
            size = len(b["t"])
            parts.append(np.full(size, v) if np.ndim(v) == 0 else np.asarray(v))
        cols[key] = np.concatenate(parts)
    # TOTAL sorts after the chapters; periods last so every series is contiguous
    order = np.lexsort((cols["t"], cols["hs"], cols["flw"], cols["par"], cols["reg"], cols["rep"]))
    c = {k: v[order] for k, v in cols.items()}
    flw = c["flw"]
    qty = c["qty"].astype(float)
    df = pd.DataFrame({
        "period": np.array(labels, dtype=object)[c["t"]],
        "reporter": codes[c["rep"]],
        "region": regions[c["reg"]],
        "partner": codes[c["par"]],
        "flow": flow_codes[flw],
        "hs": hs_codes[c["hs"]],
        "value_usd": c["value"].astype(float),
        "valuation": np.where(flw == 1, "CIF", "FOB"),
        "quantity": qty,
        "quantity_unit": np.where(np.isnan(qty), "", "kg"),
        "estimated": c["est"].astype(bool),
        "source": SOURCE,
    })
    return coerce_flows(df)


# --------------------------------------------------------------------------------------------------------------
# The embedded default
# --------------------------------------------------------------------------------------------------------------

DEFAULT_SEED = 0
_PACKAGE_DATA = Path(__file__).resolve().parent / "data"


def _cache_dir() -> Path:
    from . import __version__

    root = os.environ.get("TRADEANOMALY_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "tradeanomaly" / f"sample-{__version__}-seed{DEFAULT_SEED}"


def _checkout_root() -> Path | None:
    """The source checkout this module runs from (editable install), if any."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "src" / "tradeanomaly").is_dir() else None


def _default_files() -> tuple[Path, Path]:
    """The packaged sample, else the checkout's ``data/sample``, else a copy generated once into the cache."""
    candidates = [(_PACKAGE_DATA / "sample_flows.csv.gz", _PACKAGE_DATA / "sample_truth.csv")]
    checkout = _checkout_root()
    if checkout is not None:
        candidates.append((checkout / "data" / "sample" / "flows.csv.gz", checkout / "data" / "sample" / "truth.csv"))
    for flows, truth in candidates:
        if flows.is_file() and truth.is_file():
            return flows, truth
    cache = _cache_dir()
    flows, truth = cache / "flows.csv.gz", cache / "truth.csv"
    if not (flows.is_file() and truth.is_file()):
        generate(seed=DEFAULT_SEED).write(cache)
    return flows, truth


def default_sample_path() -> Path:
    """Path of the embedded sample's flows file (canonical CSV, seed 0, 2017-01..2022-12).

    Looked up in the package data (``tradeanomaly/data/sample_flows.csv.gz``), then in a source checkout's
    ``data/sample/``; an installed package without either generates it once (a few seconds) into the user cache
    (``$TRADEANOMALY_CACHE``, else ``$XDG_CACHE_HOME`` or ``~/.cache``, under ``tradeanomaly/``). All three are the
    same bytes: ``tradeanomaly synth --out data/sample --seed 0``.
    """
    return _default_files()[0]


def default_truth_path() -> Path:
    """Path of the embedded sample's ``truth.csv``."""
    return _default_files()[1]
