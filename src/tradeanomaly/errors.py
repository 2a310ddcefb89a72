"""Domain exceptions. The library raises these; only ``cli.py`` turns them into exit codes."""

from __future__ import annotations


class TradeAnomalyError(Exception):
    """Base class of every error the library raises on purpose."""


class SourceFormatError(TradeAnomalyError):
    """An input file does not have the layout its reader expects.

    The message names the file (and the row or column where known) and says how to fix it.
    """

    def __init__(self, message: str, *, path: object = None, row: int | None = None,
                 column: str | None = None):
        where = []
        if path is not None:
            where.append(f"{path}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column `{column}`")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.path = path
        self.row = row
        self.column = column


class SchemaError(TradeAnomalyError):
    """A table breaks its declared contract. ``failures`` lists every problem found, not just the first."""

    def __init__(self, message: str, failures=None):
        super().__init__(message)
        self.failures = failures


class ConfigError(TradeAnomalyError):
    """A configuration value is missing, of the wrong type or out of range."""


class MissingExtraError(TradeAnomalyError):
    """An optional dependency is needed and not installed."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the optional package `{package}`: "
            f"install it with  pip install 'tradeanomaly[{extra}]'"
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, purpose: str):
    """Import an optional module or raise :class:`MissingExtraError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(module.split(".")[0], extra, purpose) from exc
