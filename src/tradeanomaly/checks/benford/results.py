"""The result records of the digit tests: frozen dataclasses with ``statistic``/``pvalue`` and ``to_dict()``
in plain Python types."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np


def _plain(v):
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if math.isnan(f) else f
    if isinstance(v, np.bool_):
        return bool(v)
    return v


@dataclass(frozen=True)
class DigitTest:
    """One digit test on one sample. ``statistic``/``pvalue`` are the chi-square's; ``z`` is per digit (>= 0)."""

    name: str
    n: int
    digits: tuple[int, ...]
    counts: tuple[float, ...]
    expected: tuple[float, ...]
    observed: tuple[float, ...]
    z: tuple[float, ...] | None
    chi2: float | None
    chi2_pvalue: float | None
    ks: float | None
    ks_critical: float | None
    mad: float | None
    mad_expected: float | None
    mad_critical: float | None
    excess_mad: float | None
    conformity: str
    conformity_nigrini: str | None
    sums: tuple[float, ...] | None = None
    note: str = ""

    @property
    def statistic(self) -> float | None:
        return self.chi2

    @property
    def pvalue(self) -> float | None:
        return self.chi2_pvalue

    def over_represented(self, top: int = 3) -> list[int]:
        """Digits most over-represented (largest Z among those above their expected share)."""
        if self.z is None:
            order = np.argsort(-(np.array(self.observed) - np.array(self.expected)), kind="stable")
            return [self.digits[i] for i in order[:top] if self.observed[i] > self.expected[i]]
        z = np.where(np.array(self.observed) > np.array(self.expected), np.array(self.z), -1.0)
        order = np.argsort(-z, kind="stable")
        return [self.digits[i] for i in order[:top] if z[i] > 0]

    def to_dict(self) -> dict:
        d = {
            "n": self.n, "digits": list(self.digits), "counts": list(self.counts), "expected": list(self.expected),
            "observed": list(self.observed), "z": None if self.z is None else list(self.z), "chi2": self.chi2,
            "chi2_pvalue": self.chi2_pvalue, "ks": self.ks, "ks_critical": self.ks_critical, "mad": self.mad,
            "mad_expected": self.mad_expected, "mad_critical": self.mad_critical, "excess_mad": self.excess_mad,
            "conformity": self.conformity, "conformity_nigrini": self.conformity_nigrini,
        }
        if self.sums is not None:
            d["sums"] = list(self.sums)
        if self.note:
            d["note"] = self.note
        return _plain(d)


@dataclass(frozen=True)
class MantissaArc:
    n: int
    mean: float | None
    variance: float | None
    l2: float | None
    pvalue: float | None

    @property
    def statistic(self):
        return self.l2

    def to_dict(self) -> dict:
        return _plain({"n": self.n, "mean": self.mean, "variance": self.variance, "l2": self.l2,
                       "pvalue": self.pvalue})


@dataclass(frozen=True)
class RoundNumbers:
    """Share of amounts that are multiples of 100 units (``unit`` is the sample's precision, in dollars)."""

    n: int
    unit: float
    count: int
    share: float | None
    expected: float
    z: float | None
    pvalue: float | None

    @property
    def statistic(self):
        return self.z

    def to_dict(self) -> dict:
        return _plain({"n": self.n, "unit": self.unit, "count": self.count, "share": self.share,
                       "expected": self.expected, "z": self.z, "pvalue": self.pvalue})


@dataclass(frozen=True)
class Duplicates:
    """Most repeated amounts (Nigrini's number duplication test)."""

    n: int
    values: tuple[float, ...]
    counts: tuple[int, ...]
    duplicated_share: float | None  # share of records whose amount occurs more than once

    def to_dict(self) -> dict:
        return _plain({"n": self.n, "top": [{"value": v, "count": c} for v, c in zip(self.values, self.counts)],
                       "duplicated_share": self.duplicated_share})


@dataclass(frozen=True)
class BenfordResult:
    """Every test on one sample (one sign)."""

    n: int
    sign: str
    min_value: float
    span_decades: float | None
    tests: Mapping[str, DigitTest]
    distortion_factor: float | None
    mantissa_arc: MantissaArc
    round_numbers: RoundNumbers
    duplicates: Duplicates
    second_order: DigitTest | None = None

    def to_dict(self) -> dict:
        d = {
            "n": self.n, "sign": self.sign, "min_value": self.min_value, "span_decades": self.span_decades,
            "tests": {k: t.to_dict() for k, t in self.tests.items()},
            "distortion_factor": self.distortion_factor,
            "mantissa_arc": self.mantissa_arc.to_dict(),
            "round_numbers": self.round_numbers.to_dict(),
            "duplicates": self.duplicates.to_dict(),
        }
        if self.second_order is not None:
            d["second_order"] = self.second_order.to_dict()
        return _plain(d)
