"""Duplicate flows keys, shared by the readers: the key of one reported figure (``FLOW_KEY``), duplicate rows
found on integer codes of the key columns (``duplicated_keys``, ``duplicated_rows``), and keys repeated across
chunks or files (``merge_codes``, ``drop_duplicates_across``). A leaf: it imports nothing from the readers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import Ledger, text_codes

#: Key of one reported figure: a second row with the same key is a duplicate.
FLOW_KEY = ["period", "reporter", "region", "partner", "flow", "hs"]
_DUP_KEY = FLOW_KEY + ["valuation"]


def duplicated_keys(columns) -> np.ndarray:
    """Rows whose key repeats an earlier row's (``keep="first"``), from per-column ``(codes, n_distinct)``.

    Equal codes mean equal values (-1, missing, equals -1); the codes are combined into one integer per row,
    re-numbered when the product of the column sizes would overflow, so the test is one integer hash.
    """
    key, card = None, 1
    for codes, size in columns:
        size = int(size) + 1
        codes = np.asarray(codes).astype(np.int64) + 1
        if key is None:
            key, card = codes, size
            continue
        if card * size >= 2 ** 62:
            key, uniq = pd.factorize(key)
            key, card = key.astype(np.int64), max(len(uniq), 1)
        key = key * size + codes
        card *= size
    if key is None:
        return np.zeros(0, dtype=bool)
    # pandas hashes integers almost as they are, and combined codes collide in its table: scatter the bits
    # first (multiplying by an odd number is one-to-one on 64-bit integers, so equal keys stay equal)
    key = (key.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)).view(np.int64)
    return pd.Series(key, copy=False).duplicated(keep="first").to_numpy()


def duplicated_rows(df: pd.DataFrame, columns, codes: dict | None = None) -> np.ndarray:
    """``df.duplicated(columns, keep="first")`` on integer codes of the columns (text hashed once per column)."""
    codes = dict(codes or {})
    cols = []
    for c in columns:
        v = codes.get(c)
        if v is None:
            v = text_codes(df[c])
        if v is None:
            k, u = pd.factorize(df[c], use_na_sentinel=True)
            v = (k, u)
        cols.append((v[0], len(v[1])))
    return duplicated_keys(cols)


def merge_codes(parts: list) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)`` of one column over consecutive parts, from each part's own ``(codes, uniques)``."""
    if len(parts) == 1:
        return parts[0]
    offsets = np.cumsum([0] + [len(u) for _, u in parts])
    new_of_old, uniques = pd.factorize(np.concatenate([u for _, u in parts]))
    out = np.empty(sum(len(k) for k, _ in parts), dtype=np.int32)
    pos = 0
    for (k, _), a, b in zip(parts, offsets[:-1], offsets[1:]):
        table = np.append(new_of_old[a:b], -1).astype(np.int32)
        out[pos:pos + len(k)] = table[k]  # -1 (missing) takes the last entry: -1
        pos += len(k)
    return out, np.asarray(uniques, dtype=object)


def _global_codes(parts: list) -> tuple[np.ndarray, int]:
    codes, uniques = merge_codes(parts)
    return codes, len(uniques)


def drop_duplicates_across(df: pd.DataFrame, ledger: Ledger, *, chunk_codes: list[dict] | None = None
                           ) -> pd.DataFrame:
    """Set aside keys repeated across chunks or files (each part was de-duplicated on its own).

    The rows were counted as ``kept`` by their part; they move to ``duplicate``, so the ledger still balances.
    ``chunk_codes`` (one dict per part, in order, of ``(codes, uniques)`` per key column) spares hashing the
    text again.
    """
    if chunk_codes is not None and all(v is not None for codes in chunk_codes for v in codes.values()):
        dup = duplicated_keys(_global_codes([codes[c] for codes in chunk_codes]) for c in _DUP_KEY)
    else:
        dup = duplicated_rows(df, _DUP_KEY)
    n = int(dup.sum())
    if n:
        ledger.counts["kept"] -= n
        ledger.add("duplicate", n, df.loc[dup].head(3))
        df = df.loc[~dup].reset_index(drop=True)
    return df
