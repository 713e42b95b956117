"""PostgresStore specifics (the contract both stores share:
tests/test_store_contract.py): migrations under concurrent starters, leases
and their fencing, the counters behind listing totals, the query plans of the
hot look-ups, and the settings that select it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from conftest import make_cc5
from toolkit.errors import ConfigError
from toolkit.service.config import load_config
from toolkit.service.records import FileQuery, FileRecord
from toolkit.service.store import StateChanged

psycopg = pytest.importorskip("psycopg")

from toolkit.service.postgres_schema import MIGRATIONS  # noqa: E402
from toolkit.service.postgres_store import PostgresStore, redact_url  # noqa: E402


def _queued(store: PostgresStore, workspace: str = "ws-a", now: float = 1.0) -> FileRecord:
    record = FileRecord.new(api="imports", workspace_id=workspace, file_name="c.cc5txt", bucket="bk", now=now,
                            status="QUEUED", queued_at=now)
    store.create_file(record)
    return record


def test_concurrent_starters_apply_each_migration_once(postgres_url: str) -> None:
    opened: list[PostgresStore] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(PostgresStore(postgres_url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert not failures and len(opened) == 4
        with psycopg.connect(postgres_url) as conn:
            versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == [v for v, _ in MIGRATIONS]
    finally:
        for store in opened:
            store.close()


def test_a_dead_workers_file_is_requeued_and_its_late_apply_is_fenced(postgres_url: str, tmp_path: Path) -> None:
    from toolkit.cc5 import plan_import

    store = PostgresStore(postgres_url, lease_seconds=0.3)
    try:
        record = _queued(store)
        dead = store.claim_next_queued(now=2.0)
        assert store.requeue_interrupted() == 0  # the lease still runs
        store.renew_leases([dead.file_id])
        time.sleep(0.5)  # no renewal: the worker is gone
        assert store.requeue_interrupted() == 1
        again = store.claim_next_queued(now=3.0)
        assert (again.file_id, again.attempts) == (record.file_id, 2)
        path = make_cc5(tmp_path, rows=3, workspace="ws-a")
        con = store.engine_connection()
        try:
            with plan_import(path, con, expected_workspace="ws-a", progress=False) as plan:
                with pytest.raises(StateChanged):  # the first claim may not apply any more
                    store.apply_import(dead.replace(entity_type="customer"), plan, con, clock=lambda: 4.0,
                                       rejected_key=None, max_findings=10)
                done = store.apply_import(again.replace(entity_type="customer"), plan, con, clock=lambda: 4.0,
                                          rejected_key=None, max_findings=10)
        finally:
            con.close()
        assert done.status == "FINISHED" and len(store.read_table("ws-a", "customer")) == 3
    finally:
        store.close()


def test_listing_totals_come_from_counters_that_follow_every_change(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    try:
        records = [_queued(store, f"ws-{i % 3}", now=float(i)) for i in range(30)]
        for record in records[:10]:
            store.transition(record.file_id, from_statuses=("QUEUED",), to_status="FAILED")
        with psycopg.connect(postgres_url) as conn:
            conn.execute("DELETE FROM files WHERE file_id = %s", [records[29].file_id])
            counters = dict(((ws, st), n) for ws, st, n in conn.execute(
                "SELECT workspace_id, status, n FROM file_counts WHERE n <> 0").fetchall())
            actual = dict(((ws, st), n) for ws, st, n in conn.execute(
                "SELECT workspace_id, status, count(*) FROM files GROUP BY 1, 2").fetchall())
        assert counters == actual
        assert store.count_files() == 29
        assert store.list_files(FileQuery(workspaces=["ws-0", "ws-1"], statuses=["QUEUED"]))[0] == \
            actual[("ws-0", "QUEUED")] + actual[("ws-1", "QUEUED")]
    finally:
        store.close()


def test_hot_lookups_use_indexes_on_a_large_table(postgres_url: str) -> None:
    """100,000 records: the dashboard's first page, a status look-up and the
    watcher's key look-up read an index, never the whole table."""
    store = PostgresStore(postgres_url)
    try:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("SET session_replication_role = replica")  # bulk load: counters set below
            conn.execute(
                "INSERT INTO files (file_id, api, workspace_id, object_key, status, date_created, attempts) "
                "SELECT 'f_' || g, 'imports', 'ws-' || (g % 50), 'ws/' || g, "
                "CASE WHEN g % 10 = 0 THEN 'PENDING_UPLOAD' ELSE 'FINISHED' END, g, 0 "
                "FROM generate_series(1, 100000) g")
            conn.execute("SET session_replication_role = origin")
            conn.execute("INSERT INTO file_counts SELECT workspace_id, status, count(*) FROM files GROUP BY 1, 2")
            conn.execute("ANALYZE files")

            def plan(sql: str, *params: object) -> str:
                return "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, list(params)).fetchall())

            pages = [
                plan("SELECT * FROM files WHERE TRUE ORDER BY date_created DESC, file_id DESC LIMIT 100 OFFSET 0"),
                plan("SELECT * FROM files WHERE workspace_id = ANY(%s) ORDER BY date_created DESC, file_id DESC "
                     "LIMIT 100", ["ws-3"]),
                plan("SELECT * FROM files WHERE file_id = %s", "f_77"),
                plan("SELECT * FROM files WHERE object_key = ANY(%s) AND status = 'PENDING_UPLOAD'", ["ws/70"]),
            ]
        for explained in pages:
            assert "Seq Scan on files" not in explained, explained
        total, page = store.list_files(FileQuery(limit=100))
        assert total == 100_000 and page[0].date_created == 100000.0
    finally:
        store.close()


