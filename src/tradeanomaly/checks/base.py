"""What every check returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..schema import Ledger, make_findings


@dataclass
class CheckResult:
    """``findings`` follows the findings contract; ``tables`` holds the check's own detail tables (for example
    ``mirror_gaps`` or ``reliability``), written beside the report; ``ledgers`` account for the flows the check
    used or set aside."""

    check: str
    findings: pd.DataFrame = field(default_factory=make_findings)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    ledgers: list[Ledger] = field(default_factory=list)
