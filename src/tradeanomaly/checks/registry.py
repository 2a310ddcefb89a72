"""Every check the pipeline runs, in the order it runs them (see :mod:`.base` for the contract).

Adding a check: write ``checks/mycheck.py`` with a :class:`~.base.Check` subclass, add it to :data:`CHECKS`
below and its name to ``config.CHECK_NAMES`` (so ``checks.mycheck.enabled`` and ``.params`` are read). The
classes here are thin: they call each module's ``run`` with the partition's rows and parameters.
"""

from __future__ import annotations

import importlib

import pandas as pd

from .base import Check, CheckContext, CheckResult


class _ModuleCheck(Check):
    """A check whose body is ``module.run(flows, params=..., periods=...)``."""

    module: str = ""

    def _module(self):
        return importlib.import_module(self.module)

    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        return self._module().run(partition, params=context.params, periods=context.periods)


class MirrorCheck(_ModuleCheck):
    """Mirror gaps and unit values of each unordered pair of countries (A's reports of B beside B's of A).

    Partitioned on the unordered pair. What crosses pairs is the reduce step (:mod:`.mirror.stats`): each
    partition pairs its flows and sends small records (a few numbers per paired row, the values that medians
    need); the driver computes each reporter's reliability (exporter and importer effects over all pairs), the
    size bands of the robust-SD floor, the peers of the exporter's other partners (median, count, MAD), the
    exporter's paired exports (``min_usd_share``), and the unit values' mirror-ratio medians, adjusted-boxplot
    fences and price moves across partners, as tables keyed by labels, broadcast to every partition. ``combine``
    sums each signal's ``n_tested`` over the partitions, codes the tables' labels over the whole run and puts
    findings and tables in the whole table's order."""

    name = "mirror"
    module = "tradeanomaly.checks.mirror"
    key = ("pair",)
    partitioned = True
    table_order = {"mirror_gaps": ("period", "exporter", "importer", "hs")}

    @property
    def params_class(self):
        return self._module().MirrorParams

    def partition_key(self, flows: pd.DataFrame) -> pd.Series:
        import numpy as np

        r = flows["reporter"].astype("str").fillna("").to_numpy()
        p = flows["partner"].astype("str").fillna("").to_numpy()
        lo, hi = np.where(r <= p, r, p), np.where(r <= p, p, r)
        return pd.Series(lo, index=flows.index, dtype=object) + "|" + pd.Series(hi, index=flows.index, dtype=object)

    def stats_part(self, partition: pd.DataFrame, context: CheckContext):
        return self._module().stats.part_stats(partition, context.params, context.periods)

    def stats_combine(self, parts: list):
        return self._module().stats.combine_stats(parts)

    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        return self._module().run(partition, params=context.params, periods=context.periods, stats=context.stats)

    def combine(self, results: list[CheckResult], context: CheckContext) -> CheckResult:
        return self._module().check.combine_results(results, context.stats)


class UnitValueCheck(Check):
    """Unit-value outliers. The mirror check computes them beside the gaps (they share its pairing and its
    partitions: the ratio medians, fences and price moves across partners are part of the mirror's reduce step);
    this entry is the switch ``checks.unit_value.enabled``, applied to the mirror's findings by the pipeline."""

    name = "unit_value"
    produced_by = "mirror"

    def params(self, mapping: dict, section: str | None = None):
        from ..config import check_keywords

        return check_keywords(lambda: None, mapping, section or f"checks.{self.name}.params")


