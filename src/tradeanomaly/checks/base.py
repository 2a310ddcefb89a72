"""The check contract: what every check declares and returns.

A check is one :class:`Check` subclass listed in :mod:`tradeanomaly.checks.registry`. It declares

* ``name`` (the key under ``checks:`` in the configuration) and ``params_class`` (its parameter dataclass or
  pydantic model; ``None`` when :meth:`Check.run` takes keyword arguments straight from the configuration);
* ``key``: the columns its work partitions on (the flows of one key value are all it needs to judge that value),
  or a derived key via :meth:`Check.partition_key` (the mirror check's unordered pair);
* ``partitioned``: whether the body gives the same findings when run on each key's rows apart, with its reduce
  step and :meth:`Check.combine` (every check of the registry does: each reporter's reliability, q-values over all
  groups and z values across products are reduce or combine steps). A check that says ``False``, or whose
  :meth:`Check.splits` says a run's parameters make one key's rows too few, runs as one task on one worker of
  the Dask engine, never on the driver;
* ``history``: whether it reads the periods before those under test (a digit test looks at the periods under
  test only);
* the small global statistics it needs, as a reduce step: :meth:`Check.stats_part` on each partition and
  :meth:`Check.stats_combine` over the parts; the result reaches :meth:`Check.run` as ``context.stats``;
* :meth:`Check.run` ``(partition, context) -> CheckResult``: plain pandas, the same code for both engines;
* :meth:`Check.combine`: the results of the partitions as one result (findings and tables in a fixed order,
  ledgers summed per stage).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from ..schema import Ledger, make_findings

#: the column the engines add to a partitioned check's rows: the row's position in the input
ROW = "_row"

#: the order findings of one check are put in, whichever engine ran the partitions
FINDING_ORDER = ["check", "signal", "subject", "period", "score", "value", "expected"]


@dataclass
class CheckResult:
    """``findings`` follows the findings contract; ``tables`` holds the check's own detail tables (for example
    ``mirror_gaps`` or ``reliability``), written beside the report; ``ledgers`` account for the flows the check
    used or set aside."""

    check: str
    findings: pd.DataFrame = field(default_factory=make_findings)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    ledgers: list[Ledger] = field(default_factory=list)


@dataclass
class CheckContext:
    """What a partition's run gets besides its rows: the periods under test, the run's seed, the check's
    parameters and the global statistics of its reduce step."""

    periods: list[str]
    params: Any = None
    seed: int = 0
    stats: Any = None


class Check:
    """Base class of every check (see the module docstring). Subclasses set the class attributes and
    :meth:`run`; the other methods have defaults that suit a check without global statistics."""

    name: ClassVar[str] = ""
    params_class: ClassVar[type | None] = None
    key: ClassVar[tuple[str, ...] | None] = None
    partitioned: ClassVar[bool] = False
    history: ClassVar[bool] = True
    #: detail tables and the columns that order their rows (rows of one key stay together either way)
    table_order: ClassVar[dict[str, Sequence[str]]] = {}

    # -- parameters --------------------------------------------------------------------------------------------
    def params(self, mapping: dict, section: str | None = None):
        """The check's parameters from its configuration mapping; unknown or ill-typed settings are a
        ``ConfigError`` naming ``section``."""
        from ..config import check_keywords, params_from
        from ..errors import ConfigError

        section = section or f"checks.{self.name}.params"
        if self.params_class is None:
            return check_keywords(self.keywords_of(), mapping, section)
        try:
            return params_from(self.params_class, mapping, section)
        except Exception as exc:  # pydantic ValidationError and friends
            if exc.__class__.__name__ == "ValidationError":
                raise ConfigError(f"{section}: {exc}") from None
            raise

    def keywords_of(self):
        """The function whose keyword arguments are the parameters (checks without a parameter class)."""
        raise NotImplementedError

    # -- partitioning ------------------------------------------------------------------------------------------
    def partition_key(self, flows: pd.DataFrame) -> pd.Series:
        """One string per row: the rows sharing it go to the same partition."""
        if not self.key:
            return pd.Series("", index=flows.index, dtype="str")
        cols = [flows[c].astype("str").fillna("") for c in self.key]
        out = cols[0]
        for c in cols[1:]:
            out = out + "|" + c
        return out

    def splits(self, context: "CheckContext") -> bool:
        """Whether this run may be split on the key: ``partitioned``, unless the run's parameters make one key's rows
        too few to judge it (Benford's groups across reporters); an engine runs the check as one task otherwise."""
        return bool(self.partitioned and self.key)

    def select(self, flows: pd.DataFrame, periods: list[str]) -> pd.DataFrame:
        """The rows the check reads: every period, or only those under test when it has no history."""
        if self.history:
            return flows
        return flows[flows["period"].isin(periods)]

    # -- reduce step -------------------------------------------------------------------------------------------
    def stats_part(self, partition: pd.DataFrame, context: CheckContext) -> Any:
        """This partition's share of the global statistics (small: counts, sums, sketches)."""
        return None

    def stats_combine(self, parts: list) -> Any:
        """The global statistics from the parts of :meth:`stats_part`, in partition order."""
        return None

    # -- the work ----------------------------------------------------------------------------------------------
    def run(self, partition: pd.DataFrame, context: CheckContext) -> CheckResult:
        raise NotImplementedError

    def combine(self, results: list[CheckResult], context: CheckContext) -> CheckResult:
        """One result from the partitions' results: findings sorted on :data:`FINDING_ORDER`, each table sorted
        on its :attr:`table_order`, ledgers summed per stage (:func:`merge_ledgers`)."""
        findings = [r.findings for r in results if len(r.findings)]
        f = pd.concat(findings, ignore_index=True) if findings else results[0].findings.iloc[:0]
        if len(results) > 1 or self.partitioned:
            f = sort_rows(f, FINDING_ORDER)
        tables: dict[str, pd.DataFrame] = {}
        for name in dict.fromkeys(n for r in results for n in r.tables):
            parts = [r.tables[name] for r in results if name in r.tables]
            t = parts[0] if len(parts) == 1 else pd.concat([p for p in parts if len(p)] or parts[:1],
                                                          ignore_index=True)
            order = self.table_order.get(name)
            if order and (len(results) > 1 or self.partitioned):
                t = sort_rows(t, [c for c in order if c in t.columns])
            tables[name] = t.reset_index(drop=True)
        return CheckResult(check=results[0].check, findings=f.reset_index(drop=True), tables=tables,
                           ledgers=merge_ledgers([led for r in results for led in r.ledgers]))


def sort_rows(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``df`` sorted on ``columns`` (stable; text compared as text, missing values last)."""
    columns = [c for c in columns if c in df.columns]
    if not columns or len(df) < 2:
        return df.reset_index(drop=True)
    keys = [df[c].astype("str") if df[c].dtype == object or str(df[c].dtype) in ("string", "str", "category")
            else df[c] for c in columns]
    order = pd.DataFrame({i: k.to_numpy() for i, k in enumerate(keys)})
    idx = order.sort_values(list(range(len(keys))), kind="mergesort", na_position="last").index.to_numpy()
    return df.iloc[idx].reset_index(drop=True)


def merge_ledgers(ledgers: list[Ledger], row_key: str = ROW) -> list[Ledger]:
    """Ledgers of the same stage summed (rows in, each reason's count), in the order the stages first appear.

    Examples: when they carry ``row_key`` (the row's position in the input, which the engines add for a
    partitioned check), each reason keeps the examples of the first rows of the input, whichever partitions they
    came from, and ``row_key`` is removed; otherwise the first examples in partition order."""
    from ..schema import MAX_EXAMPLES

    by_stage: "OrderedDict[str, list[Ledger]]" = OrderedDict()
    for led in ledgers:
        by_stage.setdefault(led.stage, []).append(led)
    out = []
    for stage, group in by_stage.items():
        first = group[0]
        merged = Ledger(stage=stage, rows_in=sum(g.rows_in for g in group), unit=first.unit,
                        inputs=list(dict.fromkeys(i for g in group for i in g.inputs)),
                        notes=list(dict.fromkeys(n for g in group for n in g.notes)))
        for g in group:
            for reason, n in g.counts.items():
                merged.counts[reason] = merged.counts.get(reason, 0) + int(n)
        for reason in merged.counts:
            examples = [ex for g in group for ex in g.examples.get(reason, [])]
            if any(row_key in ex for ex in examples):
                examples = sorted(examples, key=lambda ex: ex.get(row_key, -1))
                examples = [{k: v for k, v in ex.items() if k != row_key} for ex in examples]
            if examples:
                merged.examples[reason] = examples[:MAX_EXAMPLES]
        out.append(merged)
    return out


def stable_hash(keys: pd.Series, n: int) -> np.ndarray:
    """Partition number in ``range(n)`` of each key: the same on every machine and Python process."""
    h = pd.util.hash_pandas_object(keys.astype("str"), index=False, hash_key="tradeanomaly0000").to_numpy()
    return (h % np.uint64(n)).astype(np.int64)


def finish(records: list[pd.DataFrame], check: str) -> pd.DataFrame:
    """Concatenate finding frames and sort them on explicit keys (byte-identical output for the same input)."""
    frames = [r for r in records if r is not None and len(r)]
    if not frames:
        return make_findings()
    out = make_findings(pd.concat(frames, ignore_index=True))
    out = out.sort_values(["signal", "score", "subject", "period"], ascending=[True, False, True, True],
                          kind="mergesort").reset_index(drop=True)
    out["check"] = check
    return out
