"""The file lifecycle shared by both import APIs (docs/api.md): one list for
the service, the client and the app.

    >>> STATUSES[0], sorted(TERMINAL_STATUSES)
    ('PENDING_UPLOAD', ['DELETED', 'FAILED', 'FINISHED'])
"""

from __future__ import annotations

__all__ = [
    "PENDING_UPLOAD", "ADDED", "QUEUED", "PROCESSING", "FINISHED", "FAILED", "DELETED",
    "STATUSES", "TERMINAL_STATUSES", "IN_FLIGHT_STATUSES",
]

PENDING_UPLOAD = "PENDING_UPLOAD"
ADDED = "ADDED"
QUEUED = "QUEUED"
PROCESSING = "PROCESSING"
FINISHED = "FINISHED"
FAILED = "FAILED"
DELETED = "DELETED"
#: Every status, in lifecycle order.
STATUSES: tuple[str, ...] = (PENDING_UPLOAD, ADDED, QUEUED, PROCESSING, FINISHED, FAILED, DELETED)
#: A file in one of these never changes again.
TERMINAL_STATUSES: frozenset[str] = frozenset({FINISHED, FAILED, DELETED})
IN_FLIGHT_STATUSES: frozenset[str] = frozenset(STATUSES) - TERMINAL_STATUSES
