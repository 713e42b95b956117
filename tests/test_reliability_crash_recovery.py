"""Crash recovery: a real ``toolkit serve`` process is SIGKILLed, restarted on
the same store, and every file still ends FINISHED exactly once, its table
identical to a clean import of the same file on a second store.

S3 (moto, behind a ``FaultProxy`` used only to *observe* the service's S3
requests) lives in the test process, so it survives the service's death. The
kill points are chosen from what the service does on S3:

1. download: its GET of the object was seen (the file is being downloaded);
2. plan: the GET's answer was relayed, then 0.15 s (the engine is validating);
3. apply: the rejected-rows CSV was stored, then 0.2 s: that PUT is the last
   step before the apply transaction, which lasts seconds for this file.

Then: a crash between the upload and the trigger (both APIs), and a crash
right after files FINISHED (nothing may be re-applied or lost).

``RELIABILITY_CRASH_ROWS`` sets the large file's rows (default 150,000).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import bearer, curl_post_form, make_cc5, portal_upload, u21
from reliability_support import FaultProxy, ServeProcess, compare_tables, query_store, wait_for

pytestmark = pytest.mark.slow

ROWS = int(os.environ.get("RELIABILITY_CRASH_ROWS", "150000"))
BAD_ROWS = 40
SMALL_ROWS = 3000
KEY = "crash-key"
KEYS = {KEY: {"workspaces": ["*"]}}


def big_file(directory: Path, workspace: str) -> Path:
    """ROWS customers, some rejected rows, a delete every 997 keys."""
    return make_cc5(directory, rows=ROWS, workspace=workspace, bad_rows=BAD_ROWS, deletes=range(0, ROWS, 997),
                    name=f"{workspace}.cc5txt")


def small_file(directory: Path, workspace: str) -> Path:
    return make_cc5(directory, rows=SMALL_ROWS, workspace=workspace, bad_rows=3, deletes=[1, 2, 3],
                    name=f"{workspace}.cc5txt")


@dataclass
class Reference:
    """The clean imports: store, file id and rejected-rows CSV per kind (big, small)."""

    store: Path
    file_ids: dict[str, str]
    rejected: dict[str, str]


@pytest.fixture(scope="module")
def clean(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The same files imported once, without any crash, by an in-process service on its own store."""
    from toolkit.service import Service, load_config

    directory = tmp_path_factory.mktemp("clean")
    store = directory / "clean.duckdb"
    service = Service(load_config(env={}, s3_endpoint=moto_endpoint, store=store, s3_bucket="crash-clean",
                                  api_keys=KEYS, s3_access_key_id="test", s3_secret_access_key="test"))
    file_ids, rejected = {}, {}
    try:
        client = TestClient(service.app)
        for kind, path in (("big", big_file(directory, "ws-ref-big")), ("small", small_file(directory, "ws-ref-small"))):
            data = portal_upload(client, path, workspace=f"ws-ref-{kind}", key=KEY)
            answer = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                                 headers=bearer(KEY))
            assert answer.json()["Data"]["File"]["Status"] == "FINISHED", answer.text
            file_ids[kind] = data["FileId"]
            rejected[kind] = client.get(f"/appfile/file/{data['FileId']}/rejected", headers=bearer(KEY)).text
    finally:
        service.close()
    return Reference(store, file_ids, rejected)


@pytest.fixture(scope="module")
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy.for_url(moto_endpoint)
    yield proxy
    proxy.close()


def assert_imported_once_like_clean(store: Path, workspace: str, file_id: str, clean: Reference, kind: str) -> int:
    """The table equals the clean one, the file has one FINISHED record with the
    clean counts and its findings once; returns the import's attempts."""
    diff = compare_tables(store, f"{workspace}/customer", clean.store, f"ws-ref-{kind}/customer")
    assert diff["rows_a"] == diff["rows_b"] and diff["only_a"] == diff["only_b"] == 0, diff
    records = query_store(store, "SELECT status, successful_count, failure_count, attempts FROM files "
                                 "WHERE file_id = ?", [file_id])
    reference = query_store(clean.store, "SELECT status, successful_count, failure_count FROM files "
                                         "WHERE file_id = ?", [clean.file_ids[kind]])
    assert len(records) == 1 and records[0][:3] == reference[0] and reference[0][0] == "FINISHED"
    sql = "SELECT count(*), count(DISTINCT (line, code, field)) FROM findings WHERE file_id = ?"
    findings = query_store(store, sql, [file_id])
    assert findings == query_store(clean.store, sql, [clean.file_ids[kind]])
    print(f"\n{workspace}: {diff['rows_a']:,} rows identical to the clean import; record {records[0][:3]}, "
          f"{findings[0][0]} findings, {records[0][3]} attempts")
    return int(records[0][3])


