"""Parameters of the mirror check (``MirrorParams``) and the HS sections of its ``tau_section`` overrides."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from ...errors import ConfigError


CHECK = "mirror"
MAD_TO_SD = 1.4826

# HS chapter -> section (roman numeral), the 21 sections of the Harmonized System
_SECTION_BOUNDS = (
    (5, "I"), (14, "II"), (15, "III"), (24, "IV"), (27, "V"), (38, "VI"), (40, "VII"), (43, "VIII"), (46, "IX"),
    (49, "X"), (63, "XI"), (67, "XII"), (70, "XIII"), (71, "XIV"), (83, "XV"), (85, "XVI"), (89, "XVII"),
    (92, "XVIII"), (93, "XIX"), (96, "XX"), (99, "XXI"),
)
_ROMAN = [s for _, s in _SECTION_BOUNDS]


def hs_section(hs: str) -> str:
    """HS section (``"XIV"``) of a product code, ``""`` for ``TOTAL`` or a code that is not HS."""
    if len(hs) < 2 or not hs[:2].isdigit():
        return ""
    ch = int(hs[:2])
    for upper, sec in _SECTION_BOUNDS:
        if ch <= upper:
            return sec if ch >= 1 else ""
    return ""


def _section_key(key: object) -> str:
    s = str(key).strip().upper()
    if s.isdigit() and 1 <= int(s) <= 21:
        return _ROMAN[int(s) - 1]
    if s in _ROMAN:
        return s
    raise ConfigError(f"tau_section key {key!r} is not an HS section: use 1..21 or I..XXI")


@dataclass(frozen=True)
class MirrorParams:
    """Every knob of the mirror check, with its default.

    ``tau``: freight and insurance share of the FOB value in the importer's CIF value (IMF DOTS uses 6%).
    Overrides, most specific first: ``tau_pair`` ("CHN>HKG"), ``tau_partner`` (importer ISO3, e.g. ``{"USA": 0}``
    where the "CIF" import figure is really customs value), ``tau_group`` (group name of
    :mod:`tradeanomaly.codes.groups`, applies when the importer belongs to it), ``tau_section`` (HS section, 1..21
    or I..XXI). ``estimate_tau`` estimates a pair's tau from its own history (median of ``M_cif / X - 1``, clipped
    to ``tau_bounds``, the period under test left out) where no override applies.
    ``history``: number of earlier periods of the same season in the own-history norm; ``min_history`` below
    which no own-history z is given. ``season_history``: ``same`` looks back at the same month (quarter) of
    earlier years only, ``any`` at the previous periods whatever their season, ``auto`` (default) at the same
    season where it has ``min_history`` periods and else at the previous periods (a short monthly panel).
    ``mad_floor``: smallest robust SD in log units (stable pairs would otherwise
    give infinite z); ``size_bands``: the scale is also floored by the spread of pairs of the same size (that many
    equal-count bands of flow size; 0 turns it off). ``min_peers``: partners needed for a peer z.
    ``hubs``: entrepôt economies (default :data:`tradeanomaly.codes.groups.HUBS`). A hub pair is structural when
    in at least ``entrepot_min_share`` of its history periods the log gap was beyond ``entrepot_min_log_gap`` in
    the entrepôt direction (hub exporting: exports above the partner's imports; hub importing: below).
    ``temper``: temper scores by the counterpart's reliability. ``min_score``, ``min_usd_share``: which scored
    pairs become findings. ``chronic_log_gap``, ``chronic_min_share``: a pair whose log gap has been beyond
    ``chronic_log_gap`` (the 1.4 mirror band) in at least ``chronic_min_share`` of its history periods and is beyond
    it now is chronic (``mirror.chronic``, listed apart). ``uv_*``: unit-value rule (see :mod:`..unit_value`).
    """

    tau: float = 0.06
    tau_pair: Mapping[str, float] = field(default_factory=dict)
    tau_partner: Mapping[str, float] = field(default_factory=dict)
    tau_group: Mapping[str, float] = field(default_factory=dict)
    tau_section: Mapping[str, float] = field(default_factory=dict)
    estimate_tau: bool = False
    tau_bounds: tuple[float, float] = (0.0, 0.20)
    history: int = 8
    min_history: int = 4
    season_history: str = "auto"
    mad_floor: float = 0.05
    min_peers: int = 5
    hubs: tuple[str, ...] | None = None
    entrepot_min_log_gap: float = math.log(2.0)
    entrepot_min_share: float = 0.75
    temper: bool = True
    z_cap: float = 10.0
    size_bands: int = 20
    chronic_log_gap: float = math.log(1.4)
    chronic_min_share: float = 0.75
    min_score: float = 2.0
    min_usd_share: float = 0.0
    uv_min_flows: int = 8
    uv_whisker: float = 1.5
    uv_min_score: float = 3.0
    uv_max_group: int = 100

    def __post_init__(self):
        def bad(name, why):
            raise ConfigError(f"mirror parameter `{name}` {why}")

        for name in ("tau",):
            v = getattr(self, name)
            if not (0 <= v < 1):
                bad(name, f"is {v}: give a share between 0 and 1 (0.06 = 6%)")
        for name in ("tau_pair", "tau_partner", "tau_group", "tau_section"):
            for k, v in dict(getattr(self, name)).items():
                if not (0 <= float(v) < 1):
                    bad(name, f"has {k}: {v}: give shares between 0 and 1")
        for k in dict(self.tau_pair):
            if not isinstance(k, str) or len(k.split(">")) != 2:
                bad("tau_pair", f"key {k!r} is not EXPORTER>IMPORTER (e.g. 'CHN>HKG')")
        for k in dict(self.tau_section):
            _section_key(k)
        lo, hi = self.tau_bounds
        if not (0 <= lo <= hi < 1):
            bad("tau_bounds", f"is {self.tau_bounds}: give (low, high) with 0 <= low <= high < 1")
        if self.history < 1 or self.min_history < 1 or self.min_history > self.history:
            bad("history", f"/min_history are {self.history}/{self.min_history}: need 1 <= min_history <= history")
        if self.season_history not in ("auto", "same", "any"):
            bad("season_history", f"is {self.season_history!r}: use auto, same or any")
        if self.mad_floor <= 0:
            bad("mad_floor", "must be > 0")
        if not (0 < self.entrepot_min_share <= 1):
            bad("entrepot_min_share", "must be in (0, 1]")
        if self.min_score < 0 or self.min_usd_share < 0:
            bad("min_score", "and min_usd_share must be >= 0")

    def hub_codes(self) -> tuple[str, ...]:
        if self.hubs is not None:
            return tuple(self.hubs)
        from ...codes import groups

        return tuple(groups.HUBS)
