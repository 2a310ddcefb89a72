"""Mirror gaps: each exporter's report scored against its partner's report of the same flow.

A's exports to B (FOB) are paired with B's imports from A (CIF, brought to FOB as ``CIF / (1 + tau)``), same
period, same product. The gap is measured three ways (signed log gap, symmetric gap, dollars beyond the freight
band) and scored against what it should be: the pair's own history (robust median/MAD of the previous periods of
the same season, the period under test left out) and the exporter's other partners in the same period. Gaps whose
counterpart reports poorly (see :mod:`.reliability`) are tempered; the persistent gap of an entrepôt (a hub's
re-exports, recorded by the importer under the goods' origin) is labelled as such and kept out of the fraud list.

Conventions
-----------
* Orientation: every pair is ``exporter>importer``; A's imports from B are the pair ``B>A``. In findings,
  ``reporter`` is the exporter and ``partner`` the importer.
* Freight band: the importer's CIF value holds between 0 and ``tau`` of freight and insurance, so an export
  figure between ``M_cif / (1 + tau)`` and ``M_cif`` is explained by freight. ``usd_beyond_band`` is the distance
  of ``X`` from that band (0 inside it); ``gap_usd = X - M_fob`` is the dollar gap at ``tau`` (GFI's measure).
* Entrepôts: where the exporter publishes re-exports (``RX``) to the importer, any export figure between its
  domestic exports (``X - RX``) and its total exports (``X``) is consistent with an importer that books
  re-exported goods under their origin; the gap is measured from the nearest end of that range
  (``x_compared_usd``), and a reported gap that the re-exports explain is labelled an entrepôt effect. Without
  ``RX``, a hub pair (``hubs``) whose log gap has stayed beyond ``entrepot_min_log_gap`` in the entrepôt direction
  through most of its history is labelled the same way (signal ``mirror.entrepot``, kept out of the fraud list).
* Scores: ``score = min(|z| * temper, z_cap)``. ``z`` is the robust z of the log gap (own history for
  ``mirror.log_gap_z`` and ``mirror.entrepot``, the exporter's partners for ``mirror.peer_z``), its scale floored
  by the spread of pairs of the same size (``size_bands``); ``temper = min(1, typical importer effect / the
  importer's effect)`` (see :mod:`.reliability`); both signs count (exports above the partner's imports: invoice
  exports or import under-invoicing; below: export under-invoicing). The score says how rare the gap is, capped at
  ``z_cap`` robust SD; the dollars are ``usd_at_stake``, the smaller of the excess over the freight band and the
  excess over the pair's own norm, and the ranking weighs them (:mod:`tradeanomaly.ranking`). Findings are kept
  where the score reaches ``min_score`` and the dollars beyond the band reach ``min_usd_share`` (default 0) of the
  exporter's paired exports at that product level.
* Unit values: see :mod:`.unit_value` (check ``unit_value``, scored the same way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..periods import period_ordinal
from ..schema import Ledger, make_findings
from .base import CheckResult
from .reliability import reliability_table

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
    it now is chronic (``mirror.chronic``, listed apart). ``uv_*``: unit-value rule (see :mod:`.unit_value`).
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
        from ..codes import groups

        return tuple(groups.HUBS)


# ----------------------------------------------------------------------------------------------------------------
# Integer coding of the keys: every join and group-by below runs on int64, never on text
# ----------------------------------------------------------------------------------------------------------------


def _codes_labels(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (int64, -1 where missing) and labels (object array) in the column's own order."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        codes = s.cat.codes.to_numpy().astype(np.int64)
        labels = np.asarray(s.cat.categories.astype(str), dtype=object)
    else:
        codes, labels = pd.factorize(s, sort=False)
        codes = codes.astype(np.int64, copy=False)
        labels = np.asarray(labels, dtype=object)
    return codes, labels


def _recode(codes: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """``lookup[codes]`` with -1 kept where ``codes`` is -1 (one gather, no masks)."""
    return np.append(np.asarray(lookup, dtype=np.int64), np.int64(-1))[codes]


def _factorize(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and labels, labels in sorted order (so sorting codes sorts labels)."""
    codes, labels = _codes_labels(s)
    order = np.argsort(labels.astype(str), kind="stable")
    if (order != np.arange(len(order))).any():
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = _recode(codes, rank)
        labels = labels[order]
    return codes, labels


def _remap(codes: np.ndarray, labels: np.ndarray, vocab: np.ndarray) -> np.ndarray:
    """Codes into ``labels`` -> codes into ``vocab`` (a superset)."""
    return _recode(codes, pd.Index(vocab).get_indexer(labels))


def _hs_level(hs_labels: np.ndarray) -> np.ndarray:
    """0 for TOTAL, else the number of digits (2, 4, 6, ...)."""
    return np.array([0 if h == "TOTAL" else len(h) for h in hs_labels], dtype=np.int64)


@dataclass
class Pairing:
    """Paired flows with integer keys, the one-sided flows, and the ledger that accounts for every row."""

    pairs: pd.DataFrame          # p, e, i, h (codes) + x_usd, rx_usd, m_usd, m_fob_reported, quantities
    one_sided: pd.DataFrame      # p, e, i, h, side, value_usd, counterpart
    ledger: Ledger
    countries: np.ndarray        # code -> ISO3
    hs: np.ndarray               # code -> HS code
    period_labels: np.ndarray    # code -> period
    estimated_share: np.ndarray  # per country: share of its rows the publisher estimated


