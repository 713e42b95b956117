"""ImportClient's steps against an in-memory fake of both APIs (httpx.MockTransport):
request bodies, record normalisation, the trigger sent at most once, polling,
paging, rejected rows."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from typing import Any, Callable

import httpx
import pandas as pd
import pytest

from toolkit.client import ImportClient, ImportRecord, RetryPolicy, UploadTarget
from toolkit.client.result import (
    RECORD_COLUMNS,
    record_from_imports,
    record_from_portal,
)
from toolkit.errors import ConfigError, ConflictError, ImportTimeout, NotFoundError, TransportError

T0 = 1795343400.123  # 2026-11-22T10:30:00.123Z


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeApi:
    """Both APIs over one file table, as docs/api.md describes them."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.triggers_applied = 0
        # path -> list of callables run before handling (may raise or answer instead)
        self.interceptors: dict[str, list[Callable[[httpx.Request], httpx.Response | None]]] = {}
        self.status_script: dict[str, list[str]] = {}
        self.rejected_csv = "line,error,customer_code,name\n"

    # -- state -------------------------------------------------------------
    def add(self, file_id: str, status: str = "ADDED", created: float = T0, **extra: Any) -> dict:
        record = {
            "file_id": file_id,
            "file_name": f"{file_id}.cc5txt",
            "file_type": "cc5",
            "stream_name": "ws-eu",
            "entity_type": "customer",
            "date_created": created,
            "process_start_time": None,
            "process_end_time": None,
            "successful_count": 0,
            "failure_count": 0,
            "status": status,
            "failure_code": None,
            "size": 10,
            **extra,
        }
        self.files[file_id] = record
        return record

    def portal(self, record: dict) -> dict:
        return {
            "FileId": record["file_id"],
            "FileName": record["file_name"],
            "FileType": "cc5",
            "WorkspaceId": record["stream_name"],
            "BucketId": "bk-main",
            "EntityType": record["entity_type"],
            "FilePath": f"//bucket/{record['stream_name']}/{record['file_id']}/{record['file_name']}",
            "Status": record["status"],
            "FailureCode": record["failure_code"],
            "SuccessfulCount": record["successful_count"],
            "FailureCount": record["failure_count"],
            "Size": record["size"],
            "DateCreated": iso(record["date_created"]),
            "ProcessStartTime": iso(record["process_start_time"]),
            "ProcessEndTime": iso(record["process_end_time"]),
            "StreamName": record["stream_name"],
        }

    @staticmethod
    def envelope(data: Any, status: int = 200, code: str = "", message: str = "") -> httpx.Response:
        return httpx.Response(
            status,
            json={
                "IsSuccess": status < 400,
                "ResponseStatus": {"ErrorCode": code, "Message": message, "StackTrace": "", "Errors": []},
                "Data": data,
            },
        )

    def file_data(self, record: dict) -> dict:
        return {
            "ActionId": "act-1",
            "File": self.portal(record),
            "FileId": record["file_id"],
            "FilePath": self.portal(record)["FilePath"],
            "Url": None,
        }

    def current(self, file_id: str) -> dict:
        record = self.files[file_id]
        script = self.status_script.get(file_id)
        if script:
            record["status"] = script.pop(0)
        return record

    # -- HTTP ----------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = request.url.path
        self.calls.append((request.method, path, body))
        pending = self.interceptors.get(path)
        if pending:  # one interceptor per request, in order
            answer = pending.pop(0)(request)
            if answer is not None:
                return answer
        parts = path.strip("/").split("/")
        if path == "/appfile/file/path":
            record = self.add(f"f_{len(self.files) + 1}", "PENDING_UPLOAD", file_name=body["FileName"])
            data = self.file_data(record)
            data["Url"] = f"http://s3.test/bucket/{record['file_id']}"
            return self.envelope(data)
        if path in ("/appfile/file/import", "/appdata/import/file/async"):
            record = self.files[body["FileId"]]
            if record["status"] != "ADDED":
                return self.envelope(None, 409, "CONFLICT", f"The import of {body['FileId']} was already started.")
            self.triggers_applied += 1
            record["status"] = "FINISHED" if path == "/appfile/file/import" else "QUEUED"
            return self.envelope(self.file_data(record))
        if path == "/appfile/file/list":
            return self.envelope(
                self.page(body, "Offset", "Limit", "Statuses", "WorkspaceIds", "CreatedAfter", portal=True)
            )
        if parts[:2] == ["appfile", "file"] and len(parts) == 4 and parts[3] == "rejected":
            return httpx.Response(200, text=self.rejected_csv, headers={"Content-Type": "text/csv"})
        if parts[:2] == ["appfile", "file"] and len(parts) == 3:
            record = self.current(parts[2])
            if request.method == "DELETE":
                record["status"] = "DELETED"
            return self.envelope(self.file_data(record))
        if path == "/v1/imports/pre-signed-url/create":
            record = self.add(
                f"f_{len(self.files) + 1}",
                "PENDING_UPLOAD",
                file_name=body["file_name"],
                stream_name=body["stream_name"],
            )
            return httpx.Response(
                200,
                json={
                    "file_id": record["file_id"],
                    "url": "http://s3.test/bucket",
                    "fields": {"key": f"ws/{record['file_id']}", "policy": "p"},
                    "expires_at": T0 + 3600,
                },
            )
        if path == "/v1/imports/list":
            return httpx.Response(
                200, json=self.page(body, "offset", "limit", "statuses", "stream_names", "created_after")
            )
        if parts[:2] == ["v1", "imports"] and len(parts) == 4 and parts[3] == "rejected":
            return httpx.Response(200, text=self.rejected_csv, headers={"Content-Type": "text/csv"})
        if parts[:2] == ["v1", "imports"] and len(parts) == 3:
            record = self.current(parts[2])
            if request.method == "DELETE":
                record["status"] = "DELETED"
            return httpx.Response(200, json=record)
        return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": f"No route {path}"}})

    def page(self, body, offset_key, limit_key, statuses_key, workspaces_key, after_key, portal=False) -> dict:
        rows = sorted(self.files.values(), key=lambda r: r["date_created"], reverse=True)
        if body.get(statuses_key):
            rows = [r for r in rows if r["status"] in body[statuses_key]]
        if body.get(workspaces_key):
            rows = [r for r in rows if r["stream_name"] in body[workspaces_key]]
        if body.get(after_key) is not None:
            rows = [r for r in rows if r["date_created"] >= body[after_key]]
        offset, limit = body.get(offset_key, 0), body.get(limit_key, 1000)
        chunk = rows[offset : offset + limit]
        if portal:
            return {"Total": len(rows), "Offset": offset, "Limit": limit, "Files": [self.portal(r) for r in chunk]}
        return {"count": len(rows), "offset": offset, "limit": limit, "files": chunk}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def fake() -> FakeApi:
    return FakeApi()


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


