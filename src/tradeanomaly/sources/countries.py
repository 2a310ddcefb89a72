"""Country columns, shared by the readers (``table``, ``imf-dots``, ``census``): codes or names resolved to ISO3
once per distinct value (``resolve_country_column``, ``by_distinct``), the world and not-specified areas as
``WLD`` and ``NES``, what is not a country pair set aside in the ledger (``set_aside_countries``), and rows that
became one flows key folded into one (``merge_not_specified``, ``sum_same_key``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import Ledger


def _resolve_unique(raw: pd.Series, system: str) -> tuple[pd.Categorical, pd.Categorical]:
    """ISO3 and kind of every row of ``raw`` (categoricals), resolving each distinct value once."""
    from ..codes.countries import resolve_countries

    def resolve(c: pd.Series) -> pd.Series:
        res = resolve_countries(c.str.strip(), system=system)
        kind = res["kind"].astype("str").fillna("unknown").to_numpy(dtype=object)
        kind = np.where(c.str.strip().to_numpy(dtype=object) == "", "unknown", kind)  # empty is never a country
        return pd.Series(res["iso3"].astype("str").fillna("").to_numpy(dtype=object) + "|" + kind)

    both = by_distinct(raw, resolve)
    cats = pd.Series(both.cat.categories.astype("str"))
    codes = both.cat.codes.to_numpy()
    return (_small_to_categorical(cats.str.split("|").str[0].to_numpy(dtype=object), codes),
            _small_to_categorical(cats.str.split("|").str[1].to_numpy(dtype=object), codes))


def _small_to_categorical(values: np.ndarray, codes: np.ndarray) -> pd.Categorical:
    """``values[codes]`` as a categorical, without building millions of Python strings."""
    small_codes, uniq = pd.factorize(values)
    return pd.Categorical.from_codes(small_codes[codes], categories=pd.Index(uniq, dtype="str"))


def resolve_country_column(raw: pd.Series, system: str, fallback: pd.Series | None = None,
                           fallback_system: str = "name") -> tuple[pd.Categorical, pd.Categorical]:
    """``(iso3, kind)`` categoricals for a column of country codes or names.

    Where the primary value is unknown (kind ``unknown``), the ``fallback`` column (for example the country
    name beside an IMF code) is tried with ``fallback_system``.
    """
    iso, kind = _resolve_unique(raw, system)
    if fallback is not None:
        unknown = np.asarray(kind == "unknown")
        if unknown.any():
            f_iso, f_kind = _resolve_unique(fallback[unknown], fallback_system)
            iso, kind = np.asarray(iso, dtype=object).copy(), np.asarray(kind, dtype=object).copy()
            iso[unknown] = np.asarray(f_iso, dtype=object)
            kind[unknown] = np.asarray(f_kind, dtype=object)
            iso, kind = pd.Categorical(iso), pd.Categorical(kind)
    return iso, kind


def _as_categorical(values) -> pd.Categorical:
    if isinstance(values, pd.Categorical):
        return values
    return pd.Categorical(np.asarray(values, dtype=object))


def _fixed_iso(iso: pd.Categorical, kind: pd.Categorical) -> pd.Categorical:
    """ISO3 with the world as WLD and not-specified areas as NES, computed per distinct (iso, kind) pair."""
    k = max(len(kind.categories), 1)
    pair = iso.codes.astype(np.int64) * k + kind.codes.astype(np.int64)
    uniq, inverse = np.unique(pair, return_inverse=True)
    iso_u = np.asarray(iso.categories, dtype=object)[uniq // k]
    kind_u = np.asarray(kind.categories, dtype=object)[uniq % k]
    fixed = np.where(kind_u == "world", "WLD", np.where(kind_u == "nes", "NES", iso_u))
    return _small_to_categorical(fixed.astype(object), inverse.ravel())


def set_aside_countries(df: pd.DataFrame, ledger: Ledger, resolved: dict) -> pd.DataFrame:
    """Replace raw ``reporter``/``partner`` values by ISO3 and set aside what is not a country pair.

    ``resolved`` maps ``"reporter"``/``"partner"`` to ``(iso3, kind)`` arrays aligned with ``df``. A reporter must
    be a country (world and aggregates are ``aggregate_area``); a partner may also be the world (``WLD``) or not
    specified (``NES``). Unknown values are ``unknown_country`` with the raw value as ``unknown`` in the examples.
    """
    df = df.reset_index(drop=True)
    keep = np.ones(len(df), dtype=bool)
    order = [c for c in ("reporter", "partner") if c in resolved]
    fixed = {}
    for col in order:
        iso, kind = (_as_categorical(v) for v in resolved[col])
        fixed[col] = _fixed_iso(iso, kind)
        ok_kinds = ["country"] if col == "reporter" else ["country", "world", "nes"]
        is_unknown = np.asarray(kind == "unknown")
        agg = keep & ~np.asarray(kind.isin(ok_kinds)) & ~is_unknown
        if agg.any():
            ledger.add("aggregate_area", int(agg.sum()), df.loc[agg].head(3).assign(aggregate=col))
            keep &= ~agg
        unk = keep & is_unknown
        if unk.any():
            ex = df.loc[unk].head(200)
            ex = ex.drop_duplicates(col).head(3)
            ex = ex.assign(unknown=ex[col].astype("str"), column=col)
            ledger.add("unknown_country", int(unk.sum()), ex)
            keep &= ~unk
    out = df.loc[keep].copy()
    for col in order:
        out[col] = fixed[col][keep]
    return out.reset_index(drop=True)


def merge_not_specified(df: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    """Sum the partner rows that all became ``NES`` for one reported figure into one row.

    Publishers split "areas not specified" by region (IMF DOTS: Africa / Asia / Europe / Western Hemisphere
    not specified, Countries & Areas not specified, Special Categories); these buckets are disjoint (with the
    countries they add up to the world), so their sum is the reporter's NES figure. The rows folded into
    another are counted as ``nes_merged``; the sum is estimated if any part was. Needs numeric ``value_usd``.
    """
    return sum_same_key(df, ledger, (df["partner"] == "NES").to_numpy(), "nes_merged")


def sum_same_key(df: pd.DataFrame, ledger: Ledger, candidates: np.ndarray, reason: str) -> pd.DataFrame:
    """Among the ``candidates`` rows, fold rows with the same flows key into the first one, summing values.

    For distinct publisher codes that map to one ISO3 (Census: Gaza Strip and West Bank -> PSE) or to NES.
    """
    key = [c for c in ("period", "reporter", "region", "partner", "flow", "hs", "valuation") if c in df.columns]
    nes = np.asarray(candidates, dtype=bool)
    if not nes.any():
        return df
    sub = df.loc[nes]
    dup = sub.duplicated(key, keep=False).to_numpy()
    if not dup.any():
        return df
    multi = sub.loc[dup]
    k = [multi[c].astype("str") for c in key]
    grouped = multi.groupby(k, sort=False, observed=True)
    first = multi.loc[~multi.duplicated(key, keep="first")].copy()
    sums = grouped["value_usd"].sum(min_count=1).to_numpy()
    first["value_usd"] = sums
    if "estimated" in multi.columns:
        first["estimated"] = grouped["estimated"].any().to_numpy()
    ledger.add(reason, len(multi) - len(first), multi.loc[multi.duplicated(key, keep="first")].head(3))
    rest = df.loc[~nes]
    singles = sub.loc[~dup]
    out = pd.concat([rest, singles, first])
    return out.sort_index(kind="stable").reset_index(drop=True)


def by_distinct(s: pd.Series, fn) -> pd.Series:
    """``fn`` (a text Series -> same-length result) applied once per distinct value of ``s``; categorical result.

    Missing values enter ``fn`` as ``""``. On columns of millions of rows with a few hundred distinct names this
    is what keeps the readers fast.
    """
    if not isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype("category")
    cats = pd.Series(list(s.cat.categories.astype("str")) + [""], dtype="str")
    res = pd.Series(np.asarray(fn(cats), dtype=object)).fillna("").astype("str").to_numpy(dtype=object)
    codes = s.cat.codes.to_numpy().astype(np.int64)
    codes[codes < 0] = len(cats) - 1
    new_codes, uniq = pd.factorize(res)
    cat = pd.Categorical.from_codes(new_codes[codes], categories=pd.Index(uniq, dtype="str"))
    return pd.Series(cat, index=s.index)
