"""The service defects of issue 12, each pinned by a test that failed before its fix:
order across endpoints (1), case of ids (2), poison files (5), rows on
STORAGE_ERROR (6) and empty uploads (7). Bodies (3, 4): test_reliability_body_guard.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import bearer, import_data_body, make_cc5, portal_upload
from toolkit.service.storage import StorageError


@pytest.fixture
def svc(make_service: Any) -> Any:
    return make_service()


@pytest.fixture
def client(svc: Any) -> TestClient:
    return TestClient(svc.app)


def _trigger(client: TestClient, file_id: str, *, wait: bool) -> Any:
    path = "/appfile/file/import" if wait else "/appdata/import/file/async"
    return client.post(path, json={"FileType": "cc5", "FileId": file_id}, headers=bearer("key-all"))


def test_1_a_sync_import_does_not_overtake_an_earlier_async_file(svc: Any, client: TestClient,
                                                                 tmp_path: Path) -> None:
    # The same key C00001 in both files, different names: the later file must win.
    first = portal_upload(client, make_cc5(tmp_path, rows=50, name="first.cc5txt"))
    second = portal_upload(client, make_cc5(tmp_path, rows=1, name="second.cc5txt", extra_field=True))
    assert _trigger(client, first["FileId"], wait=False).json()["Data"]["File"]["Status"] == "QUEUED"
    answers: list[Any] = []
    sync = threading.Thread(target=lambda: answers.append(_trigger(client, second["FileId"], wait=True)))
    sync.start()
    time.sleep(1.0)
    assert not answers, "the sync import ran before the earlier queued file"
    assert svc.worker.run_next().status == "FINISHED"  # the worker runs the earlier file
    sync.join(60)
    later = answers[0].json()["Data"]["File"]
    earlier = svc.store.get_file(first["FileId"])
    assert later["Status"] == "FINISHED"
    assert svc.store.get_file(second["FileId"]).process_start_time >= earlier.process_end_time
    table = svc.store.read_table("ws-eu", "customer").df().set_index("customer_code")
    assert table["region"].notna().sum() == 1  # the second file (with a region) was applied last


def test_1_import_data_waits_for_earlier_files_too(svc: Any, client: TestClient, tmp_path: Path) -> None:
    first = portal_upload(client, make_cc5(tmp_path, rows=5))
    _trigger(client, first["FileId"], wait=False)
    answers: list[Any] = []
    body = import_data_body([{"customer_code": "C00001", "name": "from json"}],
                            fields={"customer_code": "string", "name": "string"})
    thread = threading.Thread(target=lambda: answers.append(
        client.post("/appfile/file/import/data", json=body, headers=bearer("key-all"))))
    thread.start()
    time.sleep(1.0)
    assert not answers
    svc.worker.run_next()
    thread.join(60)
    assert answers[0].json()["Data"]["File"]["Status"] == "FINISHED"
    table = svc.store.read_table("ws-eu", "customer").df().set_index("customer_code")
    assert table.loc["C00001", "name"] == "from json"


@pytest.mark.parametrize(("first", "second"), [(("ws-a", "customer"), ("WS-A", "customer")),
                                               (("ws-a", "customer"), ("ws-a", "Customer"))])
def test_2_ids_are_case_sensitive_and_both_spellings_work(svc: Any, client: TestClient,
                                                          first: tuple[str, str], second: tuple[str, str]) -> None:
    for n, (workspace, entity) in enumerate((first, second)):
        body = import_data_body([{"customer_code": "K1", "name": f"row {n}"}], workspace=workspace, entity=entity,
                                fields={"customer_code": "string", "name": "string"})
        answer = client.post("/appfile/file/import/data", json=body, headers=bearer("key-all")).json()
        assert answer["IsSuccess"] is True and answer["Data"]["File"]["Status"] == "FINISHED", answer
    for n, (workspace, entity) in enumerate((first, second)):
        assert svc.store.read_table(workspace, entity).df()["name"].tolist() == [f"row {n}"]


def test_5_a_file_that_never_ends_fails_after_max_attempts(svc: Any, client: TestClient, tmp_path: Path) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=3))
    _trigger(client, data["FileId"], wait=False)
    for _ in range(svc.config.max_attempts):  # claimed, then the service dies mid-import
        assert svc.store.claim_next_queued(now=time.time()).file_id == data["FileId"]
        assert svc.store.requeue_interrupted() == 1
    done = svc.worker.run_next()
    assert (done.status, done.failure_code) == ("FAILED", "TOO_MANY_ATTEMPTS")
    assert "3 times" in done.failure_message
    assert svc.store.read_table("ws-eu", "customer") is None
    assert svc.worker.run_next() is None  # nothing left to re-run


def test_5_max_attempts_is_a_setting(make_service: Any, tmp_path: Path) -> None:
    svc = make_service(max_attempts=1)
    client = TestClient(svc.app)
    data = portal_upload(client, make_cc5(tmp_path, rows=3))
    _trigger(client, data["FileId"], wait=False)
    svc.store.claim_next_queued(now=time.time())
    svc.store.requeue_interrupted()
    assert svc.worker.run_next().failure_code == "TOO_MANY_ATTEMPTS"


def test_6_rows_are_counted_when_storing_the_results_fails(svc: Any, client: TestClient, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=8, bad_rows=2, deletes=[1]))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise StorageError("S3 PutObject failed: 500")

    monkeypatch.setattr(svc.storage, "put_file", refuse)
    file = _trigger(client, data["FileId"], wait=True).json()["Data"]["File"]
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "STORAGE_ERROR")
    # 8 good + 2 bad data rows and 1 delete: all read, none applied (as for any FAILED file)
    assert (file["SuccessfulCount"], file["FailureCount"]) == (0, 11)


def test_7_a_form_urlencoded_put_gives_a_clear_error(svc: Any, client: TestClient, tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=3)
    data = client.post("/appfile/file/path", headers=bearer("key-all"), json={
        "WorkspaceId": "ws-eu", "BucketId": "bk", "EntityType": "customer", "FileName": path.name}).json()["Data"]
    # curl --data-binary @file without -H 'Content-Type: ...'
    put = httpx.put(data["Url"], content=path.read_bytes(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    assert put.status_code == 200
    answer = _trigger(client, data["FileId"], wait=True).json()
    file = answer["Data"]["File"]
    assert (answer["IsSuccess"], file["Status"], file["FailureCode"]) == (False, "FAILED", "EMPTY_UPLOAD")
    assert "application/x-www-form-urlencoded" in file["FailureMessage"] and "octet-stream" in file["FailureMessage"]