def make_client(fake: FakeApi, clock: FakeClock, api: str) -> ImportClient:
    policy = RetryPolicy(max_attempts=4, sleep=clock.sleep, clock=clock, rng=random.Random(5))
    return ImportClient(
        "http://api.test", "secret", api=api, http=httpx.Client(transport=httpx.MockTransport(fake)), retry=policy
    )


def posts(fake: FakeApi, path: str) -> list:
    return [body for method, p, body in fake.calls if method == "POST" and p == path]


# -- request_upload ------------------------------------------------------------------


def test_portal_request_upload_sends_the_documented_body(fake: FakeApi, clock: FakeClock) -> None:
    client = make_client(fake, clock, "portal")
    target = client.request_upload(
        "/data/customers.cc5txt",
        workspace="ws-eu",
        entity_type="customer",
        bucket_id="bk-main",
        tags=["a"],
        folder="in",
        action_id="act-9",
    )
    (body,) = posts(fake, "/appfile/file/path")
    assert body == {
        "WorkspaceId": "ws-eu",
        "BucketId": "bk-main",
        "EntityType": "customer",
        "FileName": "customers.cc5txt",
        "Tags": ["a"],
        "Folder": "in",
        "ActionId": "act-9",
    }
    assert (target.method, target.file_id, target.url) == ("PUT", "f_1", "http://s3.test/bucket/f_1")
    assert target.file_path == "//bucket/ws-eu/f_1/customers.cc5txt" and target.action_id == "act-1"
    assert target.record.status == "PENDING_UPLOAD"


