"""File records of both APIs in one shape, and the result of ``import_file``.

Both APIs' records become an :class:`ImportRecord` with the imports API's
snake_case names and timezone-aware UTC datetimes:

    >>> record = record_from_portal({"FileId": "f_1", "Status": "FINISHED",
    ...     "WorkspaceId": "ws-eu", "SuccessfulCount": 2, "FailureCount": 1,
    ...     "DateCreated": "2026-11-22T10:30:00Z"})
    >>> record.file_id, record.workspace, record.failure_count, record.date_created.isoformat()
    ('f_1', 'ws-eu', 1, '2026-11-22T10:30:00+00:00')
    >>> record_from_imports({"file_id": "f_1", "status": "QUEUED", "date_created": 0}).is_terminal
    False
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from toolkit.client.times import parse_api_time
from toolkit.errors import ApiError
from toolkit.statuses import TERMINAL_STATUSES  # re-exported

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

__all__ = [
    "ImportRecord",
    "ImportResult",
    "RECORD_COLUMNS",
    "TERMINAL_STATUSES",
    "record_from_portal",
    "record_from_imports",
    "records_to_frame",
    "rejected_csv_to_frame",
    "CsvRowCounter",
    "describe_failure",
]


# Column name -> pandas dtype of list_imports' DataFrame, in display order.
RECORD_COLUMNS: dict[str, str] = {
    "file_id": "string",
    "file_name": "string",
    "file_type": "string",
    "stream_name": "string",
    "entity_type": "string",
    "status": "string",
    "failure_code": "string",
    "failure_detail": "string",
    "successful_count": "Int64",
    "failure_count": "Int64",
    "size": "Int64",
    "date_created": "datetime64[us, UTC]",
    "process_start_time": "datetime64[us, UTC]",
    "process_end_time": "datetime64[us, UTC]",
}

# What each failure code means for the person reading the error.
_FAILURE_HINTS: dict[str, str] = {
    "FILE_NOT_UPLOADED": "no uploaded file was found when the import ran",
    "FILE_TOO_LARGE": "the uploaded file is over the service's size limit",
    "URL_EXPIRED": "the upload URL expired before the file arrived; request a new upload and try again",
    "WORKSPACE_MISMATCH": "the file's 01 row names another workspace than the one the upload was for",
    "SCHEMA_MISMATCH": "the file's keys or field types disagree with the data already imported",
    "STORAGE_ERROR": "the service could not read or write storage",
    "INTERNAL_ERROR": "the service failed unexpectedly",
    "EMPTY_UPLOAD": "the uploaded object is empty; upload with Content-Type: application/octet-stream",
    "TOO_MANY_ATTEMPTS": "the service stopped or crashed during every attempt to import the file",
}


@dataclass(frozen=True)
class ImportRecord:
    """One file's import record, the same for both APIs.

    >>> ImportRecord(file_id="f_1", status="FAILED", failure_code="URL_EXPIRED").is_terminal
    True
    """

    file_id: str
    status: str
    file_name: str | None = None
    file_type: str | None = None
    stream_name: str | None = None
    entity_type: str | None = None
    date_created: datetime | None = None
    process_start_time: datetime | None = None
    process_end_time: datetime | None = None
    successful_count: int = 0
    failure_count: int = 0
    failure_code: str | None = None
    size: int | None = None
    file_path: str | None = None
    # The service's precise failure code: the portal's FailureCode; on the imports
    # API, whose failure_code is one of four documented values, its failure_detail.
    failure_detail: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def workspace(self) -> str | None:
        """The workspace id (the imports API calls it ``stream_name``)."""
        return self.stream_name

    @property
    def is_terminal(self) -> bool:
        """True once the import has ended: FINISHED, FAILED or DELETED."""
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict with the :data:`RECORD_COLUMNS` keys."""
        return {name: getattr(self, name) for name in RECORD_COLUMNS}


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _count(value: Any, name: str, file_id: Any) -> int:
    if value is None or value == "":
        return 0
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(f"The API sent an unreadable {name} {value!r} for file {file_id}") from None


def _time(value: Any, name: str, file_id: Any) -> datetime | None:
    try:
        return parse_api_time(value)
    except ValueError:
        raise ApiError(f"The API sent an unreadable {name} {value!r} for file {file_id}") from None


