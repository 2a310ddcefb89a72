"""The one-pass engine: every test for every group (``analyse_groups`` -> ``GroupedBenford``), and the tests of
one sample (``benford``, ``second_order_test``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...errors import ConfigError
from ..digits import leading_digits
from .counting import _duplicates, _mant2_one, _pow10, _record_pass, _round_stats, _unit_pass
from .results import BenfordResult, DigitTest, Duplicates, MantissaArc, RoundNumbers
from ..digit_stats import (
    DF_EXPECTED_MEAN, DIGITS, EXPECTED, FIRST_TWO, INSUFFICIENT, P_FIRST_TWO, P_SUMMATION, TESTS, UNIT_SHARE,
    Z_CRIT_MAD, _conformity, share_stats,
)


@dataclass
class GroupedBenford:
    """All tests for every group. ``keys`` has one row per group; matrices are groups x digits."""

    keys: pd.DataFrame
    min_value: float
    sign: str
    min_n: int
    min_span: float
    n_records: np.ndarray
    span_decades: np.ndarray
    counts: dict[str, np.ndarray]
    stats: dict[str, dict[str, np.ndarray]]
    conformity: dict[str, np.ndarray]
    conformity_nigrini: dict[str, np.ndarray]
    enough: dict[str, np.ndarray]
    sums: np.ndarray
    distortion_factor: np.ndarray
    arc: dict[str, np.ndarray]
    round_numbers: dict[str, np.ndarray]
    duplicates: dict[str, np.ndarray]
    unit_exp: np.ndarray
    qvalues: dict[str, np.ndarray] = field(default_factory=dict)
    #: per record kept for the tests: position in the input, group, amount, first two digits, last two digits
    #: (-1 where not eligible), round flag
    records: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_groups(self) -> int:
        return len(self.keys)

    def test(self, name: str, group: int = 0) -> DigitTest:
        """The :class:`DigitTest` of one group."""
        if name == "summation":
            return self._summation(group)
        st = self.stats[name]
        nig = self.conformity_nigrini[name][group]
        return DigitTest(
            name=name, n=int(st["n"][group]), digits=tuple(int(d) for d in DIGITS[name]),
            counts=tuple(int(c) for c in self.counts[name][group]),
            expected=tuple(float(p) for p in EXPECTED[name]),
            observed=tuple(float(v) for v in np.nan_to_num(st["observed"][group])),
            z=tuple(float(v) for v in np.nan_to_num(st["z"][group])),
            chi2=_f(st["chi2"][group]), chi2_pvalue=_f(st["pvalue"][group]), ks=_f(st["ks"][group]),
            ks_critical=_f(st["ks_critical"][group]), mad=_f(st["mad"][group]),
            mad_expected=_f(st["mad_expected"][group]), mad_critical=_f(st["mad_critical"][group]),
            excess_mad=_f(st["excess_mad"][group]), conformity=str(self.conformity[name][group]),
            conformity_nigrini=None if nig is None else str(nig),
        )

    def _summation(self, group: int) -> DigitTest:
        sums = self.sums[group]
        total = sums.sum()
        obs = sums / total if total > 0 else np.zeros_like(sums)
        absdiff = np.abs(obs - P_SUMMATION)
        return DigitTest(
            name="summation", n=int(self.counts["first_two_digits"][group].sum()),
            digits=tuple(int(d) for d in FIRST_TWO),
            counts=tuple(int(c) for c in self.counts["first_two_digits"][group]),
            expected=tuple(float(p) for p in P_SUMMATION), observed=tuple(float(v) for v in obs), z=None, chi2=None,
            chi2_pvalue=None, ks=None, ks_critical=None, mad=float(absdiff.mean()) if total > 0 else None,
            mad_expected=None, mad_critical=None, excess_mad=None,
            conformity=INSUFFICIENT if not self.enough["first_two_digits"][group] else "not assessed",
            conformity_nigrini=None, sums=tuple(float(s) for s in sums),
            note=("shares of the summed amounts by first two digits, expected 1/90 each; amounts are not counts, "
                  "so no Z, chi-square or KS applies: read the largest shares as pointers to a few large amounts"),
        )

    def result(self, group: int = 0) -> BenfordResult:
        """Every test of one group as a :class:`BenfordResult`."""
        arc = self.arc
        rn = self.round_numbers
        dup = self.duplicates
        top_vals = dup["top_values"][group]
        top_counts = dup["top_counts"][group]
        keep = top_counts > 0
        return BenfordResult(
            n=int(self.n_records[group]), sign=self.sign, min_value=self.min_value,
            span_decades=_f(self.span_decades[group]),
            tests={name: self.test(name, group) for name in TESTS},
            distortion_factor=_f(self.distortion_factor[group]),
            mantissa_arc=MantissaArc(n=int(arc["n"][group]), mean=_f(arc["mean"][group]),
                                     variance=_f(arc["variance"][group]), l2=_f(arc["l2"][group]),
                                     pvalue=_f(arc["pvalue"][group])),
            round_numbers=RoundNumbers(n=int(rn["n"][group]), unit=float(_pow10(int(self.unit_exp[group]) - 2)),
                                       count=int(rn["count"][group]), share=_f(rn["share"][group]),
                                       expected=0.01, z=_f(rn["z"][group]), pvalue=_f(rn["pvalue"][group])),
            duplicates=Duplicates(n=int(dup["n"][group]), values=tuple(float(v) for v in top_vals[keep]),
                                  counts=tuple(int(c) for c in top_counts[keep]),
                                  duplicated_share=_f(dup["duplicated_share"][group])),
        )

    def audit_table(self) -> pd.DataFrame:
        """One row per group: n, MADs, conformity, p- and q-values of every test, distortion factor, round share."""
        out = self.keys.copy().reset_index(drop=True)
        out["n"] = self.n_records.astype(np.int64)
        out["span_decades"] = self.span_decades
        for name in ("first_digit", "second_digit", "first_two_digits", "last_two_digits"):
            st = self.stats[name]
            out[f"{name}_n"] = st["n"].astype(np.int64)
            out[f"{name}_mad"] = st["mad"]
            out[f"{name}_mad_expected"] = st["mad_expected"]
            out[f"{name}_excess_mad"] = st["excess_mad"]
            out[f"{name}_chi2"] = st["chi2"]
            out[f"{name}_pvalue"] = st["pvalue"]
            if name in self.qvalues:
                out[f"{name}_qvalue"] = np.exp(self.qvalues[name])
            out[f"{name}_conformity"] = pd.array(self.conformity[name].astype(str), dtype="str")
        out["distortion_factor"] = self.distortion_factor
        out["mantissa_arc_l2"] = self.arc["l2"]
        out["mantissa_arc_pvalue"] = self.arc["pvalue"]
        out["round_share"] = self.round_numbers["share"]
        out["round_pvalue"] = self.round_numbers["pvalue"]
        if "round_numbers" in self.qvalues:
            out["round_qvalue"] = np.exp(self.qvalues["round_numbers"])
        out["top_duplicate_value"] = self.duplicates["top_values"][:, 0]
        out["top_duplicate_count"] = self.duplicates["top_counts"][:, 0]
        return out


def _f(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _group_codes(groups, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Integer codes 0..G-1 and a keys frame (sorted by key) for the grouping."""
    if groups is None:
        return np.zeros(0, dtype=np.int64), pd.DataFrame(index=range(1))
    if isinstance(groups, pd.Series):
        groups = groups.to_frame()
    if isinstance(groups, pd.DataFrame):
        if len(groups) != n:
            raise ValueError("groups must have one row per value")
        gb = groups.groupby(list(groups.columns), sort=True, observed=True, dropna=False)
        codes = gb.ngroup().to_numpy(dtype=np.int64)
        keys = gb.size().reset_index()[list(groups.columns)]
        return codes, keys
    arr = np.asarray(groups)
    if len(arr) != n:
        raise ValueError("groups must have one value per value")
    if arr.dtype.kind in "iu" and len(arr) and arr.min() >= 0 and arr.max() < 4 * len(arr) + 1024:
        # small non-negative integer labels (the common case of precomputed codes): no hashing, no sorting
        present = np.bincount(arr, minlength=1) > 0
        if present.all():
            return arr.astype(np.int64, copy=False), pd.DataFrame({"group": np.arange(len(present))})
        remap = np.cumsum(present) - 1
        return remap[arr].astype(np.int64), pd.DataFrame({"group": np.flatnonzero(present)})
    codes, uniq = pd.factorize(pd.Series(arr), sort=True)
    return codes.astype(np.int64), pd.DataFrame({"group": np.asarray(uniq)})


