"""One error body shape per API, on every error path; never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import bearer, make_cc5, portal_upload, u21

CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE",
         409: "CONFLICT", 500: "INTERNAL_ERROR"}
UNKNOWN = "f_" + "0" * 32


@pytest.fixture
def svc(make_service: Any) -> Any:
    return make_service()


@pytest.fixture
def client(svc: Any) -> TestClient:
    return TestClient(svc.app, raise_server_exceptions=False)


def _assert_portal_error(answer: Any) -> None:
    body = answer.json()
    assert set(body) == {"IsSuccess", "ResponseStatus", "Data"}, body
    assert body["IsSuccess"] is False and body["Data"] is None
    status = body["ResponseStatus"]
    assert set(status) == {"ErrorCode", "Message", "StackTrace", "Errors"}
    assert status["ErrorCode"] == CODES[answer.status_code]
    assert status["StackTrace"] == "" and status["Message"] and "Traceback" not in answer.text
    for error in status["Errors"]:
        assert set(error) == {"ErrorCode", "FieldName", "Message"} and all(error.values())
    assert bool(status["Errors"]) == (answer.status_code == 400)


def _assert_imports_error(answer: Any) -> None:
    body = answer.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == CODES[answer.status_code] and error["message"] and "Traceback" not in answer.text
    for detail in error["details"]:
        assert set(detail) == {"field", "code", "message"} and all(detail.values())
    assert bool(error["details"]) == (answer.status_code == 400)


def test_portal_error_paths_share_one_shape(svc: Any, client: TestClient, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=1, workspace="ws-a"), "ws-a")
    svc.store.transition(data["FileId"], from_statuses=("PENDING_UPLOAD",), to_status="FINISHED")
    imp = {"FileType": "cc5", "FileId": data["FileId"]}
    calls = [
        (401, "GET", f"/appfile/file/{data['FileId']}", None, {}),
        (401, "GET", f"/appfile/file/{data['FileId']}", None, bearer("wrong")),
        (401, "GET", f"/appfile/file/{data['FileId']}", None, {"Authorization": "Basic a2V5LWFsbA=="}),
        (401, "POST", "/appfile/file/path", {}, {}),
        (401, "POST", "/appfile/file/import", imp, {}),
        (401, "POST", "/appdata/import/file/async", imp, bearer("")),
        (401, "POST", "/appfile/file/list", {}, {}),
        (401, "POST", "/appfile/file/import/data", {}, {}),
        (401, "DELETE", f"/appfile/file/{data['FileId']}", None, {}),
        (401, "GET", f"/appfile/file/{data['FileId']}/rejected", None, {}),
        (400, "POST", "/appfile/file/path", "{not json", bearer("key-all")),
        (400, "POST", "/appfile/file/path", {"WorkspaceId": "ws-a"}, bearer("key-all")),
        (400, "POST", "/appfile/file/path", {"WorkspaceId": "../x", "BucketId": "b", "EntityType": "e",
                                             "FileName": "a/b"}, bearer("key-all")),
        (400, "POST", "/appfile/file/path", [1, 2], bearer("key-all")),
        (400, "POST", "/appfile/file/import", {**imp, "FileType": "CSV"}, bearer("key-all")),
        (400, "POST", "/appfile/file/import", {"FileType": "cc5"}, bearer("key-all")),
        (400, "POST", "/appfile/file/list", {"Limit": "many"}, bearer("key-all")),
        (400, "POST", "/appfile/file/import/data", {"data": 3}, bearer("key-all")),
        (404, "GET", f"/appfile/file/{UNKNOWN}", None, bearer("key-all")),
        (404, "GET", f"/appfile/file/{data['FileId']}", None, bearer("key-b")),
        (404, "GET", "/appfile/file/" + "x" * 150, None, bearer("key-all")),
        (404, "DELETE", f"/appfile/file/{data['FileId']}", None, bearer("key-b")),
        (404, "GET", f"/appfile/file/{data['FileId']}/rejected", None, bearer("key-b")),
        (404, "POST", "/appfile/file/import", imp, bearer("key-b")),
        (404, "POST", "/appfile/file/path", {"WorkspaceId": "ws-a", "BucketId": "b", "EntityType": "e",
                                             "FileName": "f.cc5txt"}, bearer("key-b")),
        (404, "GET", "/no/such/route", None, {}),
        (405, "PUT", "/appfile/file/path", {}, bearer("key-all")),
        (409, "POST", "/appfile/file/import", imp, bearer("key-all")),
        (409, "POST", "/appdata/import/file/async", imp, bearer("key-all")),
    ]
    for status, method, url, body, headers in calls:
        answer = _send(client, method, url, body, headers)
        assert answer.status_code == status, (method, url, answer.text)
        _assert_portal_error(answer)
        if status == 401:
            assert answer.headers["www-authenticate"] == "Bearer"

    monkeypatch.setattr(svc.store, "cached_file", lambda file_id: None)
    monkeypatch.setattr(svc.store, "get_file", lambda file_id: 1 / 0)
    crashed = client.get(f"/appfile/file/{data['FileId']}", headers=bearer("key-all"))
    assert crashed.status_code == 500
    _assert_portal_error(crashed)
    assert "ZeroDivision" not in crashed.text


def _send(client: TestClient, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    """One call of a table: a str body is sent as raw JSON text (maybe broken)."""
    kwargs: dict[str, Any] = {"headers": dict(headers)}
    if isinstance(body, str):
        kwargs["content"] = body
        kwargs["headers"]["content-type"] = "application/json"
    elif body is not None:
        kwargs["json"] = body
    return client.request(method, url, **kwargs)


def test_imports_error_paths_share_one_shape(svc: Any, client: TestClient, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    created = client.post("/v1/imports/pre-signed-url/create", json={"stream_name": "ws-a", "file_name": "a.cc5txt"},
                          headers=u21("key-a")).json()
    file_id = created["file_id"]
    svc.store.transition(file_id, from_statuses=("PENDING_UPLOAD",), to_status="PROCESSING")
    calls = [
        (401, "GET", f"/v1/imports/{file_id}", None, {}),
        (401, "GET", f"/v1/imports/{file_id}", None, u21("wrong")),
        (401, "GET", f"/v1/imports/{file_id}", None, bearer("key-all")),  # the portal's header is not the key
        (401, "POST", "/v1/imports/pre-signed-url/create", {"stream_name": "ws-a", "file_name": "x"}, {}),
        (401, "POST", "/v1/imports/list", {}, {}),
        (401, "DELETE", f"/v1/imports/{file_id}", None, {}),
        (401, "GET", f"/v1/imports/{file_id}/rejected", None, {}),
        (400, "POST", "/v1/imports/pre-signed-url/create", {"stream_name": "ws-a"}, u21("key-all")),
        (400, "POST", "/v1/imports/pre-signed-url/create", {"stream_name": "", "file_name": ".."}, u21("key-all")),
        (400, "POST", "/v1/imports/pre-signed-url/create", "[", u21("key-all")),
        (400, "POST", "/v1/imports/list", {"created_after": "yesterday"}, u21("key-all")),
        (400, "POST", "/v1/imports/list", {"limit": 1001}, u21("key-all")),
        (404, "GET", f"/v1/imports/{UNKNOWN}", None, u21("key-all")),
        (404, "GET", f"/v1/imports/{file_id}", None, u21("key-b")),
        (404, "DELETE", f"/v1/imports/{file_id}", None, u21("key-b")),
        (404, "GET", f"/v1/imports/{file_id}/rejected", None, u21("key-b")),
        (404, "POST", "/v1/imports/pre-signed-url/create", {"stream_name": "ws-a", "file_name": "x"}, u21("key-b")),
        (404, "GET", "/v1/nothing/here", None, u21("key-all")),
        (405, "PUT", "/v1/imports/list", None, u21("key-all")),
        (409, "DELETE", f"/v1/imports/{file_id}", None, u21("key-all")),
        (409, "GET", f"/v1/imports/{file_id}/rejected", None, u21("key-all")),
    ]
    for status, method, url, body, headers in calls:
        answer = _send(client, method, url, body, headers)
        assert answer.status_code == status, (method, url, answer.text)
        _assert_imports_error(answer)

    monkeypatch.setattr(svc.store, "list_files", lambda query: 1 / 0)
    crashed = client.post("/v1/imports/list", json={}, headers=u21("key-all"))
    assert crashed.status_code == 500
    _assert_imports_error(crashed)
    assert "ZeroDivision" not in crashed.text


def test_openapi_describes_the_envelopes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/appfile/file/path", "/appfile/file/import", "/appdata/import/file/async",
                 "/appfile/file/{FileId}", "/appfile/file/import/data", "/v1/imports/pre-signed-url/create",
                 "/v1/imports/{file_id}", "/v1/imports/list"):
        assert path in paths
    portal_ok = paths["/appfile/file/path"]["post"]["responses"]
    assert "Envelope" in portal_ok["200"]["content"]["application/json"]["schema"]["$ref"]
    assert portal_ok["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/PortalError")
    imports_ok = paths["/v1/imports/{file_id}"]["get"]["responses"]
    assert imports_ok["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ImportsError")
    schemes = spec["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    envelope = next(v for k, v in spec["components"]["schemas"].items() if k.startswith("Envelope"))
    assert set(envelope["properties"]) == {"IsSuccess", "ResponseStatus", "Data"}


def test_bodies_larger_than_a_file_are_refused(make_service: Any) -> None:
    client = TestClient(make_service(max_file_bytes=1000).app, raise_server_exceptions=False)
    body = '{"padding": "' + "x" * 2000 + '"}'
    portal = client.post("/appfile/file/import/data", content=body, headers={**bearer("key-all"),
                                                                             "content-type": "application/json"})
    assert portal.status_code == 413 and portal.json()["ResponseStatus"]["ErrorCode"] == "PAYLOAD_TOO_LARGE"
    imports = client.post("/v1/imports/list", content=body, headers={**u21("key-all"),
                                                                     "content-type": "application/json"})
    assert imports.status_code == 413 and imports.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
