"""The per-record passes of the one-pass engine: digits, mantissa, collapsed amounts, cents and their trailing
zeros (chunk by chunk), last two digits and round flags at each group's own precision, round-number statistics,
and number duplication (one sample: a table of the amounts in whole cents, a sort of the others; many groups: one sort
of group-prefixed hashed amounts)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..digits import _POW10, _POW_TABLE, _TABLE_OFFSET, integer_part, leading_digits
from ..digit_stats import LAST_TWO_MIN_UNITS, MAX_CENTS, ROUND_MIN_UNITS, UNIT_SHARE


# exact powers of ten, shared with the digit extraction
_POW10_F = _POW10[:19]


def _pow10(k: np.ndarray) -> np.ndarray:
    return _POW_TABLE[k + _TABLE_OFFSET]


_PASS_CHUNK = 1 << 16
_TZ_STEPS = ((8, 1e8), (4, 1e4), (2, 100.0), (1, 10.0))
N_TZ = 16  # trailing zeros of cents are counted up to 15


def _chunks(n: int, n_groups: int):
    # per-chunk group histograms cost O(n_groups): keep chunks several times larger than the group count
    size = max(_PASS_CHUNK, 8 * n_groups)
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _trailing_zeros_fast(n: np.ndarray) -> np.ndarray:
    """Trailing decimal zeros of whole numbers held as doubles below 2**50 (capped at 15), by halving steps.

    Float division is exact enough here (a quotient of such a whole number by a power of ten is an integer exactly
    when it divides) and much faster than int64 division."""
    tz = np.zeros(n.shape, dtype=np.int8)
    cur = np.where(n >= 1, n, np.nan)  # NaN never divides: zero and the too-large (-1) get no trailing zeros
    for step, div in _TZ_STEPS:
        q = np.floor(cur / div)
        hit = q * div == cur
        np.copyto(cur, q, where=hit)
        tz += hit.view(np.int8) * np.int8(step)
    return tz


def _by_group(gc: np.ndarray, weights: np.ndarray | None, n_groups: int, single: bool | None = None) -> np.ndarray:
    if n_groups == 1 if single is None else single:
        return np.array([float(len(gc)) if weights is None else float(weights.sum(dtype=np.float64))])
    return np.bincount(gc, weights=weights, minlength=n_groups)


#: decimal exponents of positive doubles lie in [-324, 308]: the one-sample decade histogram is kept at this offset
_E_OFFSET = 330
_E_BINS = 2 * _E_OFFSET
#: below this, whole numbers held as doubles divide exactly, so one test finds those not divisible by 10
_TZ_EXACT = float(2 ** 50)


def _trailing_zeros_some(cc: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """:func:`_trailing_zeros_fast` of the whole cents ``cc``, computed only where it can be non-zero: positions (None
    for all) and their counts; every other value has none. Most amounts in cents are not multiples of 10, and one
    exact test (below 2**50) finds them, which is cheaper than the four halving steps."""
    with np.errstate(invalid="ignore"):
        some = (cc >= 1) & ((np.floor(cc / 10.0) * 10.0 == cc) | (cc >= _TZ_EXACT))
    pos = np.flatnonzero(some)
    if len(pos) * 2 > len(cc):
        return None, _trailing_zeros_fast(cc)
    return pos, _trailing_zeros_fast(cc[pos])


def _tz_hist_one(cents: np.ndarray) -> np.ndarray:
    """1 x N_TZ histogram of the trailing zeros of one sample's cents (those of -1, too large, left out)."""
    tz_one = np.zeros(N_TZ, dtype=np.int64)
    for a, b in _chunks(len(cents), 1):
        cc = cents[a:b]
        pos, tz = _trailing_zeros_some(cc)
        tz_one += np.bincount(tz, minlength=N_TZ)
        tz_one[0] += (0 if pos is None else len(cc) - len(pos)) - int(np.count_nonzero(cc < 0))
    return tz_one.reshape(1, N_TZ)