def pair_flows(flows: pd.DataFrame, params: MirrorParams | None = None) -> Pairing:
    """Pair A's exports to B with B's imports from A (same period and product).

    Set aside, each counted in the ledger: re-export/re-import rows (``re_export`` rows are used to adjust a
    hub's exports, not paired), subnational rows, publisher estimates, aggregates (WLD, NES, groups, unknown
    codes), self-trade, zero or missing values, duplicates, rows whose counterpart reports the pair only at another
    product level (``level_mismatch``), and one-sided rows (``lost``: exporter only; ``orphaned``: importer only).
    ``rows in = paired + everything set aside``, checked.
    """
    from ..codes import is_country

    params = params or MirrorParams()
    n = len(flows)
    ledger = Ledger(stage="mirror.pairing", rows_in=n)

    # codes in first-seen order, mapped onto the sorted vocabulary by one gather
    rep_c, rep_l = _codes_labels(flows["reporter"])
    par_c, par_l = _codes_labels(flows["partner"])
    countries = np.array(sorted(set(rep_l.tolist()) | set(par_l.tolist())), dtype=object)
    rep = _remap(rep_c, rep_l, countries)
    del rep_c
    par = _remap(par_c, par_l, countries)
    del par_c
    nc = len(countries)
    hs_c, hs_l = _factorize(flows["hs"])
    per_c, per_l = _factorize(flows["period"])
    flow_c, flow_l = _codes_labels(flows["flow"])
    flow_code = {f: i for i, f in enumerate(flow_l)}

    def is_flow(name):
        return flow_c == flow_code[name] if name in flow_code else np.zeros(n, dtype=bool)

    value = flows["value_usd"].to_numpy(dtype=np.float64, na_value=np.nan)
    estimated = flows["estimated"].to_numpy(dtype=bool)
    region = flows["region"]
    if isinstance(region.dtype, pd.CategoricalDtype):
        # one test per category, then a gather by code (a missing code, -1, picks the appended False)
        named = np.append(np.asarray(region.cat.categories.astype(str), dtype=object) != "", False)
        has_region = named[region.cat.codes.to_numpy()]
    else:
        has_region = (region.fillna("") != "").to_numpy()

    country_ok = is_country(pd.Series(countries, dtype="str")).to_numpy()
    # an unknown code (-1) picks the appended False: aggregate
    ok_ext = np.append(np.asarray(country_ok, dtype=bool), False)
    aggregate = ~(ok_ext[rep] & ok_ext[par])

    # estimated share per reporter (national rows of real countries)
    rows_per = np.bincount(np.maximum(rep, 0), minlength=nc)
    est_per = np.bincount(np.maximum(rep[estimated], 0), minlength=nc)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimated_share = np.where(rows_per > 0, est_per / np.maximum(rows_per, 1), np.nan)

    remaining = np.ones(n, dtype=bool)

    def set_aside(mask, reason):
        nonlocal remaining
        mask = mask & remaining
        k = int(mask.sum())
        if k:
            ex = _example_rows(flows, np.flatnonzero(mask)[:3])
            ledger.add(reason, k, ex)
            remaining &= ~mask

    is_x, is_m, is_rx = is_flow("X"), is_flow("M"), is_flow("RX")
    set_aside(is_rx, "re_export")
    set_aside(~(is_x | is_m | is_rx), "re_import")
    set_aside(has_region, "subnational")
    set_aside(aggregate, "aggregate")
    set_aside(rep == par, "self_trade")
    set_aside(estimated, "estimated")
    set_aside(~(value > 0), "zero_value")

    # orient every row as exporter > importer; one int64 key per flow, one sort pairs them (hash tables on tens of
    # millions of scattered keys are bound by cache misses, a packed integer sort is not). Every step below works in
    # place where it can: at tens of millions of rows, fresh temporaries cost more than the arithmetic.
    nh = max(len(hs_l), 1)
    pair_key = per_c * nc  # ((period * nc + exporter) * nc + importer), in place
    pair_key += np.where(is_m, par, rep)
    pair_key *= nc
    pair_key += np.where(is_m, rep, par)
    key = pair_key * nh
    key += hs_c
    live = np.flatnonzero(remaining)
    ks, rows = _sorted_keys(key, is_m, live, n)
    del live
    dup_sorted = ks[1:] == ks[:-1]
    if dup_sorted.any():
        dup_sorted = np.r_[False, dup_sorted]
        set_aside(_mask(n, rows[dup_sorted]), "duplicate")
        ks, rows = ks[~dup_sorted], rows[~dup_sorted]
    del dup_sorted
    # sorted and distinct, the side key 2 * flow_key + side has both sides of a flow side by side: an even key
    # (exports) followed by the next odd one (imports)
    sd = (ks & 1).astype(bool)
    match = ks[1:] == ks[:-1] + 1
    match &= ~sd[:-1]
    px, pm = rows[:-1][match], rows[1:][match]
    matched = np.zeros(len(ks), dtype=bool)
    matched[:-1] = match
    matched[1:] |= match
    one_x = ~matched
    one_x &= ~sd
    one_m = ~matched
    one_m &= sd
    del matched, sd
    ux, um = rows[one_x], rows[one_m]
    # the keys of the pairs and of the one-sided rows, in sorted order: the codes are read off them (no gathers
    # from scattered rows)
    key_px = ks[:-1][match]
    key_px >>= 1
    key_ux, key_um = ks[one_x] >> 1, ks[one_m] >> 1
    del ks, match, one_x, one_m

    # one side has the pair-period at another product level only: not a one-sided flow, a level mismatch
    level_l = _hs_level(hs_l) if len(hs_l) else np.zeros(1, dtype=np.int64)
    lm_x = np.zeros(len(ux), dtype=bool)
    lm_m = np.zeros(len(um), dtype=bool)
    if len(np.unique(level_l)) > 1:
        side = is_m[rows]
        xi, mi = rows[~side], rows[side]
        level = level_l[hs_c]
        lvl_key = pair_key * 16 + level

        def level_mismatch(rows_, other):
            has_pair = _contains(np.sort(pair_key[other]), pair_key[rows_])
            has_level = _contains(np.sort(lvl_key[other]), lvl_key[rows_])
            return has_pair & ~has_level

        lm_x, lm_m = level_mismatch(ux, mi), level_mismatch(um, xi)
    set_aside(_mask(n, ux[lm_x]) | _mask(n, um[lm_m]), "level_mismatch")
    lost, orphaned = ux[~lm_x], um[~lm_m]
    key_one = np.concatenate([key_ux[~lm_x], key_um[~lm_m]])
    del key_ux, key_um
    set_aside(_mask(n, lost), "lost")
    set_aside(_mask(n, orphaned), "orphaned")
    paired = _mask(n, px) | _mask(n, pm)
    ledger.add("paired", int(paired.sum()))
    remaining &= ~paired
    if remaining.any():  # pragma: no cover - every branch above is exhaustive
        raise AssertionError("mirror pairing left rows unaccounted for")
    ledger.check()

    # re-exports of the exporter to the importer, where published
    rx_usd = np.full(len(px), np.nan)
    rxi = np.flatnonzero(is_rx & ~has_region & ~estimated & (value >= 0) & ~aggregate)
    if len(rxi):
        rx_series = pd.Series(value[rxi]).groupby(key[rxi]).sum()
        rk = rx_series.index.to_numpy()
        got = _find(rk, key_px)
        rx_usd = np.where(got >= 0, rx_series.to_numpy()[np.maximum(got, 0)], np.nan)

    # an estimated counterpart makes a one-sided flow: say so in the one-sided table
    est_rows = np.flatnonzero(estimated & ~aggregate & (is_x | is_m))
    est_sorted = np.sort(key[est_rows])

    decodable = bool((hs_c >= 0).all())  # every part of the key in range: it decodes to the codes

    def codes_of(k: np.ndarray, rows_: np.ndarray) -> dict:
        if not decodable:
            exporter, importer = np.where(is_m, par, rep)[rows_], np.where(is_m, rep, par)[rows_]
            return {"p": per_c[rows_], "e": exporter, "i": importer, "h": hs_c[rows_]}
        pk, h = np.divmod(k, nh)
        pk, i = np.divmod(pk, nc)
        p, e = np.divmod(pk, nc)
        return {"p": p, "e": e, "i": i, "h": h}

    pairs = pd.DataFrame({
        **codes_of(key_px, px),
        "x_usd": value[px], "rx_usd": rx_usd, "m_usd": value[pm],
        "m_valued_fob": _equals(flows["valuation"], "FOB")[pm],
    }, copy=False)  # fresh arrays: no need to copy them into blocks
    q = flows["quantity"].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isfinite(q).any() and (np.isfinite(q[px]).any() or np.isfinite(q[pm]).any()):
        qu_c, qu_l = _codes_labels(flows["quantity_unit"])
        if len(qu_c) and qu_c.min() >= 0 and all(isinstance(u, str) for u in qu_l):
            # the few unit labels by code: no text object per row
            qx_unit, qm_unit = qu_l[qu_c[px]], qu_l[qu_c[pm]]
        else:
            qu = flows["quantity_unit"].astype(str).to_numpy()
            qx_unit, qm_unit = qu[px], qu[pm]
        pairs["qx"] = q[px]
        pairs["qx_unit"] = qx_unit
        pairs["qm"] = q[pm]
        pairs["qm_unit"] = qm_unit

    one = np.concatenate([lost, orphaned])
    one_sided = pd.DataFrame({
        **codes_of(key_one, one),
        "side": pd.Categorical.from_codes(np.repeat(np.array([0, 1], dtype=np.int8), [len(lost), len(orphaned)]),
                                          categories=["lost", "orphaned"]),
        "value_usd": value[one],
        "counterpart": pd.Categorical.from_codes(_contains(est_sorted, key_one).astype(np.int8),
                                                 categories=["missing", "estimated"]),
    }, copy=False)
    return Pairing(pairs=pairs, one_sided=one_sided, ledger=ledger, countries=countries, hs=hs_l,
                   period_labels=per_l, estimated_share=estimated_share)


