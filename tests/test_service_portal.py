"""The portal API in-process (TestClient) against a real moto S3 server."""

from __future__ import annotations

import csv
import json
import io
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import bearer, import_data_body, make_cc5, portal_upload

FILE_FIELDS = {
    "FileId", "FileName", "FileType", "WorkspaceId", "BucketId", "EntityType", "Folder", "Category", "Tags",
    "Metadata", "FilePath", "ActionId", "Description", "Status", "FailureCode", "FailureMessage",
    "SuccessfulCount", "FailureCount", "Size", "DateCreated", "ProcessStartTime", "ProcessEndTime", "StreamName",
    "Url",
}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def svc(make_service: Any) -> Any:
    return make_service()


@pytest.fixture
def client(svc: Any) -> TestClient:
    return TestClient(svc.app, raise_server_exceptions=False)


def _ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"IsSuccess", "ResponseStatus", "Data"}
    assert body["IsSuccess"] is True
    assert body["ResponseStatus"]["StackTrace"] == "" and body["ResponseStatus"]["ErrorCode"] == ""
    return body["Data"]


def _import(client: TestClient, data: dict[str, Any], path: str = "/appfile/file/import", **body: Any) -> Any:
    request = {"ActionId": "act-2", "Description": "d", "FileType": "cc5", "FileId": data["FileId"],
               "FilePath": data["FilePath"], **body}
    return client.post(path, json=request, headers=bearer("key-all"))


def test_path_upload_import_status(svc: Any, client: TestClient, tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=25, workspace="ws-eu", bad_rows=2, deletes=[3])
    request = {"Folder": "in", "Category": "crm", "Tags": ["t1"], "Metadata": {"k": "v"}, "ActionId": "act-1",
               "Description": "first"}
    data = portal_upload(client, path, **request)
    assert set(data) == {"ActionId", "File", "FileId", "FilePath", "Url"}
    assert data["ActionId"] == "act-1"
    assert data["FilePath"] == f"//{svc.config.s3_bucket}/ws-eu/{data['FileId']}/{path.name}"
    file = data["File"]
    assert set(file) == FILE_FIELDS
    assert (file["Status"], file["Folder"], file["Tags"], file["Metadata"]) == ("PENDING_UPLOAD", "in", ["t1"], {"k": "v"})
    assert ISO.match(file["DateCreated"]) and file["ProcessStartTime"] is None

    assert svc.imports.poll_uploads() == 1  # the watcher sees the object
    status = _ok(client.get(f"/appfile/file/{data['FileId']}", headers=bearer("key-all")))
    assert status["File"]["Status"] == "ADDED" and status["File"]["Size"] == path.stat().st_size
    assert status["Url"] is None

    done = _ok(_import(client, data))
    file = done["File"]
    assert file["Status"] == "FINISHED", file
    assert (file["SuccessfulCount"], file["FailureCount"]) == (26, 2)  # 25 upserts + 1 delete; 2 rejected
    assert done["ActionId"] == "act-2" and file["ActionId"] == "act-2"
    assert ISO.match(file["ProcessStartTime"]) and ISO.match(file["ProcessEndTime"])
    rows = svc.store.read_table("ws-eu", "customer").df()
    assert len(rows) == 24 and "C0000003" not in set(rows["customer_code"])

    again = _ok(client.get(f"/appfile/file/{data['FileId']}", headers=bearer("key-all")))
    assert again["File"] == file


def test_a_file_imported_before_the_watcher_saw_it_still_gets_its_size(svc: Any, client: TestClient,
                                                                        tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=5)
    data = portal_upload(client, path)  # no watcher pass: the import call comes first
    file = _ok(_import(client, data))["File"]
    assert (file["Status"], file["Size"]) == ("FINISHED", path.stat().st_size)
    assert svc.store.get_file(data["FileId"]).uploaded_at is not None


def test_async_import_answers_queued_and_the_worker_finishes(svc: Any, client: TestClient, tmp_path: Path) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=5))
    queued = _ok(_import(client, data, "/appdata/import/file/async"))
    assert queued["File"]["Status"] == "QUEUED"
    finished = svc.worker.run_next()
    assert finished.file_id == data["FileId"] and finished.status == "FINISHED"
    assert _ok(client.get(f"/appfile/file/{data['FileId']}", headers=bearer("key-all")))["File"]["Status"] == "FINISHED"


