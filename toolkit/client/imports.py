"""The imports API (``u21-key``, snake_case, UNIX times, a pre-signed POST
form; processing starts by itself once the upload lands).

    >>> import httpx
    >>> from toolkit.client.http import HttpSender
    >>> def handler(request):
    ...     return httpx.Response(200, json={"file_id": "f_1", "status": "PROCESSING"})
    >>> api = ImportsApi("http://api.test", "key",
    ...                  HttpSender(httpx.Client(transport=httpx.MockTransport(handler))))
    >>> api.get("f_1").status
    'PROCESSING'
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from toolkit.client.backend import ApiBackend, ListSpec
from toolkit.client.responses import imports_json
from toolkit.client.result import ImportRecord, record_from_imports
from toolkit.client.times import parse_api_time
from toolkit.client.upload import UploadTarget
from toolkit.errors import ApiError, ConfigError

__all__ = ["ImportsApi"]


class ImportsApi(ApiBackend):
    """The imports flavour of :class:`~toolkit.client.backend.ApiBackend`."""

    name = "imports"
    upload_method = "POST"
    list_spec = ListSpec(
        path="/v1/imports/list",
        fields={"offset": "offset", "limit": "limit", "statuses": "statuses", "workspaces": "stream_names",
                "created_after": "created_after", "created_before": "created_before"},
        items="files", total="count", record=record_from_imports,
    )

    def auth_headers(self) -> dict[str, str]:
        return {"u21-key": self.api_key}

    def parse(self, response: httpx.Response, *, what: str) -> Any:
        return imports_json(response, what=what)

    def _record(self, data: Any, *, what: str) -> ImportRecord:
        if not isinstance(data, dict):
            raise ApiError(f"{what} failed: the answer is not a file record: {data!r:.200}")
        return record_from_imports(data)

    def request_upload(
        self,
        file_name: str,
        *,
        workspace: str,
        entity_type: str | None,
        bucket_id: str | None,
        options: dict[str, Any],
    ) -> UploadTarget:
        # The imports API only knows the stream (= workspace) and the file name;
        # entity type and bucket travel inside the file's 01 row.
        unknown = {k for k, v in options.items() if v is not None}
        if unknown:
            raise ConfigError(f"The imports API takes no upload options (got {', '.join(sorted(unknown))})")
        what = f"Requesting an upload URL for {file_name}"
        data = self.call(
            "POST",
            "/v1/imports/pre-signed-url/create",
            what=what,
            json={"stream_name": workspace, "file_name": file_name},
        )
        if not isinstance(data, dict) or not data.get("url") or not data.get("file_id"):
            raise ApiError(f"{what} failed: the answer has no url or file_id: {data!r:.200}")
        fields = data.get("fields") or {}
        if not isinstance(fields, dict):
            raise ApiError(f"{what} failed: the answer's fields are not an object: {fields!r:.200}")
        try:
            expires_at = parse_api_time(data.get("expires_at"))
        except ValueError:
            expires_at = None
        return UploadTarget(
            file_id=str(data["file_id"]),
            url=str(data["url"]),
            method="POST",
            fields={str(k): str(v) for k, v in fields.items()},
            expires_at=expires_at,
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
        # Nothing to send: the service queues the file once its upload exists.
        return self.get(file_id)

    def get(self, file_id: str) -> ImportRecord:
        what = f"Getting file {file_id}"
        return self._record(self.call("GET", f"/v1/imports/{quote(file_id, safe='')}", what=what), what=what)

    def delete(self, file_id: str) -> ImportRecord:
        what = f"Deleting file {file_id}"
        return self._record(self.call("DELETE", f"/v1/imports/{quote(file_id, safe='')}", what=what), what=what)

    def rejected_path(self, file_id: str) -> str:
        return f"/v1/imports/{quote(file_id, safe='')}/rejected"
