"""The whole run on the Dask engine gives the same flags as on pandas."""

from __future__ import annotations

import pytest

from tradeanomaly.config import load_config
from tradeanomaly.ingest import ingest_partitioned
from tradeanomaly.pipeline import run
from tradeanomaly.synth import generate

pytest.importorskip("distributed", reason="the Dask engine is the optional extra `dask`")


def test_dask_and_pandas_runs_give_identical_flags(tmp_path):
    panel = generate(seed=5, months=30)
    panel.write(tmp_path / "panel")
    ingest_partitioned("canonical", [tmp_path / "panel" / "flows.csv.gz"], tmp_path / "parts", chunk_rows=40_000)
    outs = {}
    for engine in ("pandas", "dask"):
        cfg = load_config(environ={}, overrides={
            "input": {"source": "canonical", "files": [str(tmp_path / "parts")]}, "out": str(tmp_path / engine),
            "period": "2019-06", "engine": {"name": engine, "workers": 2}})
        outs[engine] = run(cfg)
    a, b = (outs[e].out_dir / "flags.csv" for e in ("pandas", "dask"))
    assert len(outs["pandas"].flows) == len(panel.flows)
    assert a.read_bytes() == b.read_bytes()
    assert (outs["pandas"].out_dir / "findings.csv").read_bytes() == (outs["dask"].out_dir / "findings.csv").read_bytes()
