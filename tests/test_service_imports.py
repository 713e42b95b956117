"""The imports API in-process (TestClient), uploads with curl to a real moto S3."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import curl_post_form, imports_upload, make_cc5, portal_upload, u21

RECORD_FIELDS = {"file_id", "file_name", "file_type", "stream_name", "entity_type", "date_created",
                 "process_start_time", "process_end_time", "successful_count", "failure_count", "status",
                 "failure_code", "failure_detail", "failure_message", "size"}


@pytest.fixture
def svc(make_service: Any) -> Any:
    return make_service()


@pytest.fixture
def client(svc: Any) -> TestClient:
    return TestClient(svc.app, raise_server_exceptions=False)


def _get(client: TestClient, file_id: str, key: str = "key-all") -> dict[str, Any]:
    answer = client.get(f"/v1/imports/{file_id}", headers=u21(key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_seed_flow_create_post_status(svc: Any, client: TestClient, tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=12, bad_rows=1)
    before = time.time()
    created = client.post("/v1/imports/pre-signed-url/create", json={"stream_name": "ws-eu", "file_name": path.name},
                          headers={**u21("key-all"), "accept": "application/json"})
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"file_id", "url", "fields", "expires_at"}
    assert body["fields"]["key"] == f"ws-eu/{body['file_id']}/{path.name}"
    # The seed's documented form, in the order its curl command sends it (file last).
    assert list(body["fields"]) == ["key", "AWSAccessKeyId", "policy", "signature"]
    assert body["expires_at"] == pytest.approx(before + 900, abs=5)  # 15 minutes

    record = _get(client, body["file_id"])
    assert set(record) == RECORD_FIELDS
    assert (record["status"], record["file_type"], record["stream_name"]) == ("PENDING_UPLOAD", "cc5", "ws-eu")
    assert record["date_created"] == pytest.approx(before, abs=5) and record["entity_type"] is None

    assert curl_post_form(body["url"], body["fields"], path) == 204
    svc.imports.poll_uploads()
    assert _get(client, body["file_id"])["status"] == "QUEUED"
    svc.worker.run_next()
    record = _get(client, body["file_id"])
    assert (record["status"], record["successful_count"], record["failure_count"]) == ("FINISHED", 12, 1)
    assert record["entity_type"] == "customer" and record["size"] == path.stat().st_size
    assert record["process_start_time"] <= record["process_end_time"]


def test_processing_starts_by_itself(svc: Any, client: TestClient, tmp_path: Path) -> None:
    svc.start()  # the watcher and the import threads
    file_id = imports_upload(client, make_cc5(tmp_path, rows=3))
    deadline = time.time() + 30
    while _get(client, file_id)["status"] not in ("FINISHED", "FAILED") and time.time() < deadline:
        time.sleep(0.1)
    assert _get(client, file_id)["status"] == "FINISHED"


def test_list_filters_paging_and_count(svc: Any, client: TestClient, tmp_path: Path) -> None:
    ids = []
    for i, stream in enumerate(["ws-a", "ws-b", "ws-a", "ws-a"]):
        answer = client.post("/v1/imports/pre-signed-url/create",
                             json={"stream_name": stream, "file_name": f"{i}.cc5txt"}, headers=u21("key-all"))
        ids.append(answer.json()["file_id"])
        time.sleep(0.01)
    svc.store.transition(ids[0], from_statuses=("PENDING_UPLOAD",), to_status="FAILED")
    created = [svc.store.get_file(i).date_created for i in ids]

    def listing(**body: Any) -> dict[str, Any]:
        answer = client.post("/v1/imports/list", json=body, headers=u21("key-all"))
        assert answer.status_code == 200, answer.text
        return answer.json()

    everything = listing()
    assert (everything["count"], everything["offset"], everything["limit"]) == (4, 0, 1000)
    assert [f["file_id"] for f in everything["files"]] == ids[::-1]
    assert [f["file_id"] for f in listing(stream_names=["ws-a"], offset=1, limit=1)["files"]] == [ids[2]]
    assert listing(stream_names=["ws-a"], offset=1, limit=1)["count"] == 3
    assert [f["file_id"] for f in listing(statuses=["FAILED"])["files"]] == [ids[0]]
    window = listing(created_after=created[1], created_before=created[2])
    assert [f["file_id"] for f in window["files"]] == [ids[2], ids[1]]
    assert listing(statuses=["QUEUED", "FINISHED"])["count"] == 0
    # A key only ever lists its own streams, whatever it asks for.
    scoped = client.post("/v1/imports/list", json={"stream_names": ["ws-a", "ws-b"]}, headers=u21("key-b")).json()
    assert scoped["count"] == 1 and scoped["files"][0]["stream_name"] == "ws-b"
    bad = client.post("/v1/imports/list", json={"limit": 0, "offset": -1, "statuses": "QUEUED"}, headers=u21("key-all"))
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json()["error"]["details"]} == {"limit", "offset", "statuses"}


def test_delete_and_rejected(svc: Any, client: TestClient, tmp_path: Path) -> None:
    file_id = imports_upload(client, make_cc5(tmp_path, rows=2, bad_rows=1))
    assert client.get(f"/v1/imports/{file_id}/rejected", headers=u21("key-all")).status_code == 409
    svc.imports.poll_uploads()
    svc.worker.run_next()
    csv_text = client.get(f"/v1/imports/{file_id}/rejected", headers=u21("key-all")).text
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["line"], r["error"].split(":")[0]) for r in rows] == [("7", "INVALID_NUMBER")]
    deleted = client.delete(f"/v1/imports/{file_id}", headers=u21("key-all"))
    assert deleted.status_code == 200 and deleted.json()["status"] == "DELETED"
    assert svc.storage.head(svc.store.get_file(file_id).object_key) is None
    assert _get(client, file_id)["status"] == "DELETED"


def test_files_are_shared_between_the_apis(client: TestClient, tmp_path: Path) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=1))
    record = _get(client, data["FileId"])
    # uploaded: the look-up itself sees the object (no watcher runs here)
    assert record["file_id"] == data["FileId"] and record["status"] == "ADDED"


def test_sigv4_post_form_is_a_setting(make_service: Any, tmp_path: Path) -> None:
    svc = make_service(s3_post_signature="s3v4")
    client = TestClient(svc.app)
    path = make_cc5(tmp_path, rows=2)
    body = client.post("/v1/imports/pre-signed-url/create", json={"stream_name": "ws-eu", "file_name": path.name},
                       headers=u21("key-all")).json()
    assert {"x-amz-signature", "x-amz-credential", "x-amz-algorithm", "policy"} <= set(body["fields"])
    assert "AWSAccessKeyId" not in body["fields"]
    assert curl_post_form(body["url"], body["fields"], path) == 204


@pytest.mark.parametrize(("internal", "documented"), [
    ("FOOTER_COUNT_MISMATCH", "unparseable_file"), ("BAD_HEADER", "unparseable_file"),
    ("SCHEMA_MISMATCH", "invalid_schema"), ("UNKNOWN_TYPE", "invalid_schema"),
    ("WORKSPACE_MISMATCH", "stream_not_configured"), ("STORAGE_ERROR", "unknown"), ("INTERNAL_ERROR", "unknown"),
    ("TOO_MANY_ATTEMPTS", "unknown"), ("URL_EXPIRED", "unknown"),
])
def test_failure_codes_are_the_documented_four_with_the_precise_code_kept(
        svc: Any, client: TestClient, internal: str, documented: str) -> None:
    created = client.post("/v1/imports/pre-signed-url/create", json={"stream_name": "ws-eu", "file_name": "x.cc5txt"},
                          headers=u21("key-all")).json()
    svc.store.transition(created["file_id"], from_statuses=("PENDING_UPLOAD",), to_status="FAILED",
                         failure_code=internal, failure_message="why")
    record = _get(client, created["file_id"])
    assert (record["failure_code"], record["failure_detail"]) == (documented, internal)
    portal = client.get(f"/appfile/file/{created['file_id']}", headers={"x-api-key": "key-all"}).json()
    assert portal["Data"]["File"]["FailureCode"] == internal
