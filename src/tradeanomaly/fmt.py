"""US dollar amounts in readable units, for every sentence and table of the tool (a leaf: imports nothing from
the package)."""

from __future__ import annotations

import math


def fmt_usd(v, *, trn: bool = True, bn_digits: int = 1, missing: str = "n/a") -> str:
    """``384.9 bn``, ``12.3 mn``, ``45,000`` (no currency: the sentence says USD once).

    ``trn``: amounts of a trillion and more as ``1.23 trn`` (else ``1,234.5 bn``); ``bn_digits``: decimals of
    billions; ``missing``: the text for a value that is not a finite number (``None``, NaN, text).
    The findings' sentences use the defaults except the series-type checks (``trn=False``, as they always
    wrote); the report's tables use ``trn=False, bn_digits=2, missing=""``.
    """
    try:
        v = float(v)
    except (TypeError, ValueError):
        return missing
    if not math.isfinite(v):
        return missing
    a = abs(v)
    if trn and a >= 1e12:
        return f"{v / 1e12:,.2f} trn"
    if a >= 1e9:
        return f"{v / 1e9:,.{bn_digits}f} bn"
    if a >= 1e6:
        return f"{v / 1e6:,.1f} mn"
    return f"{v:,.0f}"
