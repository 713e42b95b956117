"""End to end on PostgreSQL: two API instances (``toolkit serve --workers 0``)
and two workers (``toolkit worker``) as real processes on one database and one
moto S3 server. Imports go through both APIs and both instances; ``kill -9``
of an API instance and of a worker in the middle of an apply lose and
duplicate nothing, and files of a workspace apply in trigger order.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import curl_post_form
from scaleout_support import KEY, Deployment, wait_until, write_versioned_cc5

pytestmark = pytest.mark.slow

_ENDED = ("FINISHED", "FAILED")


def _portal(api: str, path: Path, workspace: str) -> str:
    """Portal API: ask for a path, PUT the file, trigger the import (queued)."""
    headers = {"Authorization": f"Bearer {KEY}"}
    made = httpx.post(f"{api}/appfile/file/path", json={"WorkspaceId": workspace, "BucketId": "bk",
                                                        "EntityType": "customer", "FileName": path.name},
                      headers=headers, timeout=60)
    assert made.status_code == 200, made.text
    data = made.json()["Data"]
    put = httpx.put(data["Url"], content=path.read_bytes(), headers={"Content-Type": "application/octet-stream"},
                    timeout=60)
    assert put.status_code == 200
    queued = httpx.post(f"{api}/appdata/import/file/async", json={"FileType": "cc5", "FileId": data["FileId"]},
                        headers=headers, timeout=60)
    assert queued.status_code == 200, queued.text
    return data["FileId"]


def _imports(api: str, path: Path, workspace: str) -> str:
    """Imports API: a pre-signed POST; the upload itself queues the import.
    A status look-up right after it sees the upload (no need to wait for a
    watcher), so the file's place in the queue follows this call."""
    made = httpx.post(f"{api}/v1/imports/pre-signed-url/create", json={"stream_name": workspace,
                                                                       "file_name": path.name},
                      headers={"u21-key": KEY}, timeout=60)
    assert made.status_code == 200, made.text
    created = made.json()
    assert curl_post_form(created["url"], created["fields"], path) == 204
    status = httpx.get(f"{api}/v1/imports/{created['file_id']}", headers={"u21-key": KEY}, timeout=60)
    assert status.json()["status"] != "PENDING_UPLOAD"
    return created["file_id"]