#: samples at least this large compute number duplication in a second thread
PARALLEL_MIN = 1_000_000


def analyse_groups(
    values,
    groups=None,
    *,
    min_value: float = 10.0,
    sign: str = "positive",
    min_n: int = 100,
    min_span: float = 2.0,
    top_duplicates: int = 5,
    grouped: bool = False,
    chunks: list[tuple[int, int]] | None = None,
) -> GroupedBenford:
    """Run every test for every group in one vectorised pass.

    ``values``: amounts (array-like). ``groups``: ``None`` (one sample), an array of labels, or a DataFrame of key
    columns (one row per value). ``sign``: "positive" analyses values > 0, "negative" the absolute values of
    values < 0. No Python loop runs over groups: digits are extracted once and counted with ``np.bincount`` on
    ``group * K + digit``. ``grouped``: one group is analysed by the passes of many groups (the sums of a group
    then have the same bits whichever other groups share the pass, chunk for chunk). ``chunks``: the record pass's
    chunks, as ``(start, stop)`` positions among the amounts kept (at least ``min_value``), by default fixed sizes;
    some groups' amounts cut where the whole table's are give those groups' sums the bits of the whole table's pass.
    """
    if sign not in ("positive", "negative"):
        raise ConfigError(f"sign must be 'positive' or 'negative', not {sign!r}")
    if min_value < 0:
        raise ConfigError("min_value must be >= 0 (amounts below it are left out of the digit tests)")
    x_all = np.asarray(values, dtype=np.float64)
    codes_all, keys = _group_codes(groups, len(x_all))
    n_groups = len(keys)
    with np.errstate(invalid="ignore"):
        if sign == "positive":
            take = (x_all >= min_value) & (x_all > 0) & (x_all < np.inf)
        else:
            take = (x_all <= -min_value) & (x_all < 0) & (x_all > -np.inf)
    if take.all():  # the common case: no copies
        pos = np.arange(len(x_all))
        x = x_all
        g = codes_all
    else:
        pos = np.flatnonzero(take)
        x = x_all[pos]
        g = None if groups is None else codes_all[pos]
    if sign == "negative":
        x = -x
    if groups is None:
        g = np.zeros(len(pos), dtype=np.int64)
    # number duplication needs only the amounts: on large samples it runs on a second core meanwhile (numpy
    # releases the GIL in its sorts and array operations); the result does not depend on where it runs
    dup_job = None
    if len(x) >= PARALLEL_MIN:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1)
        dup_job = pool.submit(_duplicates, x, g, n_groups, top_duplicates)
        pool.shutdown(wait=False)
    single = None if not grouped else False
    p = _record_pass(x, g, n_groups, single, chunks)
    m2, c_ft, sums, dec = p["first_two"], p["c_ft"], p["sums"], p["dec"]
    c_f = c_ft.reshape(n_groups, 9, 10).sum(axis=2)
    c_s = c_ft.reshape(n_groups, 9, 10).sum(axis=1)
    n_rec = c_ft.sum(axis=1)
    # -- span of magnitudes: decades between the 1st and 99th percentile, from a groups x decades histogram -----
    cum = np.cumsum(dec, axis=1) / np.maximum(n_rec, 1)[:, None]
    lo = np.argmax(cum >= 0.01, axis=1)
    hi = np.argmax(cum >= 0.99, axis=1)
    span = np.where(n_rec > 0, (hi - lo).astype(np.float64), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        # distortion factor: amounts >= 10 collapsed to [10, 100)
        dfac = (p["coll_sum"] / p["n10"] - DF_EXPECTED_MEAN) / DF_EXPECTED_MEAN * 100
    # -- precision, last two digits and round numbers, on amounts in cents --------------------------------------
    tzc = p["tz_hist"]
    if tzc is None:  # one sample, fewer than 90 % of its amounts multiples of 10 cents
        unit_exp = np.zeros(1, dtype=np.int64)
    else:
        at_least = np.cumsum(tzc[:, ::-1], axis=1)[:, ::-1] / np.maximum(tzc.sum(axis=1), 1)[:, None]
        unit_exp = (at_least >= UNIT_SHARE).sum(axis=1) - 1  # largest t with 90 % of amounts multiples of 10**t
        unit_exp = np.maximum(unit_exp, 0)
    last_two, rec_round, c_l2, rn_n, rn_k = _unit_pass(p["cents"], g, unit_exp, n_groups, single)
    round_numbers = _round_stats(rn_n, rn_k)
    # -- number duplication ------------------------------------------------------------------------------------
    duplicates = dup_job.result() if dup_job is not None else _duplicates(x, g, n_groups, top_duplicates)
    # -- mantissa arc (the squared mantissas of one sample are summed once the duplication thread is done) ------
    if p["mant"] is not None:
        p["mant2_sum"] = np.array([_mant2_one(p["mant"], n_groups)])
    with np.errstate(invalid="ignore", divide="ignore"):
        nr = np.where(n_rec > 0, n_rec, np.nan)
        l2 = (p["cos_sum"] / nr) ** 2 + (p["sin_sum"] / nr) ** 2
        mmean = p["mant_sum"] / nr
        mvar = (p["mant2_sum"] - nr * mmean ** 2) / (nr - 1)
    arc = {"n": n_rec, "l2": l2, "pvalue": np.exp(-l2 * n_rec), "mean": mmean, "variance": mvar}
    # -- statistics ----------------------------------------------------------------------------------------------
    counts = {"first_digit": c_f, "second_digit": c_s, "first_two_digits": c_ft, "last_two_digits": c_l2}
    stats_, conf, nig, enough = {}, {}, {}, {}
    span_ok = np.nan_to_num(span, nan=-1) >= min_span
    for name, c in counts.items():
        st = share_stats(c, EXPECTED[name], Z_CRIT_MAD[name])
        stats_[name] = st
        enough[name] = (st["n"] >= min_n) & span_ok
        conf[name], nig[name] = _conformity(name, st, enough[name])
    return GroupedBenford(
        keys=keys, min_value=float(min_value), sign=sign, min_n=int(min_n), min_span=float(min_span),
        n_records=n_rec, span_decades=span, counts=counts, stats=stats_, conformity=conf, conformity_nigrini=nig,
        enough=enough, sums=sums, distortion_factor=dfac, arc=arc, round_numbers=round_numbers,
        duplicates=duplicates, unit_exp=unit_exp,
        records={"pos": pos, "group": g, "value": x, "first_two": m2, "last_two": last_two, "round": rec_round},
    )


# --------------------------------------------------------------------------------------------------------------
# One sample
# --------------------------------------------------------------------------------------------------------------


def benford(values, *, min_value: float = 10.0, sign: str = "positive", min_n: int = 100, min_span: float = 2.0,
            second_order: bool = False, decimals: int = 2) -> BenfordResult:
    """Every test on one sample. See the package docstring for the conventions."""
    res = analyse_groups(values, None, min_value=min_value, sign=sign, min_n=min_n, min_span=min_span).result(0)
    if second_order:
        so = second_order_test(values, min_value=min_value, sign=sign, decimals=decimals, min_n=min_n)
        res = BenfordResult(**{**res.__dict__, "second_order": so})
    return res


def second_order_test(values, *, min_value: float = 10.0, sign: str = "positive", decimals: int = 2,
                      min_n: int = 100) -> DigitTest:
    """Nigrini's second-order test: first two digits of the gaps between the sorted amounts (zeros left out).

    Amounts are rounded to ``decimals`` places and differenced as integers, so that float artefacts
    (``0.009999999999990905`` for a one-cent gap) do not invent digits.
    """
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        x = x[np.isfinite(x) & ((x > 0) if sign == "positive" else (x < 0))]
    x = np.abs(x)
    x = x[x >= min_value] if min_value > 0 else x
    scaled = np.sort(np.rint(x * 10.0 ** decimals))
    gaps = np.diff(scaled)
    gaps = gaps[gaps > 0] / 10.0 ** decimals
    m2, _ = leading_digits(gaps, 2) if len(gaps) else (np.zeros(0, dtype=np.int64), None)
    c = np.bincount(m2 - 10, minlength=90)[None, :] if len(gaps) else np.zeros((1, 90))
    st = share_stats(c, P_FIRST_TWO, Z_CRIT_MAD["first_two_digits"])
    enough = st["n"] >= min_n
    conf, nig = _conformity("first_two_digits", st, enough)
    return DigitTest(
        name="second_order", n=int(st["n"][0]), digits=tuple(int(d) for d in FIRST_TWO),
        counts=tuple(int(v) for v in c[0]), expected=tuple(float(p) for p in P_FIRST_TWO),
        observed=tuple(float(v) for v in np.nan_to_num(st["observed"][0])),
        z=tuple(float(v) for v in np.nan_to_num(st["z"][0])), chi2=_f(st["chi2"][0]),
        chi2_pvalue=_f(st["pvalue"][0]), ks=_f(st["ks"][0]), ks_critical=_f(st["ks_critical"][0]),
        mad=_f(st["mad"][0]), mad_expected=_f(st["mad_expected"][0]), mad_critical=_f(st["mad_critical"][0]),
        excess_mad=_f(st["excess_mad"][0]), conformity=str(conf[0]), conformity_nigrini=nig[0],
        note="first two digits of the gaps between sorted amounts",
    )
