"""Access: keys, workspaces, names and upload limits.

- A key for workspace A gets 404 (exactly like a file that does not exist)
  for every read, import, list entry, delete and rejected-rows request about
  workspace B's files, cannot create files or import data there, and never
  sees them in lists; nothing of B changes.
- No key, an unknown key or the other API's header: 401 on every operation
  of the OpenAPI document, in the API's error shape.
- File names with ``..``, slashes, absolute paths, control characters or over
  255 characters are refused (400) and create nothing; odd but harmless names
  are stored exactly under ``<workspace>/<file id>/`` in S3.
- Uploads past the size limit end FAILED ``FILE_TOO_LARGE``; uploads after
  the URL expired, or never, end FAILED ``URL_EXPIRED``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import TEST_KEYS, bearer, import_data_body, make_cc5, portal_upload, put_file, u21
from reliability_support import wait_for
from toolkit.service.portal_models import FILE_NAME_PATTERN

NO_SUCH_FILE = "f_" + "0" * 32
IMPORT_DATA = import_data_body([{"code": "C1", "name": "Ada"}], workspace="ws-a", keys=("code",),
                               fields={"code": "string", "name": "string"}, instance="r1")

def _service(moto_endpoint: str, store: Path, bucket: str, **settings: Any) -> Any:
    from toolkit.service import Service, load_config

    return Service(load_config(env={}, s3_endpoint=moto_endpoint, store=store, s3_bucket=bucket,
                               api_keys=TEST_KEYS, s3_access_key_id="test", s3_secret_access_key="test",
                               watch_interval_seconds=0.1, **settings))


@pytest.fixture(scope="module")
def world(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A started service with files in ws-a (key-a) and ws-b (key-b): FINISHED
    (portal and imports API) and PENDING_UPLOAD."""
    directory = tmp_path_factory.mktemp("access")
    svc = _service(moto_endpoint, directory / "store.duckdb", "access-test")
    svc.start()
    client = TestClient(svc.app)
    files: dict[str, list[str]] = {}
    for workspace, key in (("ws-a", "key-a"), ("ws-b", "key-b")):
        done = portal_upload(client, make_cc5(directory, rows=5, bad_rows=1, workspace=workspace),
                             workspace=workspace, key=key)
        client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": done["FileId"]}, headers=bearer(key))
        created = client.post("/v1/imports/pre-signed-url/create", headers=u21(key),
                              json={"stream_name": workspace, "file_name": "streamed.cc5txt"}).json()
        path = make_cc5(directory, rows=3, workspace=workspace, name=f"{workspace}-streamed.cc5txt")
        assert httpx.post(created["url"], data=created["fields"],
                          files={"file": ("streamed.cc5txt", path.read_bytes())}, timeout=60).status_code == 204
        pending = client.post("/appfile/file/path", headers=bearer(key), json={
            "WorkspaceId": workspace, "BucketId": "bk", "EntityType": "customer", "FileName": "p.cc5txt"})
        files[workspace] = [done["FileId"], created["file_id"], pending.json()["Data"]["FileId"]]
    for workspace in files:
        wait_for(lambda workspace=workspace: client.get(f"/v1/imports/{files[workspace][1]}", headers=u21("key-all")).json()["status"]
                 == "FINISHED", timeout=60, what="the imports-API upload to finish")
    yield {"svc": svc, "client": client, "files": files, "dir": directory}
    svc.close()


def _snapshot(world: dict[str, Any], workspace: str) -> tuple[Any, ...]:
    """What a workspace holds: its records and its table."""
    client = world["client"]
    records = client.post("/v1/imports/list", json={"stream_names": [workspace]}, headers=u21("key-all")).json()
    table = world["svc"].store.read_table(workspace, "customer")
    return (sorted((f["file_id"], f["status"]) for f in records["files"]),
            None if table is None else sorted(table.fetchall()))


