"""The portal API (``x-api-key``, PascalCase, the ``IsSuccess`` envelope, a
signed PUT URL, an explicit import trigger whose FAILED end answers
``IsSuccess: false`` with the file in ``Data``).

    >>> import httpx
    >>> from toolkit.client.http import HttpSender
    >>> def handler(request):
    ...     return httpx.Response(200, json={"IsSuccess": True, "ResponseStatus": {},
    ...         "Data": {"File": {"FileId": "f_1", "Status": "QUEUED"}}})
    >>> api = PortalApi("http://api.test", "key",
    ...                 HttpSender(httpx.Client(transport=httpx.MockTransport(handler))))
    >>> api.get("f_1").status
    'QUEUED'
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from toolkit.client.backend import STARTED_STATUSES, ApiBackend, ListSpec
from toolkit.client.http import RetryState
from toolkit.client.responses import portal_data
from toolkit.client.result import ImportRecord, record_from_portal
from toolkit.client.upload import UploadTarget
from toolkit.errors import ApiError, ConfigError, ConflictError

__all__ = ["PortalApi"]

# request_upload options -> the portal's body names.
_OPTION_NAMES = {
    "folder": "Folder",
    "category": "Category",
    "tags": "Tags",
    "metadata": "Metadata",
    "action_id": "ActionId",
    "description": "Description",
}


def _failed_import(response: httpx.Response) -> ImportRecord | None:
    """The record of a synchronous import that ended FAILED (``IsSuccess`` false
    on HTTP 200, the file in ``Data``), else None.

    >>> body = {"IsSuccess": False, "ResponseStatus": {"ErrorCode": "BAD_HEADER"},
    ...         "Data": {"File": {"FileId": "f_1", "Status": "FAILED", "FailureCode": "BAD_HEADER"}}}
    >>> _failed_import(httpx.Response(200, json=body)).failure_code
    'BAD_HEADER'
    """
    if not response.is_success:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("IsSuccess") is not False:
        return None
    data = body.get("Data")
    if isinstance(data, dict) and isinstance(data.get("File"), dict) and data["File"].get("Status") == "FAILED":
        return record_from_portal(data["File"])
    return None


def _file_of(data: Any, *, what: str) -> ImportRecord:
    if not isinstance(data, dict) or not isinstance(data.get("File"), dict):
        raise ApiError(f"{what} failed: the answer has no File record: {data!r:.200}")
    return record_from_portal(data["File"])


class PortalApi(ApiBackend):
    """The portal flavour of :class:`~toolkit.client.backend.ApiBackend`."""

    name = "portal"
    upload_method = "PUT"
    list_spec = ListSpec(
        path="/appfile/file/list",
        fields={"offset": "Offset", "limit": "Limit", "statuses": "Statuses", "workspaces": "WorkspaceIds",
                "created_after": "CreatedAfter", "created_before": "CreatedBefore"},
        items="Files", total="Total", record=record_from_portal,
    )

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key}

    def parse(self, response: httpx.Response, *, what: str) -> Any:
        return portal_data(response, what=what)

    def request_upload(
        self,
        file_name: str,
        *,
        workspace: str,
        entity_type: str | None,
        bucket_id: str | None,
        options: dict[str, Any],
    ) -> UploadTarget:
        if not entity_type or not bucket_id:
            missing = " and ".join(n for n, v in (("entity_type", entity_type), ("bucket_id", bucket_id)) if not v)
            raise ConfigError(f"The portal API needs {missing} to request an upload of {file_name}")
        unknown = set(options) - set(_OPTION_NAMES)
        if unknown:
            raise ConfigError(f"Unknown upload options for the portal API: {', '.join(sorted(unknown))}")
        body: dict[str, Any] = {
            "WorkspaceId": workspace,
            "BucketId": bucket_id,
            "EntityType": entity_type,
            "FileName": file_name,
        }
        body.update({_OPTION_NAMES[k]: v for k, v in options.items() if v is not None})
        what = f"Requesting an upload URL for {file_name}"
        data = self.call("POST", "/appfile/file/path", what=what, json=body)
        if not isinstance(data, dict) or not data.get("Url") or not data.get("FileId"):
            raise ApiError(f"{what} failed: the answer has no Url or FileId: {data!r:.200}")
        record = record_from_portal(data["File"]) if isinstance(data.get("File"), dict) else None
        return UploadTarget(
            file_id=str(data["FileId"]),
            url=str(data["Url"]),
            method="PUT",
            file_path=data.get("FilePath"),
            action_id=data.get("ActionId"),
            record=record,
        )

    def trigger(
        self,
        file_id: str,
        *,
        wait: bool,
        timeout: float | None,
        file_path: str | None,
        action_id: str | None,
        description: str | None,
    ) -> ImportRecord:
        path = "/appfile/file/import" if wait else "/appdata/import/file/async"
        what = f"Starting the import of file {file_id}"
        body: dict[str, Any] = {"FileType": "cc5", "FileId": file_id}
        if file_path:
            body["FilePath"] = file_path
        if action_id:
            body["ActionId"] = action_id
        if description:
            body["Description"] = description
        # The synchronous call answers when the import ended: let it read that long.
        build = self.build("POST", path, json=body, timeout=timeout if wait else None)

        def send(state: RetryState) -> httpx.Response:
            return self.sender.send(build, what=what, idempotent=False, state=state)

        outcome = self.trigger_once_accepted(file_id, send, what=what)
        if isinstance(outcome, ImportRecord):
            return outcome
        failed = _failed_import(outcome)
        if failed is not None:
            return failed
        try:
            return _file_of(self.parse(outcome, what=what), what=what)
        except ConflictError:
            # "Already started" means an earlier try (or someone else) got through.
            record = self.get(file_id)
            if record.status in STARTED_STATUSES:
                return record
            raise

    def get(self, file_id: str) -> ImportRecord:
        what = f"Getting file {file_id}"
        return _file_of(self.call("GET", f"/appfile/file/{quote(file_id, safe='')}", what=what), what=what)

    def delete(self, file_id: str) -> ImportRecord:
        what = f"Deleting file {file_id}"
        return _file_of(self.call("DELETE", f"/appfile/file/{quote(file_id, safe='')}", what=what), what=what)

    def rejected_path(self, file_id: str) -> str:
        return f"/appfile/file/{quote(file_id, safe='')}/rejected"
