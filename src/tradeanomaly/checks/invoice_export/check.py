"""The invoice-export check's entry point (``run``): rows set aside, the mirror-pair signal, the province
panel and its signals, findings."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..base import CheckResult, finish
from ..panels import period_mask, usable_rows
from .pairs import _mirror_band, mirror_band_tested
from .params import CHECK, InvoiceExportParams
from .provinces import _decoupling, _province_excess, _province_panel, _quarter_opening, _round_numbers


def tested_counts(flows: pd.DataFrame, params: InvoiceExportParams | None = None,
                  periods: list[str] | None = None) -> dict[str, int]:
    """The reduce step of a run split by pair: per frequency, the pair-periods the mirror band tests in ``flows``
    (summed over the parts by :func:`combine_tested`, they are the whole table's ``n_tested``)."""
    params = params or InvoiceExportParams()
    if "mirror_band" not in params.signals:
        return {}
    keep, _ = usable_rows(flows, params.include_estimated, CHECK)
    rows = np.arange(len(flows)) if keep is None else np.flatnonzero(keep)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return mirror_band_tested(flows, rows, params, periods)


def combine_tested(parts: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for freq, n in (part or {}).items():
            out[freq] = out.get(freq, 0) + int(n)
    return out


def run(flows: pd.DataFrame, *, params: InvoiceExportParams | None = None, periods: list[str] | None = None,
        mirror_gaps: pd.DataFrame | None = None, stats: dict | None = None) -> CheckResult:
    """Invoice-export signals for the ``periods`` under test (all periods when ``None``).

    The check pairs exporter and importer reports itself (``mirror_gaps`` from the mirror check is accepted
    and not needed: the ratio here uses smoothed sums and the pair's own history, not a single period's gap).
    ``stats``: the mirror band's tests per frequency over the whole run (:func:`tested_counts` of every part,
    :func:`combine_tested`), when ``flows`` holds some of the pairs only; ``None``: counted in ``flows``.
    """
    params = params or InvoiceExportParams()
    keep, led = usable_rows(flows, params.include_estimated, CHECK)
    rows = np.arange(len(flows)) if keep is None else np.flatnonzero(keep)
    out: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if "mirror_band" in params.signals:
            out += _mirror_band(flows, rows, params, periods, stats)
        pn, nat = _province_panel(flows, rows)
        if pn is not None and pn.values.shape[0] >= 3:
            test = period_mask(pn.labels, periods)
            pn.n_tested = int(pn.values.shape[0]) * int(test.sum())  # province-periods under test
            if "quarter_opening" in params.signals:
                out.append(_quarter_opening(pn, params, test))
            if "decoupling" in params.signals:
                out.append(_decoupling(pn, nat, params, test))
            if "round_numbers" in params.signals:
                out.append(_round_numbers(pn, params, test))
            if "province_excess" in params.signals:
                out.append(_province_excess(pn, nat, params, test))
    return CheckResult(check=CHECK, findings=finish(out, CHECK), ledgers=[led])
