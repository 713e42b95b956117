"""Wire shapes of the imports API (snake_case, UNIX-second times).

    >>> ImportsError.model_validate(error_body("NOT_FOUND", "File f_1 not found")).error.code
    'NOT_FOUND'
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from toolkit.service.config import WORKSPACE_PATTERN
from toolkit.service.portal_models import FILE_NAME_PATTERN
from toolkit.service.records import STATUSES, FileRecord
from toolkit.service.wire_types import JsonInt, JsonNumber, Status

__all__ = [
    "FAILURE_CODES", "imports_failure_code",
    "ErrorDetail", "ErrorBody", "ImportsError", "ImportRecord", "CreateUploadRequest",
    "CreateUploadResponse", "ListRequest", "ListResponse", "import_record", "error_body",
]


class ErrorDetail(BaseModel):
    """One invalid request field."""

    field: str
    code: str
    message: str


class ErrorBody(BaseModel):
    """What went wrong."""

    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ImportsError(BaseModel):
    """Every error answer of the imports API."""

    error: ErrorBody


# The imports API's documented failure codes, and which internal code maps to
# which (docs/api.md has the table); anything not named here is "unknown".
FAILURE_CODES = ("unparseable_file", "invalid_schema", "stream_not_configured", "unknown")
_FAILURE_CODE_OF = {
    **dict.fromkeys(("EMPTY_FILE", "NOT_UTF8", "MISSING_HEADER", "BAD_HEADER", "MISSING_FOOTER",
                     "FOOTER_COUNT_MISMATCH", "CONTENT_AFTER_FOOTER", "FILE_TOO_LARGE", "EMPTY_UPLOAD"),
                    "unparseable_file"),
    **dict.fromkeys(("MISSING_METADATA", "MISSING_KEYS", "MISSING_FIELDS", "UNKNOWN_TYPE", "DUPLICATE_FIELD",
                     "KEY_NOT_IN_FIELDS", "SCHEMA_MISMATCH"), "invalid_schema"),
    "WORKSPACE_MISMATCH": "stream_not_configured",
}


def imports_failure_code(code: str | None) -> str | None:
    """The imports API's ``failure_code`` for an internal failure code.

    >>> imports_failure_code("FOOTER_COUNT_MISMATCH"), imports_failure_code("STORAGE_ERROR")
    ('unparseable_file', 'unknown')
    """
    return None if code is None else _FAILURE_CODE_OF.get(code, "unknown")


def _ms(ts: float | None) -> float | None:
    return None if ts is None else round(ts, 3)


class ImportRecord(BaseModel):
    """The file record as the imports API shows it."""

    file_id: str
    file_name: str
    file_type: str
    stream_name: str
    entity_type: str | None
    date_created: float
    process_start_time: float | None
    process_end_time: float | None
    successful_count: int
    failure_count: int
    status: str = Field(json_schema_extra={"enum": list(STATUSES)})
    failure_code: str | None = Field(json_schema_extra={"enum": [*FAILURE_CODES, None]})
    failure_detail: str | None = Field(description="the service's precise failure code (docs/api.md)")
    failure_message: str | None
    size: int | None


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateUploadRequest(_Request):
    """Body of POST /v1/imports/pre-signed-url/create."""

    stream_name: str = Field(pattern=WORKSPACE_PATTERN, description="The workspace id")
    file_name: str = Field(pattern=FILE_NAME_PATTERN, max_length=255)


class CreateUploadResponse(BaseModel):
    """A pre-signed S3 POST: send ``fields`` as received, then ``file`` last."""

    file_id: str
    url: str
    fields: dict[str, str]
    expires_at: float


class ListRequest(_Request):
    """Body of POST /v1/imports/list."""

    created_after: JsonNumber | None = None
    created_before: JsonNumber | None = None
    statuses: list[Status] | None = Field(default=None, max_length=len(STATUSES))
    stream_names: list[str] | None = Field(default=None, max_length=1000)
    offset: JsonInt = Field(default=0, ge=0, le=1_000_000_000)
    limit: JsonInt = Field(default=1000, ge=1, le=1000)


class ListResponse(BaseModel):
    """One page of files, newest first, and the total count."""

    count: int
    offset: int
    limit: int
    files: list[ImportRecord]


def import_record(record: FileRecord) -> ImportRecord:
    """A record in the imports API's shape."""
    return ImportRecord(
        file_id=record.file_id, file_name=record.file_name, file_type=record.file_type,
        stream_name=record.workspace_id, entity_type=record.entity_type or None,
        date_created=_ms(record.date_created) or 0.0, process_start_time=_ms(record.process_start_time),
        process_end_time=_ms(record.process_end_time), successful_count=record.successful_count,
        failure_count=record.failure_count, status=record.status,
        failure_code=imports_failure_code(record.failure_code), failure_detail=record.failure_code,
        failure_message=record.failure_message, size=record.size,
    )


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The imports API's error body as JSON-ready data."""
    return {"error": {"code": code, "message": message, "details": details or []}}