def test_import_request_checks(client: TestClient, tmp_path: Path) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=2))
    wrong_type = _import(client, data, FileType="csv")
    assert wrong_type.status_code == 400
    assert wrong_type.json()["ResponseStatus"]["Errors"][0]["FieldName"] == "FileType"
    wrong_path = _import(client, data, FilePath="//elsewhere/x")
    assert wrong_path.status_code == 404 and data["FilePath"] in wrong_path.json()["ResponseStatus"]["Message"]
    assert _import(client, data, FileId="f_" + "0" * 32).status_code == 404
    assert _ok(_import(client, data))["File"]["Status"] == "FINISHED"
    conflict = _import(client, data)
    assert conflict.status_code == 409 and conflict.json()["ResponseStatus"]["ErrorCode"] == "CONFLICT"
    assert _import(client, data, "/appdata/import/file/async").status_code == 409


def test_rejected_rows_csv(client: TestClient, tmp_path: Path) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=3, bad_rows=2))
    not_yet = client.get(f"/appfile/file/{data['FileId']}/rejected", headers=bearer("key-all"))
    assert not_yet.status_code == 409
    _ok(_import(client, data))
    answer = client.get(f"/appfile/file/{data['FileId']}/rejected", headers=bearer("key-all"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert answer.text.startswith("line,error,row_type,customer_code,name,credit,active,since,tags,raw")
    assert [r["line"] for r in rows] == ["8", "9"]  # 4 header rows + 3 valid rows
    assert all(r["error"].startswith("INVALID_NUMBER: ") and r["credit"] == "not-a-number" for r in rows)
    assert rows[0]["raw"].startswith("10|C0000003|")


def test_delete_marks_deleted_and_removes_objects(svc: Any, client: TestClient, tmp_path: Path) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=2, bad_rows=1))
    _ok(_import(client, data))
    record = svc.store.get_file(data["FileId"])
    assert svc.storage.head(record.object_key) is not None and svc.storage.head(record.rejected_key) is not None
    deleted = _ok(client.delete(f"/appfile/file/{data['FileId']}", headers=bearer("key-all")))
    assert deleted["File"]["Status"] == "DELETED"
    assert svc.storage.head(record.object_key) is None and svc.storage.head(record.rejected_key) is None
    assert len(svc.store.read_table("ws-eu", "customer").df()) == 2  # applied rows stay
    assert _ok(client.delete(f"/appfile/file/{data['FileId']}", headers=bearer("key-all")))["File"]["Status"] == "DELETED"
    assert client.get(f"/appfile/file/{data['FileId']}/rejected", headers=bearer("key-all")).status_code == 409
    assert _import(client, data).status_code == 409


def test_delete_while_processing_conflicts(svc: Any, client: TestClient, tmp_path: Path) -> None:
    data = portal_upload(client, make_cc5(tmp_path, rows=2))
    svc.store.transition(data["FileId"], from_statuses=("PENDING_UPLOAD",), to_status="PROCESSING")
    answer = client.delete(f"/appfile/file/{data['FileId']}", headers=bearer("key-all"))
    assert answer.status_code == 409 and answer.json()["ResponseStatus"]["ErrorCode"] == "CONFLICT"


def test_list_extension(client: TestClient, tmp_path: Path) -> None:
    ids = [portal_upload(client, make_cc5(tmp_path, rows=1, workspace=ws, name=f"{i}.cc5txt"), ws)["FileId"]
           for i, ws in enumerate(["ws-a", "ws-b", "ws-a"])]
    listed = _ok(client.post("/appfile/file/list", json={"WorkspaceIds": ["ws-a"]}, headers=bearer("key-all")))
    assert listed["Total"] == 2 and [f["FileId"] for f in listed["Files"]] == [ids[2], ids[0]]
    page = _ok(client.post("/appfile/file/list", json={"Offset": 1, "Limit": 1}, headers=bearer("key-all")))
    assert (page["Total"], page["Offset"], page["Limit"], len(page["Files"])) == (3, 1, 1, 1)
    assert page["Files"][0]["FileId"] == ids[1]
    none = _ok(client.post("/appfile/file/list", json={"Statuses": ["FINISHED"]}, headers=bearer("key-all")))
    assert none["Total"] == 0
    bad = client.post("/appfile/file/list", json={"Statuses": ["DONE"], "Limit": 5000}, headers=bearer("key-all"))
    assert bad.status_code == 400
    assert {e["FieldName"] for e in bad.json()["ResponseStatus"]["Errors"]} == {"Statuses.0", "Limit"}


