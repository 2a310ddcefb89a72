"""Mirror gaps: each exporter's report scored against its partner's report of the same flow.

A's exports to B (FOB) are paired with B's imports from A (CIF, brought to FOB as ``CIF / (1 + tau)``), same
period, same product. The gap is measured three ways (signed log gap, symmetric gap, dollars beyond the freight
band) and scored against what it should be: the pair's own history (robust median/MAD of the previous periods of
the same season, the period under test left out) and the exporter's other partners in the same period. Gaps whose
counterpart reports poorly (see :mod:`..reliability`) are tempered; the persistent gap of an entrepôt (a hub's
re-exports, recorded by the importer under the goods' origin) is labelled as such and kept out of the fraud list.

Conventions
-----------
* Orientation: every pair is ``exporter>importer``; A's imports from B are the pair ``B>A``. In findings,
  ``reporter`` is the exporter and ``partner`` the importer.
* Freight band: the importer's CIF value holds between 0 and ``tau`` of freight and insurance, so an export
  figure between ``M_cif / (1 + tau)`` and ``M_cif`` is explained by freight. ``usd_beyond_band`` is the distance
  of ``X`` from that band (0 inside it); ``gap_usd = X - M_fob`` is the dollar gap at ``tau`` (GFI's measure).
* Entrepôts: where the exporter publishes re-exports (``RX``) to the importer, any export figure between its
  domestic exports (``X - RX``) and its total exports (``X``) is consistent with an importer that books
  re-exported goods under their origin; the gap is measured from the nearest end of that range
  (``x_compared_usd``), and a reported gap that the re-exports explain is labelled an entrepôt effect. Without
  ``RX``, a hub pair (``hubs``) whose log gap has stayed beyond ``entrepot_min_log_gap`` in the entrepôt direction
  through most of its history is labelled the same way (signal ``mirror.entrepot``, kept out of the fraud list).
* Scores: ``score = min(|z| * temper, z_cap)``. ``z`` is the robust z of the log gap (own history for
  ``mirror.log_gap_z`` and ``mirror.entrepot``, the exporter's partners for ``mirror.peer_z``), its scale floored
  by the spread of pairs of the same size (``size_bands``); ``temper = min(1, typical importer effect / the
  importer's effect)`` (see :mod:`..reliability`); both signs count (exports above the partner's imports: invoice
  exports or import under-invoicing; below: export under-invoicing). The score says how rare the gap is, capped at
  ``z_cap`` robust SD; the dollars are ``usd_at_stake``, the smaller of the excess over the freight band and the
  excess over the pair's own norm, and the ranking weighs them (:mod:`tradeanomaly.ranking`). Findings are kept
  where the score reaches ``min_score`` and the dollars beyond the band reach ``min_usd_share`` (default 0) of the
  exporter's paired exports at that product level.
* Unit values: see :mod:`..unit_value` (check ``unit_value``, scored the same way).

Layout (everything below is re-exported here, so ``from tradeanomaly.checks.mirror import X`` keeps working):

* :mod:`.params`: ``MirrorParams`` (every knob, validated) and the HS sections of the ``tau_section`` overrides.
* :mod:`.pairing`: integer coding of the keys and ``pair_flows`` (A's exports to B beside B's imports from A,
  with the ledger of every row set aside).
* :mod:`.gaps`: ``gap_measures`` (tau, FOB value, log and symmetric gaps, dollars beyond the band, own-history and
  peer z, entrepôt and chronic labels; ``pair_measures`` reads one pair's rows, ``cross_measures`` adds what
  crosses pairs), ``resolve_tau`` and ``size_noise``.
* :mod:`.findings`: findings and their explanations (``build_findings``, ``fmt_usd``).
* :mod:`.stats`: what crosses pairs (reliability, size bands, peers, the exporter's paired exports, the unit values
  across partners) as a reduce step: records per partition of pairs (``part_stats``), the run's ``MirrorStats``
  on the driver (``combine_stats``); one table's run goes through the same code.
* :mod:`.check`: the entry point ``run`` (reliability, tempering, unit values, tables), ``combine_results`` (the
  partitions' results as one) and ``write_outputs``.

The own-history statistics, period axes and country names that the unit-value check shares are in
:mod:`tradeanomaly.checks.pair_history`.
"""

from __future__ import annotations

from .check import run, write_outputs
from .findings import _label_tables, build_findings, fmt_usd
from .gaps import gap_measures, resolve_tau, size_noise
from .pairing import Pairing, pair_flows
from .params import CHECK, MAD_TO_SD, MirrorParams, hs_section

__all__ = [
    "CHECK", "MAD_TO_SD", "MirrorParams", "Pairing", "build_findings", "fmt_usd", "gap_measures", "hs_section",
    "pair_flows", "resolve_tau", "run", "size_noise", "write_outputs",
]