class BenfordCheck(_ModuleCheck):
    """Digit tests of each reporter's amounts. Partitioned on the reporter. The reduce step (counted per partition,
    added up): where the whole table's digit windows end (per frequency), whether its totals and world-partner rows
    are set aside (it has both kinds), how many groups the digit tests have and at which rows the whole table's
    record pass cuts its chunks (so each group's float sums keep their bits). Each partition tests its reporters'
    groups and windows and returns every group's p-values and its candidate findings (with their suspects);
    ``combine`` does the global steps on the driver over those small tables: the Benjamini-Hochberg q-values over
    all groups and all windows, the thresholds that read them, each window's norm from the other reporters' same
    window, the explanations (which name the flow when the whole run has one) and the publisher-estimates table
    (from counts), in the whole table's order. A ``group_by`` whose groups take rows of several reporters
    (``[region]`` over several countries) cannot be split: such a run is not split (:meth:`splits`), it runs as one
    task. The chunk cuts need the rows' positions (``_row``) in ``stats_part`` (both engines pass them); without
    them each part cuts its own chunks, and when the records under test exceed one chunk (65,536) the audit's
    distortion factor and mantissa arc may differ in their last bits (findings do not read them)."""

    name = "benford"
    module = "tradeanomaly.checks.benford"
    key = ("reporter",)
    partitioned = True

    def keywords_of(self):
        return self._module().run

    def splits(self, context: CheckContext) -> bool:
        """Split on the reporter only when every group is one reporter's (``reporter`` among ``group_by``)."""
        group_by = dict(context.params or {}).get("group_by", ("reporter",))
        return super().splits(context) and "reporter" in list(group_by or ())

    def stats_part(self, partition: pd.DataFrame, context: CheckContext):
        return self._module().reduce_part(partition, periods=context.periods, **dict(context.params or {}))

    def stats_combine(self, parts: list):
        return self._module().reduce_combine(parts)

    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        return self._module().run_part(partition, periods=context.periods, stats=context.stats,
                                       **dict(context.params or {}))

    def combine(self, results: list[CheckResult], context: CheckContext) -> CheckResult:
        return self._module().combine_parts(results, periods=context.periods, **dict(context.params or {}))


class SeriesCheck(_ModuleCheck):
    """Breaks in each reporter's series (totals, partners, products, provinces). Partitioned on the reporter: every
    series, and every peer group (a reporter's partners, a country's provinces), is one reporter's. Run on each
    reporter's rows apart, each frequency's panel would span that reporter's periods only: a reporter that stopped
    reporting early, or started late, would be tested at fewer periods (its ``n_tested`` and a level shift's need of
    ``2 k + 1`` periods read the panel's width). The reduce step is each frequency's axis of periods over the whole
    table; each part builds its panels on it and counts its tests, ``combine`` sums them into ``n_tested`` and puts
    the findings in the whole table's order."""

    name = "series"
    module = "tradeanomaly.checks.series"
    key = ("reporter",)
    partitioned = True

    @property
    def params_class(self):
        return self._module().SeriesParams

    def stats_part(self, partition: pd.DataFrame, context: CheckContext):
        return self._module().axis_stats(partition, context.params, context.periods)

    def stats_combine(self, parts: list):
        return self._module().combine_axis_stats(parts)

    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        return self._module().run_part(partition, params=context.params, periods=context.periods,
                                       stats=context.stats)

    def combine(self, results: list[CheckResult], context: CheckContext) -> CheckResult:
        return self._module().combine_parts(results)


class InvoiceExportCheck(_ModuleCheck):
    """Exports invoiced to one partner and shipped to another, per unordered pair; the provinces' signals compare
    each province with the others, so every row that is not a national report between two countries (a province's
    row, a row with the world or an unspecified partner) goes to one partition. Partitioned: the mirror band's
    ``n_tested`` (its tests over all pairs, per frequency) is the reduce step, counted per partition and summed.
    Findings are put in the order of the whole table's run."""

    name = "invoice_export"
    module = "tradeanomaly.checks.invoice_export"
    key = ("pair",)
    partitioned = True

    @property
    def params_class(self):
        return self._module().InvoiceExportParams

    def partition_key(self, flows: pd.DataFrame) -> pd.Series:
        from .panels import AGGREGATE_PARTNERS

        key = MirrorCheck.partition_key(self, flows)
        national = flows["region"].astype("str").eq("").to_numpy(dtype=bool, na_value=False)
        agg = list(AGGREGATE_PARTNERS)
        other = (~national | flows["partner"].astype("str").isin(agg).to_numpy(dtype=bool)
                 | flows["reporter"].astype("str").isin(agg).to_numpy(dtype=bool))
        return key.mask(other, "*")

    def stats_part(self, partition: pd.DataFrame, context: CheckContext):
        return self._module().check.tested_counts(partition, context.params, context.periods)

    def stats_combine(self, parts: list):
        return self._module().check.combine_tested(parts)

    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        return self._module().run(partition, params=context.params, periods=context.periods, stats=context.stats)

    def combine(self, results: list[CheckResult], context: CheckContext) -> CheckResult:
        from .base import finish, merge_ledgers

        return CheckResult(check=results[0].check, findings=finish([r.findings for r in results], self.name),
                           ledgers=merge_ledgers([led for r in results for led in r.ledgers]))


