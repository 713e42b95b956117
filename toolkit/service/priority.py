"""CPU priority for background work: imports must not starve status look-ups.

On Linux the nice value is per thread, and threads inherit it from the
thread that creates them. The service opens its DuckDB database from a
thread with a lower priority (so DuckDB's worker pool inherits it) and
lowers its import and watcher threads; request threads keep the normal
priority, so the scheduler serves look-ups first while imports still use
every idle cycle. Elsewhere these helpers do nothing (renicing would hit
the whole process).

    >>> run_lowered(lambda: 6 * 7)
    42
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["BACKGROUND_NICE", "lower_this_thread", "run_lowered"]

T = TypeVar("T")
BACKGROUND_NICE = 10


def lower_this_thread(nice: int = BACKGROUND_NICE) -> bool:
    """Lower the calling thread's priority (Linux only); True if it was done."""
    if sys.platform != "linux":
        return False
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        return True
    except OSError:  # not permitted in some sandboxes: run at normal priority
        return False


def run_lowered(action: Callable[[], T], nice: int = BACKGROUND_NICE) -> T:
    """Run ``action`` in a short-lived thread of lower priority and return its
    result (threads it starts, e.g. a database's worker pool, inherit it)."""
    box: dict[str, object] = {}

    def target() -> None:
        lower_this_thread(nice)
        try:
            box["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="toolkit-lowered")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]