def _import_data(rows: list[dict[str, Any]], deletes: list[dict[str, Any]] | None = None,
                 total: int | None = None, workspace: str = "ws-eu") -> dict[str, Any]:
    return import_data_body(rows, deletes, total=total, workspace=workspace)


def test_import_data_is_applied_by_the_same_engine(svc: Any, client: TestClient) -> None:
    rows = [{"customer_code": "J1", "name": "Pipe|and\nbreak", "credit": 10.5, "tags": ["a", "b"]},
            {"customer_code": "J2", "name": "Bad", "credit": "lots"},
            {"customer_code": "J3", "name": None, "credit": 1}]
    done = _ok(client.post("/appfile/file/import/data", json=_import_data(rows, [{"customer_code": "J0"}]),
                           headers=bearer("key-all")))
    file = done["File"]
    assert (file["Status"], file["SuccessfulCount"], file["FailureCount"]) == ("FINISHED", 3, 1)
    assert file["FileName"] == "json-1.cc5txt" and file["EntityType"] == "customer"
    table = svc.store.read_table("ws-eu", "customer").df().set_index("customer_code")
    # a line break is written as #Enter#, which reads back as the portal's CRLF (docs/cc5-format.md)
    assert table.loc["J1", "name"] == "Pipe|and\r\nbreak" and set(table.index) == {"J1", "J3"}
    rejected = list(csv.DictReader(io.StringIO(
        client.get(f"/appfile/file/{file['FileId']}/rejected", headers=bearer("key-all")).text)))
    assert [(r["line"], r["customer_code"]) for r in rejected] == [("6", "J2")]  # data[1] is line 6
    assert rejected[0]["error"].startswith("INVALID_NUMBER")

    answer = client.post("/appfile/file/import/data", json=_import_data(rows, total=9), headers=bearer("key-all"))
    assert answer.status_code == 200 and answer.json()["IsSuccess"] is False
    assert answer.json()["ResponseStatus"]["ErrorCode"] == "FOOTER_COUNT_MISMATCH"
    failed = answer.json()["Data"]
    assert failed["File"]["Status"] == "FAILED" and failed["File"]["FailureCode"] == "FOOTER_COUNT_MISMATCH"
    assert failed["File"]["SuccessfulCount"] == 0

    other = client.post("/appfile/file/import/data", json=_import_data(rows, workspace="ws-b"), headers=bearer("key-a"))
    assert other.status_code == 404
    invalid = client.post("/appfile/file/import/data", json={"ImportData": {"header": {}}}, headers=bearer("key-all"))
    assert invalid.status_code == 400
    assert "ImportData.header.metadata" in {e["FieldName"] for e in invalid.json()["ResponseStatus"]["Errors"]}


def test_x_api_key_and_override_headers(svc: Any, client: TestClient, tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=3, workspace="ws-a")
    headers = {"x-api-key": "key-a", "X-Param-Override-WorkspaceId": "ws-a", "X-Param-Override-BucketId": "bk-hdr"}
    answer = client.post("/appfile/file/path", json={"EntityType": "customer", "FileName": path.name,
                                                     "WorkspaceId": "ws-b", "BucketId": "bk-body"}, headers=headers)
    assert answer.status_code == 200, answer.text
    file = answer.json()["Data"]["File"]
    assert (file["WorkspaceId"], file["BucketId"]) == ("ws-a", "bk-hdr")  # the headers win over the body
    bad = client.post("/appfile/file/path", json={"EntityType": "customer", "FileName": path.name, "BucketId": "b"},
                      headers={"x-api-key": "key-a", "X-Param-Override-WorkspaceId": "../x"})
    assert bad.status_code == 400
    assert client.get(f"/appfile/file/{file['FileId']}", headers={"x-api-key": "nope"}).status_code == 401
    listed = client.post("/appfile/file/list", headers={"x-api-key": "key-all", "X-Param-Override-WorkspaceId": "ws-a"})
    assert [f["FileId"] for f in listed.json()["Data"]["Files"]] == [file["FileId"]]


