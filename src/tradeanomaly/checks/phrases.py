"""Readable names, amounts and percentages for the sentences of the signature checks (``series``,
``invoice_export``, ``entrepot``, ``rush``)."""

from __future__ import annotations

import functools

import numpy as np

from ..fmt import fmt_usd


@functools.lru_cache(maxsize=None)
def country(code: str) -> str:
    """Readable name of an ISO3 code (or the group label EU27); the code itself when unknown."""
    if code == "EU27":
        return "the EU"
    if code == "WLD":
        return "the world"
    from ..codes import country_name

    name = country_name(code) or code
    return f"the {name}" if name in ("United States", "Netherlands", "Philippines", "United Kingdom") else name


@functools.lru_cache(maxsize=None)
def province(code: str) -> str:
    """Readable name of a Chinese province code (CN-HA -> Henan)."""
    from ..codes import province_name

    return province_name(code)


def coastal_provinces() -> set[str]:
    from ..codes import COASTAL

    return set(COASTAL)


@functools.lru_cache(maxsize=None)
def product(hs: str) -> str:
    """``HS 85 (electrical machinery)`` for a chapter code; ``goods`` for TOTAL."""
    if not hs or hs == "TOTAL":
        return "goods"
    from ..codes import hs_name

    name = hs_name(hs)
    return f"HS {hs} ({name})" if name else f"HS {hs}"


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def amount(usd: float) -> str:
    """Dollars in readable units: ``384.9 bn``, ``540.2 mn``, ``12,300`` (no trillions: ``1,234.5 bn``)."""
    return fmt_usd(usd, trn=False)


def amounts(values: np.ndarray) -> np.ndarray:
    return np.array([amount(float(v)) for v in values], dtype=object)


def pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:+.0f}%"


def flow_phrase(flow: str) -> str:
    return {"X": "exports to", "M": "imports from", "RX": "re-exports to", "RM": "re-imports from"}.get(flow, flow)
