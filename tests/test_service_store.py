"""DuckDBStore specifics (the contract both stores share: tests/test_store_contract.py)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from toolkit.service.duckdb_store import DuckDBStore
from toolkit.service.records import FileRecord


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
