"""Pairing of the flows: A's exports to B beside B's imports from A (same period and product), on integer
keys, with the one-sided flows and the ledger that accounts for every row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...schema import Ledger
from .params import MirrorParams


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


#: the reasons of the pairing's ledger, in the order it counts them
REASONS = ("re_export", "re_import", "subnational", "aggregate", "self_trade", "estimated", "zero_value", "duplicate",
           "level_mismatch", "lost", "orphaned", "paired")


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
    # the counts behind it (rows without a reporter apart), so that partitions of the flows can be summed
    country_rows: np.ndarray | None = None
    country_estimated: np.ndarray | None = None
    unknown_rows: int = 0
    unknown_estimated: int = 0


def pair_flows(flows: pd.DataFrame, params: MirrorParams | None = None, quantities: bool | None = None) -> Pairing:
    """Pair A's exports to B with B's imports from A (same period and product).

    Set aside, each counted in the ledger: re-export/re-import rows (``re_export`` rows are used to adjust a
    hub's exports, not paired), subnational rows, publisher estimates, aggregates (WLD, NES, groups, unknown
    codes), self-trade, zero or missing values, duplicates, rows whose counterpart reports the pair only at another
    product level (``level_mismatch``), and one-sided rows (``lost``: exporter only; ``orphaned``: importer only).
    ``rows in = paired + everything set aside``, checked. The pairs carry quantity columns where any paired row
    has a quantity, or with ``quantities=True`` (another partition of the same flows has them).
    """
    from ...codes import is_country

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
    known = rep >= 0
    country_rows = np.bincount(rep[known], minlength=nc)
    country_est = np.bincount(rep[known & estimated], minlength=nc)
    unknown_rows, unknown_est = int((~known).sum()), int((~known & estimated).sum())
    rows_per, est_per = country_rows.copy(), country_est.copy()
    if nc:  # a row without a reporter counts for the first country
        rows_per[0] += unknown_rows
        est_per[0] += unknown_est
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
    if quantities or (quantities is None and np.isfinite(q).any()
                      and (np.isfinite(q[px]).any() or np.isfinite(q[pm]).any())):
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
                   period_labels=per_l, estimated_share=estimated_share, country_rows=country_rows,
                   country_estimated=country_est, unknown_rows=unknown_rows, unknown_estimated=unknown_est)


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
