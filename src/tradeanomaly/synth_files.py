"""The synthetic panel as files: ``SynthPanel`` (flows and truth, ``write``), the canonical CSV bytes of the
flows and the truth, timestamp-free gzip, and ``read_truth``. Same panel, same bytes."""

from __future__ import annotations

import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ConfigError
from .schema import FLOW_COLUMNS
from .synth_world import TRUTH_COLUMNS


@dataclass
class SynthPanel:
    """A generated panel: ``flows`` (flows table), ``truth`` (one row per planted anomaly or control)."""

    flows: pd.DataFrame
    truth: pd.DataFrame
    seed: int
    start: str
    months: int

    def write(self, out_dir) -> dict[str, Path]:
        """Write ``flows.csv.gz`` (canonical CSV) and ``truth.csv`` into ``out_dir``; same panel, same bytes."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"flows": out / "flows.csv.gz", "truth": out / "truth.csv"}
        _write_bytes(paths["flows"], gzip_bytes(flows_csv_bytes(self.flows)))
        _write_bytes(paths["truth"], truth_csv_bytes(self.truth))
        return paths


def flows_csv_bytes(flows: pd.DataFrame) -> bytes:
    """The canonical CSV of a flows table: the flows columns, whole dollars and kg, ``estimated`` as true/false.

    Codes never contain commas or quotes, so fields are written bare (pyarrow's writer, for speed).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    df = flows.loc[:, list(FLOW_COLUMNS)]
    arrays = []
    for c in FLOW_COLUMNS:
        col = df[c]
        if c == "value_usd":
            arrays.append(pa.array(np.rint(col.to_numpy(dtype=float)).astype(np.int64)))
        elif c == "quantity":
            q = col.to_numpy(dtype=float)
            arrays.append(pa.array(np.rint(np.nan_to_num(q)).astype(np.int64), mask=np.isnan(q)))
        elif c == "estimated":
            arrays.append(pa.array(col.to_numpy(dtype=bool)))
        else:
            arrays.append(pa.array(col.to_numpy(dtype=object), type=pa.string()))
    table = pa.Table.from_arrays(arrays, names=list(FLOW_COLUMNS))
    buf = io.BytesIO()
    buf.write((",".join(FLOW_COLUMNS) + "\n").encode())
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return buf.getvalue()


def truth_csv_bytes(truth: pd.DataFrame) -> bytes:
    df = truth.loc[:, list(TRUTH_COLUMNS)].copy()
    df["negative_control"] = np.where(df["negative_control"].to_numpy(dtype=bool), "true", "false")
    return df.to_csv(index=False, float_format="%.0f", lineterminator="\n").encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """gzip without a timestamp or file name in the header, so equal input gives equal bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as fh:
        fh.write(data)
    return buf.getvalue()


def _write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_truth(path) -> pd.DataFrame:
    """Read a ``truth.csv`` with text keys (``hs`` keeps its leading zeros) and typed ``usd``/``negative_control``."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    missing = [c for c in TRUTH_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"{path}: truth file lacks column(s) {', '.join(missing)}; expected {TRUTH_COLUMNS}")
    df["usd"] = pd.to_numeric(df["usd"], errors="coerce")
    df["negative_control"] = df["negative_control"].str.lower().eq("true")
    return df.loc[:, list(TRUTH_COLUMNS)]
