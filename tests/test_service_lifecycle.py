"""Statuses, failure codes and how files are applied (in-process, real moto S3)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import bearer, imports_upload, make_cc5, portal_upload, put_file

HEAD = ("00|ACME|cc5|20261122093000|ref\n01|customer|{ws}|bk-main|CRM|UPSERT\n02|{keys}\n03|{fields}\n")


def cc5_text(tmp_path: Path, name: str, rows: list[str], *, ws: str = "ws-eu", keys: str = "customer_code",
             fields: str = "customer_code:string|name:string|credit:number", footer: int | None = None) -> Path:
    """A hand-written cc5 file: the header, ``rows`` as given and the footer."""
    body = HEAD.format(ws=ws, keys=keys, fields=fields) + "".join(r + "\n" for r in rows)
    body += f"99|{len(rows) if footer is None else footer}|\n"
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def svc(make_service: Any) -> Any:
    return make_service()


@pytest.fixture
def client(svc: Any) -> TestClient:
    return TestClient(svc.app, raise_server_exceptions=False)


def _status(client: TestClient, file_id: str) -> dict[str, Any]:
    return client.get(f"/appfile/file/{file_id}", headers=bearer("key-all")).json()["Data"]["File"]


def _sync_import(client: TestClient, path: Path, workspace: str = "ws-eu") -> dict[str, Any]:
    data = portal_upload(client, path, workspace)
    answer = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                         headers=bearer("key-all"))
    assert answer.status_code == 200, answer.text
    return answer.json()["Data"]["File"]


def _table(svc: Any, workspace: str = "ws-eu", entity: str = "customer") -> Any:
    relation = svc.store.read_table(workspace, entity)
    return None if relation is None else relation.df().sort_values("customer_code").reset_index(drop=True)


def test_every_status_is_observable(svc: Any, client: TestClient, tmp_path: Path) -> None:
    seen: list[str] = []
    path = make_cc5(tmp_path, rows=3)
    data = client.post("/appfile/file/path", json={"WorkspaceId": "ws-eu", "BucketId": "b", "EntityType": "customer",
                                                   "FileName": path.name}, headers=bearer("key-all")).json()["Data"]
    seen.append(_status(client, data["FileId"])["Status"])  # PENDING_UPLOAD
    assert put_file(data["Url"], path).status_code == 200
    seen.append(_status(client, data["FileId"])["Status"])  # ADDED: the look-up checks the upload (no watcher)
    client.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": data["FileId"]},
                headers=bearer("key-all"))
    seen.append(_status(client, data["FileId"])["Status"])  # QUEUED
    claimed = svc.store.claim_next_queued(now=time.time())
    seen.append(_status(client, data["FileId"])["Status"])  # PROCESSING
    svc.processor.run(claimed)
    seen.append(_status(client, data["FileId"])["Status"])  # FINISHED
    client.delete(f"/appfile/file/{data['FileId']}", headers=bearer("key-all"))
    seen.append(_status(client, data["FileId"])["Status"])  # DELETED
    failed = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": portal_upload(
        client, make_cc5(tmp_path, rows=1, footer=5))["FileId"]}, headers=bearer("key-all"))
    seen.append(failed.json()["Data"]["File"]["Status"])  # FAILED
    assert seen == ["PENDING_UPLOAD", "ADDED", "QUEUED", "PROCESSING", "FINISHED", "DELETED", "FAILED"]


def test_file_not_uploaded(client: TestClient) -> None:
    answer = client.post("/appfile/file/path", json={"WorkspaceId": "ws-eu", "BucketId": "b", "EntityType": "customer",
                                                     "FileName": "never.cc5txt"}, headers=bearer("key-all"))
    file_id = answer.json()["Data"]["FileId"]
    done = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": file_id}, headers=bearer("key-all"))
    file = done.json()["Data"]["File"]
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "FILE_NOT_UPLOADED")
    assert done.json()["ResponseStatus"]["Message"].startswith("Import FAILED (FILE_NOT_UPLOADED)")
    rejected = client.get(f"/appfile/file/{file_id}/rejected", headers=bearer("key-all"))
    assert rejected.status_code == 200 and rejected.text.startswith("line,error")


def test_file_too_large_both_apis(make_service: Any, tmp_path: Path) -> None:
    svc = make_service(max_file_bytes=400)
    client = TestClient(svc.app, raise_server_exceptions=False)
    big = make_cc5(tmp_path, rows=20)
    assert big.stat().st_size > 400
    file = _sync_import(client, big)
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "FILE_TOO_LARGE")
    file_id = imports_upload(client, big)  # moto ignores the policy's size cap; the service does not
    svc.imports.poll_uploads()
    record = svc.worker.run_next()
    assert record.file_id == file_id and (record.status, record.failure_code) == ("FAILED", "FILE_TOO_LARGE")
    assert _table(svc) is None


def test_url_expired_late_upload_and_no_upload(make_service: Any, tmp_path: Path) -> None:
    svc = make_service(url_expiry_seconds=1, upload_grace_seconds=0)
    client = TestClient(svc.app, raise_server_exceptions=False)
    path = make_cc5(tmp_path, rows=2)
    late = client.post("/appfile/file/path", json={"WorkspaceId": "ws-eu", "BucketId": "b", "EntityType": "customer",
                                                   "FileName": path.name}, headers=bearer("key-all")).json()["Data"]
    never = client.post("/v1/imports/pre-signed-url/create", json={"stream_name": "ws-eu", "file_name": "n.cc5txt"},
                        headers={"u21-key": "key-all"}).json()
    time.sleep(2.2)
    assert put_file(late["Url"], path).status_code == 200  # moto does not enforce expiry
    done = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": late["FileId"]},
                       headers=bearer("key-all")).json()["Data"]["File"]
    assert (done["Status"], done["FailureCode"]) == ("FAILED", "URL_EXPIRED")
    svc.imports.poll_uploads()
    record = svc.store.get_file(never["file_id"])
    assert (record.status, record.failure_code) == ("FAILED", "URL_EXPIRED")


def test_workspace_must_match_the_upload(client: TestClient, tmp_path: Path) -> None:
    file = _sync_import(client, make_cc5(tmp_path, rows=2, workspace="ws-other"), workspace="ws-eu")
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "WORKSPACE_MISMATCH")
    assert file["SuccessfulCount"] == 0 and "ws-other" in (file["FailureMessage"] or "")


def test_file_level_error_applies_nothing(svc: Any, client: TestClient, tmp_path: Path) -> None:
    _sync_import(client, make_cc5(tmp_path, rows=3))
    before = _table(svc)
    file = _sync_import(client, make_cc5(tmp_path, rows=5, start=100, footer=4))
    assert (file["Status"], file["FailureCode"], file["SuccessfulCount"]) == ("FAILED", "FOOTER_COUNT_MISMATCH", 0)
    assert file["FailureCount"] == 5
    assert _table(svc).equals(before)
    codes = {f["code"] for f in svc.store.findings(file["FileId"])}
    assert "FOOTER_COUNT_MISMATCH" in codes


def test_schema_mismatch_applies_nothing(svc: Any, client: TestClient, tmp_path: Path) -> None:
    _sync_import(client, make_cc5(tmp_path, rows=3))
    before = _table(svc)
    other_key = cc5_text(tmp_path, "k.cc5txt", ["10|C9|x|1|"], keys="name",
                         fields="name:string|customer_code:string|credit:number")
    file = _sync_import(client, other_key)
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "SCHEMA_MISMATCH")
    other_type = cc5_text(tmp_path, "t.cc5txt", ["10|C0000001|x|lots|"],
                          fields="customer_code:string|name:string|credit:string")
    file = _sync_import(client, other_type)
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "SCHEMA_MISMATCH")
    assert "credit" in file["FailureMessage"]
    assert _table(svc).equals(before)


def test_rows_apply_in_file_order_and_reruns_give_the_same_data(svc: Any, client: TestClient, tmp_path: Path) -> None:
    rows = ["10|A|first|1|", "10|B|b|2|", "90|A", "10|A|again|3|", "10|C|c|4|", "90|C", "10|B|b2|5|", "90|Z"]
    path = cc5_text(tmp_path, "order.cc5txt", rows)
    file = _sync_import(client, path)
    assert (file["Status"], file["SuccessfulCount"], file["FailureCount"]) == ("FINISHED", 8, 0)
    first = _table(svc)
    assert first[["customer_code", "name"]].values.tolist() == [["A", "again"], ["B", "b2"]]
    _sync_import(client, cc5_text(tmp_path, "order2.cc5txt", rows))
    assert _table(svc).equals(first)


def test_later_files_add_columns(svc: Any, client: TestClient, tmp_path: Path) -> None:
    _sync_import(client, make_cc5(tmp_path, rows=2))
    file = _sync_import(client, make_cc5(tmp_path, rows=2, start=1, extra_field=True))
    assert file["Status"] == "FINISHED"
    table = _table(svc)
    assert table["region"].isna().tolist() == [True, False, False]
    assert table["customer_code"].tolist() == ["C0000000", "C0000001", "C0000002"]


def test_tables_are_per_workspace_and_entity(svc: Any, client: TestClient, tmp_path: Path) -> None:
    _sync_import(client, make_cc5(tmp_path, rows=2, workspace="ws-a"), workspace="ws-a")
    _sync_import(client, make_cc5(tmp_path, rows=3, workspace="ws-b"), workspace="ws-b")
    _sync_import(client, make_cc5(tmp_path, rows=4, workspace="ws-a", entity="supplier"), workspace="ws-a")
    assert [len(_table(svc, ws, entity)) for ws, entity in (("ws-a", "customer"), ("ws-b", "customer"),
                                                            ("ws-a", "supplier"))] == [2, 3, 4]


def test_concurrent_imports_into_one_table(make_service: Any, tmp_path: Path) -> None:
    svc = make_service(workers=2)
    svc.start()
    client = TestClient(svc.app, raise_server_exceptions=False)
    ids = []
    for n in range(4):  # overlapping key ranges; each file also deletes a key of the previous one
        data = portal_upload(client, make_cc5(tmp_path, rows=300, start=n * 200, deletes=[n * 200 - 1] if n else [],
                                              name=f"part{n}.cc5txt"))
        client.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": data["FileId"]},
                    headers=bearer("key-all"))
        ids.append(data["FileId"])
    deadline = time.time() + 120
    while time.time() < deadline and any(svc.store.get_file(i).status != "FINISHED" for i in ids):
        time.sleep(0.1)
    assert [svc.store.get_file(i).status for i in ids] == ["FINISHED"] * 4
    # Files of one workspace apply one at a time in queue order, so each
    # deletion of a key of the previous file sticks.
    codes = [int(c[1:]) for c in _table(svc)["customer_code"]]
    assert codes == sorted(set(range(900)) - {199, 399, 599})


def test_storage_failure_fails_the_file(svc: Any, client: TestClient, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.service.storage import StorageError

    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise StorageError("S3 GetObject failed: connection refused")

    monkeypatch.setattr(svc.storage, "download", unreachable)
    file = _sync_import(client, make_cc5(tmp_path, rows=2))
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "STORAGE_ERROR")
    assert "connection refused" in file["FailureMessage"]
    assert _table(svc) is None
