"""Running one check on a local Dask cluster of 2 worker processes from a pandas table, for the engine tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradeanomaly.checks.base import ROW, CheckContext


def run_on_dask(check, flows: pd.DataFrame, context: CheckContext, parts: int = 3, partitions: int = 8):
    """``(result, tasks)``: ``check`` run by the Dask engine on ``flows`` scattered as ``parts`` slices (numbered
    with ``_row`` in input order unless they carry it) and shuffled into ``partitions``."""
    from tradeanomaly.dask_engine import DaskExecutor, _slice
    from tradeanomaly.engine import close_client, get_client

    numbered = flows if ROW in flows.columns else flows.assign(**{ROW: np.arange(len(flows), dtype=np.int64)})
    client = get_client(2)
    try:
        scattered = [client.scatter(_slice(numbered, i, parts)) for i in range(parts)]
        executor = DaskExecutor(client, scattered, len(numbered), partitions)
        result = executor.run_check(check, context)
    finally:
        close_client(client)
    return result, executor.tasks