def test_portal_request_upload_needs_entity_and_bucket(fake: FakeApi, clock: FakeClock) -> None:
    client = make_client(fake, clock, "portal")
    with pytest.raises(ConfigError, match="needs entity_type and bucket_id"):
        client.request_upload("c.cc5txt", workspace="ws-eu")
    with pytest.raises(ConfigError, match="Unknown upload options.*colour"):
        client.request_upload("c.cc5txt", workspace="ws-eu", entity_type="e", bucket_id="b", colour="red")
    assert fake.calls == []


def test_imports_request_upload_gets_a_post_form(fake: FakeApi, clock: FakeClock) -> None:
    client = make_client(fake, clock, "imports")
    target = client.request_upload("customers.cc5txt", workspace="ws-eu", entity_type="ignored")
    assert posts(fake, "/v1/imports/pre-signed-url/create") == [
        {"stream_name": "ws-eu", "file_name": "customers.cc5txt"}
    ]
    assert target.method == "POST" and target.fields == {"key": "ws/f_1", "policy": "p"}
    assert target.expires_at == datetime.fromtimestamp(T0 + 3600, tz=timezone.utc)
    with pytest.raises(ConfigError, match="takes no upload options"):
        client.request_upload("c.cc5txt", workspace="ws-eu", folder="x")


def test_each_api_sends_its_own_key_header(fake: FakeApi, clock: FakeClock) -> None:
    seen: list[httpx.Headers] = []
    fake.interceptors["/v1/imports/f_1"] = [lambda r: seen.append(r.headers)]
    fake.interceptors["/appfile/file/f_1"] = [lambda r: seen.append(r.headers)]
    fake.add("f_1")
    make_client(fake, clock, "imports").status("f_1")
    make_client(fake, clock, "portal").status("f_1")
    assert seen[0]["u21-key"] == "secret" and "x-api-key" not in seen[0]
    assert seen[1]["x-api-key"] == "secret" and "u21-key" not in seen[1] and "authorization" not in seen[1]


# -- records ----------------------------------------------------------------------------


def test_both_apis_give_the_same_record(fake: FakeApi, clock: FakeClock) -> None:
    fake.add(
        "f_1", "FINISHED", successful_count=7, failure_count=2, process_start_time=T0 + 1, process_end_time=T0 + 2.5
    )
    portal = make_client(fake, clock, "portal").status("f_1")
    imports = make_client(fake, clock, "imports").status("f_1")
    assert portal.to_dict() == imports.to_dict()
    assert portal.date_created == datetime(2026, 11, 22, 10, 30, 0, 123000, tzinfo=timezone.utc)
    assert portal.workspace == "ws-eu" and portal.successful_count == 7 and portal.failure_count == 2
    assert portal.file_path == "//bucket/ws-eu/f_1/f_1.cc5txt" and imports.file_path is None
    assert portal.raw["BucketId"] == "bk-main"


def test_record_times_are_utc_whatever_the_input_zone() -> None:
    record = record_from_portal(
        {
            "FileId": "f",
            "Status": "FINISHED",
            "DateCreated": "2026-11-22T12:30:00+02:00",
            "ProcessStartTime": "2026-11-22T10:30:01",
            "ProcessEndTime": None,
        }
    )
    assert record.date_created == datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)
    assert record.process_start_time.tzinfo is timezone.utc and record.process_end_time is None
    assert record_from_imports({"file_id": "f", "status": "x", "date_created": "1795343400"}).date_created.year == 2026


# -- start_import --------------------------------------------------------------------