def _status(api: str, file_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{api}/v1/imports/{file_id}", headers={"u21-key": KEY}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _expected(files: list[tuple[float, int, range, list[int]]]) -> dict[str, int]:
    """The table after applying ``(queued_at, version, keys, deletes)`` in queue order."""
    table: dict[str, int] = {}
    for _, version, keys, deletes in sorted(files, key=lambda f: f[0]):
        for k in deletes:
            table.pop(f"C{k:07d}", None)
        for k in keys:
            table[f"C{k:07d}"] = version
    return table


def _table(url: str, workspace: str) -> list[tuple[str, int]]:
    import psycopg

    with psycopg.connect(url) as conn:
        name = conn.execute("SELECT table_name FROM data_tables WHERE workspace_id = %s AND entity_type = %s",
                            [workspace, "customer"]).fetchone()[0]
        return conn.execute(f"SELECT customer_code, version FROM {name}").fetchall()


def test_two_apis_two_workers_twenty_files_in_trigger_order(postgres_url: str, moto_endpoint: str,
                                                           tmp_path: Path) -> None:
    bucket = f"scale-{uuid.uuid4().hex[:8]}"
    workspaces = [f"ws-{n}" for n in range(5)]
    made: dict[str, list[tuple[str, int, range, list[int]]]] = {ws: [] for ws in workspaces}
    errors: list[BaseException] = []
    halfway = threading.Barrier(len(workspaces) + 1)
    second_half = threading.Event()
    with Deployment(postgres_url, moto_endpoint, bucket=bucket, apis=2, workers=2) as dep:
        urls = [api.url for api in dep.apis]

        def run(ws: str) -> None:
            try:
                for version in range(4):
                    if version == 2:  # API instance 0 is killed between the halves
                        halfway.wait(120)
                        second_half.wait(120)
                    keys = range(version * 3, version * 3 + 8)  # overlapping keys
                    deletes = [version * 3 - 2] if version else []  # a key of the previous file
                    path = write_versioned_cc5(tmp_path / f"{ws}-{version}.cc5txt", ws, version=version,
                                               keys=keys, deletes=deletes)
                    api = urls[1] if version >= 2 else urls[(version + int(ws[-1])) % 2]
                    send = _portal if version % 2 == 0 else _imports
                    made[ws].append((send(api, path, ws), version, keys, deletes))
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                errors.append(exc)
                halfway.abort()

        threads = [threading.Thread(target=run, args=(ws,)) for ws in workspaces]
        for t in threads:
            t.start()
        halfway.wait(120)
        dep.apis[0].kill9()  # an API instance dies: nothing it accepted is lost
        second_half.set()
        for t in threads:
            t.join(300)
        assert not errors, errors
        survivor = urls[1]
        ids = [file_id for files in made.values() for file_id, *_ in files]
        assert len(ids) == 20
        ended = wait_until(lambda: all(_status(survivor, i)["status"] in _ENDED for i in ids) and ids,
                           timeout=240, what="all 20 imports to end")
        assert ended
        records = {i: _status(survivor, i) for i in ids}
    assert {r["status"] for r in records.values()} == {"FINISHED"}, records
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        rows = dict(conn.execute("SELECT file_id, queued_at FROM files").fetchall())
        attempts = dict(conn.execute("SELECT file_id, attempts FROM files").fetchall())
    assert set(attempts.values()) == {1}  # each file imported once
    for ws, files in made.items():
        expected = _expected([(rows[file_id], version, keys, deletes) for file_id, version, keys, deletes in files])
        table = _table(postgres_url, ws)
        assert len(table) == len(dict(table))  # no key twice
        assert dict(table) == expected, ws


def _copying_worker(url: str, dep: Deployment) -> Any:
    """The worker process whose connection is running a COPY of rows into PostgreSQL (the rows go
    straight into the data table, or into a staging table of keys), if any."""
    import psutil
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        ports = [p for (p,) in conn.execute(
            "SELECT client_port FROM pg_stat_activity WHERE query LIKE 'COPY %FROM STDIN%' "
            "AND query NOT LIKE 'COPY findings%' AND state = 'active'")]
    for worker in dep.workers:
        mine = {c.laddr.port for c in psutil.Process(worker.pid).net_connections(kind="tcp")}
        if mine & set(ports):
            return worker
    return None


def test_a_worker_killed_mid_apply_is_finished_by_another_exactly_once(postgres_url: str, moto_endpoint: str,
                                                                       tmp_path: Path) -> None:
    bucket = f"scale-{uuid.uuid4().hex[:8]}"
    rows = 150_000
    big = write_versioned_cc5(tmp_path / "big.cc5txt", "ws-big", version=1, keys=range(rows))
    after = write_versioned_cc5(tmp_path / "after.cc5txt", "ws-big", version=2, keys=range(5), deletes=[7])
    with Deployment(postgres_url, moto_endpoint, bucket=bucket, apis=1, workers=2, lease_seconds=2.0) as dep:
        api = dep.apis[0].url
        first = _portal(api, big, "ws-big")
        second = _portal(api, after, "ws-big")  # queued behind the big one: must apply after it
        victim = wait_until(lambda: _copying_worker(postgres_url, dep), timeout=180, every=0.02,
                            what="a worker to be copying the big file's rows")
        victim.kill9()
        wait_until(lambda: _status(api, second)["status"] in _ENDED, timeout=240, what="both imports to end")
        done, later = _status(api, first), _status(api, second)
    assert (done["status"], done["successful_count"]) == ("FINISHED", rows)
    assert later["status"] == "FINISHED"
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        attempts = conn.execute("SELECT attempts FROM files WHERE file_id = %s", [first]).fetchone()[0]
    assert attempts == 2  # claimed by the killed worker, then by the survivor
    table = dict(_table(postgres_url, "ws-big"))
    assert len(_table(postgres_url, "ws-big")) == rows - 1 == len(table)  # nothing twice; key 7 deleted after
    assert [table[f"C{k:07d}"] for k in range(5)] == [2] * 5 and "C0000007" not in table
    assert table["C0000008"] == 1
