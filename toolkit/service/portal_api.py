"""The portal API (seed 000): file path, import (sync and async), status,
list, delete, rejected rows and the JSON Import Data variant.
``x-api-key: <key>`` (``Authorization: Bearer <key>`` also works); the
``X-Param-Override-WorkspaceId`` / ``-BucketId`` headers win over the body's
workspace and bucket. Every answer is the envelope; a synchronous import
that ends FAILED answers ``IsSuccess: false`` with the file in ``Data``.

    >>> router.prefix == ""
    True
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from toolkit.errors import ApiError
from toolkit.service.config import WORKSPACE_RE, ApiKey
from toolkit.service.core import ImportService
from toolkit.service.import_data import ImportDataRequest
from toolkit.service.portal_models import (
    Envelope, FileData, FileListData, FileListRequest, FilePathRequest, ImportRequest, PortalError,
    ResponseStatus, portal_file,
)
from toolkit.service.records import FAILED, FileQuery, FileRecord

__all__ = ["router"]

_api_key = APIKeyHeader(name="x-api-key", scheme_name="x-api-key", auto_error=False,
                        description="The API key (the portal's header)")
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key> (an alternative)")
_WORKSPACE_HEADER = "x-param-override-workspaceid"
_BUCKET_HEADER = "x-param-override-bucketid"
_ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": PortalError} for status in (400, 401, 404, 409, 500)}
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
              "description": "line,error,<fields...> of the rejected rows"}, **_ERRORS}

router = APIRouter(tags=["portal"], responses=_ERRORS)


async def _service(request: Request) -> ImportService:
    return request.app.state.service


async def _key(
    request: Request,
    api_key: Annotated[str | None, Security(_api_key)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> ApiKey:
    presented = api_key or (credentials.credentials if credentials is not None else None)
    return request.app.state.service.authenticate(presented)


class Overrides:
    """The X-Param-Override-WorkspaceId / -BucketId headers (None when absent)."""

    def __init__(self, request: Request) -> None:
        self.workspace_id = request.headers.get(_WORKSPACE_HEADER) or None
        self.bucket_id = request.headers.get(_BUCKET_HEADER) or None
        if self.workspace_id is not None and not WORKSPACE_RE.match(self.workspace_id):
            raise _invalid("X-Param-Override-WorkspaceId", f"{self.workspace_id[:200]!r} is not a valid workspace id")
        if self.bucket_id is not None and len(self.bucket_id) > 200:
            raise _invalid("X-Param-Override-BucketId", "longer than 200 characters")


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(f"Invalid request: {field}: {message}", status_code=400, error_code="VALIDATION_ERROR",
                    errors=[{"field": field, "code": "INVALID", "message": message}])


Service = Annotated[ImportService, Depends(_service)]
Key = Annotated[ApiKey, Depends(_key)]
Override = Annotated[Overrides, Depends(Overrides)]
FileIdPath = Annotated[str, Path(max_length=200)]


def _envelope(record: FileRecord, *, url: str | None = None, action_id: str | None = None,
              ended: bool = False, file_url: str | None = None) -> Envelope[FileData]:
    """The answer for ``record``; ``ended`` (an import this call ran) makes a
    FAILED file an unsuccessful answer, with its failure code."""
    message, code = "", ""
    if record.status == FAILED:
        message = f"Import FAILED ({record.failure_code}): {record.failure_message or ''}".rstrip(": ")
        code = record.failure_code or "" if ended else ""
    data = FileData(ActionId=action_id or record.action_id, File=portal_file(record, url=file_url),
                    FileId=record.file_id, FilePath=record.file_path, Url=url)
    return Envelope[FileData](IsSuccess=not code, ResponseStatus=ResponseStatus(ErrorCode=code, Message=message),
                              Data=data)


@router.post("/appfile/file/path", response_model=Envelope[FileData], summary="Get a signed upload URL")
def get_file_path(body: FilePathRequest, service: Service, key: Key, override: Override) -> Envelope[FileData]:
    """Create a file record (PENDING_UPLOAD) and a pre-signed S3 PUT URL for it."""
    workspace, bucket = override.workspace_id or body.WorkspaceId, override.bucket_id or body.BucketId
    record, upload = service.create_upload(
        key, api="portal", workspace_id=workspace, file_name=body.FileName,
        bucket_id=bucket, entity_type=body.EntityType, folder=body.Folder or "",
        category=body.Category or "", tags=list(body.Tags or []), metadata=dict(body.Metadata or {}),
        action_id=body.ActionId, description=body.Description or "",
    )
    return _envelope(record, url=upload["url"])


@router.post("/appfile/file/import", response_model=Envelope[FileData], summary="Import an uploaded file")
def import_file(body: ImportRequest, service: Service, key: Key) -> Envelope[FileData]:
    """Run the import now and answer with the ended record (FINISHED or FAILED)."""
    record = service.trigger(key, body.FileId, wait=True, file_path=body.FilePath,
                             action_id=body.ActionId, description=body.Description)
    return _envelope(record, action_id=body.ActionId, ended=True)


@router.post("/appdata/import/file/async", response_model=Envelope[FileData],
             summary="Queue the import of an uploaded file")
def import_file_async(body: ImportRequest, service: Service, key: Key) -> Envelope[FileData]:
    """Queue the import and answer at once (``File.Status`` QUEUED)."""
    record = service.trigger(key, body.FileId, wait=False, file_path=body.FilePath,
                             action_id=body.ActionId, description=body.Description)
    return _envelope(record, action_id=body.ActionId)


@router.post("/appfile/file/import/data", response_model=Envelope[FileData],
             summary="Import the JSON form of a cc5 file")
def import_data(body: ImportDataRequest, service: Service, key: Key, override: Override) -> Envelope[FileData]:
    """Validate and apply an ImportData object with the same engine as files;
    ``Data.File.Url`` is a signed URL to download the cc5 file it became."""
    record = service.import_data(key, body.ImportData, workspace_id=override.workspace_id,
                                 bucket_id=override.bucket_id)
    return _envelope(record, ended=True, file_url=service.download_url(record))


@router.post("/appfile/file/list", response_model=Envelope[FileListData], summary="List files (extension)")
def list_files(service: Service, key: Key, override: Override,
               body: Annotated[FileListRequest | None, Body()] = None) -> Envelope[FileListData]:
    """Files this key may see, newest first, with the total count (no body: no filter;
    X-Param-Override-WorkspaceId: that workspace only)."""
    body = body or FileListRequest()
    workspaces = [override.workspace_id] if override.workspace_id else body.WorkspaceIds
    query = FileQuery(workspaces=workspaces, statuses=body.Statuses, created_after=body.CreatedAfter,
                      created_before=body.CreatedBefore, offset=body.Offset, limit=body.Limit)
    total, records = service.list(key, query)
    data = FileListData(Total=total, Offset=body.Offset, Limit=body.Limit,
                        Files=[portal_file(r) for r in records])
    return Envelope[FileListData](IsSuccess=True, ResponseStatus=ResponseStatus(), Data=data)


@router.get("/appfile/file/{FileId}", response_model=Envelope[FileData], summary="File status")
async def get_file(FileId: FileIdPath, service: Service, key: Key) -> Envelope[FileData]:  # noqa: N803
    """The file record and its status."""
    # The hot path of polling clients: answered on the event loop when the
    # record is in memory, from a worker thread otherwise.
    record = service.get_cached(key, FileId)
    if record is None:
        record = await run_in_threadpool(service.get, key, FileId)
    return _envelope(record)


@router.delete("/appfile/file/{FileId}", response_model=Envelope[FileData], summary="Delete a file")
def delete_file(FileId: FileIdPath, service: Service, key: Key) -> Envelope[FileData]:  # noqa: N803
    """Mark the file DELETED and remove its objects (rows already applied stay)."""
    return _envelope(service.delete(key, FileId))


@router.get("/appfile/file/{FileId}/rejected", response_class=StreamingResponse, responses=_CSV,
            summary="Rejected rows as CSV")
def rejected_rows(FileId: FileIdPath, service: Service, key: Key) -> StreamingResponse:  # noqa: N803
    """The rejected rows of an ended import: line, error codes and messages, values."""
    return StreamingResponse(service.rejected_rows(key, FileId), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{FileId}-rejected.csv"'})
