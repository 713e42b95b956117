"""Load: the status and list endpoints of a real ``toolkit serve`` process
under 50 concurrent clients for 60 s on loopback.

Each client has its own connection and key (two workspaces, 25 clients
each) and cycles through: portal status, imports-API status, portal list,
imports-API list (100 files a page, filtered by status). 120 files exist in
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
FILES_PER_WORKSPACE = 120
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


class _Connection:
    """A minimal keep-alive HTTP/1.1 client on one connection. (httpx's
    AsyncClient slows down sharply with tens of concurrent requests, encode/httpx
    #3215, and would measure itself instead of the service.)"""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> "_Connection":
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, f"{host}:{port}")

    async def request(self, method: str, path: str, headers: dict[str, str],
                      body: dict[str, Any] | None = None) -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(payload)}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        if body is not None:
            lines.append("Content-Type: application/json")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if ":" in line)}
        content = await self.reader.readexactly(int(fields["content-length"]))
        return int(head[0].split(" ")[1]), json.loads(content)

    async def close(self) -> None:
        self.writer.close()


async def _client(number: int, url: str, files: dict[str, list[str]], stop_at: float,
                  results: list[tuple[str, float, bool]], errors: list[str]) -> None:
    key = "load-a" if number % 2 == 0 else "load-b"
    ids = files[key]
    connection = await _Connection.open(url)
    n = number
    try:
        while time.perf_counter() < stop_at:
            file_id = ids[n % len(ids)]
            kind = ("portal status", "imports status", "portal list", "imports list")[n % 4]
            if kind == "portal status":
                call = ("GET", f"/appfile/file/{file_id}", bearer(key), None)
            elif kind == "imports status":
                call = ("GET", f"/v1/imports/{file_id}", u21(key), None)
            elif kind == "portal list":
                call = ("POST", "/appfile/file/list", bearer(key),
                        {"Statuses": ["PENDING_UPLOAD", "FINISHED"], "Limit": 100})
            else:
                call = ("POST", "/v1/imports/list", u21(key), {"statuses": ["PENDING_UPLOAD", "FINISHED"], "limit": 100})
            started = time.perf_counter()
            try:
                status, body = await connection.request(*call)
                ok = status == 200 and _checker(kind, key, file_id)(body)
                if not ok:
                    errors.append(f"{kind}: HTTP {status} {str(body)[:200]}")
            except (OSError, asyncio.IncompleteReadError, ValueError, KeyError) as exc:
                ok = False
                errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                await connection.close()
                connection = await _Connection.open(url)
            results.append((kind, time.perf_counter() - started, ok))
            n += 1
    finally:
        await connection.close()


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
