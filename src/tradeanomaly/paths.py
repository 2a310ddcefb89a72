"""Checks on the paths a command writes to, made before any work starts, and the errors of writing there."""

from __future__ import annotations

import contextlib
import errno
import shutil
from pathlib import Path

from .errors import ConfigError, TradeAnomalyError


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


# ---------------------------------------------------------------------------------------------------------------
# Writing outputs: a full disk or a file size limit is one line naming the file, never a traceback
# ---------------------------------------------------------------------------------------------------------------

#: errno values that mean "the output does not fit": no space, quota exceeded, file size limit (``ulimit -f``)
FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class OutputError(TradeAnomalyError):
    """An output could not be written because it does not fit (full disk, quota, file size limit)."""


def size_text(n: float) -> str:
    """``n`` bytes as ``812 B``, ``4.2 MB``, ``1.3 GB`` (decimal units)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def free_bytes(path) -> int | None:
    """Free bytes for an unprivileged writer on the filesystem holding ``path`` (or its nearest existing parent)."""
    p = Path(path)
    for q in (p, *p.parents):
        if q.exists():
            try:
                return shutil.disk_usage(q).free
            except OSError:  # pragma: no cover - a filesystem that does not report it
                return None
    return None  # pragma: no cover


def tree_bytes(path) -> int:
    """Bytes of the regular files under ``path`` (a file or a folder); 0 when it is gone."""
    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    total = 0
    if p.is_dir():
        for f in p.rglob("*"):
            try:
                if f.is_file():
                    total += f.stat().st_size
            except OSError:  # pragma: no cover - removed meanwhile
                pass
    return total


def full_error(exc: OSError, target, *, needed: int | None = None, written: int | None = None,
               after: str = "") -> OutputError:
    """The one-line :class:`OutputError` for ``exc`` (an errno in :data:`FULL`) raised while writing ``target``.

    ``needed``: bytes the output needs when known; else ``written``: bytes already written when the write failed
    (the output needs more than that). ``after`` says what was left (for example that the earlier output is
    unchanged) and how to go on."""
    where = exc.filename or target
    if needed is not None:
        need = f"it needs {size_text(needed)}"
    elif written:
        need = f"it needs more than the {size_text(written)} written before the failure"
    else:
        need = "it needs more space"
    if exc.errno == errno.EFBIG:
        soft = resource_limit()
        limit = f" of {size_text(soft)}" if soft else ""
        msg = (f"cannot write {where}: the file size limit{limit} (ulimit -f) was reached; {need}: raise the limit "
               "(ulimit -f unlimited) or write a smaller output")
    else:
        free = free_bytes(Path(target))
        what = "quota exceeded" if exc.errno == errno.EDQUOT else "no space left on the device"
        room = f", {size_text(free)} free there" if free is not None else ""
        msg = (f"cannot write {where}: {what}{room}; {need}: free space on that filesystem or choose another "
               "output folder")
    return OutputError(msg + (f"; {after}" if after else ""))


def resource_limit() -> int | None:
    """The soft file size limit in bytes (``ulimit -f``), or None when unlimited or unknown."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


# ---------------------------------------------------------------------------------------------------------------
# One writer per output folder
# ---------------------------------------------------------------------------------------------------------------

LOCK_NAME = ".tradeanomaly.lock"


@contextlib.contextmanager
def out_lock(folder, what: str = "--out"):
    """Hold an exclusive lock on ``folder`` (created if needed) while a command writes there.

    The lock is ``folder/.tradeanomaly.lock`` locked with ``flock``: the operating system releases it when the
    process ends, however it ends, so a killed run never leaves a stale lock. A second command on the same folder
    gets an :class:`OutputError` naming the process that holds it. A folder this call created and nothing was
    written into is removed again."""
    import fcntl
    import os
    import time

    p = Path(folder)
    created = not p.exists()
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd = os.open(p / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in FULL:
            raise full_error(exc, p, after="nothing was written") from None
        raise
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise OutputError(f"{what}: {p} is being written by {holder}; wait for it to finish or choose another "
                              "output folder") from None
        stamp = f"tradeanomaly pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
        os.ftruncate(fd, 0)
        try:
            os.pwrite(fd, stamp.encode(), 0)
        except OSError:  # a full disk: the lock holds without its description
            pass
        yield p
    finally:
        if created and [f.name for f in p.iterdir()] == [LOCK_NAME]:  # nothing written: leave no folder behind
            (p / LOCK_NAME).unlink(missing_ok=True)
            p.rmdir()
        os.close(fd)  # releases the lock