def _status(api: httpx.Client, file_id: str) -> str:
    answer = api.get(f"/appfile/file/{file_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()["Data"]["File"]["Status"]


@dataclass
class CrashedRun:
    """What the three-kill run left behind."""

    store: Path
    file_id: str
    kills: list[str]
    final: dict[str, Any]
    rejected: str
    leftovers: list[str]
    statuses_seen_while_rerunning: set[str]


@pytest.fixture(scope="module")
def crashed_run(proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory) -> CrashedRun:
    """One large file, its import killed while downloading, planning and applying; the fourth start finishes it."""
    directory = tmp_path_factory.mktemp("crash")
    store, scratch = directory / "crash.duckdb", directory / "service-tmp"
    scratch.mkdir()
    # Three kills of one file: past the default max_attempts (3), which would
    # fail it TOO_MANY_ATTEMPTS (tested in test_service_defects.py); here the
    # fourth start must finish it.
    serve = ServeProcess(store, proxy.url, keys=KEYS, bucket="crash-test",
                         env={"TMPDIR": str(scratch), "TOOLKIT_MAX_ATTEMPTS": "4"})
    path = big_file(directory, "ws-crash")
    kills: list[str] = []
    try:
        serve.start()
        with httpx.Client(base_url=serve.url, headers=bearer(KEY), timeout=60) as api:
            file_id = portal_upload(api, path, workspace="ws-crash", key=KEY)["FileId"]
            downloading = proxy.watch("GET", file_id, when="seen")
            queued = api.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": file_id})
            assert queued.json()["Data"]["File"]["Status"] == "QUEUED", queued.text
        assert downloading.wait(120), "the service never downloaded the file"
        serve.kill()
        kills.append("download")

        downloaded = proxy.watch("GET", file_id, when="answered")
        serve.start()
        assert downloaded.wait(120), "the restarted service never re-downloaded the file"
        time.sleep(0.05)  # into the plan: 150,000 rows take several times this to plan
        serve.kill()
        kills.append("plan")
        assert not any(f"{file_id}: planned in" in line for line in serve.lines), "killed too late"

        # Hold the rejected rows' upload (the last step before the apply commits)
        # until the service is killed: a timed sleep could let a fast apply finish.
        held, release = threading.Event(), threading.Event()

        def hold_once() -> None:
            if not held.is_set():
                held.set()
                release.wait(120)

        proxy.on("PUT", f"{file_id}/_rejected", when="seen", callback=hold_once)
        serve.start()
        assert held.wait(180), "the restarted service never reached the apply step"
        serve.kill()
        release.set()
        kills.append("apply")
        # The service logs each step of an import: the kill came after the plan, before the commit.
        assert any(f"{file_id}: planned in" in line for line in serve.lines), serve.lines[-10:]
        assert not any(f"{file_id}: applied in" in line for line in serve.lines), "killed too late"

        serve.start()
        seen: set[str] = set()
        with httpx.Client(base_url=serve.url, headers=bearer(KEY), timeout=60) as api:
            # The API keeps answering while the file is re-imported.
            wait_for(lambda: seen.add(_status(api, file_id)) or seen & {"FINISHED", "FAILED"}, timeout=300,
                     interval=0.1, what="the re-run import to end")
            final = api.get(f"/appfile/file/{file_id}").json()["Data"]["File"]
            rejected = api.get(f"/appfile/file/{file_id}/rejected").text
    finally:
        serve.stop()
    # Wherever the service keeps its downloads (TMPDIR or next to the store), none may remain.
    leftovers = sorted(str(p.relative_to(directory)) for p in directory.rglob("toolkit-import-*"))
    return CrashedRun(store, file_id, kills, final, rejected, leftovers, seen)


def test_a_large_import_killed_in_every_phase_ends_finished_exactly_once(crashed_run: CrashedRun,
                                                                         clean: Reference) -> None:
    run = crashed_run
    assert run.kills == ["download", "plan", "apply"]
    assert run.final["Status"] == "FINISHED" and run.final["FailureCode"] is None
    attempts = assert_imported_once_like_clean(run.store, "ws-crash", run.file_id, clean, "big")
    assert attempts == 4  # three killed attempts, each rolled back, and the one that committed
    assert run.rejected == clean.rejected["big"]
    assert "PROCESSING" in run.statuses_seen_while_rerunning


def test_killed_imports_leave_no_temporary_files_behind(crashed_run: CrashedRun) -> None:
    assert crashed_run.leftovers == []


def test_a_crash_between_upload_and_trigger_and_after_finishing(moto_endpoint: str, clean: Reference,
                                                                tmp_path: Path) -> None:
    store = tmp_path / "gap.duckdb"
    portal_path, imports_path = small_file(tmp_path, "ws-gap-portal"), small_file(tmp_path, "ws-gap-imports")
    # First life: the upload watcher sleeps, so nothing notices the uploads before the kill.
    first = ServeProcess(store, moto_endpoint, keys=KEYS, bucket="crash-gap",
                         env={"TOOLKIT_WATCH_INTERVAL_SECONDS": "3600"})
    second = ServeProcess(store, moto_endpoint, keys=KEYS, bucket="crash-gap")
    third = ServeProcess(store, moto_endpoint, keys=KEYS, bucket="crash-gap")
    try:
        first.start()
        with httpx.Client(base_url=first.url, timeout=60) as api:
            portal_id = portal_upload(api, portal_path, workspace="ws-gap-portal", key=KEY)["FileId"]
            created = api.post("/v1/imports/pre-signed-url/create", headers=u21(KEY),
                               json={"stream_name": "ws-gap-imports", "file_name": imports_path.name}).json()
            assert curl_post_form(created["url"], created["fields"], imports_path) == 204
            imports_id = created["file_id"]
            # A listing (unlike a status look-up, which checks a pending upload
            # on demand) shows what the store holds: nothing noticed the uploads.
            listed = api.post("/v1/imports/list", headers=u21(KEY),
                              json={"stream_names": ["ws-gap-portal", "ws-gap-imports"]}).json()["files"]
            assert {f["file_id"]: f["status"] for f in listed} == {portal_id: "PENDING_UPLOAD",
                                                                    imports_id: "PENDING_UPLOAD"}
        first.kill()

        second.start()
        with httpx.Client(base_url=second.url, headers=bearer(KEY), timeout=120) as api:
            done = api.post("/appfile/file/import", json={"FileType": "cc5", "FileId": portal_id}).json()
            assert done["Data"]["File"]["Status"] == "FINISHED", done
            wait_for(lambda: _status(api, imports_id) in ("FINISHED", "FAILED"), timeout=120,
                     what="the imports-API file to be picked up after the restart")
        second.kill()  # right after both committed: nothing may be lost or re-applied

        third.start()
        with httpx.Client(base_url=third.url, headers=bearer(KEY), timeout=60) as api:
            time.sleep(1.0)  # give a wrongly re-queued file the chance to start
            assert [_status(api, f) for f in (portal_id, imports_id)] == ["FINISHED", "FINISHED"]
        third.stop()
    finally:
        for proc in (first, second, third):
            proc.stop()
    assert assert_imported_once_like_clean(store, "ws-gap-portal", portal_id, clean, "small") == 1
    assert assert_imported_once_like_clean(store, "ws-gap-imports", imports_id, clean, "small") == 1


class _Announced(Exception):
    """Raised from the announce callback to end ``serve`` once the URL is out."""


def test_serve_accepts_connections_once_it_announces_its_url(moto_endpoint: str, tmp_path: Path) -> None:
    import re
    import socket

    from toolkit.service.local import serve

    outcome: dict[str, Any] = {}

    def announce(line: str) -> None:
        found = re.search(r"toolkit service on http://127\.0\.0\.1:(\d+)", line)
        if found:
            try:
                socket.create_connection(("127.0.0.1", int(found.group(1))), timeout=5).close()
                outcome["error"] = None
            except OSError as exc:
                outcome["error"] = exc
            raise _Announced()

    # Restart scripts (and these tests) connect as soon as the URL line appears.
    with pytest.raises(_Announced):
        serve(announce=announce, port=0, store=tmp_path / "announce.duckdb", s3_endpoint=moto_endpoint,
              s3_bucket="crash-announce", api_keys=KEYS, s3_access_key_id="test", s3_secret_access_key="test")
    assert outcome["error"] is None, f"connecting to the announced URL failed: {outcome['error']}"
