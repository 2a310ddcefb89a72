"""Invoice exports: exports invented on paper (for subsidies, or to bring in hot money) show up as an
exporter-side surge that the partner's imports do not show, concentrated in a few easily-invoiced products
(HS 71 gold and jewellery, HS 85 integrated circuits); for provinces, as spikes at the opening of each quarter,
growth decoupled from the national total and from the coastal provinces, and round, padded figures.

Signals (scores on the robust-z scale of :mod:`..series`, or -log10 of a tail probability):

- ``invoice_export.mirror_band``: the mirror ratio ``X_A->B / (M_B<-A / (1 + cif_margin))`` crosses the first
  band (1.4 by default; the 2013 China -> Hong Kong episode began there and peaked near 2.35) and stands far above
  the pair's own history of that ratio (robust z). A stable structural gap (an entrepôt's re-exports, ordinary
  CIF/FOB margins) is its own history and is not flagged. Both the pair total and each product are tested; the
  pair's detail says which products hold the excess.
- ``invoice_export.quarter_opening``: the share of a quarter's exports booked in its first month (January,
  April, July, October) above the other provinces' share in the same quarter, by more than the province's usual
  difference in the same quarter of its other years (the seasonal position within the quarter; robust z against
  the spread of the province's residuals over all its quarters).
- ``invoice_export.decoupling``: a province's export growth (3-month sums, year on year) against the median of
  the coastal provinces' growth, judged against the province's own history of that difference.
- ``invoice_export.round_numbers``: how many of a province's last 12 monthly figures have at most
  ``round_digits`` significant digits, against the rate among all provinces (-log10 binomial tail probability).
- ``invoice_export.province_excess``: where the national row is published beside the provinces, a month in which
  the provinces sum to more than the national total by more than their usual difference (robust z of the excess
  as a share of the national total, the spread floored at ``excess_floor``): exports a province books that the
  national figures do not contain. The excess is laid on the province whose share of the national total stands
  furthest above its usual share (the same month of its other years, else the months 7 to 24 away, so a
  padding of a few months is not its own norm; robust z against the spread of its residuals), among the provinces whose excess over that usual share holds at
  least half of the gap; ``usd_at_stake`` is the gap (measured, where the province's excess is estimated), at
  most the province's figure.

Layout (everything below is re-exported here, so ``from tradeanomaly.checks.invoice_export import X`` keeps
working):

* :mod:`.params`: ``InvoiceExportParams`` (every knob, validated), ``CHECK``, ``SMOOTH`` and ``_eq``.
* :mod:`.pairs`: ``CodedPairs``, ``mirror_pairs``, ``MirrorState``, ``mirror_state`` and the signal
  ``invoice_export.mirror_band``.
* :mod:`.provinces`: the province panel and the signals ``quarter_opening``, ``decoupling``, ``province_excess``
  and ``round_numbers``.
* :mod:`.check`: the entry point ``run``.
"""

from __future__ import annotations

from .check import run
from .pairs import (
    CodedPairs,
    MirrorState,
    _coded_pairs,
    _concentration,
    _fx_note,
    _mirror_band,
    _pair_frequencies,
    mirror_pairs,
    mirror_state,
)
from .params import CHECK, SMOOTH, InvoiceExportParams, _eq
from .provinces import (
    _decoupling,
    _peer_median,
    _province_excess,
    _province_panel,
    _quarter_opening,
    _round_numbers,
    _rows_frame,
    _seasonal_norm,
)

__all__ = [
    "CHECK", "SMOOTH", "CodedPairs", "InvoiceExportParams", "MirrorState", "mirror_pairs", "mirror_state", "run",
]
