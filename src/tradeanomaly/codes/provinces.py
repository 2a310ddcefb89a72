"""China's 31 provincial-level units (22 provinces, 5 autonomous regions, 4 municipalities).

Hong Kong, Macao and Taiwan are economies in the country crosswalk, not rows here. Codes are ISO 3166-2:CN as
currently assigned (the 2017 revision: CN-HA Henan, CN-NM Inner Mongolia, ...), checked against pycountry.

``coastal`` follows the usual list of provincial units with a sea coast (China's coastal-region statistics): Liaoning,
Hebei, Tianjin, Shandong, Jiangsu, Shanghai, Zhejiang, Fujian, Guangdong, Guangxi and Hainan. Beijing is inland and
therefore not coastal even though it belongs to the NBS "east" region (column ``region``).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

from tradeanomaly.codes.countries import _encode, _take, name_key
from tradeanomaly.errors import ConfigError

_SUFFIXES_EN = ("province", "municipality", "autonomousregion", "sheng", "shi", "zizhiqu", "region")


def _load() -> pd.DataFrame:
    with resources.files("tradeanomaly.codes").joinpath("data", "provinces.csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype=str, keep_default_na=False, na_values=[])
    df["coastal"] = df["coastal"].eq("1")
    return df


PROVINCES: pd.DataFrame = _load()
"""One row per provincial unit: code, name_en, name_zh, name_zh_short, type, coastal (bool), region, aliases."""

COASTAL: tuple[str, ...] = tuple(PROVINCES.loc[PROVINCES["coastal"], "code"])


def _strip_suffix(key: str) -> str:
    for suffix in _SUFFIXES_EN:
        if key.endswith(suffix) and len(key) > len(suffix):
            return key[: -len(suffix)]
    return key


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for row in PROVINCES.itertuples(index=False):
        names = [row.code, row.code.split("-")[1], row.name_en, row.name_zh, row.name_zh_short]
        names += [a for a in row.aliases.split("|") if a]
        for n in names:
            key = name_key(n)
            table.setdefault(key, row.code)
            table.setdefault(_strip_suffix(key), row.code)
    return table


def _resolve_one(value) -> str:
    text = str(value).strip()
    if not text:
        return ""
    key = name_key(text)
    table = _lookup()
    return table.get(key) or table.get(_strip_suffix(key), "")


def resolve_provinces(values: pd.Series) -> pd.Series:
    """ISO 3166-2 codes ("CN-GD") for province names (Chinese full or short, pinyin, English) or codes; "" unknown."""
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    indices, uniques = _encode(values)
    return pd.Series(_take([_resolve_one(u) for u in uniques], indices), index=values.index, name=values.name)


def province_name(code: str, lang: str = "en") -> str:
    """English ("Inner Mongolia") or Chinese ("内蒙古") short name of a province code; the code itself if unknown."""
    column = {"en": "name_en", "zh": "name_zh_short"}.get(lang)
    if column is None:
        raise ConfigError(f"unknown language {lang!r} for province names: use 'en' or 'zh'")
    hit = PROVINCES.loc[PROVINCES["code"] == str(code).strip().upper(), column]
    return str(hit.iloc[0]) if len(hit) else str(code)