def _record_pass(x: np.ndarray, g: np.ndarray, n_groups: int, single: bool | None = None,
                 chunks: list[tuple[int, int]] | None = None) -> dict:
    """Everything computed per record, in cache-sized chunks; per-group sums accumulate chunk by chunk.

    ``single``: the one-sample passes (default: when there is one group); ``False`` takes the passes of many
    groups for one group too. ``chunks``: the records' chunks (default :func:`_chunks`); the records of some of the
    groups, cut where the whole table's chunks are cut, give those groups' sums the bits of the whole table's pass."""
    n = len(x)
    single = n_groups == 1 if single is None else single
    m2 = np.empty(n, dtype=np.int64)
    idx = None if single else np.empty(n, dtype=np.int64)  # one sample: the digits themselves are the bins
    e = None if single else np.empty(n, dtype=np.int64)
    dec_all = np.zeros(_E_BINS, dtype=np.int64) if single else None
    acc = {k: np.zeros(n_groups) for k in ("cos_sum", "sin_sum", "mant_sum", "mant2_sum", "coll_sum", "n10")}
    tz_all = None if single else np.zeros(n, dtype=np.int8)
    n_ok = n_tz_bound = 0
    cents = np.empty(n)
    mant_all = np.empty(n, dtype=np.float32) if single else None
    for a, b in (_chunks(n, n_groups) if chunks is None else chunks):
        xc, gc = x[a:b], g[a:b]
        m2c, ec = leading_digits(xc, 2)
        m2[a:b] = m2c
        if single:
            dec_all += np.bincount(ec + _E_OFFSET, minlength=_E_BINS)
        else:
            np.add(gc * 90, m2c - 10, out=idx[a:b])
            e[a:b] = ec
        # x collapsed to [10, 100) by its exact decimal exponent: the distortion factor's values, and (in float32,
        # whose 1e-7 rounding averages out far below the sampling noise) the mantissa log10(x) - e
        coll = xc * _pow10(1 - ec)
        ge10 = xc >= 10
        if ge10.all():
            acc["coll_sum"] += _by_group(gc, coll, n_groups, single)
            acc["n10"] += _by_group(gc, None, n_groups, single)
        else:
            acc["coll_sum"] += _by_group(gc[ge10], coll[ge10], n_groups, single)
            acc["n10"] += _by_group(gc[ge10], None, n_groups, single)
        mant = np.log10(coll.astype(np.float32)) - np.float32(1)
        mant -= mant >= 1  # a value that rounds up to 100 sits at mantissa 0 of the circle
        ang = np.float32(2 * np.pi) * mant
        acc["cos_sum"] += _by_group(gc, np.cos(ang), n_groups, single)
        acc["sin_sum"] += _by_group(gc, np.sin(ang), n_groups, single)
        acc["mant_sum"] += _by_group(gc, mant, n_groups, single)
        if single:
            mant_all[a:b] = mant  # squared and summed by _mant2_one
        else:
            m64 = mant.astype(np.float64)
            acc["mant2_sum"] += _by_group(gc, m64 * m64, n_groups, single)
        ok = xc < MAX_CENTS / 100  # xc is in dollars
        all_ok = ok.all()
        cc = (integer_part(xc * 100, as_float=True) if all_ok
              else np.where(ok, integer_part(np.where(ok, xc, 0) * 100, as_float=True), -1.0))
        cents[a:b] = cc
        if single:
            # an upper bound of the amounts with trailing zeros (exact below 2**50, every larger one counted)
            n_ok += len(cc) if all_ok else int(ok.sum())
            n_tz_bound += (np.count_nonzero(np.floor(cc / 10.0) * 10.0 == cc)
                           + np.count_nonzero(cc >= _TZ_EXACT))
        else:
            pos, tz = _trailing_zeros_some(cc)
            if pos is None:
                tz_all[a:b] = tz
            else:
                tz_all[a + pos] = tz
    if single:
        # the same bins (digits 10..99) and, bin by bin, the same additions in the same order
        out = {"first_two": m2, "c_ft": np.bincount(m2, minlength=100)[10:].reshape(1, 90),
               "sums": np.bincount(m2, weights=x, minlength=100)[10:].reshape(1, 90)}
    else:
        out = {"first_two": m2, "c_ft": np.bincount(idx, minlength=n_groups * 90).reshape(n_groups, 90),
               "sums": np.bincount(idx, weights=x, minlength=n_groups * 90).reshape(n_groups, 90)}
    del idx
    out.update(acc)
    out["mant"] = mant_all
    # groups x decades and groups x trailing-zeros histograms
    if single:
        seen = np.flatnonzero(dec_all)
        emin = int(seen[0]) - _E_OFFSET if n else 0
        dec = dec_all[seen[0]:seen[-1] + 1].reshape(1, -1) if n else np.zeros((1, 1), dtype=np.int64)
        # fewer than 90 % of the amounts multiples of 10 cents: the precision is one cent and no histogram is
        # needed (None); else the trailing zeros of every amount are counted
        tz_hist = None if n_tz_bound / max(n_ok, 1) < UNIT_SHARE else _tz_hist_one(cents)
    else:
        emin = int(e.min()) if n else 0
        n_dec = (int(e.max()) - emin + 1) if n else 1
        ok = cents >= 0
        dec = np.bincount(g * n_dec + (e - emin), minlength=n_groups * n_dec).reshape(n_groups, n_dec)
        tz_hist = np.bincount((g * N_TZ + tz_all)[ok], minlength=n_groups * N_TZ).reshape(n_groups, N_TZ)
    out.update({"dec": dec, "emin": emin, "tz_hist": tz_hist, "cents": cents})
    return out


