"""Typed settings: packaged defaults < YAML file < environment (``TRADEANOMALY_*``) < CLI flags.

A configuration is a :class:`RunConfig`. Check, scoring and ranking parameters are plain mappings here and are
validated by the parameter class of the check that owns them, so that a check's knobs are declared once, beside
the code that uses them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

CHECK_NAMES = ("mirror", "unit_value", "benford", "series", "invoice_export", "entrepot", "rush")


class InputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = "canonical"
    files: list[str] = Field(default_factory=list)
    map: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class CheckConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["pandas", "dask"] = "pandas"
    workers: int | None = Field(default=None, ge=1)
    scheduler_address: str | None = None
    #: partitions each check's rows are shuffled into (default: 8, or one per million rows above that)
    partitions: int | None = Field(default=None, ge=1)
    #: memory limit of each local Dask worker, e.g. ``3GB`` (default: Dask's share of the machine)
    memory_limit: str | None = None


class OutputConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: detail tables (mirror_gaps, one_sided, ...): ``auto`` writes CSV up to ``parquet_above`` rows and Parquet
    #: (zstd) above, where a CSV would take minutes to write and gigabytes of disk; or always ``csv``/``parquet``
    tables: Literal["auto", "csv", "parquet"] = "auto"
    parquet_above: int = Field(default=250_000, ge=0)


class RunConfig(BaseModel):
    """Everything a run needs. Paths in a YAML file are relative to that file."""

    model_config = ConfigDict(extra="forbid")

    name: str = "tradeanomaly"
    input: InputConfig = Field(default_factory=InputConfig)
    #: ``latest`` (the last period in the data), one period, a range ``2023-01:2023-12`` or ``all``
    period: str = "latest"
    out: str = "reports"
    seed: int = 0
    checks: dict[str, CheckConfig] = Field(default_factory=lambda: {c: CheckConfig() for c in CHECK_NAMES})
    scoring: dict[str, Any] = Field(default_factory=dict)
    ranking: dict[str, Any] = Field(default_factory=dict)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, v: dict[str, CheckConfig]) -> dict[str, CheckConfig]:
        unknown = sorted(set(v) - set(CHECK_NAMES))
        if unknown:
            raise ValueError(f"unknown check(s) {unknown}; known: {list(CHECK_NAMES)}")
        full = {c: CheckConfig() for c in CHECK_NAMES}
        full.update(v)
        return full

    def enabled_checks(self) -> list[str]:
        return [c for c in CHECK_NAMES if self.checks[c].enabled]

    def digest(self) -> str:
        """Short hash of the resolved configuration (identifies a run's settings in its id and manifest)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:10]


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _env_overrides(environ: dict[str, str]) -> dict:
    """``TRADEANOMALY_SEED``, ``TRADEANOMALY_OUT``, ``TRADEANOMALY_PERIOD``, ``TRADEANOMALY_ENGINE``."""
    over: dict[str, Any] = {}
    if "TRADEANOMALY_SEED" in environ:
        try:
            over["seed"] = int(environ["TRADEANOMALY_SEED"])
        except ValueError:
            raise ConfigError("environment variable TRADEANOMALY_SEED must be an integer") from None
    if "TRADEANOMALY_OUT" in environ:
        over["out"] = environ["TRADEANOMALY_OUT"]
    if "TRADEANOMALY_PERIOD" in environ:
        over["period"] = environ["TRADEANOMALY_PERIOD"]
    if "TRADEANOMALY_ENGINE" in environ:
        over["engine"] = {"name": environ["TRADEANOMALY_ENGINE"]}
    return over


def _describe(exc: ValidationError, where: str) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        problems.append(f"`{loc}`: {err['msg']}")
    return f"{where}: invalid configuration: " + "; ".join(problems)


#: values a configuration or column map may expand to: aliases (``*name``) that repeat a block are fine, nested
#: ones that expand exponentially (the "billion laughs" document) are refused before anything is built
MAX_YAML_NODES = 100_000


def _expanded_nodes(node, memo: dict) -> int:
    """Nodes of the document once every alias is expanded (a shared node counts once per use)."""
    key = id(node)
    if key not in memo:
        memo[key] = 0  # a recursive alias counts as one node
        value = node.value if isinstance(node.value, list) else []
        memo[key] = 1 + sum(_expanded_nodes(v, memo) if not isinstance(v, tuple)
                            else _expanded_nodes(v[0], memo) + _expanded_nodes(v[1], memo) for v in value)
    return memo[key]


def read_yaml(path: str | os.PathLike, what: str = "configuration"):
    """The YAML document of ``path``, read safely: text that is not UTF-8, YAML that does not parse, tags that
    construct Python objects (``!!python/object``) and alias bombs are one-line :class:`ConfigError` messages
    naming the file (and the byte offset or line)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{p}: {what} file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder; give the {what} file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: the {what} is not UTF-8 text (byte {exc.start}: 0x{raw[exc.start]:02x}); "
                          "save it as UTF-8") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        size = _expanded_nodes(root, {}) if root is not None else 0
        if size > MAX_YAML_NODES:
            raise ConfigError(f"{p}: the {what}'s YAML aliases (*name) expand to {size:,} values, more than "
                              f"{MAX_YAML_NODES:,}; write the settings out instead of nesting anchors")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        hint = ("; tags that build Python objects are not allowed, write plain values"
                if "tag" in str(problem) else "; check the indentation and quoting")
        raise ConfigError(f"{p}: not valid YAML{where}: {' '.join(str(problem).split())}{hint}") from None


def load_config(path: str | os.PathLike | None = None, *, overrides: dict | None = None,
                environ: dict[str, str] | None = None) -> RunConfig:
    """Resolve a configuration: defaults < YAML ``path`` < environment < ``overrides`` (from CLI flags)."""
    data: dict = {}
    where = "configuration"
    if path is not None:
        p = Path(path)
        where = str(p)
        loaded = read_yaml(p, "configuration")
        loaded = {} if loaded is None else loaded
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: the configuration must be a mapping of settings (key: value lines), not a "
                              f"{type(loaded).__name__}")
        data = _resolve_paths(loaded, p.parent)
    data = _merge(data, _env_overrides(dict(os.environ if environ is None else environ)))
    data = _merge(data, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where)) from None


def _resolve_paths(data: dict, base: Path) -> dict:
    data = dict(data)
    inp = dict(data.get("input") or {})

    def fix(s: str) -> str:
        q = Path(s)
        return str(q if q.is_absolute() or not (base / q).exists() else (base / q).resolve())

    if "files" in inp:
        inp["files"] = [fix(f) for f in inp["files"]]
    if inp.get("map"):
        inp["map"] = fix(inp["map"])
    if inp:
        data["input"] = inp
    return data


def params_from(cls, values: dict | None, section: str):
    """``cls(**values)`` for a dataclass of parameters, with an unknown key an error naming the key, the section
    and the known keys (instead of a ``TypeError`` from the constructor)."""
    import dataclasses

    values = dict(values or {})
    known = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else None
    if known is not None:
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"{section}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{section}: {exc}") from None


def check_keywords(func, values: dict | None, section: str, reserved=("flows", "periods", "mirror_gaps",
                                                                      "random_state", "params")) -> dict:
    """Keyword parameters for ``func`` (a check's ``run`` that takes its knobs as keywords): an unknown key is an
    error naming it and the known ones."""
    import inspect

    values = dict(values or {})
    known = [n for n, p in inspect.signature(func).parameters.items()
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in reserved]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{section}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return values
