"""Synthetic import lists for load tests of the pages (benchmarks, AppTests).

These are *not* demo data: ``toolkit demo`` runs real files through the real
service. This only builds a DataFrame shaped like ``list_imports()`` output,
large enough to measure how the dashboard copes with 100,000 records.

    >>> df = synthetic_imports(1000, seed=1)
    >>> len(df), set(df["status"]) <= {"FINISHED", "FAILED", "QUEUED", "PROCESSING"}
    (1000, True)
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from toolkit.app_support.records import normalize_imports

__all__ = ["synthetic_imports"]

_WORKSPACES = ("ws-eu", "ws-us", "ws-apac", "ws-latam", "ws-africa", "ws-test")
_ENTITIES = ("customer", "account", "transaction", "product", "employee")
_FAILURE_CODES = (
    "BAD_HEADER",
    "MISSING_FOOTER",
    "FOOTER_COUNT_MISMATCH",
    "UNKNOWN_TYPE",
    "WORKSPACE_MISMATCH",
    "SCHEMA_MISMATCH",
    "FILE_NOT_UPLOADED",
)


def synthetic_imports(
    n: int, *, seed: int = 0, days: int = 30, now: dt.datetime | None = None
) -> pd.DataFrame:
    """``n`` import records spread over the ``days`` before ``now`` (UTC).

    About 80% FINISHED, 15% FAILED (with a failure code), the rest in flight.

        >>> synthetic_imports(10, seed=2)["date_created"].dt.tz is not None
        True
    """
    rng = np.random.default_rng(seed)
    end = now or dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)
    created = pd.Timestamp(end) - pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s")
    status = rng.choice(["FINISHED", "FAILED", "QUEUED", "PROCESSING"], n, p=[0.8, 0.15, 0.03, 0.02])
    started = created + pd.to_timedelta(rng.exponential(2.0, n), unit="s")
    finished = started + pd.to_timedelta(rng.lognormal(0.5, 0.8, n), unit="s")
    ended = np.isin(status, ["FINISHED", "FAILED"])
    rows = rng.integers(1, 5000, n)
    rejected = np.where(rng.random(n) < 0.3, rng.integers(0, 50, n), 0)
    workspaces = rng.choice(_WORKSPACES, n)
    entities = rng.choice(_ENTITIES, n)
    df = pd.DataFrame(
        {
            "file_id": [f"f_{seed:02d}{i:08d}" for i in range(n)],
            "file_name": [f"{e}_{i}.cc5txt" for i, e in enumerate(entities)],
            "file_type": "cc5",
            "stream_name": workspaces,
            "entity_type": entities,
            "date_created": created,
            "process_start_time": started.where(status != "QUEUED"),
            "process_end_time": finished.where(ended),
            "successful_count": np.where(status == "FINISHED", rows - rejected, 0),
            "failure_count": np.where(status == "FINISHED", rejected, 0),
            "status": status,
            "failure_code": np.where(status == "FAILED", rng.choice(_FAILURE_CODES, n), np.array(None)),
        }
    )
    return normalize_imports(df)