def test_settings_select_the_store_and_refuse_what_cannot_work(postgres_url: str, moto_endpoint: str) -> None:
    from toolkit.service.runtime import Service
    from toolkit.service.worker_process import check_shared_deployment, run_worker

    cfg = load_config(env={}, store=postgres_url, workers=0, s3_endpoint=moto_endpoint,
                      s3_access_key_id="test", s3_secret_access_key="test")
    service = Service(cfg)
    try:
        assert isinstance(service.store, PostgresStore) and service.imports.store.shared
        service.start()  # API only: no import thread, no watcher
        assert service.worker._threads == []
    finally:
        service.close()
    with pytest.raises(ConfigError, match="needs a PostgreSQL store"):
        load_config(env={}, workers=0)
    with pytest.raises(ConfigError, match="shared S3"):
        check_shared_deployment(load_config(env={}, store=postgres_url), "toolkit serve")
    with pytest.raises(ConfigError, match="PostgreSQL store"):
        run_worker(store="service.duckdb", s3_endpoint=moto_endpoint)
    with pytest.raises(ConfigError, match="Cannot open the PostgreSQL store postgresql://u:\\*\\*\\*@"):
        PostgresStore("postgresql://u:secret@127.0.0.1:1/none")
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_one_process_serving_and_importing_on_postgres(postgres_url: str, moto_endpoint: str,
                                                       tmp_path: Path) -> None:
    """``serve --store postgresql://... --workers 1``: the sync import waits for
    the process's own worker thread."""
    import uuid

    from fastapi.testclient import TestClient

    from conftest import TEST_KEYS, portal_upload
    from toolkit.service.runtime import Service

    cfg = load_config(env={}, store=postgres_url, workers=1, s3_endpoint=moto_endpoint, api_keys=TEST_KEYS,
                      s3_bucket=f"pg-{uuid.uuid4().hex[:8]}", s3_access_key_id="test",
                      s3_secret_access_key="test", watch_interval_seconds=0.1)
    service = Service(cfg)
    try:
        service.start()
        client = TestClient(service.app, raise_server_exceptions=False)
        data = portal_upload(client, make_cc5(tmp_path, rows=7, workspace="ws-eu"))
        done = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                           headers={"Authorization": "Bearer key-all"}).json()["Data"]["File"]
        assert (done["Status"], done["SuccessfulCount"]) == ("FINISHED", 7)
        assert len(service.store.read_table("ws-eu", "customer")) == 7
        work = service.processor.work_dir
        assert work is not None and work.is_dir() and list(work.iterdir()) == [work / ".owner.lock"]  # locked, download gone
    finally:
        service.close()
    assert not work.exists()  # the process's own work folder goes with it


def test_workers_of_other_processes_are_told_when_work_is_queued(postgres_url: str) -> None:
    from scaleout_support import wait_until

    listener, api = PostgresStore(postgres_url), PostgresStore(postgres_url)
    told = threading.Event()
    calls: list[int] = []
    stop = threading.Event()

    def on_work() -> None:
        calls.append(1)
        told.set()

    thread = threading.Thread(target=listener.listen, args=(on_work, stop))
    try:
        thread.start()
        wait_until(told.is_set, timeout=30, what="the listener to start")  # it says once on (re)connecting
        told.clear()
        record = FileRecord.new(api="portal", workspace_id="ws-a", file_name="c", bucket="b", now=1.0,
                                status="ADDED")
        api.create_file(record)
        assert not told.wait(0.5)  # an ADDED file is not work
        api.transition(record.file_id, from_statuses=("ADDED",), to_status="QUEUED", queued_at=2.0)
        wait_until(told.is_set, timeout=30, what="the notification of a queued file")
    finally:
        stop.set()
        thread.join(10)
        listener.close()
        api.close()


def test_a_stopping_worker_releases_its_claims_at_once(postgres_url: str) -> None:
    store = PostgresStore(postgres_url, lease_seconds=30.0)
    try:
        record = _queued(store)
        claimed = store.claim_next_queued(now=2.0)
        assert store.requeue_interrupted() == 0  # a 30 s lease: nobody takes it over
        store.release_leases([claimed.file_id])
        assert store.requeue_interrupted() == 1
        assert store.get_file(record.file_id).status == "QUEUED"
        store.release_leases([record.file_id])  # not PROCESSING: nothing changes
        assert store.claim_next_queued(now=3.0).attempts == 2
    finally:
        store.close()
