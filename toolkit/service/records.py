"""The file record shared by both APIs, its statuses and failure codes.

    >>> rec = FileRecord.new(api="imports", workspace_id="ws-eu", file_name="c.cc5txt",
    ...                      bucket="toolkit-imports", now=1795343400.0)
    >>> rec.status, rec.object_key.startswith("ws-eu/f_"), rec.file_path.startswith("//toolkit-imports/")
    ('PENDING_UPLOAD', True, True)
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from toolkit.statuses import (  # re-exported: the service's modules import them from here
    ADDED,
    DELETED,
    FAILED,
    FINISHED,
    PENDING_UPLOAD,
    PROCESSING,
    QUEUED,
    STATUSES,
)

__all__ = [
    "FileRecord",
    "FileQuery",
    "STATUSES",
    "PENDING_UPLOAD",
    "ADDED",
    "QUEUED",
    "PROCESSING",
    "FINISHED",
    "FAILED",
    "DELETED",
    "SERVICE_FAILURE_CODES",
    "new_file_id",
    "iso_utc",
]


# Failure codes the service itself assigns (the engine's file-level codes come on top).
SERVICE_FAILURE_CODES = (
    "FILE_NOT_UPLOADED",
    "FILE_TOO_LARGE",
    "URL_EXPIRED",
    "WORKSPACE_MISMATCH",
    "SCHEMA_MISMATCH",
    "STORAGE_ERROR",
    "INTERNAL_ERROR",
    "EMPTY_UPLOAD",
    "TOO_MANY_ATTEMPTS",
)

FILE_ID_PATTERN = r"^f_[0-9a-f]{32}$"


def new_file_id() -> str:
    """A fresh, unguessable file id: ``f_`` and 32 hex digits."""
    return "f_" + secrets.token_hex(16)


def iso_utc(ts: float | None) -> str | None:
    """UNIX seconds as the portal API's ISO-8601 UTC string (milliseconds, ``Z``).

    >>> iso_utc(0.5)
    '1970-01-01T00:00:00.500Z'
    """
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class FileRecord:
    """One uploaded file and its import, whichever API created it.

    ``api`` says which API created it: ``portal``, ``imports`` or ``data``
    (the JSON ImportData call). Times are UNIX seconds.
    """

    file_id: str
    api: str
    workspace_id: str
    file_name: str
    object_key: str
    file_path: str
    status: str
    date_created: float
    expires_at: float | None = None
    bucket_id: str = ""
    entity_type: str = ""
    file_type: str = "cc5"
    folder: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    action_id: str = ""
    description: str = ""
    failure_code: str | None = None
    failure_message: str | None = None
    successful_count: int = 0
    failure_count: int = 0
    size: int | None = None
    uploaded_at: float | None = None
    queued_at: float | None = None
    process_start_time: float | None = None
    process_end_time: float | None = None
    rejected_key: str | None = None
    attempts: int = 0

    @classmethod
    def new(
        cls,
        *,
        api: str,
        workspace_id: str,
        file_name: str,
        bucket: str,
        now: float,
        expires_at: float | None = None,
        status: str = PENDING_UPLOAD,
        **fields: Any,
    ) -> "FileRecord":
        """A new record with a fresh id, its object key and FilePath."""
        file_id = new_file_id()
        key = f"{workspace_id}/{file_id}/{file_name}"
        return cls(
            file_id=file_id,
            api=api,
            workspace_id=workspace_id,
            file_name=file_name,
            object_key=key,
            file_path=f"//{bucket}/{key}",
            status=status,
            date_created=now,
            expires_at=expires_at,
            action_id=fields.pop("action_id", None) or "a_" + secrets.token_hex(8),
            **fields,
        )

    @property
    def rejected_object_key(self) -> str:
        """Where the rejected-rows CSV lives (a path no file name can take)."""
        return f"{self.workspace_id}/{self.file_id}/_rejected/rows.csv"

    def replace(self, **changes: Any) -> "FileRecord":
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass
class FileQuery:
    """Filters of a file listing. ``workspaces`` None means every workspace."""

    workspaces: list[str] | None = None
    statuses: list[str] | None = None
    created_after: float | None = None
    created_before: float | None = None
    offset: int = 0
    limit: int = 1000