def _mant2_one(mant: np.ndarray, n_groups: int) -> float:
    """Sum of the squared mantissas of one sample, chunk by chunk (the chunks of the record pass), each chunk by
    numpy's pairwise sum as the grouped path does. Not ``np.dot``: BLAS splits a dot over its threads, so its last
    bits depend on the thread count of the machine, and each call waits for BLAS's sleeping thread."""
    total = 0.0
    for a, b in _chunks(len(mant), n_groups):
        m64 = mant[a:b].astype(np.float64)
        total += float((m64 * m64).sum(dtype=np.float64))
    return total


def _unit_pass(cents, g, unit_exp, n_groups, single: bool | None = None):
    """Last two digits and round flags at each group's own precision (``unit_exp``: power of ten, in cents)."""
    n = len(cents)
    last_two = np.full(n, -1, dtype=np.int64)
    rec_round = np.zeros(n, dtype=bool)
    l2_idx = None if n_groups == 1 else np.empty(n, dtype=np.int64)
    c_l2 = np.zeros(100, dtype=np.int64)
    rn_n = np.zeros(n_groups + 1, dtype=np.int64)
    rn_k = np.zeros(n_groups + 1, dtype=np.int64)
    single = n_groups == 1 if single is None else single
    for a, b in _chunks(n, n_groups):
        gc = None if single else g[a:b]
        div = _POW10_F[unit_exp[0]] if single else _POW10_F[unit_exp[gc]]
        # cents of -1 (too large) give negative units; whole cents are their own units at a precision of one cent
        units = cents[a:b] if single and unit_exp[0] == 0 else np.floor(cents[a:b] / div)
        l2 = units - np.floor(units / 100) * 100
        l2_ok = units >= LAST_TWO_MIN_UNITS
        lt = np.where(l2_ok, l2, -1).astype(np.int64)
        last_two[a:b] = lt
        elig = units >= ROUND_MIN_UNITS
        hit = elig & (l2 == 0)
        rec_round[a:b] = hit
        if single:
            c_l2 += np.bincount(lt[l2_ok], minlength=100)
            rn_n[0] += np.count_nonzero(elig)
            rn_k[0] += np.count_nonzero(hit)
        else:
            # invalid records go to one extra bin at the end, dropped below (no boolean indexing)
            l2_idx[a:b] = np.where(l2_ok, gc * 100 + lt, n_groups * 100)
            rn_n += np.bincount(np.where(elig, gc, n_groups), minlength=n_groups + 1)
            rn_k += np.bincount(np.where(hit, gc, n_groups), minlength=n_groups + 1)
    if not single:
        c_l2 = np.bincount(l2_idx, minlength=n_groups * 100 + 1)[:-1]
    return last_two, rec_round, c_l2.reshape(n_groups, 100), rn_n[:-1], rn_k[:-1]