def _record(raw: Mapping[str, Any], names: Mapping[str, str]) -> ImportRecord:
    """Build a record from ``raw`` whose keys are ``names[our name]``."""
    if not isinstance(raw, Mapping):
        raise ApiError(f"The API sent a file record that is not an object: {raw!r:.200}")
    file_id = raw.get(names["file_id"])
    if not file_id:
        raise ApiError(f"The API sent a file record without {names['file_id']}: {dict(raw)!r:.200}")

    def get(ours: str) -> Any:
        return raw.get(names[ours])

    size = get("size")
    return ImportRecord(
        file_id=str(file_id),
        status=str(get("status") or "").upper(),
        file_name=_text(get("file_name")),
        file_type=_text(get("file_type")),
        stream_name=_text(get("stream_name")),
        entity_type=_text(get("entity_type")),
        date_created=_time(get("date_created"), names["date_created"], file_id),
        process_start_time=_time(get("process_start_time"), names["process_start_time"], file_id),
        process_end_time=_time(get("process_end_time"), names["process_end_time"], file_id),
        successful_count=_count(get("successful_count"), names["successful_count"], file_id),
        failure_count=_count(get("failure_count"), names["failure_count"], file_id),
        failure_code=_text(get("failure_code")),
        size=None if size in (None, "") else _count(size, names["size"], file_id),
        file_path=_text(get("file_path")),
        failure_detail=_text(get("failure_detail")),
        raw=dict(raw),
    )


_PORTAL_NAMES = {
    "file_id": "FileId",
    "status": "Status",
    "file_name": "FileName",
    "file_type": "FileType",
    "stream_name": "StreamName",
    "entity_type": "EntityType",
    "date_created": "DateCreated",
    "process_start_time": "ProcessStartTime",
    "process_end_time": "ProcessEndTime",
    "successful_count": "SuccessfulCount",
    "failure_count": "FailureCount",
    "failure_code": "FailureCode",
    "size": "Size",
    "file_path": "FilePath",
    "failure_detail": "FailureCode",  # the portal's codes are the precise ones
}
_IMPORTS_NAMES = {name: name for name in _PORTAL_NAMES}


def record_from_portal(raw: Mapping[str, Any]) -> ImportRecord:
    """Normalise a portal API ``File`` object (PascalCase, ISO times).

    >>> record_from_portal({"FileId": "f_1", "Status": "ADDED", "StreamName": "ws"}).stream_name
    'ws'
    """
    if isinstance(raw, Mapping) and not raw.get("StreamName") and raw.get("WorkspaceId"):
        raw = {**raw, "StreamName": raw["WorkspaceId"]}
    return _record(raw, _PORTAL_NAMES)


def record_from_imports(raw: Mapping[str, Any]) -> ImportRecord:
    """Normalise an imports API file record (snake_case, UNIX seconds).

    >>> record_from_imports({"file_id": "f_1", "status": "queued"}).status
    'QUEUED'
    """
    return _record(raw, _IMPORTS_NAMES)


def records_to_frame(records: Iterable[ImportRecord]) -> "pd.DataFrame":
    """A DataFrame with the :data:`RECORD_COLUMNS` columns and dtypes (also when empty).

    >>> list(records_to_frame([]).columns)[:3]
    ['file_id', 'file_name', 'file_type']
    """
    import pandas as pd

    rows = [record.to_dict() for record in records]
    frame = pd.DataFrame.from_records(rows, columns=list(RECORD_COLUMNS))
    return frame.astype(RECORD_COLUMNS)


def rejected_csv_to_frame(text: str) -> "pd.DataFrame":
    """Read the service's rejected-rows CSV (``line,error,<fields>...``) as strings.

    A row with the wrong field count keeps what it has: short rows are padded
    with missing values, extra values go to ``extra_1``, ``extra_2``...

        >>> frame = rejected_csv_to_frame("line,error,code\\n5,FIELD_COUNT: 2 values,C1,x\\n")
        >>> list(frame.columns), int(frame.loc[0, "line"])
        (['line', 'error', 'code', 'extra_1'], 5)
    """
    import pandas as pd

    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return pd.DataFrame({"line": pd.Series(dtype="Int64"), "error": pd.Series(dtype="string")})
    header, body = rows[0], rows[1:]
    width = max([len(header), *(len(row) for row in body)])
    columns = header + [f"extra_{i}" for i in range(1, width - len(header) + 1)]
    padded = [row + [None] * (width - len(row)) for row in body]
    frame = pd.DataFrame(padded, columns=columns, dtype="string")
    if "line" in frame.columns:
        frame["line"] = pd.to_numeric(frame["line"], errors="coerce").astype("Int64")
    return frame


class CsvRowCounter:
    """Counts CSV records (not lines: quoted values may hold line breaks) chunk by chunk.

    >>> counter = CsvRowCounter()
    >>> for chunk in (b'line,error\\n1,"a', b'\\nb"\\n2,c\\n'):
    ...     counter.feed(chunk)
    >>> counter.rows
    2
    """

    def __init__(self) -> None:
        self.records = 0
        self.in_quotes = False
        self.pending = False  # data after the last record end

    def feed(self, chunk: bytes) -> None:
        parts = chunk.split(b'"')
        for i, part in enumerate(parts):
            ends = 0 if self.in_quotes else part.count(b"\n")
            if ends:
                self.records += ends
                self.pending = not part.endswith(b"\n")
            elif part:
                self.pending = True
            if i < len(parts) - 1:  # a quote character follows this part
                self.in_quotes = not self.in_quotes
                self.pending = True

    @property
    def rows(self) -> int:
        """Data rows: records minus the header line."""
        return max(0, self.records + (1 if self.pending else 0) - 1)