def test_portal_async_trigger(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1")
    client = make_client(fake, clock, "portal")
    target = UploadTarget("f_1", "u", file_path="//bucket/ws-eu/f_1/f_1.cc5txt", action_id="act-7")
    record = client.start_import(target)
    assert record.status == "QUEUED"
    assert posts(fake, "/appdata/import/file/async") == [
        {"FileType": "cc5", "FileId": "f_1", "FilePath": "//bucket/ws-eu/f_1/f_1.cc5txt", "ActionId": "act-7"}
    ]


def test_portal_sync_trigger(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1")
    record = make_client(fake, clock, "portal").start_import("f_1", wait=True, description="nightly")
    assert record.status == "FINISHED"
    assert posts(fake, "/appfile/file/import") == [{"FileType": "cc5", "FileId": "f_1", "Description": "nightly"}]


def test_a_lost_trigger_answer_is_checked_not_resent(fake: FakeApi, clock: FakeClock) -> None:
    """The server ran the trigger but the answer never came: status shows it started."""
    fake.add("f_1")

    def run_then_drop(request: httpx.Request) -> None:
        fake.files["f_1"]["status"] = "QUEUED"
        fake.triggers_applied += 1
        raise httpx.ReadTimeout("timed out")

    fake.interceptors["/appdata/import/file/async"] = [run_then_drop]
    record = make_client(fake, clock, "portal").start_import("f_1")
    assert record.status == "QUEUED"
    assert len(posts(fake, "/appdata/import/file/async")) == 1 and fake.triggers_applied == 1
    assert ("GET", "/appfile/file/f_1", None) in fake.calls


def test_a_trigger_dropped_before_it_ran_is_sent_again(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1")

    def drop(request: httpx.Request) -> None:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")

    fake.interceptors["/appdata/import/file/async"] = [drop]
    record = make_client(fake, clock, "portal").start_import("f_1")
    assert record.status == "QUEUED"
    assert len(posts(fake, "/appdata/import/file/async")) == 2 and fake.triggers_applied == 1
    assert len(clock.sleeps) == 1  # backed off before re-sending


def test_a_409_already_started_counts_as_accepted(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1", "PROCESSING")
    record = make_client(fake, clock, "portal").start_import("f_1")
    assert record.status == "PROCESSING" and fake.triggers_applied == 0


def test_a_409_on_a_file_that_did_not_start_is_a_conflict(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1", "PENDING_UPLOAD")
    with pytest.raises(ConflictError, match=r"already started.*\(HTTP 409 CONFLICT\)"):
        make_client(fake, clock, "portal").start_import("f_1")


def test_a_500_after_the_import_ran_is_not_resent(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1")

    def fail_after_running(request: httpx.Request) -> httpx.Response:
        fake.files["f_1"].update(status="FAILED", failure_code="INTERNAL_ERROR")
        return fake.envelope(None, 500, "INTERNAL_ERROR", "The import crashed.")

    fake.interceptors["/appfile/file/import"] = [fail_after_running]
    record = make_client(fake, clock, "portal").start_import("f_1", wait=True)
    assert (record.status, record.failure_code) == ("FAILED", "INTERNAL_ERROR")
    assert len(posts(fake, "/appfile/file/import")) == 1


def test_a_503_trigger_is_resent_after_retry_after(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1")
    fake.interceptors["/appdata/import/file/async"] = [
        lambda r: httpx.Response(503, headers={"Retry-After": "4"}, json={})
    ]
    assert make_client(fake, clock, "portal").start_import("f_1").status == "QUEUED"
    assert len(posts(fake, "/appdata/import/file/async")) == 2 and clock.sleeps == [4.0]


def test_an_unreachable_trigger_that_never_ran_gives_up_with_a_transport_error(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1")

    def drop(request: httpx.Request) -> None:
        raise httpx.ReadTimeout("timed out")

    fake.interceptors["/appdata/import/file/async"] = [drop] * 10
    with pytest.raises(TransportError, match="Starting the import of file f_1 failed: read timed out"):
        make_client(fake, clock, "portal").start_import("f_1")
    assert len(posts(fake, "/appdata/import/file/async")) == 4 and fake.triggers_applied == 0


def test_a_sync_trigger_that_times_out_while_running_is_then_polled(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1")

    def slow(request: httpx.Request) -> None:
        fake.files["f_1"]["status"] = "PROCESSING"
        fake.status_script["f_1"] = ["PROCESSING", "PROCESSING", "FINISHED"]
        raise httpx.ReadTimeout("timed out")

    fake.interceptors["/appfile/file/import"] = [slow]
    record = make_client(fake, clock, "portal").start_import("f_1", wait=True, timeout=60)
    assert record.status == "FINISHED" and len(posts(fake, "/appfile/file/import")) == 1


def test_imports_api_start_import_sends_nothing(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1", "QUEUED")
    record = make_client(fake, clock, "imports").start_import("f_1")
    assert record.status == "QUEUED"
    assert [(m, p) for m, p, _ in fake.calls] == [("GET", "/v1/imports/f_1")]


# -- wait -----------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_wait_polls_with_growing_intervals_until_the_end(fake: FakeApi, clock: FakeClock, api: str) -> None:
    fake.add("f_1", "QUEUED")
    fake.status_script["f_1"] = ["QUEUED", "QUEUED", "PROCESSING", "PROCESSING", "PROCESSING", "FINISHED"]
    record = make_client(fake, clock, api).wait("f_1", timeout=60)
    assert record.status == "FINISHED"
    assert len(clock.sleeps) == 5
    assert all(later > earlier for earlier, later in zip(clock.sleeps, clock.sleeps[1:]))


@pytest.mark.parametrize("end", ["FAILED", "DELETED"])
def test_wait_returns_failed_and_deleted_records(fake: FakeApi, clock: FakeClock, end: str) -> None:
    fake.add("f_1", "PROCESSING")
    fake.status_script["f_1"] = ["PROCESSING", end]
    assert make_client(fake, clock, "imports").wait("f_1").status == end


def test_wait_gives_up_after_the_timeout(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1", "PROCESSING")
    with pytest.raises(ImportTimeout) as caught:
        make_client(fake, clock, "portal").wait("f_1", timeout=30, max_interval=4)
    assert caught.value.file_id == "f_1" and caught.value.status == "PROCESSING"
    assert "after 30 s" in str(caught.value) and "toolkit status f_1" in str(caught.value)
    assert sum(clock.sleeps) == pytest.approx(30) and max(clock.sleeps) <= 4


# -- list -----------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_list_fetches_every_page(fake: FakeApi, clock: FakeClock, api: str) -> None:
    for i in range(2345):
        fake.add(f"f_{i:04d}", "FINISHED", created=T0 + i)
    frame = make_client(fake, clock, api).list_imports()
    assert len(frame) == 2345 and frame["file_id"].is_unique
    assert frame["file_id"].iloc[0] == "f_2344"  # newest first
    path = "/appfile/file/list" if api == "portal" else "/v1/imports/list"
    offsets = [b["Offset" if api == "portal" else "offset"] for b in posts(fake, path)]
    assert offsets == [0, 1000, 2000]
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == RECORD_COLUMNS


def test_list_sends_filters_in_each_api_s_names(fake: FakeApi, clock: FakeClock) -> None:
    fake.add("f_1", "FAILED")
    fake.add("f_2", "FINISHED")
    after = datetime(2026, 11, 1, tzinfo=timezone.utc)
    make_client(fake, clock, "portal").list_imports(
        statuses="failed", workspaces=["ws-eu"], created_after=after, created_before=T0 + 10, page_size=50
    )
    make_client(fake, clock, "imports").list_imports(statuses=["FAILED", "QUEUED"], workspaces="ws-eu")
    assert posts(fake, "/appfile/file/list") == [
        {
            "Offset": 0,
            "Limit": 50,
            "Statuses": ["FAILED"],
            "WorkspaceIds": ["ws-eu"],
            "CreatedAfter": after.timestamp(),
            "CreatedBefore": T0 + 10,
        }
    ]
    assert posts(fake, "/v1/imports/list") == [
        {"offset": 0, "limit": 1000, "statuses": ["FAILED", "QUEUED"], "stream_names": ["ws-eu"]}
    ]


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_count_asks_for_one_record_and_reads_the_total(fake: FakeApi, clock: FakeClock, api: str) -> None:
    for i in range(7):
        fake.add(f"f_{i}", "FAILED" if i % 2 else "FINISHED", created=T0 + i)
    client = make_client(fake, clock, api)
    assert (client.count(), client.count(statuses="failed")) == (7, 3)
    path = "/appfile/file/list" if api == "portal" else "/v1/imports/list"
    assert {b["Limit" if api == "portal" else "limit"] for b in posts(fake, path)} == {1}


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_discard_pending_deletes_only_a_file_still_waiting_for_its_upload(fake: FakeApi, clock: FakeClock,
                                                                         api: str) -> None:
    fake.add("f_waiting", "PENDING_UPLOAD")
    fake.add("f_done", "FINISHED")
    client = make_client(fake, clock, api)
    assert client.discard_pending("f_waiting") is True and fake.files["f_waiting"]["status"] == "DELETED"
    assert client.discard_pending("f_done") is False and fake.files["f_done"]["status"] == "FINISHED"
    path = "/appfile/file/f_gone" if api == "portal" else "/v1/imports/f_gone"
    fake.interceptors[path] = [lambda request: httpx.Response(404, json={"error": {"code": "NOT_FOUND"}})]
    assert client.discard_pending("f_gone") is False  # cleanup after another error never raises


def test_list_since_a_duration(fake: FakeApi, clock: FakeClock) -> None:
    make_client(fake, clock, "imports").list_imports(created_after="7d")
    (body,) = posts(fake, "/v1/imports/list")
    age = datetime.now(timezone.utc).timestamp() - body["created_after"]
    assert 7 * 86400 - 60 < age < 7 * 86400 + 60
    with pytest.raises(ConfigError, match="Bad time filter"):
        make_client(fake, clock, "imports").list_imports(created_after="last tuesday")


def test_an_empty_list_is_a_typed_empty_frame(fake: FakeApi, clock: FakeClock) -> None:
    frame = make_client(fake, clock, "portal").list_imports()
    assert frame.empty and list(frame.columns) == list(RECORD_COLUMNS)
    assert str(frame["date_created"].dtype) == "datetime64[us, UTC]" and str(frame["failure_count"].dtype) == "Int64"


def test_files_shifting_between_pages_appear_once(fake: FakeApi, clock: FakeClock) -> None:
    for i in range(5):
        fake.add(f"f_{i}", created=T0 + i)

    def new_file_arrives(request: httpx.Request) -> None:
        fake.add("f_new", created=T0 + 100)  # lands in front: page 2 repeats f_2

    fake.interceptors["/v1/imports/list"] = [lambda r: None, new_file_arrives]
    frame = make_client(fake, clock, "imports").list_imports(page_size=2)
    pages = [b["offset"] for b in posts(fake, "/v1/imports/list")]
    assert pages == [0, 2, 4]  # the second page repeated f_2; the count grew to 6
    assert frame["file_id"].tolist() == ["f_4", "f_3", "f_2", "f_1", "f_0"]


def test_list_page_size_is_checked(fake: FakeApi, clock: FakeClock) -> None:
    with pytest.raises(ConfigError, match="page_size"):
        make_client(fake, clock, "portal").list_imports(page_size=5000)


# -- rejected rows and delete -------------------------------------------------------------


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_rejected_rows_as_a_frame_and_as_a_file(fake: FakeApi, clock: FakeClock, api: str, tmp_path) -> None:
    fake.add("f_1", "FINISHED", failure_count=2)
    fake.rejected_csv = (
        "line,error,customer_code,name\n"
        "7,\"INVALID_INT field age: 'x' is not an int\",C7,Ada\n"
        "9,FIELD_COUNT: 1 value for 2 fields,C9\n"
    )
    client = make_client(fake, clock, api)
    frame = client.rejected_rows("f_1")
    assert list(frame.columns) == ["line", "error", "customer_code", "name"]
    assert frame["line"].tolist() == [7, 9] and str(frame["line"].dtype) == "Int64"
    assert frame.loc[1, "customer_code"] == "C9" and pd.isna(frame.loc[1, "name"])
    out = tmp_path / "rejected.csv"
    assert client.save_rejected("f_1", out) == 2
    assert out.read_text() == fake.rejected_csv
    assert not (tmp_path / "rejected.csv.part").exists()


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_delete_returns_the_deleted_record(fake: FakeApi, clock: FakeClock, api: str) -> None:
    fake.add("f_1", "FINISHED")
    record = make_client(fake, clock, api).delete("f_1")
    assert isinstance(record, ImportRecord) and record.status == "DELETED" and record.is_terminal
    assert fake.calls[-1][0] == "DELETE"


def test_the_rejected_row_count_follows_csv_quoting_across_chunks() -> None:
    """save_rejected counts records, not lines: quoted values may hold line breaks."""
    import csv
    import io

    from toolkit.client.result import CsvRowCounter

    rng = random.Random(11)
    for _ in range(300):
        rows = [
            ["".join(rng.choice('ab,"\n\r') for _ in range(rng.randrange(6))) for _ in range(rng.randrange(1, 4))]
            for _ in range(rng.randrange(0, 6))
        ]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator=rng.choice(["\n", "\r\n"])).writerows(rows)
        data = buffer.getvalue().encode()
        for size in (1, 3, 64):
            counter = CsvRowCounter()
            for i in range(0, len(data), size):
                counter.feed(data[i : i + size])
            assert counter.rows == max(0, len(rows) - 1), (data, size)


def test_the_client_frame_and_the_app_frame_share_dtypes() -> None:
    """One import-list shape: the app's normalize_imports keeps list_imports' dtypes as they are."""
    from toolkit.app_support.records import normalize_imports
    from toolkit.client.result import ImportRecord, records_to_frame

    frame = records_to_frame([ImportRecord(file_id="f_1", status="FINISHED", successful_count=2,
                                           date_created=datetime(2026, 11, 22, tzinfo=timezone.utc))])
    normal = normalize_imports(frame)
    for column in ("date_created", "process_start_time", "successful_count", "failure_count"):
        assert normal[column].dtype == frame[column].dtype, column


def test_a_sync_portal_import_that_failed_returns_the_failed_record() -> None:
    """The portal answers a synchronous import that ended FAILED with IsSuccess false,
    the code in ResponseStatus.ErrorCode and the file in Data: that is the import's
    outcome, not a failed call."""
    from toolkit.client.http import HttpSender
    from toolkit.client.portal import PortalApi

    file = {"FileId": "f_1", "Status": "FAILED", "FailureCode": "BAD_HEADER", "FailureCount": 3}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-api-key"] == "secret"
        return httpx.Response(200, json={
            "IsSuccess": False, "ResponseStatus": {"ErrorCode": "BAD_HEADER", "Message": "Import FAILED (BAD_HEADER)"},
            "Data": {"ActionId": "a", "File": file, "FileId": "f_1", "FilePath": "//b/f_1", "Url": None}})

    api = PortalApi("http://api.test", "secret", HttpSender(httpx.Client(transport=httpx.MockTransport(handler))))
    record = api.trigger("f_1", wait=True, timeout=30, file_path=None, action_id=None, description=None)
    assert (record.status, record.failure_code, record.failure_detail, record.failure_count) == (
        "FAILED", "BAD_HEADER", "BAD_HEADER", 3)

    def error(request: httpx.Request) -> httpx.Response:  # a real error keeps raising
        return httpx.Response(404, json={"IsSuccess": False, "ResponseStatus": {"ErrorCode": "NOT_FOUND",
                                                                                 "Message": "File f_1 not found"},
                                         "Data": None})

    api = PortalApi("http://api.test", "secret", HttpSender(httpx.Client(transport=httpx.MockTransport(error))))
    with pytest.raises(NotFoundError):
        api.trigger("f_1", wait=True, timeout=30, file_path=None, action_id=None, description=None)
