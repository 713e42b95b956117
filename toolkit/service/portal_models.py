"""Wire shapes of the portal API (field names exactly as documented).

    >>> PortalError.model_validate(error_body("NOT_FOUND", "File f_1 not found")).IsSuccess
    False
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from toolkit.service.config import WORKSPACE_PATTERN
from toolkit.service.records import STATUSES, FileRecord, iso_utc
from toolkit.service.wire_types import JsonInt, JsonNumber, Status

__all__ = [
    "FieldError", "ResponseStatus", "Envelope", "PortalError", "PortalFile", "FileData", "FileListData",
    "FilePathRequest", "ImportRequest", "FileListRequest", "portal_file", "error_body", "FILE_NAME_PATTERN",
]

T = TypeVar("T")
# A file name is one path segment: no slashes or control characters, not only dots.
# No separators, no C0/C1 control characters, no line/paragraph separators or
# bidi overrides, and not dots only ("." and ".."). Pydantic's regex engine has
# no look-ahead, hence the "one non-dot character" middle part.
_BANNED = "/\\\\" + "".join(map(chr, [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029,
                                        *range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
_NAME_CHAR = f"[^{_BANNED}]"
FILE_NAME_PATTERN = f"^{_NAME_CHAR}*[^{_BANNED}.]{_NAME_CHAR}*$"


class FieldError(BaseModel):
    """One invalid request field."""

    ErrorCode: str
    FieldName: str
    Message: str


class ResponseStatus(BaseModel):
    """Outcome of the call; ``StackTrace`` is always empty for clients."""

    ErrorCode: str = ""
    Message: str = ""
    StackTrace: str = ""
    Errors: list[FieldError] = Field(default_factory=list)


class Envelope(BaseModel, Generic[T]):
    """Every portal answer, success or error."""

    IsSuccess: bool
    ResponseStatus: ResponseStatus
    Data: T | None = None


class PortalError(BaseModel):
    """The error envelope (``IsSuccess`` false, ``Data`` null)."""

    IsSuccess: bool = False
    ResponseStatus: ResponseStatus
    Data: None = None


class PortalFile(BaseModel):
    """The file record as the portal shows it."""

    FileId: str
    FileName: str
    FileType: str
    WorkspaceId: str
    BucketId: str
    EntityType: str
    Folder: str
    Category: str
    Tags: list[str]
    Metadata: dict[str, Any]
    FilePath: str
    ActionId: str
    Description: str
    Status: str = Field(json_schema_extra={"enum": list(STATUSES)})
    FailureCode: str | None
    FailureMessage: str | None
    SuccessfulCount: int
    FailureCount: int
    Size: int | None
    DateCreated: str
    ProcessStartTime: str | None
    ProcessEndTime: str | None
    StreamName: str
    Url: str | None = Field(default=None, description="Import Data: a signed URL to download the cc5 file")


class FileData(BaseModel):
    """``Data`` of the file calls."""

    ActionId: str
    File: PortalFile
    FileId: str
    FilePath: str
    Url: str | None


class FileListData(BaseModel):
    """``Data`` of the list call."""

    Total: int
    Offset: int
    Limit: int
    Files: list[PortalFile]


class _Request(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FilePathRequest(_Request):
    """Body of POST /appfile/file/path."""

    # The X-Param-Override-WorkspaceId / -BucketId headers, when sent, win over these.
    WorkspaceId: str = Field(pattern=WORKSPACE_PATTERN)
    BucketId: str = Field(min_length=1, max_length=200)
    EntityType: str = Field(min_length=1, max_length=200)
    FileName: str = Field(pattern=FILE_NAME_PATTERN, max_length=255)
    Folder: str | None = Field(default=None, max_length=1000)
    Category: str | None = Field(default=None, max_length=200)
    Tags: list[str] | None = Field(default=None, max_length=100)
    Metadata: dict[str, Any] | None = None
    ActionId: str | None = Field(default=None, max_length=200)
    Description: str | None = Field(default=None, max_length=2000)


class ImportRequest(_Request):
    """Body of POST /appfile/file/import and /appdata/import/file/async."""

    ActionId: str | None = Field(default=None, max_length=200)
    Description: str | None = Field(default=None, max_length=2000)
    FileType: Literal["cc5"] = Field(description="Fixed value 'cc5'")
    FileId: str = Field(min_length=1, max_length=64)
    FilePath: str | None = Field(default=None, max_length=2000)


class FileListRequest(_Request):
    """Body of POST /appfile/file/list (an extension)."""

    WorkspaceIds: list[str] | None = Field(default=None, max_length=1000)
    Statuses: list[Status] | None = Field(default=None, max_length=len(STATUSES))
    CreatedAfter: JsonNumber | None = None
    CreatedBefore: JsonNumber | None = None
    Offset: JsonInt = Field(default=0, ge=0, le=1_000_000_000)
    Limit: JsonInt = Field(default=1000, ge=1, le=1000)


def portal_file(record: FileRecord, *, url: str | None = None) -> PortalFile:
    """A record in the portal's shape (``url``: where to download its file)."""
    return PortalFile(
        FileId=record.file_id, FileName=record.file_name, FileType=record.file_type,
        WorkspaceId=record.workspace_id, BucketId=record.bucket_id, EntityType=record.entity_type,
        Folder=record.folder, Category=record.category, Tags=record.tags, Metadata=record.metadata,
        FilePath=record.file_path, ActionId=record.action_id, Description=record.description,
        Status=record.status, FailureCode=record.failure_code, FailureMessage=record.failure_message,
        SuccessfulCount=record.successful_count, FailureCount=record.failure_count, Size=record.size,
        DateCreated=iso_utc(record.date_created) or "", ProcessStartTime=iso_utc(record.process_start_time),
        ProcessEndTime=iso_utc(record.process_end_time), StreamName=record.workspace_id, Url=url,
    )


def error_body(code: str, message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The portal's error envelope as JSON-ready data."""
    return {
        "IsSuccess": False,
        "ResponseStatus": {"ErrorCode": code, "Message": message, "StackTrace": "",
                           "Errors": errors or []},
        "Data": None,
    }