def _requests_about(file_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    body = {"FileType": "cc5", "FileId": file_id}
    return [("GET", f"/appfile/file/{file_id}", None), ("GET", f"/appfile/file/{file_id}/rejected", None),
            ("POST", "/appfile/file/import", body), ("POST", "/appdata/import/file/async", body),
            ("DELETE", f"/appfile/file/{file_id}", None), ("GET", f"/v1/imports/{file_id}", None),
            ("GET", f"/v1/imports/{file_id}/rejected", None), ("DELETE", f"/v1/imports/{file_id}", None)]


def _auth(path: str, key: str) -> dict[str, str]:
    return u21(key) if path.startswith("/v1/") else bearer(key)


# -- workspaces ----------------------------------------------------------------------
def test_a_key_gets_404_for_every_request_about_another_workspaces_files(world: dict[str, Any]) -> None:
    client = world["client"]
    before = _snapshot(world, "ws-b")
    for file_id in world["files"]["ws-b"]:
        for (method, path, body), (_, missing_path, missing_body) in zip(_requests_about(file_id),
                                                                          _requests_about(NO_SUCH_FILE)):
            answer = client.request(method, path, json=body, headers=_auth(path, "key-a"))
            missing = client.request(method, missing_path, json=missing_body, headers=_auth(path, "key-a"))
            assert answer.status_code == 404, (method, path, answer.text)
            # Indistinguishable from a file that does not exist.
            assert answer.text.replace(file_id, NO_SUCH_FILE) == missing.text, (method, path)
    assert _snapshot(world, "ws-b") == before


def test_lists_never_show_another_workspaces_files(world: dict[str, Any]) -> None:
    client = world["client"]
    for key, own, other in (("key-a", "ws-a", "ws-b"), ("key-b", "ws-b", "ws-a")):
        for filters in ({}, {"WorkspaceIds": [other]}, {"WorkspaceIds": [own, other]},
                        {"Statuses": ["FINISHED", "PENDING_UPLOAD"]}):
            data = client.post("/appfile/file/list", json=filters, headers=bearer(key)).json()["Data"]
            ids = {f["FileId"] for f in data["Files"]}
            assert ids <= set(world["files"][own]) and data["Total"] == len(ids), (key, filters, data)
            assert {f["WorkspaceId"] for f in data["Files"]} <= {own}
        for filters in ({}, {"stream_names": [other]}, {"stream_names": [own, other]}):
            data = client.post("/v1/imports/list", json=filters, headers=u21(key)).json()
            ids = {f["file_id"] for f in data["files"]}
            assert ids <= set(world["files"][own]) and data["count"] == len(ids), (key, filters, data)
        assert len(client.post("/v1/imports/list", json={}, headers=u21(key)).json()["files"]) == 3


def test_a_key_cannot_create_files_or_import_data_in_another_workspace(world: dict[str, Any]) -> None:
    client = world["client"]
    before = _snapshot(world, "ws-b")
    answers = [
        client.post("/appfile/file/path", headers=bearer("key-a"), json={
            "WorkspaceId": "ws-b", "BucketId": "bk", "EntityType": "customer", "FileName": "x.cc5txt"}),
        client.post("/v1/imports/pre-signed-url/create", headers=u21("key-a"),
                    json={"stream_name": "ws-b", "file_name": "x.cc5txt"}),
        client.post("/appfile/file/import/data", headers=bearer("key-a"),
                    json=import_data_body([{"code": "C1", "name": "Ada"}], workspace="ws-b", keys=("code",),
                                          fields={"code": "string", "name": "string"})),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404], [a.text for a in answers]
    assert _snapshot(world, "ws-b") == before


def test_a_file_naming_another_workspace_applies_nothing_there(world: dict[str, Any]) -> None:
    client = world["client"]
    before = _snapshot(world, "ws-b")
    smuggled = make_cc5(world["dir"], rows=4, workspace="ws-b", start=100, name="smuggled.cc5txt")
    data = portal_upload(client, smuggled, workspace="ws-a", key="key-a")
    file = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                       headers=bearer("key-a")).json()["Data"]["File"]
    assert (file["Status"], file["FailureCode"], file["SuccessfulCount"]) == ("FAILED", "WORKSPACE_MISMATCH", 0)
    assert _snapshot(world, "ws-b")[1] == before[1]


