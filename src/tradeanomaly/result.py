"""What a run returns (:class:`RunResult`): built by :mod:`.pipeline`, read by the report writers, which import it
from here rather than from the pipeline that calls them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .config import RunConfig
from .schema import Ledger


@dataclass
class RunResult:
    run_id: str
    out_dir: Path | None
    config: RunConfig
    flows: pd.DataFrame
    ledgers: list[Ledger]
    periods: list[str]
    findings: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    flags: pd.DataFrame | None = None
    members: pd.DataFrame | None = None
    previous_run: str | None = None
    manifest: dict = field(default_factory=dict)
    inputs: list[dict] = field(default_factory=list)
    #: ``auto``, ``yes`` or ``no``: write flags.xlsx (see :func:`tradeanomaly.report.write_reports`)
    excel: str = "auto"
    #: rows of the flows table the checks read (``flows`` holds them all under the pandas engine; under Dask,
    #: only the rows the report's charts need)
    n_flows: int = 0
