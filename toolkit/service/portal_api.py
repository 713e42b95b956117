"""The portal API (seed 000): file path, import (sync and async), status,
list, delete, rejected rows and the JSON ImportData variant.
``Authorization: Bearer <key>``; every answer is the envelope.

    >>> router.prefix == ""
    True
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from toolkit.service.config import ApiKey
from toolkit.service.core import ImportService
from toolkit.service.import_data import ImportData
from toolkit.service.portal_models import (
    Envelope, FileData, FileListData, FileListRequest, FilePathRequest, ImportRequest, PortalError,
    ResponseStatus, portal_file,
)
from toolkit.service.records import FAILED, FileQuery, FileRecord

__all__ = ["router"]

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <API key>")
_ERRORS = {status: {"model": PortalError} for status in (400, 401, 404, 409, 500)}
_CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
              "description": "line,error,<fields...> of the rejected rows"}, **_ERRORS}

router = APIRouter(tags=["portal"], responses=_ERRORS)


async def _service(request: Request) -> ImportService:
    return request.app.state.service


async def _key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> ApiKey:
    presented = credentials.credentials if credentials is not None else None
    return request.app.state.service.authenticate(presented)


Service = Annotated[ImportService, Depends(_service)]
Key = Annotated[ApiKey, Depends(_key)]
FileIdPath = Annotated[str, Path(max_length=200)]


def _envelope(record: FileRecord, *, url: str | None = None, action_id: str | None = None) -> Envelope[FileData]:
    message = ""
    if record.status == FAILED:
        message = f"Import FAILED ({record.failure_code}): {record.failure_message or ''}".rstrip(": ")
    data = FileData(ActionId=action_id or record.action_id, File=portal_file(record), FileId=record.file_id,
                    FilePath=record.file_path, Url=url)
    return Envelope[FileData](IsSuccess=True, ResponseStatus=ResponseStatus(Message=message), Data=data)


@router.post("/appfile/file/path", response_model=Envelope[FileData], summary="Get a signed upload URL")
def get_file_path(body: FilePathRequest, service: Service, key: Key) -> Envelope[FileData]:
    """Create a file record (PENDING_UPLOAD) and a pre-signed S3 PUT URL for it."""
    record, upload = service.create_upload(
        key, api="portal", workspace_id=body.WorkspaceId, file_name=body.FileName,
        bucket_id=body.BucketId, entity_type=body.EntityType, folder=body.Folder or "",
        category=body.Category or "", tags=list(body.Tags or []), metadata=dict(body.Metadata or {}),
        action_id=body.ActionId, description=body.Description or "",
    )
    return _envelope(record, url=upload["url"])


@router.post("/appfile/file/import", response_model=Envelope[FileData], summary="Import an uploaded file")
def import_file(body: ImportRequest, service: Service, key: Key) -> Envelope[FileData]:
    """Run the import now and answer with the ended record (FINISHED or FAILED)."""
    record = service.trigger(key, body.FileId, wait=True, file_path=body.FilePath,
                             action_id=body.ActionId, description=body.Description)
    return _envelope(record, action_id=body.ActionId)


@router.post("/appdata/import/file/async", response_model=Envelope[FileData],
             summary="Queue the import of an uploaded file")
def import_file_async(body: ImportRequest, service: Service, key: Key) -> Envelope[FileData]:
    """Queue the import and answer at once (``File.Status`` QUEUED)."""
    record = service.trigger(key, body.FileId, wait=False, file_path=body.FilePath,
                             action_id=body.ActionId, description=body.Description)
    return _envelope(record, action_id=body.ActionId)


@router.post("/appfile/file/import/data", response_model=Envelope[FileData],
             summary="Import the JSON form of a cc5 file")
def import_data(body: ImportData, service: Service, key: Key) -> Envelope[FileData]:
    """Validate and apply an ImportData object with the same engine as files."""
    return _envelope(service.import_data(key, body))


@router.post("/appfile/file/list", response_model=Envelope[FileListData], summary="List files (extension)")
def list_files(service: Service, key: Key,
               body: Annotated[FileListRequest | None, Body()] = None) -> Envelope[FileListData]:
    """Files this key may see, newest first, with the total count (no body: no filter)."""
    body = body or FileListRequest()
    query = FileQuery(workspaces=body.WorkspaceIds, statuses=body.Statuses, created_after=body.CreatedAfter,
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
    record = service.get_cached(key, FileId) or await run_in_threadpool(service.get, key, FileId)
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
