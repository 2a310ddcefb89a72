"""Readers: one module per publisher format, each ``read(paths, **options) -> ReadResult(flows, ledger)``."""

from __future__ import annotations

import importlib

from ..errors import SourceFormatError
from .base import ReadResult, as_paths

#: source name -> module implementing ``read(paths, *, column_map=None, **options)``
READERS = {
    "canonical": "tradeanomaly.sources.canonical",
    "imf-dots": "tradeanomaly.sources.imf_dots",
    "comtrade": "tradeanomaly.sources.comtrade",
    "baci": "tradeanomaly.sources.baci",
    "census": "tradeanomaly.sources.census",
    "china-customs": "tradeanomaly.sources.china_customs",
    "table": "tradeanomaly.sources.table",
}


def read_source(source: str, paths, *, column_map=None, **options) -> ReadResult:
    """Read ``paths`` with the reader named ``source``; one flows table and one ledger for all files."""
    if source not in READERS:
        raise SourceFormatError(f"unknown source `{source}`: choose one of {', '.join(READERS)}")
    module = importlib.import_module(READERS[source])
    paths = as_paths(paths)
    if not paths:
        raise SourceFormatError(f"no input file given for source `{source}`")
    return module.read(paths, column_map=column_map, **options)