def test_a_sync_import_that_fails_answers_is_success_false(client: TestClient, tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=3, footer=7)
    data = portal_upload(client, path)
    answer = _import(client, data)
    body = answer.json()
    assert answer.status_code == 200 and body["IsSuccess"] is False
    assert body["ResponseStatus"]["ErrorCode"] == "FOOTER_COUNT_MISMATCH"
    assert body["Data"]["File"]["Status"] == "FAILED" and body["Data"]["FileId"] == data["FileId"]
    # A status look-up of that file is a successful call about a FAILED file.
    looked_up = client.get(f"/appfile/file/{data['FileId']}", headers=bearer("key-all")).json()
    assert looked_up["IsSuccess"] is True and looked_up["Data"]["File"]["Status"] == "FAILED"


# The example body of the portal's api-import-data.md, verbatim.
DOC_EXAMPLE = json.loads("""
{
  "ImportData": {
    "header": {
      "customer": "CustomerName",
      "fileType": "FileType",
      "metadata": {
        "keys": ["pkfield1"],
        "entityType": "EntityType",
        "workspaceId": "WorkspaceID",
        "bucketId": "BucketID",
        "dataSource": "DataSource",
        "fileCreateTime": "FileCreateTime",
        "flowType": "FlowType"
      },
      "FieldMappings": {
        "pkfield1": {
          "code": "pkfield1",
          "name": "pk",
          "type": "string"
        },
        "field2": {
          "code": "field2",
          "name": "Name1",
          "type": "string",
          "dictionary": {
            "key1": "value1",
            "key2": "value2"
          }
        }
      }
    },
    "data": [
      {
        "pkfield1": "value1",
        "field2": "value2"
      }
    ],
    "delete": [
      {
        "pkfield1": "value1"
      }
    ],
    "footer": {
      "total": 10
    },
    "InstanceId": "InstanceID"
  }
}
""")


def test_the_documented_import_data_example_is_accepted(client: TestClient) -> None:
    answer = client.post("/appfile/file/import/data", json=DOC_EXAMPLE, headers={"x-api-key": "key-all"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {"ActionId", "File"} <= set(body["Data"])
    assert {"FileId", "FilePath", "Url"} <= set(body["Data"]["File"])
    assert body["Data"]["File"]["WorkspaceId"] == "WorkspaceID" and body["Data"]["File"]["FileName"] == "InstanceID.cc5txt"
    # The example's own values are not a valid file (fileType "FileType", footer 10 for 2 rows): the
    # import runs and ends FAILED, said in the envelope; the shape itself is accepted.
    assert body["IsSuccess"] is False and body["ResponseStatus"]["ErrorCode"] == "BAD_HEADER"


def test_import_data_dictionary_lowercase_mappings_and_download_url(svc: Any, client: TestClient) -> None:
    body = import_data_body([{"customer_code": "D1", "name": "key1"}, {"customer_code": "D2", "name": "other"}],
                            name={"dictionary": {"key1": "mapped one"}})
    body["ImportData"]["header"]["fieldMappings"] = body["ImportData"]["header"].pop("FieldMappings")
    answer = client.post("/appfile/file/import/data", json=body, headers={"x-api-key": "key-all"})
    assert answer.status_code == 200 and answer.json()["IsSuccess"] is True, answer.text
    table = svc.store.read_table("ws-eu", "customer").df().set_index("customer_code")
    assert table.loc["D1", "name"] == "mapped one" and table.loc["D2", "name"] == "other"
    url = answer.json()["Data"]["File"]["Url"]
    import httpx
    assert httpx.get(url, timeout=30).text.splitlines()[4] == "10|D1|mapped one|||"


def test_openapi_names_each_api_key_header(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["x-api-key"] == {**schemes["x-api-key"], "type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["u21-key"]["name"] == "u21-key"
    assert {"x-api-key": []} in spec["paths"]["/appfile/file/list"]["post"]["security"]
    assert spec["paths"]["/v1/imports/list"]["post"]["security"] == [{"u21-key": []}]
