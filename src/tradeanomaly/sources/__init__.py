"""Readers: one module per publisher format, each ``read(paths, **options) -> ReadResult(flows, ledger)``."""

from __future__ import annotations

import importlib

from ..errors import SourceFormatError
from .base import GZIP_ERRORS, ReadResult, as_paths, refuse_damaged_gzip

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


#: readers that also read a folder (of Parquet parts written by ``tradeanomaly ingest --partitioned``)
READS_FOLDERS = ("canonical",)
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def typed_options(source: str, read, options: dict) -> dict:
    """Reader options (``-o KEY=VALUE``, or a configuration's ``input.options``) in the type of the reader's default
    (int, float, bool): text is parsed, parsed values are checked; a value that does not fit is an error naming the
    option, the value and an example."""
    import inspect

    params = inspect.signature(read).parameters
    out = dict(options)
    for key, value in options.items():
        par = params.get(key)
        if par is None or par.default is inspect.Parameter.empty or par.default is None:
            continue
        default = par.default
        text = value.strip() if isinstance(value, str) else value
        try:
            if not isinstance(value, str):  # already parsed (YAML): only check the type
                if isinstance(default, bool) and not isinstance(value, bool):
                    raise ValueError
                if isinstance(default, int) and not isinstance(default, bool):
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
                        raise ValueError
                    out[key] = int(value)
                elif isinstance(default, float) and not isinstance(default, bool):
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        raise ValueError
                    out[key] = float(value)
            elif isinstance(default, bool):
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError
                out[key] = text.lower() in _TRUE
            elif isinstance(default, int):
                out[key] = int(text.replace("_", ""))
            elif isinstance(default, float):
                out[key] = float(text)
        except (ValueError, OverflowError):
            kind = ("true or false" if isinstance(default, bool) else "an integer" if isinstance(default, int)
                    else "a number")
            raise SourceFormatError(f"source `{source}`: option {key}={value} is not {kind}; give for example "
                                    f"-o {key}={str(default).lower() if isinstance(default, bool) else default}"
                                    ) from None
    return out


def read_source(source: str, paths, *, column_map=None, **options) -> ReadResult:
    """Read ``paths`` with the reader named ``source``; one flows table and one ledger for all files."""
    if source not in READERS:
        raise SourceFormatError(f"unknown source `{source}`: choose one of {', '.join(READERS)}")
    module = importlib.import_module(READERS[source])
    paths = as_paths(paths)
    if not paths:
        raise SourceFormatError(f"no input file given for source `{source}`")
    for path in paths:
        if path.is_dir() and source not in READS_FOLDERS:
            raise SourceFormatError(f"{path}: is a folder; the `{source}` reader reads files: give the files in it "
                                    f"(e.g. {path}/*.csv), or use --source canonical for a folder written by "
                                    "`tradeanomaly ingest --partitioned`")
    options = typed_options(source, module.read, options)
    try:
        return module.read(paths, column_map=column_map, **options)
    except GZIP_ERRORS as exc:
        refuse_damaged_gzip(paths, exc)
