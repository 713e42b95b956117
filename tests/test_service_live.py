"""Both APIs end to end over real HTTP: uvicorn and moto on 127.0.0.1
(``live_service``), the seed's own client flows (curl for seed 003, an
octet-stream PUT for seed 000)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import toolkit
from conftest import curl_post_form, make_cc5

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl_json(*args: str) -> tuple[int, Any]:
    """Run curl like the seed does; returns (HTTP status, parsed JSON body)."""
    done = subprocess.run(["curl", "--silent", "--show-error", "--write-out", "\n%{http_code}", *args],
                          capture_output=True, text=True, timeout=60, check=True)
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body else None


def _wait(check: Any, timeout: float = 60) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_local_service_shape(live_service: Any) -> None:
    assert live_service.url.startswith("http://127.0.0.1:")
    assert live_service.s3_endpoint.startswith("http://127.0.0.1:")
    assert live_service.api_key and isinstance(live_service, toolkit.LocalService)
    assert httpx.get(f"{live_service.url}/openapi.json").json()["info"]["title"]


def test_seed_003_curl_flow(live_service: Any, tmp_path: Path) -> None:
    url, key = live_service.url, live_service.api_key
    path = make_cc5(tmp_path, rows=40, workspace="ws-live-imports", bad_rows=2)
    status, created = curl_json(
        "--request", "POST", "--url", f"{url}/v1/imports/pre-signed-url/create",
        "--header", "accept: application/json", "--header", "content-type: application/json",
        "--header", f"u21-key: {key}",
        "--data", json.dumps({"stream_name": "ws-live-imports", "file_name": path.name}))
    assert status == 200 and created["url"].startswith(live_service.s3_endpoint)
    assert curl_post_form(created["url"], created["fields"], path) == 204

    def finished() -> Any:
        status, record = curl_json("--request", "GET", "--url", f"{url}/v1/imports/{created['file_id']}",
                                   "--header", "accept: application/json", "--header", f"u21-key: {key}")
        assert status == 200
        return record if record["status"] in ("FINISHED", "FAILED") else None

    record = _wait(finished)  # processing starts by itself once the upload lands
    assert (record["status"], record["successful_count"], record["failure_count"]) == ("FINISHED", 40, 2)

    status, listing = curl_json(
        "--request", "POST", "--url", f"{url}/v1/imports/list",
        "--header", "accept: application/json", "--header", "content-type: application/json",
        "--header", f"u21-key: {key}",
        "--data", json.dumps({"created_after": record["date_created"] - 1, "created_before": time.time() + 1,
                              "statuses": ["QUEUED", "FINISHED"], "stream_names": ["ws-live-imports"],
                              "offset": 0, "limit": 1000}))
    assert status == 200 and listing["count"] == 1 and listing["files"][0]["file_id"] == created["file_id"]

    rejected = httpx.get(f"{url}/v1/imports/{created['file_id']}/rejected", headers={"u21-key": key})
    rows = list(csv.DictReader(io.StringIO(rejected.text)))
    assert [int(r["line"]) for r in rows] == [45, 46] and all("INVALID_NUMBER" in r["error"] for r in rows)


def test_seed_000_portal_flow(live_service: Any, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {live_service.api_key}"}
    path = make_cc5(tmp_path, rows=30, workspace="ws-live-portal")
    with httpx.Client(base_url=live_service.url, headers=auth, timeout=60) as api:
        answer = api.post("/appfile/file/path", json={
            "WorkspaceId": "ws-live-portal", "BucketId": "bk-main", "EntityType": "customer",
            "FileName": path.name, "Folder": "f", "Category": "c", "Tags": ["t"], "Metadata": {"k": "v"},
            "ActionId": "Track Id", "Description": "Track description"}).json()
        assert answer["IsSuccess"] and answer["Data"]["ActionId"] == "Track Id"
        data = answer["Data"]
        with path.open("rb") as stream:  # streamed, like the seed's examples, with a Content-Length
            put = httpx.put(data["Url"], content=stream, headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)})
        assert put.status_code == 200
        done = api.post("/appfile/file/import", json={
            "ActionId": "Track Id", "Description": "Track description", "FileType": "cc5",
            "FileId": data["FileId"], "FilePath": data["FilePath"]}).json()
        assert done["IsSuccess"] and done["Data"]["File"]["Status"] == "FINISHED"
        assert done["Data"]["File"]["SuccessfulCount"] == 30
        status = api.get(f"/appfile/file/{data['FileId']}").json()
        assert status["Data"]["File"] == done["Data"]["File"]
    table = live_service.read_table("ws-live-portal", "customer")
    assert len(table) == 30 and table["credit"].notna().all()


def test_portal_async_over_http(live_service: Any, tmp_path: Path) -> None:
    auth = {"Authorization": f"Bearer {live_service.api_key}"}
    path = make_cc5(tmp_path, rows=10, workspace="ws-live-async")
    with httpx.Client(base_url=live_service.url, headers=auth, timeout=60) as api:
        data = api.post("/appfile/file/path", json={"WorkspaceId": "ws-live-async", "BucketId": "b",
                                                    "EntityType": "customer", "FileName": path.name}).json()["Data"]
        assert httpx.put(data["Url"], content=path.read_bytes()).status_code == 200
        queued = api.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": data["FileId"]}).json()
        assert queued["Data"]["File"]["Status"] == "QUEUED"

        def ended() -> Any:
            file = api.get(f"/appfile/file/{data['FileId']}").json()["Data"]["File"]
            return file if file["Status"] in ("FINISHED", "FAILED") else None

        record = _wait(ended)
        assert record["Status"] == "FINISHED"
