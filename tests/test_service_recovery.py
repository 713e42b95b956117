"""Restarts: files left QUEUED or PROCESSING are imported again and applied
exactly once; an import's data and its FINISHED status commit together."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import bearer, make_cc5, portal_upload


def _wait_status(get: Any, statuses: tuple[str, ...], timeout: float = 120) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = get()
        if status in statuses:
            return status
        time.sleep(0.05)
    raise AssertionError(f"still {get()} after {timeout} s")


def test_queued_and_interrupted_files_finish_once_after_restart(make_service: Any, tmp_path: Path) -> None:
    store = tmp_path / "shared.duckdb"
    first = make_service(store=store)
    client = TestClient(first.app, raise_server_exceptions=False)
    done = portal_upload(client, make_cc5(tmp_path, rows=5, start=0, name="done.cc5txt"))
    client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": done["FileId"]}, headers=bearer("key-all"))
    queued = portal_upload(client, make_cc5(tmp_path, rows=5, start=5, name="queued.cc5txt"))
    busy = portal_upload(client, make_cc5(tmp_path, rows=5, start=10, name="busy.cc5txt"))
    for data in (queued, busy):
        client.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": data["FileId"]},
                    headers=bearer("key-all"))
    claimed = first.store.claim_next_queued(now=time.time())  # a worker took it, then the process died
    assert claimed.file_id == queued["FileId"] and claimed.status == "PROCESSING"
    first.close()

    second = make_service(store=store)
    second.start()
    for data in (queued, busy):
        _wait_status(lambda file_id=data["FileId"]: second.store.get_file(file_id).status, ("FINISHED", "FAILED"))
    records = {d["FileId"]: second.store.get_file(d["FileId"]) for d in (done, queued, busy)}
    assert [r.status for r in records.values()] == ["FINISHED"] * 3
    assert records[queued["FileId"]].attempts == 2 and records[done["FileId"]].attempts == 1
    table = second.store.read_table("ws-eu", "customer").df()
    assert len(table) == 15 and table["customer_code"].is_unique


def test_a_failure_inside_the_apply_leaves_no_data(make_service: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    svc = make_service()
    client = TestClient(svc.app, raise_server_exceptions=False)
    data = portal_upload(client, make_cc5(tmp_path, rows=5, bad_rows=1))

    def broken(con: Any, file_id: str, report: Any, limit: int) -> None:
        if report is not None:  # recording the findings comes after the rows were written
            raise RuntimeError("disk full")

    monkeypatch.setattr(type(svc.store), "_insert_findings", staticmethod(broken))
    file = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                       headers=bearer("key-all")).json()["Data"]["File"]
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "INTERNAL_ERROR")
    assert svc.store.read_table("ws-eu", "customer") is None  # even the table creation rolled back


@pytest.mark.slow
def test_kill_9_during_an_import_then_restart(moto_endpoint: str, tmp_path: Path) -> None:
    """A real ``toolkit serve`` process is killed mid-import; the restarted one finishes the file."""
    store = tmp_path / "serve.duckdb"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOOLKIT_API_KEYS": json.dumps({"kill-key": ["*"]}),
           "TOOLKIT_S3_ACCESS_KEY_ID": "test", "TOOLKIT_S3_SECRET_ACCESS_KEY": "test"}
    command = [sys.executable, "-c", "from toolkit.cli import main; main()", "serve", "--port", "0", "--store", str(store),
               "--s3-endpoint", moto_endpoint, "--bucket", "kill-test"]

    def start() -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:  # type: ignore[union-attr]
            found = re.search(r"toolkit service on (http://127\.0\.0\.1:\d+)", line)
            if found:
                return proc, found.group(1)
        raise AssertionError(f"toolkit serve did not start (exit {proc.wait()})")

    rows = 600_000
    path = make_cc5(tmp_path, rows=rows)
    proc, url = start()
    try:
        api = httpx.Client(base_url=url, headers=bearer("kill-key"), timeout=60)
        data = portal_upload(api, path, key="kill-key")
        api.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": data["FileId"]})
        get = lambda: api.get(f"/appfile/file/{data['FileId']}").json()["Data"]["File"]["Status"]  # noqa: E731
        assert _wait_status(get, ("PROCESSING", "FINISHED")) == "PROCESSING", "the import ended before the kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        api.close()

        proc, url = start()
        api = httpx.Client(base_url=url, headers=bearer("kill-key"), timeout=60)
        get = lambda: api.get(f"/appfile/file/{data['FileId']}").json()["Data"]["File"]  # noqa: E731
        assert _wait_status(lambda: get()["Status"], ("FINISHED", "FAILED")) == "FINISHED"
        assert get()["SuccessfulCount"] == rows
        api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    with duckdb.connect(str(store), read_only=True) as con:
        total, distinct = con.execute(
            'SELECT count(*), count(DISTINCT customer_code) FROM data."ws-eu/customer"').fetchone()
        attempts = con.execute("SELECT attempts FROM files WHERE file_id = ?", [data["FileId"]]).fetchone()[0]
    assert total == distinct == rows
    assert attempts == 2
