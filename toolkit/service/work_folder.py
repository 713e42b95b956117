"""A service process's private work folder (downloads, the engine's spill files), and the removal
of the folders killed processes left behind.

A PostgreSQL-backed service shares nothing on disk with the other processes
of a deployment, so its downloads go to a folder of its own in the system
temp folder. A process killed mid-import (``SIGKILL``, a container stopped
hard) never removes it, and it may hold a file of up to the size limit. Each
living process therefore holds an exclusive ``flock`` on a file inside its
folder; a new folder is made only after removing every folder of the same
prefix whose lock nobody holds. A folder becomes visible under its final
name only once locked (made under a hidden name, locked, then renamed), so a
starting process never removes a living one's. Without ``fcntl``
(Windows) folders are made and removed the same way, but left-overs are not
looked for.

    >>> folder = WorkFolder(parent=tempfile.mkdtemp()); folder.path.is_dir()
    True
    >>> folder.cleanup(); folder.path.exists()
    False
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["WorkFolder", "remove_abandoned"]

log = logging.getLogger("toolkit.service")

_LOCK = ".owner.lock"


def _try_lock(path: Path) -> int | None:
    """An fd holding the exclusive lock on ``path``, or None when another process holds it."""
    assert fcntl is not None
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def remove_abandoned(parent: Path, prefix: str) -> int:
    """Remove the folders ``parent/prefix*`` of this user whose lock no living process holds;
    returns how many were removed."""
    if fcntl is None:
        return 0
    removed = 0
    for folder in parent.glob(prefix + "*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            fd = _try_lock(folder / _LOCK)
        except OSError:  # no lock file (not one of ours) or gone meanwhile
            continue
        if fd is None:
            continue  # its process still runs
        try:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    if removed:
        log.info("removed %d work folder%s left by ended processes in %s", removed, "s" if removed != 1 else "",
                 parent)
    return removed


class WorkFolder:
    """A private folder ``parent/prefix<random>`` this process holds a lock on until :meth:`cleanup`."""

    def __init__(self, prefix: str = "toolkit-import-", parent: str | os.PathLike[str] | None = None) -> None:
        base = Path(parent) if parent is not None else Path(tempfile.gettempdir())
        remove_abandoned(base, prefix)
        hidden = Path(tempfile.mkdtemp(prefix=f".{prefix}new-", dir=base))
        self._fd: int | None = None
        if fcntl is not None:
            lock = hidden / _LOCK
            lock.touch(mode=0o600)
            self._fd = _try_lock(lock)
        # the final name: only a locked folder carries the prefix
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        os.replace(hidden, self.path)
        # as TemporaryDirectory: also removed when garbage-collected or at exit, if cleanup() was not called
        self._finalizer = weakref.finalize(self, _remove, self.path, self._fd)

    def cleanup(self) -> None:
        """Remove the folder and release its lock (idempotent)."""
        self._finalizer()


def _remove(path: Path, fd: int | None) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if fd is not None:
        os.close(fd)
