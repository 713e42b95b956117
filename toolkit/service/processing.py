"""Processing one file: check the object, download it, plan the import with the
cc5 engine, apply it (or fail the file with a code), keep the rejected rows.

The plan is made in the worker thread on the store's engine connection: the
engine's per-line work runs inside DuckDB, so status look-ups are not
stalled (the separate planner process this replaced is measured against in
docs/benchmarks.md).

    >>> processor = Processor(store, storage, config)      # doctest: +SKIP
    >>> processor.run(record_in_processing).status          # doctest: +SKIP
    'FINISHED'
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from toolkit.service.config import ServiceConfig
from toolkit.service.records import PROCESSING, FileRecord
from toolkit.service.storage import ObjectStorage, ObjectTooLarge, StorageError
from toolkit.service.store import SchemaMismatch, StateChanged, Store

__all__ = ["Processor", "Interrupted"]

log = logging.getLogger("toolkit.service")

#: the name of the rejected rows' CSV in an import's work directory
REJECTED_CSV = "rejected.csv"


class Interrupted(Exception):
    """Processing was cut short because the service is stopping; the file
    stays PROCESSING and is re-run on the next start."""


class _Failure(Exception):
    def __init__(self, code: str, message: str, *, report: Any = None, failure_count: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.report = report
        self.failure_count = failure_count


def _empty_upload_message(info: Any) -> str:
    """Why an uploaded object has 0 bytes, as far as its Content-Type tells."""
    message = "the uploaded object is empty (0 bytes)"
    if (info.content_type or "").startswith("application/x-www-form-urlencoded"):
        message += (": it was sent with Content-Type application/x-www-form-urlencoded (curl --data-binary's "
                    "default), which some S3 stores keep as 0 bytes; upload again with "
                    "Content-Type: application/octet-stream")
    return message


def _describe(finding: Any) -> str:
    where = f"line {finding.line}" if getattr(finding, "line", None) else ""
    field = getattr(finding, "field", None)
    if field:
        where = f"{where} field {field}".strip()
    message = getattr(finding, "message", "") or ""
    return f"{where}: {message}" if where else message


class Processor:
    """Runs imports; safe to use from several threads at once."""

    def __init__(self, store: Store, storage: ObjectStorage, config: ServiceConfig,
                 clock: Any = time.time, work_dir: Path | None = None) -> None:
        self.store = store
        self.work_dir = work_dir  # downloads go here (None: the system temp dir)
        self.storage = storage
        self.config = config
        self.clock = clock
        self._active: set[Any] = set()
        self._guard = threading.Lock()
        self.stopping = False

    def interrupt_all(self) -> None:
        """Stop running imports (their transactions roll back)."""
        self.stopping = True
        with self._guard:
            for con in list(self._active):
                try:
                    con.interrupt()
                except Exception:  # noqa: BLE001 - best effort while stopping
                    pass

    def _plan(self, record: FileRecord, source: Path, con: Any) -> Any:
        """Plan the import on the store's engine connection, in this worker thread.

        The engine's per-line work runs in DuckDB's threads (the GIL stays free
        for status look-ups: benchmarks/bench_service.py); ``interrupt_all``
        interrupts it through ``con``.
        """
        from toolkit.cc5 import plan_import  # the engine is heavy: import it when needed

        return plan_import(source, con, expected_workspace=record.workspace_id,
                           max_bytes=self.config.max_file_bytes, progress=False)

    def run(self, record: FileRecord) -> FileRecord:
        """Process a file that is PROCESSING; returns its final record.

        Raises Interrupted when the service stops mid-way (the file stays
        PROCESSING and is picked up again on restart).
        """
        con = None
        try:
            with tempfile.TemporaryDirectory(prefix="toolkit-import-", dir=self.work_dir) as tmp:
                started = time.perf_counter()
                source = self._fetch(record, Path(tmp))
                log.info("file %s: fetched in %.2f s", record.file_id, time.perf_counter() - started)
                con = self.store.engine_connection()
                with self._guard:
                    self._active.add(con)
                return self._import(record, source, Path(tmp), con)
        except _Failure as failure:
            return self._fail(record, failure, con)
        except StateChanged as exc:
            log.warning("file %s: %s", record.file_id, exc)
            return self.store.get_file(record.file_id) or record
        except Exception as exc:
            if self.stopping:
                raise Interrupted(str(exc)) from exc
            log.exception("file %s: unexpected error while importing", record.file_id)
            return self._fail(record, _Failure("INTERNAL_ERROR", f"internal error: {type(exc).__name__}"), None)
        finally:
            if con is not None:
                with self._guard:
                    self._active.discard(con)
                con.close()

    def _fail(self, record: FileRecord, failure: _Failure, con: Any,
              rejected_key: str | None = None) -> FileRecord:
        if self.stopping:
            raise Interrupted(failure.message)
        log.info("file %s FAILED %s: %s", record.file_id, failure.code, failure.message)
        try:
            return self.store.fail_file(
                record, code=failure.code, message=failure.message, now=self.clock(),
                report=failure.report, max_findings=self.config.max_findings_per_file,
                rejected_key=rejected_key, failure_count=failure.failure_count, con=con,
            )
        except StateChanged:
            return self.store.get_file(record.file_id) or record

    def _fetch(self, record: FileRecord, tmp: Path) -> Path:
        limit = self.config.max_file_bytes
        try:
            info = self.storage.head(record.object_key)
        except StorageError as exc:
            raise _Failure("STORAGE_ERROR", str(exc)) from None
        if info is None:
            raise _Failure("FILE_NOT_UPLOADED", f"no object was uploaded to {record.file_path}")
        if record.size is None:  # imported before the upload watcher saw the object
            self.store.transition(record.file_id, from_statuses=(PROCESSING,), to_status=PROCESSING,
                                  size=info.size, uploaded_at=info.last_modified)
        if info.size == 0:
            raise _Failure("EMPTY_UPLOAD", _empty_upload_message(info))
        if info.size > limit:
            raise _Failure("FILE_TOO_LARGE", f"the file has {info.size} bytes; the limit is {limit}")
        # S3 stamps uploads with the wall clock, the record with the service's
        # clock (backdated by the demo): compare both on the service's clock.
        arrived = info.last_modified + (self.clock() - time.time())
        if record.expires_at is not None and arrived > record.expires_at + self.config.upload_grace_seconds:
            late = arrived - record.expires_at
            raise _Failure("URL_EXPIRED", f"the file arrived {late:.0f} s after its upload URL expired")
        dest = tmp / "upload.cc5txt"
        try:
            self.storage.download(record.object_key, dest, max_bytes=limit)
        except ObjectTooLarge:
            raise _Failure("FILE_TOO_LARGE", f"the file is larger than the limit of {limit} bytes") from None
        except StorageError as exc:
            raise _Failure("STORAGE_ERROR", str(exc)) from None
        return dest

    def _import(self, record: FileRecord, source: Path, tmp: Path, con: Any) -> FileRecord:
        started = time.perf_counter()
        plan = self._plan(record, source, con)
        log.info("file %s: planned in %.2f s", record.file_id, time.perf_counter() - started)
        try:
            report = plan.report
            record = record.replace(entity_type=plan.entity_type or record.entity_type)
            not_applied = int(report.data_rows) + int(report.delete_rows)
            try:
                rejected_key = self._store_rejected(record, report, tmp)
            except _Failure as failure:  # the file was read: its rows count as not applied
                failure.report, failure.failure_count = report, not_applied
                return self._fail(record, failure, con)
            if not report.importable:
                first = report.file_errors[0]
                refused = _Failure(first.code, _describe(first), report=report, failure_count=not_applied)
                return self._fail(record, refused, con, rejected_key)
            try:
                started = time.perf_counter()
                done = self.store.apply_import(
                    record, plan, con, clock=self.clock, rejected_key=rejected_key,
                    max_findings=self.config.max_findings_per_file,
                )
                log.info("file %s: applied in %.2f s", record.file_id, time.perf_counter() - started)
                return done
            except SchemaMismatch as exc:
                mismatch = _Failure("SCHEMA_MISMATCH", str(exc), report=report, failure_count=not_applied)
                return self._fail(record, mismatch, con, rejected_key)
        finally:
            # Findings may live in the plan's tables: _fail records them before this.
            plan.close()

    def _store_rejected(self, record: FileRecord, report: Any, tmp: Path) -> str | None:
        path = tmp / REJECTED_CSV
        report.write_rejected(path)
        if not path.exists():
            return None
        try:
            self.storage.put_file(record.rejected_object_key, path, content_type="text/csv")
        except StorageError as exc:
            raise _Failure("STORAGE_ERROR", str(exc)) from None
        return record.rejected_object_key

