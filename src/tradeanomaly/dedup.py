"""Exact duplicate detection across chunks, linear in rows: dictionary-coded keys in an open-addressing table.

A flow's key (``period, reporter, region, partner, flow, hs, valuation``) is coded column by column with a
dictionary that grows as values appear (code 1 is the missing value, codes are never reused), and the seven codes
are packed into two 64-bit words::

    word a = period (16 bits) | reporter (16) | partner (16) | flow (8) | valuation (8)
    word b = hs (32) | region (32)

Packing is injective, so two rows have the same words exactly when they have the same key: the table compares
words, which is comparing keys. :func:`slot_hash` only chooses where a key is stored; keys whose hashes collide
are both kept (the table probes on until it finds the key itself or an empty slot). A column with more distinct
values than its width holds is refused with a clear error, never truncated.

Cost: each chunk is coded with one ``get_indexer`` per column and inserted in a few vectorised probe rounds, so a
chunk costs the same whether the table holds a thousand keys or a billion (the table doubles when it is 70% full,
which rehashes every key once: amortised constant time per key). Memory: two words per slot, between 23 and 46
bytes per key held, plus the dictionaries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import SourceFormatError

#: key columns and the bits each one's code takes, in packing order (word a, then word b)
WORD_A = (("period", 16), ("reporter", 16), ("partner", 16), ("flow", 8), ("valuation", 8))
WORD_B = (("hs", 32), ("region", 32))
KEY_COLUMNS = ["period", "reporter", "region", "partner", "flow", "hs", "valuation"]
MAX_LOAD = 0.7

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def slot_hash(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A 64-bit mix (splitmix64 finaliser) of the two words: where a key starts probing in the table."""
    with np.errstate(over="ignore"):
        x = a ^ (b * _M1)
        x = (x ^ (x >> np.uint64(30))) * _M1
        x = (x ^ (x >> np.uint64(27))) * _M2
        return x ^ (x >> np.uint64(31))


class _Vocabulary:
    """Codes 2, 3, ... for the values of one column in order of first appearance; 1 for a missing value."""

    def __init__(self, column: str, bits: int):
        self.column, self.limit = column, (1 << bits) - 1
        self.values = pd.Index([], dtype=object)

    def codes(self, values) -> np.ndarray:
        local, uniques = pd.factorize(values, use_na_sentinel=True)
        uniques = pd.Index(np.asarray(uniques, dtype=object), dtype=object)
        pos = self.values.get_indexer(uniques) if len(self.values) else np.full(len(uniques), -1)
        new = pos < 0
        if new.any():
            pos[new] = len(self.values) + np.arange(int(new.sum()))
            self.values = self.values.append(uniques[new])
            if len(self.values) + 1 > self.limit:
                raise SourceFormatError(
                    f"more than {self.limit - 1:,} distinct values in key column `{self.column}`: the duplicate "
                    "check cannot hold them; ingest the files in separate folders", column=self.column)
        lookup = np.r_[np.uint64(1), (pos + 2).astype(np.uint64)]  # local -1 (missing) -> code 1
        return lookup[local + 1]


class KeySet:
    """The keys seen so far; :meth:`add` says which rows of a chunk repeat an earlier key (exactly)."""

    def __init__(self, capacity: int = 1 << 16):
        self._vocab = {c: _Vocabulary(c, bits) for c, bits in WORD_A + WORD_B}
        self._a = np.zeros(capacity, dtype=np.uint64)  # a == 0 marks an empty slot (every code is >= 1)
        self._b = np.zeros(capacity, dtype=np.uint64)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def words(self, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The two packed words of each row of ``keys`` (a frame with the key columns)."""
        out = []
        for layout in (WORD_A, WORD_B):
            w = np.zeros(len(keys), dtype=np.uint64)
            for column, bits in layout:
                w = (w << np.uint64(bits)) | self._vocab[column].codes(keys[column])
            out.append(w)
        return out[0], out[1]

    def add(self, keys: pd.DataFrame) -> np.ndarray:
        """Insert the rows of ``keys``; return a mask of the rows whose key was already held (or appears earlier
        in ``keys``): the first occurrence in order is the one kept."""
        a, b = self.words(keys)
        if (self.size + len(a)) > MAX_LOAD * len(self._a):
            self._grow(self.size + len(a))
        dup = self._insert(a, b)
        self.size += len(a) - int(dup.sum())
        return dup

    def _grow(self, need: int) -> None:
        cap = len(self._a)
        while need > MAX_LOAD * cap:
            cap *= 2
        held = self._a != 0
        a, b = self._a[held], self._b[held]
        self._a = np.zeros(cap, dtype=np.uint64)
        self._b = np.zeros(cap, dtype=np.uint64)
        self._insert(a, b)

    def _insert(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Linear probing, all rows at once: each round every pending row looks at its slot; it stops on its own
        key (a duplicate) or claims an empty slot (the earliest row wins a slot several want; the others look
        again next round), and moves to the next slot when another key is there."""
        dup = np.zeros(len(a), dtype=bool)
        mask = np.uint64(len(self._a) - 1)
        slot = (slot_hash(a, b) & mask).astype(np.int64)
        pending = np.arange(len(a))
        while len(pending):
            s = slot[pending]
            ta, tb = self._a[s], self._b[s]
            empty = ta == 0
            same = ~empty & (ta == a[pending]) & (tb == b[pending])
            dup[pending[same]] = True
            cand, cand_s = pending[empty], s[empty]
            claimed, first = np.unique(cand_s, return_index=True)  # cand is in row order: the earliest wins
            winners = cand[first]
            self._a[claimed], self._b[claimed] = a[winners], b[winners]
            lost = np.ones(len(cand), dtype=bool)
            lost[first] = False
            moving = pending[~empty & ~same]
            slot[moving] = (slot[moving] + 1) & (len(self._a) - 1)
            pending = np.sort(np.concatenate([cand[lost], moving]))
        return dup