# -- keys ------------------------------------------------------------------------------
def _valid_request(method: str, path: str, file_id: str) -> tuple[str, dict[str, Any] | None]:
    """A well-formed request for an OpenAPI operation (so only the key can be wrong)."""
    bodies: dict[str, dict[str, Any]] = {
        "/appfile/file/path": {"WorkspaceId": "ws-a", "BucketId": "bk", "EntityType": "customer",
                               "FileName": "x.cc5txt"},
        "/appfile/file/import": {"FileType": "cc5", "FileId": file_id},
        "/appdata/import/file/async": {"FileType": "cc5", "FileId": file_id},
        "/appfile/file/import/data": IMPORT_DATA,
        "/appfile/file/list": {},
        "/v1/imports/pre-signed-url/create": {"stream_name": "ws-a", "file_name": "x.cc5txt"},
        "/v1/imports/list": {},
    }
    url = path.replace("{FileId}", file_id).replace("{file_id}", file_id)
    if method == "POST":
        assert path in bodies, f"no request body known for {method} {path}: add one"
        return url, bodies[path]
    return url, None


BAD_CREDENTIALS = {
    "no key": lambda path: {},
    "unknown key": lambda path: _auth(path, "not-a-key"),
    "key in other case": lambda path: _auth(path, "KEY-A"),
    "key with a suffix": lambda path: _auth(path, "key-ab"),
    "prefix of a key": lambda path: _auth(path, "key-"),
    "empty bearer": lambda path: {"u21-key": ""} if path.startswith("/v1/") else {"Authorization": "Bearer "},
    "other API's header": lambda path: bearer("key-a") if path.startswith("/v1/") else u21("key-a"),
    "basic auth": lambda path: {"Authorization": "Basic a2V5LWE6"},
}


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
def test_missing_or_wrong_keys_get_401_on_every_operation(world: dict[str, Any], credentials: str) -> None:
    client = world["client"]
    file_id = world["files"]["ws-a"][0]
    operations = [(m.upper(), p) for p, ops in world["svc"].app.openapi()["paths"].items() for m in ops]
    assert len(operations) == 13
    for method, path in operations:
        url, body = _valid_request(method, path, file_id)
        answer = client.request(method, url, json=body, headers=BAD_CREDENTIALS[credentials](path))
        assert answer.status_code == 401, (credentials, method, path, answer.text)
        if path.startswith("/v1/"):
            assert answer.json()["error"]["code"] == "UNAUTHORIZED"
        else:
            assert answer.json()["ResponseStatus"]["ErrorCode"] == "UNAUTHORIZED"
            assert answer.json()["IsSuccess"] is False and answer.headers["WWW-Authenticate"] == "Bearer"
    assert client.get(f"/appfile/file/{file_id}", headers=bearer("key-a")).json()["Data"]["File"]["Status"] == \
        "FINISHED"


@pytest.mark.parametrize("path", ["/appfile/file/list", "/v1/imports/list"])
def test_a_request_without_a_key_and_with_malformed_json_gets_401(world: dict[str, Any], path: str) -> None:
    # FastAPI parses the body before the key dependency runs; the error handler checks the key first.
    answer = world["client"].post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 401, answer.text


@pytest.mark.parametrize("path", ["/appfile/file/list", "/v1/imports/list"])
def test_a_request_without_a_key_and_with_a_non_utf8_body_gets_401(world: dict[str, Any], path: str) -> None:
    answer = world["client"].post(path, content=b'{"a": "\xff"}', headers={"Content-Type": "application/json"})
    assert answer.status_code == 401, answer.text


# -- names -----------------------------------------------------------------------------
ESCAPING_NAMES = ["..", ".", "...", "../x.cc5txt", "../../etc/passwd", "/etc/passwd", "/x.cc5txt", "a/b.cc5txt",
                  "a\\b.cc5txt", "..\\x.cc5txt", "C:\\x.cc5txt", "x\x00y.cc5txt", "x\ny.cc5txt", "x\ry.cc5txt",
                  "x\ty.cc5txt", "x\x1b[31m.cc5txt", "x\x7f.cc5txt", "", "x" * 256]