def describe_failure(record: ImportRecord) -> str:
    """A one-line explanation of a FAILED or DELETED record.

    >>> describe_failure(ImportRecord(file_id="f_1", status="FAILED", failure_code="FILE_TOO_LARGE"))
    "Import of file f_1 FAILED with FILE_TOO_LARGE: the uploaded file is over the service's size limit"
    """
    name = f"{record.file_name} (file {record.file_id})" if record.file_name else f"file {record.file_id}"
    if record.status == "DELETED":
        return f"Import of {name} ended DELETED: the file was deleted before it finished"
    precise = record.failure_detail or record.failure_code
    code = record.failure_code or "no failure code"
    if precise and precise != record.failure_code:
        code = f"{code} ({precise})"
    hint = _FAILURE_HINTS.get(precise or "")
    if hint is None and precise:
        hint = "the file has file-level errors (run `toolkit validate` on it for lines and fields)"
    return f"Import of {name} {record.status} with {code}" + (f": {hint}" if hint else "")


@dataclass(frozen=True)
class ImportResult:
    """What ``import_file`` returns: the final record plus client-side timings.

    ``validate_seconds``, ``convert_seconds``, ``upload_seconds`` and
    ``wait_seconds`` are measured by the client (``None`` when the step did
    not run); ``date_created``, ``process_start_time`` and
    ``process_end_time`` come from the service. ``validation`` is the local
    validation report as a dict (``ValidationReport.to_dict``: summary,
    counts, the first findings).

        >>> result = ImportResult(record=ImportRecord(file_id="f_1", status="FINISHED",
        ...     successful_count=3), api="imports")
        >>> result.file_id, result.status, result.successful_count, result.ok
        ('f_1', 'FINISHED', 3, True)
    """

    record: ImportRecord
    api: str
    path: str | None = None
    bytes_uploaded: int = 0
    validate_seconds: float | None = None
    convert_seconds: float | None = None
    upload_seconds: float | None = None
    wait_seconds: float | None = None
    total_seconds: float | None = None
    validation: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    file_id = property(lambda self: self.record.file_id, doc="The service's file id.")
    status = property(lambda self: self.record.status, doc="The record's status.")
    successful_count = property(lambda self: self.record.successful_count, doc="Rows applied.")
    failure_count = property(lambda self: self.record.failure_count, doc="Rows rejected.")
    failure_code = property(lambda self: self.record.failure_code, doc="Why it FAILED, or None.")
    date_created = property(lambda self: self.record.date_created, doc="When the upload was requested (UTC).")
    process_start_time = property(lambda self: self.record.process_start_time, doc="Processing start (UTC).")
    process_end_time = property(lambda self: self.record.process_end_time, doc="Processing end (UTC).")

    @property
    def ok(self) -> bool:
        """True when the import FINISHED (rows may still have been rejected)."""
        return self.record.status == "FINISHED"

    @property
    def processing_seconds(self) -> float | None:
        """Server-side processing time, from the record's start and end times."""
        start, end = self.record.process_start_time, self.record.process_end_time
        return (end - start).total_seconds() if start and end else None

    def summary(self) -> str:
        """One line for a terminal or a notebook.

        >>> ImportResult(record=ImportRecord(file_id="f_1", status="FINISHED",
        ...     successful_count=3, failure_count=1), api="portal").summary()
        'f_1 FINISHED: 3 rows applied, 1 rejected'
        """
        if self.record.status in ("FAILED", "DELETED"):
            return describe_failure(self.record)
        if self.record.status == "FINISHED":
            return f"{self.file_id} FINISHED: {self.successful_count} rows applied, {self.failure_count} rejected"
        return f"{self.file_id} {self.status}"

    def _repr_html_(self) -> str:
        """Jupyter: status, counts, failure code and the local validation (``toolkit._html``)."""
        from toolkit._html import result_html

        return result_html(self)

    def to_dict(self) -> dict[str, Any]:
        """Record fields plus timings, for JSON output."""
        return {
            **self.record.to_dict(),
            "api": self.api,
            "path": self.path,
            "bytes_uploaded": self.bytes_uploaded,
            "validate_seconds": self.validate_seconds,
            "convert_seconds": self.convert_seconds,
            "upload_seconds": self.upload_seconds,
            "wait_seconds": self.wait_seconds,
            "total_seconds": self.total_seconds,
        }