def _sorted_keys(key: np.ndarray, second: np.ndarray, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The side keys ``2 * key[rows] + second[rows]`` sorted (ties by row), with their rows; one packed int64 sort
    when side key and row fit in 63 bits."""
    side_key = key[rows]
    side_key *= 2
    side_key += second[rows]
    if len(side_key) == 0:
        return side_key, rows
    bits = max(int(n).bit_length(), 1)
    if int(side_key.max()) < (1 << (62 - bits)):
        side_key <<= bits
        side_key |= rows
        side_key.sort()
        rows = side_key & ((1 << bits) - 1)
        side_key >>= bits
        return side_key, rows
    order = np.lexsort((rows, side_key))
    return side_key[order], rows[order]


def _contains(sorted_values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Membership of ``q`` in the sorted array (binary search)."""
    if len(sorted_values) == 0:
        return np.zeros(len(q), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_values, q), len(sorted_values) - 1)
    return sorted_values[idx] == q


def _find(sorted_unique: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Position of each ``q`` in a sorted array of distinct values, -1 where absent."""
    if len(sorted_unique) == 0:
        return np.full(len(q), -1)
    idx = np.minimum(np.searchsorted(sorted_unique, q), len(sorted_unique) - 1)
    return np.where(sorted_unique[idx] == q, idx, -1)


def _equals(s: pd.Series, value: str) -> np.ndarray:
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = list(s.cat.categories.astype(str))
        return s.cat.codes.to_numpy() == cats.index(value) if value in cats else np.zeros(len(s), dtype=bool)
    return (s.astype(str) == value).to_numpy()


def _example_rows(df: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    """``df.iloc[idx]`` for a few rows, as one-row slices: a take on a chunked Arrow text column copies the whole
    column first, a slice copies nothing."""
    return pd.concat([df.iloc[i:i + 1] for i in idx]) if len(idx) else df.iloc[0:0]


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    m = np.zeros(n, dtype=bool)
    m[idx] = True
    return m


# ----------------------------------------------------------------------------------------------------------------
# Gap measures
# ----------------------------------------------------------------------------------------------------------------


def _group_members(group: str) -> list[str]:
    from ..codes.groups import group_members

    return list(group_members(group))


def resolve_tau(pairing: Pairing, params: MirrorParams) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """tau per pair from the overrides (NaN where none applies), and where it came from as codes into labels."""
    pr = pairing.pairs
    n = len(pr)
    tau = np.full(n, np.nan)
    src = np.zeros(n, dtype=np.int16)
    labels = ["default", "estimated", "import valued FOB"]
    cidx = {c: k for k, c in enumerate(pairing.countries)}

    def apply(mask, value, label):
        take = mask & np.isnan(tau)
        tau[take] = float(value)
        labels.append(label)
        src[take] = len(labels) - 1

    e, i, h = pr["e"].to_numpy(), pr["i"].to_numpy(), pr["h"].to_numpy()
    for k, v in sorted(dict(params.tau_pair).items()):
        a, b = (s.strip().upper() for s in k.split(">"))
        if a in cidx and b in cidx:
            apply((e == cidx[a]) & (i == cidx[b]), v, f"pair {a}>{b}")
    for k, v in sorted(dict(params.tau_partner).items()):
        c = str(k).strip().upper()
        if c in cidx:
            apply(i == cidx[c], v, f"partner {c}")
    for g, v in sorted(dict(params.tau_group).items()):
        members = [cidx[c] for c in _group_members(g) if c in cidx]
        if members:
            apply(np.isin(i, members), v, f"group {g}")
    if params.tau_section and len(pairing.hs):
        sections = np.array([hs_section(str(x)) for x in pairing.hs], dtype=object)
        for k, v in sorted(dict(params.tau_section).items(), key=lambda kv: _section_key(kv[0])):
            sec = _section_key(k)
            apply(np.isin(h, np.flatnonzero(sections == sec)), v, f"section {sec}")
    return tau, src, labels


def _beyond(x: np.ndarray, m_cif: np.ndarray, m_fob: np.ndarray) -> np.ndarray:
    """Dollars by which X lies outside the freight band [M_cif / (1 + tau), M_cif]."""
    return np.where(x > m_cif, x - m_cif, np.where(x < m_fob, m_fob - x, 0.0))


def _sorting_network(k: int) -> tuple[tuple[int, int], ...]:
    """Comparators ``(i, j)``, ``i < j``, of Batcher's odd-even merge sort for ``k`` inputs."""
    if k not in _NETWORKS:
        pairs = []
        p = 1
        while p < k:
            step = p
            while step > 0:
                j = step % p
                while j + step < k:
                    for i in range(step):
                        a, b = i + j, i + j + step
                        if b < k and a // (2 * p) == b // (2 * p):
                            pairs.append((a, b))
                    j += 2 * step
                step //= 2
            p *= 2
        _NETWORKS[k] = tuple(pairs)
    return _NETWORKS[k]


_NETWORKS: dict[int, tuple[tuple[int, int], ...]] = {}


def _sort_columns(a: np.ndarray) -> np.ndarray:
    """Sort each column of ``a`` (``k`` rows, no NaN) in place by a sorting network: a few minimum/maximum passes
    over contiguous rows, where ``np.sort(axis=...)`` would sort millions of tiny rows one by one."""
    tmp = np.empty(a.shape[1], dtype=a.dtype)
    for i, j in _sorting_network(a.shape[0]):
        np.minimum(a[i], a[j], out=tmp)
        np.maximum(a[i], a[j], out=a[j])
        a[i] = tmp
    return a


def _column_median(s: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of the first ``count`` values of each column of the column-sorted ``s`` (NaN where none)."""
    n = s.shape[1]
    r = np.arange(n)
    lo = np.maximum((count - 1) // 2, 0)
    hi = np.maximum(count // 2, 0)
    flat = s.reshape(-1)
    with np.errstate(invalid="ignore"):
        out = (flat[lo * n + r] + flat[hi * n + r]) / 2.0 if s.shape[0] else np.full(n, np.nan)
    return np.where(count > 0, out, np.nan)


def _history(values: np.ndarray, series: np.ndarray, ordinal: np.ndarray, step: np.ndarray,
             window: int, threshold: float | None = None, band: float | None = None) -> dict[str, np.ndarray]:
    """Robust statistics of the previous ``window`` values of the same series (period under test left out).

    ``series`` must already hold the season, so a monthly series looks back at the same month of earlier years.
    Returns median, MAD, count, the ordinal of the first and last history period and, with ``threshold``, how
    many history values are at least ``threshold`` (``above``) and at most ``-threshold`` (``below``), and with
    ``band`` how many lie beyond ``band`` either way (``outside``).

    The lags are held as ``window`` contiguous rows (lag k of every value) with missing values as +inf, and sorted
    by a sorting network: the finite values come first in order (as ``np.sort`` puts NaN last), so the median of
    the first ``count`` values is the one of the finite lags, bit for bit.
    """
    n = len(values)
    order = np.lexsort((ordinal, series))
    s, o, v = series[order], ordinal[order], values[order]
    st = step[order]
    finite = np.isfinite(v)
    count = np.zeros(n, dtype=np.int64)
    above = np.zeros(n, dtype=np.int64) if threshold is not None else None
    below = np.zeros(n, dtype=np.int64) if threshold is not None else None
    outside = np.zeros(n, dtype=np.int64) if band is not None else None
    oks = []
    for k in range(1, min(window, n - 1) + 1):  # loop over lags, vectorised over all rows
        ok = (s[k:] == s[:-k]) & ((o[k:] - o[:-k]) <= window * st[k:])
        if not ok.any():  # no value has lag k, so none has a longer one (rows run by series, then ordinal)
            break
        oks.append((k, ok))
        count[k:] += ok & finite[:-k]
        if threshold is not None:
            above[k:] += ok & (v[:-k] >= threshold)
            below[k:] += ok & (v[:-k] <= -threshold)
        if band is not None:
            outside[k:] += ok & (np.abs(v[:-k]) >= band)
    # one row per lag that any value has (a lag no value has would be a row of +inf: it sorts last, left out)
    lags = np.full((max(len(oks), 1), n), np.inf)
    if oks:
        v_inf = np.where(np.isnan(v), np.inf, v)
        for row, (k, ok) in enumerate(oks):
            np.copyto(lags[row, k:], v_inf[:-k], where=ok)
        del v_inf
    del oks, finite
    _sort_columns(lags)
    med = _column_median(lags, count)
    # absolute deviations of the same multiset (order does not matter for their median), missing ones +inf (NaN
    # appears only against an infinite median, i.e. infinite values)
    with np.errstate(invalid="ignore"):
        np.subtract(lags, med, out=lags)
        np.abs(lags, out=lags)
    if not np.isfinite(med[count > 0]).all():
        lags[np.isnan(lags)] = np.inf
    _sort_columns(lags)
    mad = _column_median(lags, count)
    del lags
    pos = np.arange(n)
    first = np.where(count > 0, o[np.maximum(pos - count, 0)], -1)
    last = np.where(count > 0, o[np.maximum(pos - 1, 0)], -1)
    out = {"median": med, "mad": mad, "count": count, "first": first, "last": last}
    if threshold is not None:
        out["above"], out["below"] = above, below
    if band is not None:
        out["outside"] = outside
    result = {}
    for k, a in out.items():  # back to the input order
        b = np.empty_like(a)
        b[order] = a
        result[k] = b
    return result


def size_noise(x: np.ndarray, m: np.ndarray, deviation: np.ndarray, group: np.ndarray, bands: int,
               pair: np.ndarray | None = None) -> np.ndarray:
    """1.4826 * median |deviation| of the pairs in the same size band (``bands`` equal-count bands of the log of
    sqrt(X * M) within each ``group``: frequency and product level). With ``pair``, a pair's size is its median over
    all its periods, so that a period whose reports jump (the break under test, or an erratic reporter's swing)
    does not move the pair into another band."""
    with np.errstate(divide="ignore", invalid="ignore"):
        size = np.log10(np.sqrt(x * m))
    if pair is not None and len(size):
        size = pd.Series(size).groupby(np.asarray(pair)).transform("median").to_numpy()
    out = np.full(len(x), np.nan)
    ok = np.isfinite(size) & np.isfinite(deviation)
    if bands < 1 or not ok.any():
        return out
    d = pd.DataFrame({"g": np.asarray(group)[ok], "s": size[ok], "a": np.abs(deviation[ok])})
    d["b"] = d.groupby("g")["s"].rank(pct=True, method="average").mul(bands).clip(upper=bands - 1e-9).astype(int)
    spread = d.groupby(["g", "b"])["a"].median().mul(MAD_TO_SD)
    # every pair with a size (history or not) takes its band's spread
    allsz = pd.DataFrame({"g": np.asarray(group), "s": size})
    fin = np.isfinite(size)
    ref = d.groupby("g")["s"].apply(lambda v: np.sort(v.to_numpy()))
    for g, srt in ref.items():
        sel = fin & (allsz["g"].to_numpy() == g)
        if not sel.any():
            continue
        b = np.clip((np.searchsorted(srt, size[sel], side="right") / len(srt) * bands).astype(int), 0, bands - 1)
        vals = spread.loc[g].reindex(range(bands)).ffill().bfill().to_numpy()
        out[sel] = vals[b]
    return out


def _period_axes(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per period label: ordinal, season-and-frequency code, and the step between same-season periods."""
    lab = pd.Series(labels, dtype="str")
    ordinal = period_ordinal(lab)
    freq = np.where(lab.str.len() == 4, 0, np.where(lab.str.contains("Q"), 1, 2))
    sub = lab.str.slice(5).str.replace("Q", "", regex=False)
    season = np.where(sub == "", 0, pd.to_numeric(sub, errors="coerce").fillna(0).astype(int))
    step = np.choose(freq, [1, 4, 12])
    return ordinal.astype(np.int64), (freq * 16 + season).astype(np.int64), step.astype(np.int64)


def gap_measures(pairing: Pairing, params: MirrorParams, *, history: bool = True) -> pd.DataFrame:
    """The pair table with tau, FOB import value, log gap, symmetric gap and dollars beyond the freight band.

    With ``history`` also the own-history and peer robust z, and the entrepôt label.
    """
    pr = pairing.pairs.copy(deep=False)  # new columns go to this frame only; the pairs are not copied
    n = len(pr)
    x_rep = pr["x_usd"].to_numpy()
    rx = pr["rx_usd"].to_numpy()
    has_rx = np.isfinite(rx) & (rx > 0)
    x = x_rep
    m = pr["m_usd"].to_numpy()
    m_fob_flag = pr["m_valued_fob"].to_numpy()
    tau, tau_src, tau_labels = resolve_tau(pairing, params)

    p = pr["p"].to_numpy()
    ordinal_l, season_l, step_l = _period_axes(pairing.period_labels)
    ordinal, season, step = ordinal_l[p], season_l[p], step_l[p]
    nc = len(pairing.countries)
    nh = max(len(pairing.hs), 1)
    base = ((pr["e"].to_numpy() * nc + pr["i"].to_numpy()) * nh + pr["h"].to_numpy()) * 64
    freq = season // 16

    def own_history(values, threshold=None, band=None):
        same = _history(values, base + season, ordinal, step, params.history, threshold, band)
        if params.season_history == "same" or (step == 1).all():
            return same
        anys = _history(values, base + freq * 16, ordinal, np.ones_like(step), params.history, threshold, band)
        if params.season_history == "any":
            return anys
        use_any = same["count"] < params.min_history
        out = {k: np.where(use_any, anys[k], v) for k, v in same.items()}
        if band is not None:  # a standing difference is judged on the same season of earlier years only
            out["outside"], out["count_same"] = same["outside"], same["count"]
        return out

    if params.estimate_tau and history:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(m_fob_flag | has_rx, np.nan, np.log(m / x))
        hr = own_history(ratio)
        lo, hi = params.tau_bounds
        est = np.clip(np.exp(hr["median"]) - 1.0, lo, hi)
        use = np.isnan(tau) & (hr["count"] >= params.min_history) & np.isfinite(est)
        tau = np.where(use, est, tau)
        tau_src[use] = 1
    tau = np.where(np.isnan(tau), params.tau, tau)
    tau = np.where(m_fob_flag, 0.0, tau)
    tau_src[m_fob_flag] = 2

    m_fob = m / (1.0 + tau)
    # a hub's exports include re-exports, which an importer recording by origin books under the goods' origin, not
    # under the hub: where the re-exports are published, any figure between domestic exports (X - RX) and total
    # exports (X) is consistent, and the gap is measured from the nearest end of that range
    x_low = np.maximum(x_rep - np.nan_to_num(rx), 0.0)
    x = np.where(has_rx, np.clip(m_fob, x_low, x_rep), x_rep)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_gap = np.log(x / m_fob)
        sym_gap = np.abs(x - m_fob) / (x + m_fob)
    gap_usd = x_rep - m_fob
    beyond = _beyond(x, m, m_fob)
    beyond_reported = _beyond(x_rep, m, m_fob)

    pr["x_compared_usd"] = x
    pr["tau"] = tau
    pr["tau_source"] = pd.Categorical.from_codes(tau_src, categories=pd.Index(tau_labels))
    pr["m_fob_usd"] = m_fob
    pr["log_gap"] = log_gap
    pr["sym_gap"] = sym_gap
    pr["gap_usd"] = gap_usd
    pr["usd_beyond_band"] = beyond
    # the re-exports explain most of the reported gap: an entrepôt effect, whatever the history
    pr["reexport_explained"] = has_rx & (beyond_reported > 0) & (beyond < 0.5 * beyond_reported)
    pr["usd_beyond_band_reported"] = beyond_reported
    if not history:
        return pr

    thr = params.entrepot_min_log_gap
    h = own_history(log_gap, thr, params.chronic_log_gap)
    enough = h["count"] >= params.min_history
    # small flows are noisier: the scale is floored by how far pairs of the same size usually stray from their own
    # norm (a robust spread across the pairs of each size band), so a tiny pair's routine swing does not read as
    # a break while a large pair's rare one does
    pr["size_noise"] = size_noise(x, m_fob, log_gap - np.where(enough, h["median"], np.nan),
                                  freq * 16 + (_hs_level(pairing.hs)[pr["h"].to_numpy()] if len(pairing.hs)
                                               else 0), params.size_bands, pair=base + freq)
    scale = np.maximum(np.maximum(MAD_TO_SD * h["mad"], params.mad_floor), np.nan_to_num(pr["size_noise"]))
    pr["n_history"] = h["count"]
    pr["hist_median"] = h["median"]
    pr["hist_mad"] = h["mad"]
    pr["z_own"] = np.where(enough, (log_gap - h["median"]) / scale, np.nan)
    pr["hist_first"] = h["first"]
    pr["hist_last"] = h["last"]
    # the excess over the pair's own norm: what changed, in dollars (a gap that has stood for years is not news)
    with np.errstate(invalid="ignore", over="ignore"):
        norm_x = m_fob * np.exp(np.where(enough, h["median"], 0.0))
    pr["usd_beyond_norm"] = np.abs(x - norm_x)
    # chronic: outside the band in most history periods and now, with the gap in line with that norm
    count_same = h.get("count_same", h["count"])
    chronic_share = h["outside"] / np.maximum(count_same, 1)
    pr["chronic"] = ((count_same >= params.min_history) & (chronic_share >= params.chronic_min_share)
                     & (np.abs(log_gap) >= params.chronic_log_gap))

    # peers: the exporter's other partners, same period and product level
    level = _hs_level(pairing.hs)[pr["h"].to_numpy()] if len(pairing.hs) else np.zeros(n, dtype=np.int64)
    peer_key = (p * nc + pr["e"].to_numpy()) * 16 + level
    g = pd.Series(log_gap).groupby(peer_key)
    pmed = g.transform("median").to_numpy()
    pcount = g.transform("count").to_numpy()
    pmad = pd.Series(np.abs(log_gap - pmed)).groupby(peer_key).transform("median").to_numpy()
    pscale = np.maximum(MAD_TO_SD * pmad, params.mad_floor)
    pr["n_peers"] = pcount
    pr["peer_median"] = pmed
    pr["z_peer"] = np.where(pcount >= params.min_peers, (log_gap - pmed) / pscale, np.nan)

    # entrepôt: a hub pair whose gap has been large in the entrepôt direction in most of its history
    hubs = params.hub_codes()
    hub_mask = np.isin(pairing.countries, np.array(hubs, dtype=object))
    e_hub, i_hub = hub_mask[pr["e"].to_numpy()], hub_mask[pr["i"].to_numpy()]
    cnt = np.maximum(h["count"], 1)
    share_pos = h["above"] / cnt
    share_neg = h["below"] / cnt
    structural = enough & (
        (e_hub & (share_pos >= params.entrepot_min_share))
        | (i_hub & (share_neg >= params.entrepot_min_share)))
    # from the first period: a hub's gap in the entrepôt direction is structure when its history is too short to
    # tell, or when the pair's all-products figure is labelled so in the same period (its products follow)
    direction = (e_hub & (log_gap >= thr)) | (i_hub & (log_gap <= -thr))
    short = ~enough & direction
    e_, i_ = pr["e"].to_numpy(), pr["i"].to_numpy()
    total_code = np.flatnonzero(np.asarray(pairing.hs, dtype=object) == "TOTAL")
    if len(total_code) and nh > 1:
        is_total = pr["h"].to_numpy() == total_code[0]
        pair_key = (p * nc + e_) * nc + i_
        labelled = structural | short | pr["reexport_explained"].to_numpy()
        tot = pd.Series(labelled[is_total], index=pair_key[is_total])
        tot = tot[~tot.index.duplicated()]
        from_total = tot.reindex(pair_key).fillna(False).to_numpy(dtype=bool) & direction & ~is_total
    else:
        from_total = np.zeros(n, dtype=bool)
    pr["hub_pair"] = e_hub | i_hub
    pr["entrepot"] = structural | short | from_total | pr["reexport_explained"].to_numpy()
    return pr


# ----------------------------------------------------------------------------------------------------------------
# Findings
# ----------------------------------------------------------------------------------------------------------------


def fmt_usd(v: float) -> str:
    """384.9 bn, 12.3 mn, 45,000 (no currency; the sentence says USD once)."""
    if not math.isfinite(v):
        return "n/a"
    a = abs(v)
    if a >= 1e12:
        return f"{v / 1e12:,.2f} trn"
    if a >= 1e9:
        return f"{v / 1e9:,.1f} bn"
    if a >= 1e6:
        return f"{v / 1e6:,.1f} mn"
    return f"{v:,.0f}"


def _pct(t: float) -> str:
    s = f"{100 * t:.1f}".rstrip("0").rstrip(".")
    return f"{s}%"


def _names(codes: np.ndarray) -> np.ndarray:
    from ..codes import country_names

    return country_names(pd.Series(codes, dtype="str")).to_numpy(dtype=object)


def _label_tables(gaps: pd.DataFrame, pairing: Pairing) -> pd.DataFrame:
    """Replace integer codes by labels (categoricals: cheap on millions of rows)."""
    out = pd.DataFrame({
        "period": pd.Categorical.from_codes(gaps["p"].to_numpy(), categories=pd.Index(pairing.period_labels)),
        "exporter": pd.Categorical.from_codes(gaps["e"].to_numpy(), categories=pd.Index(pairing.countries)),
        "importer": pd.Categorical.from_codes(gaps["i"].to_numpy(), categories=pd.Index(pairing.countries)),
        "hs": pd.Categorical.from_codes(gaps["h"].to_numpy(), categories=pd.Index(pairing.hs)),
    })
    rest = gaps.drop(columns=["p", "e", "i", "h"])
    return pd.concat([out, rest.reset_index(drop=True)], axis=1)


def _ordinal_label(ordinals: np.ndarray, pairing: Pairing, periods_of_row: np.ndarray) -> np.ndarray:
    """Period label of an ordinal on the frequency of the row's period."""
    ordinal_l, _, _ = _period_axes(pairing.period_labels)
    lut = {}
    for lab, o in zip(pairing.period_labels, ordinal_l):
        lut[(len(str(lab)), "Q" in str(lab), int(o))] = str(lab)
    kind = {}
    for lab in set(periods_of_row.tolist()):
        lab = str(lab)
        kind[lab] = (len(lab), "Q" in lab)
    out = [lut.get((*kind[str(lab)], o), "") for o, lab in zip(np.asarray(ordinals).tolist(), periods_of_row.tolist())]
    return np.array(out, dtype=object)


def _subjects(ex, im, hs) -> list[str]:
    return [f"{a}>{b}" if h == "TOTAL" else f"{a}>{b}:{h}" for a, b, h in zip(ex, im, hs)]


def build_findings(table: pd.DataFrame, pairing: Pairing, params: MirrorParams,
                   test_mask: np.ndarray) -> pd.DataFrame:
    """Findings of the periods under test: own-history z, peer z, entrepôt label (see module docstring)."""
    t = table.loc[test_mask]  # a new frame already: read only below
    if t.empty:
        return make_findings()
    temper = t["temper"].to_numpy()
    beyond = t["usd_beyond_band"].to_numpy()
    level = _hs_level(np.asarray(t["hs"].cat.categories.astype(str)))[t["hs"].cat.codes.to_numpy()]
    p_codes = t["period"].cat.codes.to_numpy().astype(np.int64)
    # the exporter's paired exports in the period, same product level
    tot_key = (p_codes * 16 + level) * len(pairing.countries) + t["exporter"].cat.codes.to_numpy()
    total_x = pd.Series(t["x_usd"].to_numpy()).groupby(tot_key).transform("sum").to_numpy()
    material = beyond >= params.min_usd_share * total_x

    recs = []
    z_own = t["z_own"].to_numpy()
    z_peer = t["z_peer"].to_numpy()
    ent = t["entrepot"].to_numpy()
    chronic = t["chronic"].to_numpy()
    s_own = np.minimum(np.abs(z_own) * temper, params.z_cap)
    s_peer = np.minimum(np.abs(z_peer) * temper, params.z_cap)
    # a chronic pair is judged against its own (chronic) norm only: its distance from its peers is the standing
    # asymmetry itself, not news
    pick_own = np.isfinite(s_own) & (s_own >= params.min_score) & material & ~ent & (beyond > 0)
    material_rep = t["usd_beyond_band_reported"].to_numpy() >= params.min_usd_share * total_x
    s_ent = np.where(np.isfinite(s_own), s_own, 0.0)
    pick_ent = ent & (material_rep | material) & (t["usd_beyond_band_reported"].to_numpy() > 0)
    pick_peer = np.isfinite(s_peer) & (s_peer >= params.min_score) & material & ~ent & ~chronic & (beyond > 0)
    pick_chronic = chronic & ~ent & ~pick_own & (beyond > 0)
    s_chronic = np.abs(t["log_gap"].to_numpy()) / params.chronic_log_gap
    n_tested = {"mirror.log_gap_z": int(np.isfinite(z_own).sum()), "mirror.peer_z": int(np.isfinite(z_peer).sum()),
                "mirror.entrepot": int(len(t)), "mirror.chronic": int(len(t))}
    for signal, pick, score, zcol in (("mirror.log_gap_z", pick_own, s_own, z_own),
                                      ("mirror.entrepot", pick_ent, s_ent, z_own),
                                      ("mirror.peer_z", pick_peer, s_peer, z_peer),
                                      ("mirror.chronic", pick_chronic, s_chronic, z_own)):
        if not pick.any():
            continue
        sub = t.loc[pick]
        rec = _records(sub, pairing, signal, score[pick], zcol[pick], params)
        rec["n_tested"] = n_tested[signal]
        recs.append(rec)
    if not recs:
        return make_findings()
    out = pd.concat(recs, ignore_index=True)
    out = out.sort_values(["score", "signal", "subject", "period"], ascending=[False, True, True, True],
                          kind="stable").reset_index(drop=True)
    return make_findings(out)


def _records(sub: pd.DataFrame, pairing: Pairing, signal: str, score: np.ndarray, z: np.ndarray,
             params: MirrorParams) -> pd.DataFrame:
    ex = sub["exporter"].astype(str).to_numpy()
    im = sub["importer"].astype(str).to_numpy()
    hs = sub["hs"].astype(str).to_numpy()
    per = sub["period"].astype(str).to_numpy()
    names = dict(zip(pairing.countries, _names(pairing.countries)))
    first = _ordinal_label(sub["hist_first"].to_numpy(), pairing, per)
    last = _ordinal_label(sub["hist_last"].to_numpy(), pairing, per)
    hubs = set(params.hub_codes())
    details = []
    # plain Python scalars (lists) format faster than NumPy scalars, and the same
    cols = zip(*(np.asarray(c).tolist() for c in (
        ex, im, hs, per, sub["x_usd"].to_numpy(), sub["rx_usd"].to_numpy(), sub["m_usd"].to_numpy(),
        sub["m_fob_usd"].to_numpy(), sub["tau"].to_numpy(), sub["gap_usd"].to_numpy(),
        sub["log_gap"].to_numpy(), sub["hist_median"].to_numpy(), sub["peer_median"].to_numpy(),
        sub["n_peers"].to_numpy(), sub["temper"].to_numpy(), z, first, last, sub["m_valued_fob"].to_numpy(),
        sub["reexport_explained"].to_numpy(), sub["usd_beyond_band"].to_numpy())))
    for (a, b, h, p, x, rx, m, mf, tau, gap, lg, hmed, pmed, npeer, tmp, zz, f, la, mfob, rxe, bey) in cols:
        an, bn = names.get(a, a), names.get(b, b)
        what = "" if h == "TOTAL" else f" of HS {h}"
        s = f"{an} reports {fmt_usd(x)} USD of exports{what} to {bn}"
        if math.isfinite(rx) and rx > 0:
            s += f" (of which {fmt_usd(rx)} re-exports)"
        s += f"; {bn} reports {fmt_usd(m)} of imports{what} from {an}"
        s += " (valued FOB)" if mfob else f" ({fmt_usd(mf)} FOB at τ = {_pct(tau)})"
        side = "above" if zz >= 0 else "below"
        span = f"{f}–{la}" if f and la and f != la else (f or la)
        if signal == "mirror.log_gap_z":
            s += (f"; the gap of {fmt_usd(gap)} is {abs(zz):.1f} robust SD {side} the pair's {span} norm "
                  f"(log gap {lg:+.2f} against a median of {hmed:+.2f})")
        elif signal == "mirror.peer_z":
            s += (f"; the log gap of {lg:+.2f} ({fmt_usd(gap)}) is {abs(zz):.1f} robust SD {side} the median "
                  f"{pmed:+.2f} of {an}'s {int(npeer)} partners in {p}")
        elif signal == "mirror.chronic":
            s += (f"; the log gap of {lg:+.2f} has stood beyond the 1.4 mirror band through most of {span} "
                  f"(median {hmed:+.2f}): a standing asymmetry, not a change; listed apart from the ranked cases")
        elif rxe:
            s += (f"; the gap of {fmt_usd(gap)} is an entrepôt effect: {an}'s re-exports, which {bn} books under "
                  f"the goods' origin, explain all but {fmt_usd(bey)} of it; not ranked as fraud")
        else:
            hub = a if a in hubs else b
            if math.isfinite(hmed):
                hist = f"{hmed:+.2f} through {span}" if span else f"{hmed:+.2f}"
                now = f" ({abs(zz):.1f} robust SD {side} that norm now)" if math.isfinite(zz) else ""
                why = f"so the log gap has stayed near {hist}{now}"
            else:
                why = (f"and the log gap of {lg:+.2f} lies in the entrepôt direction (too little history yet to "
                       f"measure the pair's norm; its all-products figure or the hub's role says so)")
            s += (f"; the gap of {fmt_usd(gap)} is an entrepôt effect: {names.get(hub, hub)} re-exports and the "
                  f"importer records goods by origin, {why}; not ranked as fraud")
        if tmp < 1 and signal != "mirror.entrepot":
            s += f"; tempered ×{tmp:.2f} because {bn}'s import reports disagree with most partners"
        details.append(s)
    expected = np.where(sub["m_fob_usd"].to_numpy() > 0, sub["m_fob_usd"].to_numpy(), np.nan)
    at_stake = sub["usd_beyond_band"].to_numpy()
    if signal in ("mirror.log_gap_z", "mirror.peer_z"):
        # what changed: the dollars beyond both the freight band and the pair's own norm
        norm = sub["usd_beyond_norm"].to_numpy()
        at_stake = np.where(np.isfinite(sub["z_own"].to_numpy()) & np.isfinite(norm), np.minimum(at_stake, norm),
                            at_stake)
    if signal == "mirror.entrepot":
        at_stake = sub["usd_beyond_band_reported"].to_numpy()
    return pd.DataFrame({
        "check": CHECK, "signal": signal, "subject": _subjects(ex, im, hs), "reporter": ex, "partner": im,
        "hub": [a if a in hubs else (b if b in hubs else "") for a, b in zip(ex, im)],
        "region": "", "hs": hs, "period": per, "score": score, "value": sub["x_compared_usd"].to_numpy(),
        "expected": expected, "usd_at_stake": at_stake, "detail": details,
    })


# ----------------------------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------------------------


def _code_order(df: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
    """Row order by the codes of ``columns`` (stable), ``None`` when the rows are in that order already (the pair
    table comes out of the pairing sorted by period, exporter, importer and product)."""
    codes = [df[c].cat.codes.to_numpy() for c in columns]
    sizes = [len(df[c].cat.categories) + 1 for c in columns]
    if len(df) > 1 and math.prod(sizes) < 2**62:
        key = np.zeros(len(df), dtype=np.int64)
        for c, size in zip(codes, sizes):
            key *= size
            key += c.astype(np.int64) + 1
        if (key[1:] > key[:-1]).all():
            return None
    return np.lexsort(codes[::-1])


def _in_order(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    order = _code_order(df, columns)
    return df if order is None else df.iloc[order]


def _test_mask(period_codes: np.ndarray, labels: np.ndarray, periods: list[str] | None) -> np.ndarray:
    if periods is None:
        return np.ones(len(period_codes), dtype=bool)
    wanted = np.isin(np.asarray(labels, dtype=object).astype(str), [str(p) for p in periods])
    return wanted[period_codes] if len(labels) else np.zeros(len(period_codes), dtype=bool)


def run(flows: pd.DataFrame, *, params: MirrorParams | None = None, periods: list[str] | None = None) -> CheckResult:
    """Mirror check over a flows table. Findings only for ``periods`` (all periods when ``None``); the history
    norm of each period uses the periods before it. Tables: ``mirror_gaps``, ``one_sided``, ``reliability``,
    ``unit_values``; ledger ``mirror.pairing``."""
    from . import unit_value

    params = params or MirrorParams()
    pairing = pair_flows(flows, params)
    gaps = gap_measures(pairing, params)
    test = _test_mask(gaps["p"].to_numpy(), pairing.period_labels, periods)

    # reliability from the periods not under test (a fraud under test must not excuse itself); all if none left
    base = ~test if (~test).any() else np.ones(len(gaps), dtype=bool)
    lg = gaps["log_gap"].to_numpy()
    rel = reliability_table(pairing.countries, gaps["e"].to_numpy()[base], gaps["i"].to_numpy()[base],
                            np.abs(lg[base]), pairing.estimated_share)
    rel_imp = pd.Series(rel["reliability_importer"].to_numpy(),
                        index=pd.Index(rel["country"].astype(str))).reindex(pairing.countries).to_numpy()
    temper = np.where(np.isfinite(rel_imp), rel_imp, 1.0)[gaps["i"].to_numpy()] if params.temper \
        else np.ones(len(gaps))
    gaps["temper"] = temper

    table = _label_tables(gaps, pairing)
    findings = build_findings(table, pairing, params, test)

    uv = unit_value.run_pairs(table, params, test, pairing)
    if len(uv.findings):
        findings = make_findings(pd.concat([findings, uv.findings], ignore_index=True).sort_values(
            ["score", "check", "signal", "subject", "period"], ascending=[False, True, True, True, True],
            kind="stable"))

    # codes follow the sorted labels: sorting the codes sorts the table by period, exporter, importer, product
    mirror_gaps = table.drop(columns=["hist_first", "hist_last"])
    mirror_gaps = _in_order(mirror_gaps, ["period", "exporter", "importer", "hs"])
    one_sided = _in_order(_label_tables(pairing.one_sided, pairing), ["period", "exporter", "importer", "hs", "side"])
    return CheckResult(
        check=CHECK,
        findings=findings.reset_index(drop=True),
        tables={"mirror_gaps": mirror_gaps.reset_index(drop=True), "one_sided": one_sided.reset_index(drop=True),
                "reliability": rel, "unit_values": uv.table},
        ledgers=[pairing.ledger] + uv.ledgers,
    )


def write_outputs(result: CheckResult, out_dir, periods: list[str] | None = None) -> dict[str, Path]:
    """Write ``mirror_gaps.csv`` (the pairs of ``periods``, all when ``None``), ``findings.csv`` (ranked by
    score), ``one_sided.csv``, ``reliability.csv``, ``unit_values.csv`` and ``ledger.json`` into ``out_dir``."""
    from ..csvsafe import protect
    from ..schema import ledgers_to_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {}

    def only(df: pd.DataFrame) -> pd.DataFrame:
        if periods is None or "period" not in df.columns:
            return df
        return df.loc[df["period"].astype(str).isin([str(p) for p in periods])]

    findings = result.findings.copy()
    findings.insert(0, "rank", np.arange(1, len(findings) + 1))
    frames = {"findings": findings, "mirror_gaps": only(result.tables["mirror_gaps"]),
              "one_sided": only(result.tables["one_sided"]), "reliability": result.tables["reliability"],
              "unit_values": only(result.tables["unit_values"])}
    for name, df in frames.items():
        path = out / f"{name}.csv"
        protect(df).to_csv(path, index=False, lineterminator="\n")
        written[name] = path
    path = out / "ledger.json"
    path.write_text(ledgers_to_json(result.ledgers), encoding="utf-8")
    written["ledger"] = path
    return written
