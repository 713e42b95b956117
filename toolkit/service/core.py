"""``ImportService``: what both APIs do, once, with key scoping. The HTTP
layers (portal_api, imports_api) only translate to and from their wire shapes.

A key never sees another workspace's files: such files answer NotFoundError
(404), exactly as files that do not exist.

    >>> svc = ImportService(config, store, storage, processor)          # doctest: +SKIP
    >>> key = svc.authenticate("local-key")                              # doctest: +SKIP
    >>> record, upload = svc.create_upload(key, api="imports", workspace_id="ws-eu",
    ...                                    file_name="c.cc5txt")         # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import re
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from toolkit.errors import ApiError, AuthenticationError, ConflictError, NotFoundError
from toolkit.service.config import ApiKey, ServiceConfig
from toolkit.service.import_data import ImportDataDoc, to_cc5_text
from toolkit.service.processing import Interrupted, Processor
from toolkit.service.records import (
    ADDED, DELETED, FAILED, FINISHED, PENDING_UPLOAD, PROCESSING, QUEUED, FileQuery, FileRecord,
)
from toolkit.service.storage import ObjectInfo, ObjectStorage, StorageError
from toolkit.service.store import Store

__all__ = ["ImportService"]

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_LOOKUP_BATCH = 1000  # object keys per store look-up of the upload watcher
_CLOCK_SLACK = 300.0  # seconds S3's clock may differ from ours
# How often a synchronous import waiting for earlier files of its workspace looks again.
_ORDER_POLL_SECONDS = 0.05
log = logging.getLogger("toolkit.service")


def _internal(message: str) -> ApiError:
    return ApiError(message, status_code=500, error_code="INTERNAL_ERROR")


class ImportService:
    """The domain operations behind both APIs."""

    def __init__(self, config: ServiceConfig, store: Store, storage: ObjectStorage,
                 processor: Processor, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.store = store
        self.storage = storage
        self.processor = processor
        self.clock = clock
        self.on_queued: Callable[[], None] = lambda: None  # the worker sets this
        self._checked_keys: dict[str, float] = {}  # upload watcher: object key -> its last-modified
        self._last_check: dict[str, float] = {}  # on-demand upload checks: file id -> monotonic time

    # -- keys ----------------------------------------------------------------
    def authenticate(self, presented: str | None) -> ApiKey:
        """The configured key matching ``presented``; AuthenticationError (401) otherwise."""
        if not presented:
            raise AuthenticationError("Missing API key", status_code=401, error_code="UNAUTHORIZED")
        found = None
        for candidate, api_key in self.config.api_keys.items():
            if hmac.compare_digest(candidate.encode(), presented.encode()):
                found = api_key
        if found is None:
            raise AuthenticationError("Unknown API key", status_code=401, error_code="UNAUTHORIZED")
        return found

    @staticmethod
    def _not_found(file_id: str) -> NotFoundError:
        return NotFoundError(f"File {file_id} not found", status_code=404, error_code="NOT_FOUND")

    def _require_workspace(self, key: ApiKey, workspace_id: str) -> None:
        if not key.allows(workspace_id):
            raise NotFoundError(f"Workspace {workspace_id} not found", status_code=404, error_code="NOT_FOUND")

    # -- reads ---------------------------------------------------------------
    def get(self, key: ApiKey, file_id: str) -> FileRecord:
        """The record, if it exists and the key may see it."""
        record = self.store.get_file(file_id) if len(file_id) <= 64 else None
        if record is None or not key.allows(record.workspace_id):
            raise self._not_found(file_id)
        if record.status == PENDING_UPLOAD:
            record = self._check_upload(record)
        return record

    def get_cached(self, key: ApiKey, file_id: str) -> FileRecord | None:
        """Like ``get`` when the record is in memory (no I/O: safe on the event
        loop); None means "ask ``get``"."""
        record = self.store.cached_file(file_id)
        if record is not None and not key.allows(record.workspace_id):
            raise self._not_found(file_id)
        if record is not None and record.status == PENDING_UPLOAD:
            return None  # ``get`` checks whether its upload landed (I/O)
        return record

    def list(self, key: ApiKey, query: FileQuery) -> tuple[int, list[FileRecord]]:
        """(total, page) of the files this key may see among those asked for."""
        visible = key.visible(query.workspaces)
        if visible is not None and not visible:
            return 0, []
        query.workspaces = visible
        return self.store.list_files(query)

    # -- uploads -------------------------------------------------------------
    def create_upload(self, key: ApiKey, *, api: str, workspace_id: str, file_name: str,
                      **fields: Any) -> tuple[FileRecord, dict[str, Any]]:
        """A new PENDING_UPLOAD record and how to upload it: ``{"url"}`` (a PUT
        URL, portal) or ``{"url", "fields"}`` (a POST form, imports API)."""
        self._require_workspace(key, workspace_id)
        now = self.clock()
        expiry = self.config.url_expiry_seconds
        record = FileRecord.new(api=api, workspace_id=workspace_id, file_name=file_name,
                                bucket=self.storage.bucket, now=now, expires_at=now + expiry, **fields)
        try:
            if api == "imports":
                upload = self.storage.presigned_post(record.object_key, expires_in=expiry,
                                                     max_bytes=self.config.max_file_bytes)
            else:
                upload = {"url": self.storage.presigned_put(record.object_key, expires_in=expiry)}
        except Exception as exc:  # noqa: BLE001 - signing is local; any failure is ours
            log.exception("signing an upload URL failed")
            raise _internal(f"Cannot sign an upload URL: {type(exc).__name__}") from None
        self.store.create_file(record)
        return record, upload

    def download_url(self, record: FileRecord) -> str | None:
        """A signed URL to download the file's object (None if signing fails)."""
        try:
            return self.storage.presigned_get(record.object_key, expires_in=self.config.url_expiry_seconds)
        except Exception:  # noqa: BLE001 - signing is local; the answer just lacks the URL
            log.exception("signing a download URL failed")
            return None

    def poll_uploads(self) -> int:
        """One pass of the upload watcher; returns how many files changed.

        One paginated listing of the bucket (ListObjectsV2), whatever the
        number of PENDING_UPLOAD files; objects not seen before that may
        belong to a file still waiting for its upload are looked up in the
        store by key, 1,000 at a time: those files become QUEUED (imports
        API) or ADDED (portal). Files still waiting after their URL's expiry
        and grace are checked once more (HeadObject) and FAIL with
        URL_EXPIRED. Only one thread may call it (the watcher; tests).
        """
        changed = 0
        now = self.clock()
        # An object that matters was uploaded after its file was created, and a
        # file older than expiry + grace is handled by the expiry pass below.
        horizon = now - self.config.url_expiry_seconds - self.config.upload_grace_seconds - _CLOCK_SLACK
        fresh: dict[str, ObjectInfo] = {}
        try:
            for key, info in self.storage.list_objects():
                if info.last_modified >= horizon and key not in self._checked_keys:
                    fresh[key] = info
        except StorageError as exc:
            log.warning("upload watcher: %s", exc)
            return changed
        keys = list(fresh)
        for first in range(0, len(keys), _LOOKUP_BATCH):
            chunk = keys[first:first + _LOOKUP_BATCH]
            for record in self.store.pending_uploads(object_keys=chunk, limit=len(chunk)):
                changed += self._uploaded(record, fresh[record.object_key]) is not None
        # Remember the keys looked at (until they pass the horizon): the next
        # pass looks up only new objects.
        self._checked_keys = {k: t for k, t in self._checked_keys.items() if t >= horizon}
        self._checked_keys.update((k, info.last_modified) for k, info in fresh.items())
        expired = self.store.pending_uploads(expired_before=now - self.config.upload_grace_seconds, limit=1000)
        for record in expired:
            try:
                landed = self.storage.head(record.object_key)
            except StorageError as exc:
                log.warning("upload watcher: %s", exc)
                return changed
            if landed is not None:  # arrived meanwhile: the import decides whether it was too late
                changed += self._uploaded(record, landed) is not None
                continue
            done = self.store.transition(
                record.file_id, from_statuses=(PENDING_UPLOAD,), to_status=FAILED,
                failure_code="URL_EXPIRED", process_end_time=self.clock(),
                failure_message="the upload URL expired before a file was uploaded")
            changed += done is not None
        return changed

    def _uploaded(self, record: FileRecord, info: ObjectInfo) -> FileRecord | None:
        """Move a PENDING_UPLOAD file whose object exists on: QUEUED (imports
        API) or ADDED (portal); None if it had moved on already."""
        target = QUEUED if record.api == "imports" else ADDED
        extra = {"queued_at": self.clock()} if target == QUEUED else {}
        done = self.store.transition(record.file_id, from_statuses=(PENDING_UPLOAD,), to_status=target,
                                     size=info.size, uploaded_at=info.last_modified, **extra)
        if done is not None and target == QUEUED:
            self.on_queued()
        return done

    def _check_upload(self, record: FileRecord) -> FileRecord:
        """On demand (a status look-up of a PENDING_UPLOAD file): has its object
        landed? A HeadObject, so a client sees its upload without waiting for
        the watcher; but at most one per tenth of the file's age (and 30 s), so
        clients polling files that never get uploaded cost S3 little."""
        now = time.monotonic()
        age = max(0.0, self.clock() - record.date_created)
        if now - self._last_check.get(record.file_id, -1e18) < min(30.0, 0.1 * age):
            return record
        if len(self._last_check) >= 100_000:
            self._last_check.clear()
        self._last_check[record.file_id] = now
        try:
            info = self.storage.head(record.object_key)
        except StorageError as exc:
            log.warning("upload check of %s: %s", record.file_id, exc)
            return record
        if info is None:
            return record
        return self._uploaded(record, info) or self.store.get_file(record.file_id) or record

    # -- imports ---------------------------------------------------------------
    def trigger(self, key: ApiKey, file_id: str, *, wait: bool, file_path: str | None = None,
                action_id: str | None = None, description: str | None = None) -> FileRecord:
        """Start the import of an uploaded file (portal). ``wait`` runs it now and
        returns the finished record; otherwise it is QUEUED for the worker."""
        record = self.get(key, file_id)
        if file_path and file_path != record.file_path:
            # The (FileId, FilePath) pair names no file: 404, like an unknown id.
            raise NotFoundError(f"File {file_id} has no FilePath {file_path!r}; its path is {record.file_path}",
                                status_code=404, error_code="NOT_FOUND")
        if record.status not in (PENDING_UPLOAD, ADDED):
            raise ConflictError(f"File {file_id} is {record.status}: its import was already triggered",
                                status_code=409, error_code="CONFLICT")
        changes: dict[str, Any] = {}
        if action_id:
            changes["action_id"] = action_id
        if description:
            changes["description"] = description
        # Both kinds join the queue, so files of a workspace apply in trigger order.
        changes["queued_at"] = self.clock()
        updated = self.store.transition(file_id, from_statuses=(PENDING_UPLOAD, ADDED), to_status=QUEUED,
                                        **changes)
        if updated is None:  # someone else moved it meanwhile
            current = self.get(key, file_id)
            raise ConflictError(f"File {file_id} is {current.status}: its import was already triggered",
                                status_code=409, error_code="CONFLICT")
        if not wait:
            self.on_queued()
            return updated
        if self.store.shared:  # imports run in the workers only (any process): wait for the end
            self.on_queued()
            return self._await_end(updated)
        return self._run_in_order(updated)

    def _await_end(self, record: FileRecord) -> FileRecord:
        """Wait (at most ``sync_wait_seconds``) until a worker has ended the
        import of a QUEUED file; its record then (or as it is at the deadline)."""
        deadline = time.monotonic() + self.config.sync_wait_seconds
        pause = 0.02
        while record.status in (QUEUED, PROCESSING) and time.monotonic() < deadline:
            time.sleep(pause)
            pause = min(0.25, pause * 1.5)
            record = self.store.get_file(record.file_id) or record
        return record

    def _run_in_order(self, record: FileRecord) -> FileRecord:
        """Run a QUEUED file in this thread once every file of its workspace
        queued before it has ended (or let the worker run it, if it claims it
        first); returns the ended record."""
        while True:
            current = self.store.get_file(record.file_id) or record
            if current.status not in (QUEUED, PROCESSING):
                return current
            if current.status == QUEUED and not self._earlier_work(current):
                claimed = self.store.transition(
                    record.file_id, from_statuses=(QUEUED,), to_status=PROCESSING,
                    process_start_time=self.clock(), attempts=current.attempts + 1)
                if claimed is not None:
                    return self.processor.run(claimed)
            if self.processor.stopping:
                raise Interrupted("the service is stopping")
            time.sleep(_ORDER_POLL_SECONDS)

    def _earlier_work(self, record: FileRecord) -> bool:
        """Whether a file of the same workspace is PROCESSING, or QUEUED before ``record``."""
        _, busy = self.store.list_files(FileQuery(workspaces=[record.workspace_id],
                                                  statuses=[QUEUED, PROCESSING], limit=1000))
        mine = (record.queued_at or 0.0, record.date_created, record.file_id)
        return any(other.file_id != record.file_id and (
            other.status == PROCESSING or (other.queued_at or 0.0, other.date_created, other.file_id) < mine)
            for other in busy)

    def import_data(self, key: ApiKey, doc: ImportDataDoc, *, workspace_id: str | None = None,
                    bucket_id: str | None = None) -> FileRecord:
        """Import the JSON form of a cc5 file now (same engine, same records).
        ``workspace_id``/``bucket_id`` (the override headers) win over the metadata's."""
        meta = doc.header.metadata
        workspace = workspace_id or meta.workspaceId
        self._require_workspace(key, workspace)
        # The instance id names the file (and its S3 key): keep it to safe characters.
        reference = doc.InstanceId
        if "/" in reference or "\\" in reference:  # a path, not a name: don't half-keep it
            reference = ""
        reference = _UNSAFE_NAME_CHARS.sub("_", reference)[:200].strip("._")
        name = f"{reference or 'import-data'}.cc5txt"
        now = self.clock()
        created = time.strftime("%Y%m%d%H%M%S", time.gmtime(now))
        body = to_cc5_text(doc, workspace_id=workspace, bucket_id=bucket_id, create_time=created).encode("utf-8")
        record = FileRecord.new(api="data", workspace_id=workspace, file_name=name,
                                bucket=self.storage.bucket, now=now, status=QUEUED, queued_at=now,
                                entity_type=meta.entityType, bucket_id=bucket_id or meta.bucketId,
                                size=len(body), uploaded_at=now)
        try:
            self.storage.put_bytes(record.object_key, body, content_type="text/plain; charset=utf-8")
        except StorageError as exc:
            log.error("ImportData upload failed: %s", exc)
            raise _internal("Cannot store the data in S3; try again later") from None
        self.store.create_file(record)
        if self.store.shared:  # see trigger: the workers import it
            self.on_queued()
            return self._await_end(record)
        return self._run_in_order(record)

    # -- deletion and rejected rows -----------------------------------------
    def delete(self, key: ApiKey, file_id: str) -> FileRecord:
        """Mark the file DELETED and remove its objects (idempotent)."""
        record = self.get(key, file_id)
        if record.status == PROCESSING:
            raise ConflictError(f"File {file_id} is being imported; delete it once it has ended",
                                status_code=409, error_code="CONFLICT")
        if record.status != DELETED:
            others = (PENDING_UPLOAD, ADDED, QUEUED, FINISHED, FAILED)
            updated = self.store.transition(file_id, from_statuses=others, to_status=DELETED)
            if updated is None:
                return self.delete(key, file_id)  # it moved on meanwhile: decide again
            record = updated
        try:
            self.storage.delete(record.object_key)
            if record.rejected_key:
                self.storage.delete(record.rejected_key)
        except StorageError as exc:
            log.error("deleting the objects of %s failed: %s", file_id, exc)
            raise _internal(f"File {file_id} is DELETED but its objects could not be removed; "
                            "repeat the request") from None
        return record

    def rejected_rows(self, key: ApiKey, file_id: str) -> Iterator[bytes]:
        """The rejected-rows CSV of an ended import, as chunks of bytes."""
        record = self.get(key, file_id)
        if record.status not in (FINISHED, FAILED):
            raise ConflictError(f"File {file_id} is {record.status}: rejected rows exist once its import "
                                "has ended (FINISHED or FAILED)", status_code=409, error_code="CONFLICT")
        if not record.rejected_key:
            return iter([b"line,error\n"])
        chunks = self.storage.iter_object(record.rejected_key)
        try:
            first = next(chunks, b"")
        except StorageError as exc:
            log.error("reading rejected rows of %s failed: %s", file_id, exc)
            raise _internal(f"Cannot read the rejected rows of {file_id} from storage") from None

        def stream() -> Iterator[bytes]:
            yield first
            yield from chunks

        return stream()
