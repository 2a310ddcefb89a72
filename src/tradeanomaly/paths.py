"""Checks on the paths a command writes to, made before any work starts."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def check_out_dir(path, what: str = "--out") -> Path:
    """``path`` as a folder that can be created or written into: an error naming the path when it, or a folder
    above it, is an existing file (the run would otherwise fail after all its work, when it writes)."""
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists():
            if not q.is_dir():
                where = "is a file" if q == p else f"lies below {q}, which is a file"
                raise ConfigError(f"{what}: {p} {where}, not a folder; choose a folder path for the output")
            break
    return p
