"""Load: the status and list endpoints of a real ``toolkit serve`` process
under 50 concurrent clients for 60 s on loopback.

Each client has its own connection and key (two workspaces, 25 clients
each) and cycles through: portal status, imports-API status, portal list,
imports-API list (100 files a page, filtered by status). 200 files exist in
each workspace (PENDING_UPLOAD, so the upload watcher keeps checking them
in the background, and a few FINISHED). An error is any transport failure,
any status but 200, or an answer about the wrong file or workspace. What
must hold: error rate 0. The latency percentiles are printed (``-s``) and
recorded in docs/reliability.md; nothing asserts them.

``RELIABILITY_LOAD_SECONDS`` (default 60) and ``RELIABILITY_LOAD_CLIENTS``
(default 50) change the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import bearer, make_cc5, portal_upload, u21
from reliability_support import ServeProcess, percentile

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("RELIABILITY_LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("RELIABILITY_LOAD_CLIENTS", "50"))
FILES_PER_WORKSPACE = 200
KEYS = {"load-a": {"workspaces": ["ws-load-a"]}, "load-b": {"workspaces": ["ws-load-b"]}}
WORKSPACE_OF = {"load-a": "ws-load-a", "load-b": "ws-load-b"}


@pytest.fixture(scope="module")
def served(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    directory = tmp_path_factory.mktemp("load")
    serve = ServeProcess(directory / "load.duckdb", moto_endpoint, keys=KEYS, bucket="load-test")
    files: dict[str, list[str]] = {}
    try:
        serve.start()
        with httpx.Client(base_url=serve.url, timeout=60) as api:
            for key, workspace in WORKSPACE_OF.items():
                ids = []
                for n in range(3):
                    path = make_cc5(directory, rows=50, workspace=workspace, start=n * 50)
                    data = portal_upload(api, path, workspace=workspace, key=key)
                    api.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                             headers=bearer(key))
                    ids.append(data["FileId"])
                for n in range(FILES_PER_WORKSPACE - len(ids)):
                    answer = api.post("/appfile/file/path", headers=bearer(key), json={
                        "WorkspaceId": workspace, "BucketId": "bk", "EntityType": "customer",
                        "FileName": f"pending-{n}.cc5txt"})
                    ids.append(answer.json()["Data"]["FileId"])
                files[key] = ids
        yield {"url": serve.url, "files": files}
    finally:
        serve.stop()


def _checker(kind: str, key: str, file_id: str) -> Any:
    workspace = WORKSPACE_OF[key]

    def check(body: dict[str, Any]) -> bool:
        if kind == "portal status":
            return body["IsSuccess"] and body["Data"]["File"]["FileId"] == file_id
        if kind == "imports status":
            return body["file_id"] == file_id and body["stream_name"] == workspace
        if kind == "portal list":
            data = body["Data"]
            return data["Total"] == FILES_PER_WORKSPACE and len(data["Files"]) == 100 and all(
                f["WorkspaceId"] == workspace for f in data["Files"])
        return body["count"] == FILES_PER_WORKSPACE and len(body["files"]) == 100 and all(
            f["stream_name"] == workspace for f in body["files"])
    return check


async def _client(number: int, url: str, files: dict[str, list[str]], stop_at: float,
                  results: list[tuple[str, float, bool]], errors: list[str]) -> None:
    key = "load-a" if number % 2 == 0 else "load-b"
    ids = files[key]
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        n = number
        while time.perf_counter() < stop_at:
            file_id = ids[n % len(ids)]
            kind = ("portal status", "imports status", "portal list", "imports list")[n % 4]
            if kind == "portal status":
                request = client.build_request("GET", f"/appfile/file/{file_id}", headers=bearer(key))
            elif kind == "imports status":
                request = client.build_request("GET", f"/v1/imports/{file_id}", headers=u21(key))
            elif kind == "portal list":
                request = client.build_request("POST", "/appfile/file/list", headers=bearer(key),
                                               json={"Statuses": ["PENDING_UPLOAD", "FINISHED"], "Limit": 100})
            else:
                request = client.build_request("POST", "/v1/imports/list", headers=u21(key),
                                               json={"statuses": ["PENDING_UPLOAD", "FINISHED"], "limit": 100})
            started = time.perf_counter()
            try:
                answer = await client.send(request)
                ok = answer.status_code == 200 and _checker(kind, key, file_id)(answer.json())
                if not ok:
                    errors.append(f"{kind}: HTTP {answer.status_code} {answer.text[:200]}")
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                ok = False
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
            results.append((kind, time.perf_counter() - started, ok))
            n += 1


def test_status_and_list_under_50_concurrent_clients(served: dict[str, Any], tmp_path: Path) -> None:
    results: list[tuple[str, float, bool]] = []
    errors: list[str] = []

    async def run() -> None:
        stop_at = time.perf_counter() + SECONDS
        await asyncio.gather(*(_client(n, served["url"], served["files"], stop_at, results, errors)
                               for n in range(CLIENTS)))

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started

    summary: dict[str, Any] = {"clients": CLIENTS, "seconds": round(elapsed, 1), "requests": len(results),
                               "errors": len(errors), "per_second": round(len(results) / elapsed, 1)}
    for kind in ("all", "portal status", "imports status", "portal list", "imports list"):
        latencies = [s for k, s, _ in results if kind in ("all", k)]
        summary[kind] = {"n": len(latencies), "p50_ms": round(percentile(latencies, 50) * 1000, 1),
                         "p99_ms": round(percentile(latencies, 99) * 1000, 1)}
    print("\nload:", json.dumps(summary))
    assert errors == [], f"{len(errors)} errors, first: {errors[:3]}"
    assert all(summary[k]["n"] >= CLIENTS // 4 for k in ("portal status", "imports status", "portal list",
                                                          "imports list"))
