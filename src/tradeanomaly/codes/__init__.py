"""Reference codes: countries, country groups, Chinese provinces, HS products."""

from tradeanomaly.codes.countries import (
    KINDS,
    NOT_SPECIFIED,
    SYSTEMS,
    WORLD,
    country_name,
    country_names,
    crosswalk,
    is_country,
    name_key,
    resolve_countries,
)
from tradeanomaly.codes.groups import (
    AGGREGATE_CODES,
    ASEAN,
    EU27,
    EURO_AREA,
    GROUPS,
    HUBS,
    expand,
    group_members,
)
from tradeanomaly.codes.hs import (
    HS2_NAMES,
    HS_SECTIONS,
    TOTAL,
    hs_level,
    hs_name,
    hs_section,
    normalise_hs,
    rollup,
)
from tradeanomaly.codes.provinces import COASTAL, PROVINCES, province_name, resolve_provinces

__all__ = [
    "AGGREGATE_CODES", "ASEAN", "COASTAL", "EU27", "EURO_AREA", "GROUPS", "HS2_NAMES", "HS_SECTIONS", "HUBS", "KINDS",
    "NOT_SPECIFIED", "PROVINCES", "SYSTEMS", "TOTAL", "WORLD", "country_name", "country_names", "crosswalk", "expand",
    "group_members", "hs_level", "hs_name", "hs_section", "is_country", "name_key", "normalise_hs", "province_name",
    "resolve_countries", "resolve_provinces", "rollup",
]
