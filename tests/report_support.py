"""One generated run (two months, so the second compares with the first) shared by the report tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from tradeanomaly.config import load_config
from tradeanomaly.pipeline import run
from tradeanomaly.synth import generate

EVIL_SCRIPT = "<script>alert('x')</script>"
EVIL_FORMULA = '=HYPERLINK("http://x")'


def _panel(path: Path) -> Path:
    """A 3-year generated panel plus one pair whose partner names are a formula and a script, big enough to be
    flagged: their rows reach the flags' text (the ledger and findings) unchanged."""
    flows = generate(seed=3, months=36).flows
    last = flows["period"].max()
    extra = flows[(flows["period"] == last)].head(2).copy()
    extra["partner"] = [EVIL_SCRIPT, EVIL_FORMULA]
    flows = pd.concat([flows, extra], ignore_index=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        flows.to_csv(fh, index=False)
    return path


def _config(panel: Path, out: Path, period: str):
    return load_config(overrides={"input": {"source": "canonical", "files": [str(panel)]}, "out": str(out),
                                  "period": period}, environ={})


@pytest.fixture(scope="session")
def report_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    panel = _panel(d / "flows.csv.gz")
    out = d / "reports"
    first = run(_config(panel, out, "2019-11"), excel="yes")
    second = run(_config(panel, out, "2019-12"), excel="yes")
    return panel, out, first, second