def _round_stats(n: np.ndarray, k: np.ndarray, p: float = 0.01) -> dict[str, np.ndarray]:
    from scipy import stats

    with np.errstate(invalid="ignore", divide="ignore"):
        nn = np.where(n > 0, n, np.nan)
        share = k / nn
        z = (k - nn * p - 0.5) / np.sqrt(nn * p * (1 - p))
        z = np.maximum(z, 0.0)
        pval = np.where(n > 0, stats.binom.sf(k - 1, n, p), np.nan)
    return {"n": n, "count": k, "share": share, "z": z, "pvalue": pval}


def _mix64(bits: np.ndarray) -> np.ndarray:
    """A bijective 64-bit mix of the amounts' bit patterns (odd multiplier, then xor-shift): equal amounts give
    equal keys, distinct amounts distinct keys, and the high bits are well spread for the group-prefixed key."""
    with np.errstate(over="ignore"):
        z = bits.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z ^= z >> np.uint64(29)
    return z


#: amounts in whole cents below this many cents ($167,772.16) are counted in a table by the duplication test, not
#: sorted; a sample of n amounts uses a table of at most 2n entries
_CENTS_TABLE = 1 << 24


def _cents_keys(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The amounts that are whole cents below the table's size (``x == c / 100`` exactly, so ``c`` and ``x``
    determine each other), as a mask and their cents as table indices."""
    limit = min(_CENTS_TABLE, max(1 << 16, 2 * len(x)))
    c = np.rint(x * 100.0)
    t = (c < limit) & (c / 100.0 == x)
    return t, c[t].astype(np.intp)


def _runs_one(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every amount of one sample that occurs more than once, with its count (in no particular order).

    Amounts in whole cents below :data:`_CENTS_TABLE` are counted with one ``bincount``; only the others are
    sorted (a sort of 10 million amounts takes most of a second). The runs are the same as those of a sort of every
    amount."""
    t, cents = _cents_keys(x)
    table = np.bincount(cents)
    del cents
    tv = np.flatnonzero(table >= 2)
    t_run = table[tv]
    del table
    rest = np.sort(x[~t])
    del t
    s_val, s_run = _sorted_runs(rest)
    return np.concatenate([tv / 100.0, s_val]), np.concatenate([t_run, s_run]).astype(np.int64)


