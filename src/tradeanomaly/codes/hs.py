"""Harmonized System product codes: normalising, rolling up, sections and chapter names.

Codes are text. Readers that let a parser take "010121" for a number lose the leading zero; every HS code has an
even number of digits (2, 4, 6, 8 or 10), so an odd-length all-digit code gets its zero back.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from tradeanomaly.codes.countries import _encode, _take
from tradeanomaly.errors import ConfigError

TOTAL = "TOTAL"
LEVELS = (2, 4, 6, 8, 10)
_TOTAL_WORDS = {"TOTAL", "ALL", "AG0", ""}
_SEPARATORS = re.compile(r"[\s.\-]")
_FLOAT_TAIL = re.compile(r"^(\d+)\.0$")


def _section_table() -> dict[str, int]:
    # (first chapter, last chapter, section number) in the HS nomenclature; chapter 77 is reserved.
    spans = [(1, 5, 1), (6, 14, 2), (15, 15, 3), (16, 24, 4), (25, 27, 5), (28, 38, 6), (39, 40, 7), (41, 43, 8),
             (44, 46, 9), (47, 49, 10), (50, 63, 11), (64, 67, 12), (68, 70, 13), (71, 71, 14), (72, 83, 15),
             (84, 85, 16), (86, 89, 17), (90, 92, 18), (93, 93, 19), (94, 96, 20), (97, 97, 21)]
    return {f"{ch:02d}": sec for first, last, sec in spans for ch in range(first, last + 1) if ch != 77}


HS_SECTIONS: dict[str, int] = _section_table()
"""HS2 chapter -> section number 1..21 (Roman I..XXI)."""

HS2_NAMES: dict[str, str] = {
    "01": "live animals", "02": "meat", "03": "fish and seafood", "04": "dairy, eggs and honey",
    "05": "other animal products", "06": "live plants and flowers", "07": "vegetables", "08": "fruit and nuts",
    "09": "coffee, tea and spices", "10": "cereals", "11": "milling products", "12": "oilseeds",
    "13": "lacs, gums and resins", "14": "vegetable plaiting materials", "15": "animal and vegetable fats and oils",
    "16": "preparations of meat and fish", "17": "sugar and confectionery", "18": "cocoa",
    "19": "cereal and flour preparations", "20": "preparations of vegetables and fruit",
    "21": "miscellaneous food preparations", "22": "beverages and spirits", "23": "food residues and animal feed",
    "24": "tobacco", "25": "salt, sulphur, stone and cement", "26": "ores, slag and ash", "27": "mineral fuels",
    "28": "inorganic chemicals", "29": "organic chemicals", "30": "pharmaceuticals", "31": "fertilisers",
    "32": "dyes, paints and inks", "33": "essential oils and cosmetics", "34": "soaps and waxes",
    "35": "albuminoids, glues and enzymes", "36": "explosives and matches", "37": "photographic goods",
    "38": "miscellaneous chemical products", "39": "plastics", "40": "rubber", "41": "raw hides and leather",
    "42": "leather articles and handbags", "43": "furskins", "44": "wood", "45": "cork", "46": "basketwork",
    "47": "wood pulp", "48": "paper and paperboard", "49": "printed matter", "50": "silk", "51": "wool",
    "52": "cotton", "53": "other vegetable textile fibres", "54": "man-made filaments", "55": "man-made staple fibres",
    "56": "wadding, felt and cordage", "57": "carpets", "58": "special woven fabrics", "59": "coated textile fabrics",
    "60": "knitted fabrics", "61": "knitted apparel", "62": "woven apparel", "63": "other textile articles",
    "64": "footwear", "65": "headgear", "66": "umbrellas and walking sticks", "67": "feathers and artificial flowers",
    "68": "stone and plaster articles", "69": "ceramics", "70": "glass and glassware",
    "71": "pearls, precious stones and metals (gold, jewellery)", "72": "iron and steel",
    "73": "articles of iron and steel", "74": "copper", "75": "nickel", "76": "aluminium", "78": "lead",
    "79": "zinc", "80": "tin", "81": "other base metals", "82": "tools and cutlery",
    "83": "miscellaneous base metal articles", "84": "machinery and computers",
    "85": "electrical machinery and electronics", "86": "railway equipment", "87": "vehicles",
    "88": "aircraft and spacecraft", "89": "ships and boats", "90": "optical, medical and precision instruments",
    "91": "clocks and watches", "92": "musical instruments", "93": "arms and ammunition",
    "94": "furniture and lighting", "95": "toys, games and sports equipment", "96": "miscellaneous manufactures",
    "97": "works of art and antiques", "98": "special classification provisions (national)",
    "99": "special transactions and commodities not classified (national)",
}
"""Short English names of HS2 chapters (01..97, plus the national chapters 98 and 99), for report sentences."""


def _normalise_one(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, (float, np.floating)):
        if not float(value).is_integer():
            return ""
        text = str(int(value))
    else:
        # a code written by a spreadsheet as a float ("10121.0") keeps its digits, not the decimal zero
        text = _SEPARATORS.sub("", _FLOAT_TAIL.sub(r"\1", str(value).strip())).upper()
    if text in _TOTAL_WORDS:
        return TOTAL
    if not text.isdigit() or not text.isascii() or len(text) > 10:
        return ""
    if len(text) % 2:
        text = "0" + text
    return text


def _check_level(level: int, allow_zero: bool = True) -> None:
    if level not in LEVELS and not (allow_zero and level == 0):
        raise ConfigError(f"HS level must be one of {', '.join(map(str, LEVELS))}, not {level!r}")


def _cut(code: str, level: int) -> str:
    if code in ("", TOTAL):
        return code
    if level == 0:
        return TOTAL
    return code[:level] if len(code) >= level else ""


def _map(values: pd.Series, fn) -> pd.Series:
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    indices, uniques = _encode(values)
    return pd.Series(_take([fn(u) for u in uniques], indices), index=values.index, name=values.name)


def normalise_hs(values: pd.Series, digits: int | None = None) -> pd.Series:
    """HS codes as text without separators, leading zeros restored ("8542.31" -> "854231", 10121 -> "010121").

    "TOTAL", "ALL", "AG0" and "" become "TOTAL"; anything else that is not 2-10 digits becomes "" (missing too).
    With ``digits`` the codes are rolled up to that level; codes shorter than ``digits`` become "".
    """
    if digits is not None:
        _check_level(digits, allow_zero=False)
        return _map(values, lambda v: _cut(_normalise_one(v), digits))
    return _map(values, _normalise_one)


def rollup(values: pd.Series, level: int) -> pd.Series:
    """Truncate HS codes to ``level`` digits (2, 4, 6, 8, 10; 0 gives "TOTAL"). TOTAL stays TOTAL."""
    _check_level(level)
    return _map(values, lambda v: _cut(_normalise_one(v), level))


def _int_map(values: pd.Series, fn) -> pd.Series:
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    indices, uniques = _encode(values)
    table = pa.array([fn(u) for u in uniques] + [fn(None)], type=pa.int64())
    idx = indices.fill_null(len(uniques)) if indices.null_count else indices
    return pd.Series(table.take(idx).to_numpy(), index=values.index, name=values.name)


def _level(code: str) -> int:
    return 0 if code == TOTAL else (len(code) if code else -1)


def hs_level(values: pd.Series) -> pd.Series:
    """Digits of each code (2, 4, 6, 8, 10), 0 for TOTAL, -1 for an invalid code."""
    return _int_map(values, lambda v: _level(_normalise_one(v)))


def hs_section(values: pd.Series) -> pd.Series:
    """HS section number 1..21 of each code; 0 for TOTAL, national chapters 98/99 and invalid codes."""
    return _int_map(values, lambda v: HS_SECTIONS.get(_normalise_one(v)[:2], 0))


def hs_name(code) -> str:
    """Short name of the HS2 chapter a code belongs to ("all products" for TOTAL, "" if unknown)."""
    norm = _normalise_one(code)
    if norm == TOTAL:
        return "all products"
    return HS2_NAMES.get(norm[:2], "")
