"""Progress of long work (validate, upload, processing), reported as events.

The library reports progress to a callback when one is given (the app draws
its own bars from it) and otherwise to a tqdm bar (the CLI and notebooks).
Every stage uses the same event, so one callback can follow a whole import.

    >>> seen = []
    >>> report = ProgressEvent(stage="validate", done=50, total=200, unit="B", rows=1000)
    >>> report.fraction
    0.25
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["ProgressEvent", "ProgressCallback", "Stage"]

Stage = Literal["validate", "upload", "process"]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of progress.

    ``done`` and ``total`` count ``unit`` (``"B"`` for bytes, ``"rows"`` for
    rows); ``total`` is None when unknown. ``rows`` is the number of rows seen
    so far where the stage knows it, ``status`` the import's status while the
    service processes it, ``elapsed`` the seconds since the stage started.
    """

    stage: Stage
    done: int
    total: int | None
    unit: str = "B"
    rows: int | None = None
    status: str | None = None
    elapsed: float | None = None

    @property
    def fraction(self) -> float | None:
        """``done / total`` in [0, 1], or None when the total is unknown."""
        if not self.total:
            return None
        return min(1.0, max(0.0, self.done / self.total))


ProgressCallback = Callable[[ProgressEvent], None]