class EntrepotCheck(_ModuleCheck):
    """Rerouting through a hub, per product (every leg O>H, H>D, O>D of one product is in the partition).
    Partitioned on the product code's first 6 digits (the hub_share screen sums longer codes to HS6). Run on each
    product's rows apart, the check found fewer triples than on the whole table: its robust z values are taken
    across the products of one period, destination and product level (pass-through, comovement, origin washing;
    the share shift across those of one destination and level), ``n_tested`` counts every product's triples, and
    the period axis (which caps the share shift's post-event period and names the compared windows) spans the
    whole table. The reduce step: each part builds its triples and sends its axis, its tested triples' count and
    the records of those z values (period, destination, level, measure); the driver takes each group's median and
    robust scale with the whole table's code (and runs the hub_share screen, which compares products, on the
    parts' summed legs where no triple is tested), broadcast to every part. ``combine`` adds the hub_share
    findings and puts findings and triples tables in the whole table's order. A ``share_level`` under 6 (sums that
    take products of different partitions) is not split (:meth:`splits`): such a run is one task; split anyway,
    the reduce step raises a ConfigError."""

    name = "entrepot"
    module = "tradeanomaly.checks.entrepot"
    key = ("hs",)
    partitioned = True

    @property
    def params_class(self):
        return self._module().EntrepotParams

    def partition_key(self, flows: pd.DataFrame) -> pd.Series:
        return flows["hs"].astype("str").fillna("").str.slice(0, 6)

    def splits(self, context: CheckContext) -> bool:
        """Split on the product's first 6 digits unless the hub_share screen sums codes to fewer digits."""
        level = getattr(context.params, "share_level", 6) if context.params is not None else 6
        return super().splits(context) and int(level) >= 6

    def stats_part(self, partition: pd.DataFrame, context: CheckContext):
        return self._module().part_stats(partition, context.params, context.periods)

    def stats_combine(self, parts: list):
        return self._module().combine_stats(parts)

    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        return self._module().run(partition, params=context.params, periods=context.periods, stats=context.stats)

    def combine(self, results: list[CheckResult], context: CheckContext) -> CheckResult:
        return self._module().combine_parts(results, context.stats)


class RushCheck(_ModuleCheck):
    """Surges before a tariff and drops after it, per product (each O -> D series against its own history).
    Partitioned on the product: the candidate dates of the scan, its Bonferroni factor and ``n_tested`` come from
    the reduce step (the periods the whole run's shipments cover and its number of series), so each product's
    part tests what the whole table tests."""

    name = "rush"
    module = "tradeanomaly.checks.rush"
    key = ("hs",)
    partitioned = True

    @property
    def params_class(self):
        return self._module().RushParams

    def stats_part(self, partition: pd.DataFrame, context: CheckContext):
        return self._module().span_stats(partition, context.params, context.periods)

    def stats_combine(self, parts: list):
        return self._module().combine_span_stats(parts)

    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        return self._module().run(partition, params=context.params, periods=context.periods, stats=context.stats)


#: the checks, in run order
CHECKS: tuple[Check, ...] = (MirrorCheck(), UnitValueCheck(), BenfordCheck(), SeriesCheck(), InvoiceExportCheck(),
                             EntrepotCheck(), RushCheck())


def get_check(name: str) -> Check:
    for c in CHECKS:
        if c.name == name:
            return c
    from ..errors import ConfigError

    raise ConfigError(f"unknown check {name!r}; known: {', '.join(c.name for c in CHECKS)}")
