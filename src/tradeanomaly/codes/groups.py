"""Country groups used in configuration and checks (ISO3 members, sorted)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from tradeanomaly.codes.countries import NOT_SPECIFIED, WORLD, resolve_countries
from tradeanomaly.errors import ConfigError

ASEAN: tuple[str, ...] = ("BRN", "IDN", "KHM", "LAO", "MMR", "MYS", "PHL", "SGP", "THA", "VNM")

# Members since 1 February 2020 (after the United Kingdom left).
EU27: tuple[str, ...] = (
    "AUT", "BEL", "BGR", "CYP", "CZE", "DEU", "DNK", "ESP", "EST", "FIN", "FRA", "GRC", "HRV", "HUN", "IRL", "ITA",
    "LTU", "LUX", "LVA", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "SWE",
)

# Euro area of 20 members since Croatia joined on 1 January 2023.
EURO_AREA: tuple[str, ...] = (
    "AUT", "BEL", "CYP", "DEU", "ESP", "EST", "FIN", "FRA", "GRC", "HRV", "IRL", "ITA", "LTU", "LUX", "LVA", "MLT",
    "NLD", "PRT", "SVK", "SVN",
)

# Entrepôt and transit hubs where re-exports and re-invoicing distort bilateral mirrors.
HUBS: tuple[str, ...] = ("HKG", "SGP", "NLD", "BEL", "ARE", "PAN", "CHE", "MAC")

G7: tuple[str, ...] = ("CAN", "DEU", "FRA", "GBR", "ITA", "JPN", "USA")
GREATER_CHINA: tuple[str, ...] = ("CHN", "HKG", "MAC", "TWN")
USMCA: tuple[str, ...] = ("CAN", "MEX", "USA")

AGGREGATE_CODES: tuple[str, ...] = (WORLD, NOT_SPECIFIED)

GROUPS: dict[str, tuple[str, ...]] = {
    "ASEAN": ASEAN,
    "EU27": EU27,
    "EURO_AREA": EURO_AREA,
    "HUBS": HUBS,
    "G7": G7,
    "GREATER_CHINA": GREATER_CHINA,
    "USMCA": USMCA,
}

# Other spellings accepted in configuration files.
GROUP_ALIASES: dict[str, str] = {
    "EU": "EU27", "EU_27": "EU27", "EUROPEAN_UNION": "EU27", "EUROZONE": "EURO_AREA", "EA20": "EURO_AREA",
    "EA": "EURO_AREA", "HUB": "HUBS", "ENTREPOTS": "HUBS",
}


def _group_key(name: str) -> str:
    key = str(name).strip().upper().replace("-", "_").replace(" ", "_")
    return GROUP_ALIASES.get(key, key)


def group_members(name: str) -> tuple[str, ...]:
    """Members of a named group (case-insensitive: "eu27", "Euro area", "hubs")."""
    key = _group_key(name)
    if key not in GROUPS:
        raise ConfigError(f"unknown country group {name!r}: use one of {', '.join(GROUPS)}")
    return GROUPS[key]


def expand(names_or_codes: Iterable[str] | str) -> tuple[str, ...]:
    """Turn group names, ISO3/ISO2 codes and country names into ISO3 codes, first occurrence order, no repeats.

    ``expand(["USA", "EU27"])`` gives USA followed by the 27 EU members. An entry that is neither a group nor a
    country raises ``ConfigError`` naming it.
    """
    if isinstance(names_or_codes, str):
        names_or_codes = [names_or_codes]
    items = [str(x) for x in names_or_codes]
    groups = {i: GROUPS[_group_key(x)] for i, x in enumerate(items) if _group_key(x) in GROUPS}
    rest = [x for i, x in enumerate(items) if i not in groups]
    resolved = resolve_countries(pd.Series(rest, dtype="str")) if rest else None
    out: list[str] = []
    j = 0
    for i, item in enumerate(items):
        if i in groups:
            out.extend(groups[i])
            continue
        iso3, kind = resolved["iso3"].iloc[j], resolved["kind"].iloc[j]
        j += 1
        if kind != "country":
            raise ConfigError(
                f"{item!r} is not a country or a country group ({kind}): use ISO3 codes or one of {', '.join(GROUPS)}"
            )
        out.append(iso3)
    return tuple(dict.fromkeys(out))