@pytest.mark.parametrize("name", ESCAPING_NAMES, ids=lambda n: repr(n)[:24])
def test_file_names_that_could_escape_are_refused(world: dict[str, Any], name: str) -> None:
    client = world["client"]
    before = _snapshot(world, "ws-a")
    portal = client.post("/appfile/file/path", headers=bearer("key-a"), json={
        "WorkspaceId": "ws-a", "BucketId": "bk", "EntityType": "customer", "FileName": name})
    imports = client.post("/v1/imports/pre-signed-url/create", headers=u21("key-a"),
                          json={"stream_name": "ws-a", "file_name": name})
    assert portal.status_code == 400 and portal.json()["ResponseStatus"]["Errors"][0]["FieldName"] == "FileName"
    assert imports.status_code == 400 and imports.json()["error"]["details"][0]["field"] == "file_name"
    assert _snapshot(world, "ws-a") == before


@pytest.mark.parametrize("workspace", ["../ws-a", "ws-a/../ws-b", "/ws-a", ".hidden", "ws a", "ws\x00", "w" * 129])
def test_workspace_ids_that_could_escape_are_refused(world: dict[str, Any], workspace: str) -> None:
    answer = world["client"].post("/v1/imports/pre-signed-url/create", headers=u21("key-all"),
                                  json={"stream_name": workspace, "file_name": "x.cc5txt"})
    assert answer.status_code == 400 and answer.json()["error"]["details"][0]["field"] == "stream_name"


HARMLESS_NAMES = ["..x.cc5txt", "x..cc5txt", "%2e%2e%2fx.cc5txt", "ｆｕｌｌ／ｗｉｄｔｈ.cc5txt", "name with spaces.cc5txt",
                  "' OR 1=1 --.cc5txt", "\"quoted\".cc5txt", "?x=1&y=#2.cc5txt", "x" * 255]


@pytest.mark.parametrize("name", HARMLESS_NAMES, ids=lambda n: repr(n)[:24])
def test_odd_names_and_folders_stay_inside_the_workspace_prefix(world: dict[str, Any], moto_endpoint: str,
                                                                name: str) -> None:
    client = world["client"]
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    keys_before = {o["Key"] for o in s3.list_objects_v2(Bucket="access-test").get("Contents", [])}
    answer = client.post("/appfile/file/path", headers=bearer("key-a"), json={
        "WorkspaceId": "ws-a", "BucketId": "bk", "EntityType": "customer", "FileName": name,
        "Folder": "../../ws-b/../../etc", "Category": "/abs/path"})
    assert answer.status_code == 200, answer.text
    data = answer.json()["Data"]
    path = make_cc5(world["dir"], rows=2, workspace="ws-a", start=500, name="odd-upload.cc5txt")
    assert put_file(data["Url"], path).status_code == 200
    new_keys = {o["Key"] for o in s3.list_objects_v2(Bucket="access-test").get("Contents", [])} - keys_before
    assert new_keys == {f"ws-a/{data['FileId']}/{name}"}
    assert data["File"]["FilePath"] == f"//access-test/ws-a/{data['FileId']}/{name}"
    assert data["File"]["FileName"] == name and data["File"]["Folder"] == "../../ws-b/../../etc"


@pytest.mark.parametrize("name", ["x\x85y.cc5txt", "\x9b31m.cc5txt"], ids=["NEL", "CSI"])
def test_file_names_with_c1_control_characters_are_refused(world: dict[str, Any], name: str) -> None:
    answer = world["client"].post("/v1/imports/pre-signed-url/create", headers=u21("key-a"),
                                  json={"stream_name": "ws-a", "file_name": name})
    assert answer.status_code == 400, answer.text


