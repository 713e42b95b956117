"""DuckDBStore: file records, compare-and-set transitions, the queue, listing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from toolkit.service.duckdb_store import DuckDBStore
from toolkit.service.records import FileQuery, FileRecord


def _record(store: DuckDBStore, workspace: str = "ws-a", *, now: float, status: str = "PENDING_UPLOAD",
            **fields: object) -> FileRecord:
    record = FileRecord.new(api="imports", workspace_id=workspace, file_name="c.cc5txt", bucket="bk",
                            now=now, status=status, **fields)
    store.create_file(record)
    return record


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    s = DuckDBStore(tmp_path / "store.duckdb")
    yield s
    s.close()


def test_round_trip_keeps_every_field(store: DuckDBStore) -> None:
    record = _record(store, now=100.5, tags=["a", "b"], metadata={"k": {"n": 1}}, folder="f", size=12)
    assert store.get_file(record.file_id) == record
    assert store.get_file("f_missing") is None


def test_transition_is_compare_and_set(store: DuckDBStore) -> None:
    record = _record(store, now=1.0)
    moved = store.transition(record.file_id, from_statuses=("PENDING_UPLOAD",), to_status="QUEUED", size=5)
    assert moved is not None and moved.status == "QUEUED" and moved.size == 5
    assert store.transition(record.file_id, from_statuses=("PENDING_UPLOAD",), to_status="ADDED") is None
    assert store.get_file(record.file_id).status == "QUEUED"


def test_claim_takes_the_oldest_queued_once(store: DuckDBStore) -> None:
    newer = _record(store, "ws-b", now=2.0, status="QUEUED")
    older = _record(store, "ws-a", now=1.0, status="QUEUED")
    claimed = store.claim_next_queued(now=5.0)
    assert claimed.file_id == older.file_id and claimed.status == "PROCESSING"
    assert claimed.process_start_time == 5.0 and claimed.attempts == 1
    assert store.claim_next_queued(now=6.0).file_id == newer.file_id
    assert store.claim_next_queued(now=7.0) is None
    assert store.requeue_interrupted() == 2
    assert {r.file_id for r in store.files_with_status("QUEUED")} == {older.file_id, newer.file_id}


def test_concurrent_claims_never_hand_out_a_file_twice(store: DuckDBStore) -> None:
    ids = {_record(store, f"ws-{i}", now=float(i), status="QUEUED").file_id for i in range(40)}
    claimed: list[str] = []

    def claim() -> None:
        while (record := store.claim_next_queued(now=1.0)) is not None:
            claimed.append(record.file_id)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_list_filters_and_pages_newest_first(store: DuckDBStore) -> None:
    records = [_record(store, "ws-a" if i % 2 else "ws-b", now=float(i)) for i in range(10)]
    store.transition(records[3].file_id, from_statuses=("PENDING_UPLOAD",), to_status="FAILED")
    total, page = store.list_files(FileQuery(offset=2, limit=3))
    assert total == 10 and [r.date_created for r in page] == [7.0, 6.0, 5.0]
    total, page = store.list_files(FileQuery(workspaces=["ws-a"], created_after=3, created_before=7))
    assert total == 3 and [r.date_created for r in page] == [7.0, 5.0, 3.0]
    total, page = store.list_files(FileQuery(statuses=["FAILED"]))
    assert total == 1 and page[0].file_id == records[3].file_id
    assert store.list_files(FileQuery(workspaces=[]))[0] == 0


def test_reads_are_not_blocked_by_a_long_write_transaction(store: DuckDBStore) -> None:
    record = _record(store, now=1.0)
    writer = store.engine_connection()
    writer.execute("BEGIN TRANSACTION")
    writer.execute("CREATE TABLE data.big AS SELECT range AS k FROM range(3000000)")
    # An open write transaction: a look-up from another thread still answers.
    answers: list[FileRecord | None] = []
    reader = threading.Thread(target=lambda: answers.append(store.get_file(record.file_id)))
    reader.start()
    reader.join(10)
    assert answers and answers[0].file_id == record.file_id
    writer.execute("COMMIT")
    writer.close()


def test_open_failure_is_a_config_error(tmp_path: Path) -> None:
    from toolkit.errors import ConfigError

    (tmp_path / "dir.duckdb").mkdir()
    with pytest.raises(ConfigError, match="Cannot open the store"):
        DuckDBStore(tmp_path / "dir.duckdb")


def test_one_file_per_workspace_at_a_time_in_queue_order(store: DuckDBStore) -> None:
    a1 = _record(store, "ws-a", now=1.0, status="QUEUED", queued_at=20.0)
    a2 = _record(store, "ws-a", now=2.0, status="QUEUED", queued_at=10.0)  # queued first
    b1 = _record(store, "ws-b", now=3.0, status="QUEUED", queued_at=30.0)
    assert store.claim_next_queued(now=5.0).file_id == a2.file_id
    assert store.claim_next_queued(now=5.0).file_id == b1.file_id  # ws-a is busy
    assert store.claim_next_queued(now=5.0) is None
    store.transition(a2.file_id, from_statuses=("PROCESSING",), to_status="FINISHED")
    assert store.claim_next_queued(now=6.0).file_id == a1.file_id


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="per-thread nice values are a Linux feature")
def test_background_priority_store_runs_duckdb_threads_below_requests(tmp_path: Path) -> None:
    import os

    from toolkit.service.priority import BACKGROUND_NICE, run_lowered

    def nice_of_threads() -> dict[str, int]:
        found = {}
        for task in Path("/proc/self/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            found[task.name] = int(fields[16])
        return found

    caller = os.getpriority(os.PRIO_PROCESS, 0)
    before = set(nice_of_threads())
    store = DuckDBStore(tmp_path / "nice.duckdb", background_priority=True)
    try:
        created = {tid: nice for tid, nice in nice_of_threads().items() if tid not in before}
        assert created and all(nice >= BACKGROUND_NICE for nice in created.values())
        assert os.getpriority(os.PRIO_PROCESS, 0) == caller  # the caller keeps its priority
        assert run_lowered(lambda: os.getpriority(os.PRIO_PROCESS, 0)) == max(caller, BACKGROUND_NICE)
        with pytest.raises(ZeroDivisionError):
            run_lowered(lambda: 1 / 0)
    finally:
        store.close()