def _sorted_runs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, length) of every run of at least two equal values in the sorted array ``a``; only the duplicate
    structure is materialised (the positions ``i`` where ``a[i] == a[i + 1]``)."""
    d = np.flatnonzero(a[1:] == a[:-1])
    if not len(d):
        return np.zeros(0, dtype=a.dtype), np.zeros(0, dtype=np.int64)
    first_d = np.r_[0, np.flatnonzero(np.diff(d) != 1) + 1]
    return a[d[first_d]], np.diff(np.r_[first_d, len(d)]) + 1


def _duplicates_one(x: np.ndarray, top: int) -> dict[str, np.ndarray]:
    """Number duplication of one sample: the same records as :func:`_duplicates` makes for one group (ties among
    the most repeated amounts ordered by the hash of the amount, as there)."""
    top_values = np.full((1, top), np.nan)
    top_counts = np.zeros((1, top), dtype=np.int64)
    val, run = _runs_one(x)
    dup_share = np.array([float(run.sum()) / len(x)])
    cand = np.arange(len(run))
    if len(cand) > top:
        kth = np.partition(run, len(run) - top)[len(run) - top]
        cand = np.flatnonzero(run >= kth)
    if len(cand):
        sel = cand[np.lexsort((_mix64(val[cand]), -run[cand]))][:top]
        top_values[0, :len(sel)] = val[sel]
        top_counts[0, :len(sel)] = run[sel]
    return {"n": np.array([len(x)]), "top_values": top_values, "top_counts": top_counts,
            "duplicated_share": dup_share}


def _duplicates(x: np.ndarray, g: np.ndarray, n_groups: int, top: int) -> dict[str, np.ndarray]:
    """Most repeated amounts per group by one sort of (group, hash of amount) keys; top values verified exactly."""
    top_values = np.full((n_groups, top), np.nan)
    top_counts = np.zeros((n_groups, top), dtype=np.int64)
    n = np.array([len(x)]) if n_groups == 1 else np.bincount(g, minlength=n_groups)
    if len(x) == 0:
        return {"n": n, "top_values": top_values, "top_counts": top_counts,
                "duplicated_share": np.full(n_groups, np.nan)}
    if n_groups == 1:
        return _duplicates_one(x, top)
    h = _mix64(x)
    gbits = int(n_groups - 1).bit_length()
    hbits = 64 - gbits
    # group codes are non-negative int64: their bits are the uint64 codes, no copy needed
    gu = g.view(np.uint64) if g.dtype == np.int64 else g.astype(np.uint64)
    rec_key = (gu << np.uint64(hbits)) | (h >> np.uint64(gbits))
    del h
    key = np.sort(rec_key)
    run_key, run = _sorted_runs(key)
    run_group = (run_key >> np.uint64(hbits)).astype(np.int64)
    dup_records = np.bincount(run_group, weights=run, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        dup_share = dup_records / np.where(n > 0, n, np.nan)
    # top runs per group: order by (group, -count)
    cand = np.arange(len(run))
    if len(cand):
        # runs are in (group, hash) order already; a stable sort on (group, -count) keeps the hash order for ties
        big = int(run[cand].max()) + 1
        order = cand[np.argsort(run_group[cand] * big + (big - 1 - run[cand]), kind="stable")]
        og = run_group[order]
        first = np.r_[0, np.flatnonzero(og[1:] != og[:-1]) + 1]
        rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)]))
        sel = order[rank < top]
        # map the selected hash keys back to amounts (a hash collision would merge two amounts: drop such runs)
        sel_sorted = np.sort(run_key[sel])
        if len(sel_sorted) <= 100:
            pos = np.flatnonzero(np.isin(rec_key, sel_sorted))
        else:
            # a bit table on the keys' low (hash) bits screens the records; the few that pass are checked exactly
            mask = np.uint64((1 << 22) - 1)
            table = np.zeros(1 << 22, dtype=bool)
            table[(sel_sorted & mask).astype(np.intp)] = True
            pos = np.flatnonzero(table[(rec_key & mask).view(np.int64)])  # below 2**22: the same indices
            at = np.minimum(np.searchsorted(sel_sorted, rec_key[pos]), len(sel_sorted) - 1)
            pos = pos[sel_sorted[at] == rec_key[pos]]
        kdf = pd.DataFrame({"k": rec_key[pos], "v": x[pos]})
        agg = kdf.groupby("k", sort=True)["v"].agg(["min", "max"])
        vmin = agg["min"].reindex(run_key[sel]).to_numpy()
        vmax = agg["max"].reindex(run_key[sel]).to_numpy()
        exact = vmin == vmax
        rs = rank[rank < top]
        gs = run_group[sel]
        top_values[gs[exact], rs[exact]] = vmin[exact]
        top_counts[gs[exact], rs[exact]] = run[sel][exact]
    return {"n": n, "top_values": top_values, "top_counts": top_counts, "duplicated_share": dup_share}
