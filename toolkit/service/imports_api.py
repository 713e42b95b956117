"""The imports API (seed 003): pre-signed POST, status, list, delete and
rejected rows. ``u21-key: <key>``; errors are ``{"error": {...}}``.

    >>> router.prefix
    '/v1/imports'
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyHeader

from toolkit.service.config import ApiKey
from toolkit.service.core import ImportService
from toolkit.service.imports_models import (
    CreateUploadRequest, CreateUploadResponse, ImportRecord, ImportsError, ListRequest, ListResponse,
    import_record,
)
from toolkit.service.records import FileQuery

__all__ = ["router"]

_key_header = APIKeyHeader(name="u21-key", scheme_name="u21-key", auto_error=False, description="The API key")
_ERRORS: dict[int | str, dict[str, Any]] = {status: {"model": ImportsError} for status in (400, 401, 404, 409, 500)}
_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
              "description": "line,error,<fields...> of the rejected rows"}, **_ERRORS}

router = APIRouter(prefix="/v1/imports", tags=["imports"], responses=_ERRORS)


async def _service(request: Request) -> ImportService:
    return request.app.state.service


async def _key(request: Request, presented: Annotated[str | None, Security(_key_header)]) -> ApiKey:
    return request.app.state.service.authenticate(presented)


Service = Annotated[ImportService, Depends(_service)]
Key = Annotated[ApiKey, Depends(_key)]
FileIdPath = Annotated[str, Path(max_length=200)]


@router.post("/pre-signed-url/create", response_model=CreateUploadResponse,
             summary="Create a pre-signed upload (S3 POST)")
def create_upload(body: CreateUploadRequest, service: Service, key: Key) -> CreateUploadResponse:
    """A new file (PENDING_UPLOAD) and the S3 form to upload it; processing
    starts by itself once the object lands."""
    record, upload = service.create_upload(key, api="imports", workspace_id=body.stream_name,
                                           file_name=body.file_name)
    return CreateUploadResponse(file_id=record.file_id, url=upload["url"], fields=upload["fields"],
                                expires_at=round(record.expires_at or 0.0, 3))


@router.post("/list", response_model=ListResponse, summary="List files")
def list_files(service: Service, key: Key,
               body: Annotated[ListRequest | None, Body()] = None) -> ListResponse:
    """Files this key may see, newest first, with the total count (no body: no filter)."""
    body = body or ListRequest()
    query = FileQuery(workspaces=body.stream_names, statuses=body.statuses, created_after=body.created_after,
                      created_before=body.created_before, offset=body.offset, limit=body.limit)
    total, records = service.list(key, query)
    return ListResponse(count=total, offset=body.offset, limit=body.limit,
                        files=[import_record(r) for r in records])


@router.get("/{file_id}", response_model=ImportRecord, summary="File status")
async def get_file(file_id: FileIdPath, service: Service, key: Key) -> ImportRecord:
    """The file record and its status."""
    # Polling's hot path: on the event loop when the record is in memory.
    record = service.get_cached(key, file_id)
    if record is None:
        record = await run_in_threadpool(service.get, key, file_id)
    return import_record(record)


@router.delete("/{file_id}", response_model=ImportRecord, summary="Delete a file")
def delete_file(file_id: FileIdPath, service: Service, key: Key) -> ImportRecord:
    """Mark the file DELETED and remove its objects (rows already applied stay)."""
    return import_record(service.delete(key, file_id))


@router.get("/{file_id}/rejected", response_class=StreamingResponse, responses=_CSV,
            summary="Rejected rows as CSV")
def rejected_rows(file_id: FileIdPath, service: Service, key: Key) -> StreamingResponse:
    """The rejected rows of an ended import: line, error codes and messages, values."""
    return StreamingResponse(service.rejected_rows(key, file_id), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{file_id}-rejected.csv"'})