def test_import_data_file_names_are_made_safe(world: dict[str, Any]) -> None:
    client = world["client"]
    names = []
    for reference in ("../../x", "tab\there", "esc\x1b[2J", "nel\x85"):
        body = import_data_body([{"code": "C1", "name": "Ada"}], workspace="ws-a", keys=("code",),
                                fields={"code": "string", "name": "string"}, instance=reference)
        answer = client.post("/appfile/file/import/data", json=body, headers=bearer("key-a"))
        assert answer.status_code == 200, answer.text
        names.append(answer.json()["Data"]["File"]["FileName"])
    for name in names:
        assert re.match(FILE_NAME_PATTERN, name) and len(name) <= 255, repr(name)
        assert ".." not in name and "/" not in name, repr(name)


# -- limits of uploads -----------------------------------------------------------------
def test_uploads_past_the_size_limit_end_failed_file_too_large(moto_endpoint: str, tmp_path: Path) -> None:
    svc = _service(moto_endpoint, tmp_path / "small.duckdb", "access-limit", max_file_bytes=2_000)
    svc.start()
    try:
        client = TestClient(svc.app)
        path = make_cc5(tmp_path, rows=100, workspace="ws-a")  # ~6 KB
        data = portal_upload(client, path, workspace="ws-a", key="key-a")
        file = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                           headers=bearer("key-a")).json()["Data"]["File"]
        assert (file["Status"], file["FailureCode"], file["SuccessfulCount"]) == ("FAILED", "FILE_TOO_LARGE", 0)
        # The pre-signed POST's policy caps the size, but moto does not enforce it: the service does.
        created = client.post("/v1/imports/pre-signed-url/create", headers=u21("key-a"),
                              json={"stream_name": "ws-a", "file_name": path.name}).json()
        assert httpx.post(created["url"], data=created["fields"], files={"file": (path.name, path.read_bytes())},
                          timeout=60).status_code == 204
        record = wait_for(lambda: (r := client.get(f"/v1/imports/{created['file_id']}", headers=u21("key-a")).json())
                          ["status"] in ("FINISHED", "FAILED") and r, timeout=60, what="the imports-API file to end")
        assert (record["status"], record["failure_code"], record["failure_detail"]) == (
            "FAILED", "unparseable_file", "FILE_TOO_LARGE")
        assert svc.store.read_table("ws-a", "customer") is None
    finally:
        svc.close()


def test_uploads_after_the_url_expired_end_failed_url_expired(moto_endpoint: str, tmp_path: Path) -> None:
    svc = _service(moto_endpoint, tmp_path / "expiry.duckdb", "access-expiry", url_expiry_seconds=1,
                   upload_grace_seconds=0)
    try:  # the watcher starts later: first a late upload meets the import's own check
        client = TestClient(svc.app)
        path = make_cc5(tmp_path, rows=5, workspace="ws-a")
        late = client.post("/appfile/file/path", headers=bearer("key-a"), json={
            "WorkspaceId": "ws-a", "BucketId": "bk", "EntityType": "customer", "FileName": path.name}).json()["Data"]
        never = client.post("/v1/imports/pre-signed-url/create", headers=u21("key-a"),
                            json={"stream_name": "ws-a", "file_name": path.name}).json()
        # S3's Last-Modified has whole seconds: arrive well past the expiry.
        time.sleep(2.5)
        assert put_file(late["Url"], path).status_code == 200  # moto does not enforce the expiry
        file = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": late["FileId"]},
                           headers=bearer("key-a")).json()["Data"]["File"]
        assert (file["Status"], file["FailureCode"]) == ("FAILED", "URL_EXPIRED")
        svc.start()
        record = wait_for(lambda: (r := client.get(f"/v1/imports/{never['file_id']}", headers=u21("key-a")).json())
                          ["status"] != "PENDING_UPLOAD" and r, timeout=60, what="the watcher to expire the URL")
        assert (record["status"], record["failure_code"], record["failure_detail"]) == ("FAILED", "unknown", "URL_EXPIRED")
        assert svc.store.read_table("ws-a", "customer") is None
    finally:
        svc.close()
