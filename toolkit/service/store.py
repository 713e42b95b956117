"""The store interface: file records, row-level findings and imported data.

The service only talks to a ``Store``; ``DuckDBStore`` (one DuckDB file) is
the implementation today, and a PostgreSQL store for deployments that
outgrow one machine can follow by implementing the same methods (the cc5
engine's plan is always computed on a DuckDB connection the store hands out:
``engine_connection()``; a PostgreSQL store would copy from it on apply).

    >>> from toolkit.service.duckdb_store import DuckDBStore
    >>> store: Store = DuckDBStore(":memory:")
    >>> store.count_files()
    0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from toolkit.errors import ToolkitError
from toolkit.service.records import FileQuery, FileRecord

__all__ = ["Store", "SchemaMismatch", "StateChanged"]


class SchemaMismatch(ToolkitError):
    """The file's keys or a field's type disagree with the table already imported."""


class StateChanged(ToolkitError):
    """The file record left the state an operation expected (e.g. it was deleted)."""


@runtime_checkable
class Store(Protocol):
    """What the service needs from persistence. All methods are thread-safe.

    ``shared`` is True when other processes use the same store (PostgreSQL):
    claims then carry leases that the importing process renews.
    """

    shared: bool

    def create_file(self, record: FileRecord) -> None:
        """Insert a new file record."""

    def get_file(self, file_id: str) -> FileRecord | None:
        """The record, or None."""

    def cached_file(self, file_id: str) -> FileRecord | None:
        """The record if the store can answer without I/O (a cache), else None."""

    def list_files(self, query: FileQuery) -> tuple[int, list[FileRecord]]:
        """(total matching, one page newest first)."""

    def count_files(self) -> int:
        """How many file records exist."""

    def transition(
        self, file_id: str, *, from_statuses: tuple[str, ...], to_status: str, **changes: Any
    ) -> FileRecord | None:
        """Compare-and-set: move to ``to_status`` (and apply ``changes``) only if
        the current status is one of ``from_statuses``; None otherwise."""

    def claim_next_queued(self, *, now: float) -> FileRecord | None:
        """Atomically move the first QUEUED file (queue order) of a workspace
        with no file PROCESSING to PROCESSING, counting the start in
        ``attempts`` (+1; the worker fails a file past ``max_attempts``), and return it."""

    def requeue_interrupted(self) -> int:
        """Put files left PROCESSING (by a crash or stop) back to QUEUED
        (``attempts`` kept): all of them for a store of one process; for a
        ``shared`` store those whose lease ran out (their worker died)."""

    def renew_leases(self, file_ids: Iterable[str]) -> None:
        """Keep the claims of files this process is still importing (``shared`` stores)."""

    def release_leases(self, file_ids: Iterable[str]) -> None:
        """Give up the claims of files whose import this process stopped, so
        another process re-runs them now (``shared`` stores)."""

    def pending_uploads(self, *, object_keys: list[str] | None = None, expired_before: float | None = None,
                        limit: int = 1000) -> list[FileRecord]:
        """PENDING_UPLOAD files whose object key is in ``object_keys``, or whose
        upload URL expired before ``expired_before`` (the upload watcher)."""

    def files_with_status(self, status: str, *, limit: int = 1000) -> list[FileRecord]:
        """Files in ``status``, oldest first."""

    def engine_connection(self) -> Any:
        """A DuckDB connection of its own for one import's plan and apply."""

    def apply_import(
        self, record: FileRecord, plan: Any, con: Any, *, clock: Callable[[], float],
        rejected_key: str | None, max_findings: int,
    ) -> FileRecord:
        """In ONE transaction: apply the plan's deletes and upserts to the
        workspace/entity table, record the findings and mark the file FINISHED
        (``process_end_time``: ``clock()`` once the rows are in; a 3M-row apply
        takes seconds). Raises SchemaMismatch (nothing applied) or StateChanged."""

    def fail_file(
        self, record: FileRecord, *, code: str, message: str, now: float,
        report: Any = None, con: Any = None, max_findings: int = 0,
        rejected_key: str | None = None, failure_count: int = 0,
    ) -> FileRecord:
        """Mark a PROCESSING file FAILED (with its findings, if a report is given)."""

    def findings(self, file_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Recorded findings of a file, in line order."""

    def read_table(self, workspace_id: str, entity_type: str) -> Any:
        """The imported rows of a workspace and entity type (with ``.df()``), or None."""

    def close(self) -> None:
        """Release the store."""
