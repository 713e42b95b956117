"""The Store contract, run against both stores: DuckDB (embedded default) and
PostgreSQL (scale-out, on a real server the tests start).

File records, compare-and-set transitions, the queue (one file per workspace
at a time, in queue order), listing, findings, the upload watcher's look-ups
and the apply (exactly once, in file order, nothing half-applied).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import make_cc5
from toolkit.service.duckdb_store import DuckDBStore
from toolkit.service.records import FileQuery, FileRecord
from toolkit.service.store import SchemaMismatch, StateChanged, Store


@pytest.fixture(params=["duckdb", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Each store, empty. The PostgreSQL one has a zero lease, so a claimed
    file counts as interrupted as soon as nobody renews it (as DuckDB's do)."""
    if request.param == "duckdb":
        made: Any = DuckDBStore(tmp_path / "store.duckdb")
    else:
        from toolkit.service.postgres_store import PostgresStore

        made = PostgresStore(request.getfixturevalue("postgres_url"), lease_seconds=0.0)
    yield made
    made.close()


def _record(store: Store, workspace: str = "ws-a", *, now: float, status: str = "PENDING_UPLOAD",
            **fields: object) -> FileRecord:
    record = FileRecord.new(api="imports", workspace_id=workspace, file_name="c.cc5txt", bucket="bk",
                            now=now, status=status, **fields)
    store.create_file(record)
    return record


def _apply(store: Store, tmp_path: Path, record: FileRecord, **cc5: Any) -> FileRecord:
    """Plan a sample file on the store's engine connection and apply it."""
    return _apply_file(store, make_cc5(tmp_path, workspace=record.workspace_id, name=f"{record.file_id}.cc5txt", **cc5),
                       record)


def _apply_file(store: Store, path: Path, record: FileRecord) -> FileRecord:
    """Plan ``path`` on the store's engine connection and apply it."""
    from toolkit.cc5 import plan_import

    con = store.engine_connection()
    try:
        with plan_import(path, con, expected_workspace=record.workspace_id, progress=False) as plan:
            assert plan.report.importable
            return store.apply_import(record.replace(entity_type=plan.entity_type), plan, con, clock=lambda: 9.0,
                                      rejected_key=None, max_findings=100)
    finally:
        con.close()


def _claimed(store: Store, workspace: str = "ws-a", now: float = 1.0) -> FileRecord:
    _record(store, workspace, now=now, status="QUEUED", queued_at=now)
    claimed = store.claim_next_queued(now=now)
    assert claimed is not None
    return claimed


def _rows(store: Store, workspace: str = "ws-a") -> dict[str, float]:
    table = store.read_table(workspace, "customer")
    return {} if table is None else dict(zip(table.df()["customer_code"], table.df()["credit"], strict=True))


def test_round_trip_keeps_every_field(store: Store) -> None:
    record = _record(store, now=100.5, tags=["a", "b"], metadata={"k": {"n": 1}}, folder="f", size=12)
    assert store.get_file(record.file_id) == record
    assert store.get_file("f_missing") is None
    assert store.count_files() == 1


def test_transition_is_compare_and_set(store: Store) -> None:
    record = _record(store, now=1.0)
    moved = store.transition(record.file_id, from_statuses=("PENDING_UPLOAD",), to_status="QUEUED", size=5)
    assert moved is not None and moved.status == "QUEUED" and moved.size == 5
    assert store.transition(record.file_id, from_statuses=("PENDING_UPLOAD",), to_status="ADDED") is None
    assert store.get_file(record.file_id).status == "QUEUED"


def test_claim_takes_the_oldest_queued_once(store: Store) -> None:
    newer = _record(store, "ws-b", now=2.0, status="QUEUED")
    older = _record(store, "ws-a", now=1.0, status="QUEUED")
    claimed = store.claim_next_queued(now=5.0)
    assert claimed.file_id == older.file_id and claimed.status == "PROCESSING"
    assert claimed.process_start_time == 5.0 and claimed.attempts == 1
    assert store.claim_next_queued(now=6.0).file_id == newer.file_id
    assert store.claim_next_queued(now=7.0) is None
    assert store.requeue_interrupted() == 2
    assert {r.file_id for r in store.files_with_status("QUEUED")} == {older.file_id, newer.file_id}


def test_concurrent_claims_never_hand_out_a_file_twice(store: Store) -> None:
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


def test_one_file_per_workspace_at_a_time_in_queue_order(store: Store) -> None:
    a1 = _record(store, "ws-a", now=1.0, status="QUEUED", queued_at=20.0)
    a2 = _record(store, "ws-a", now=2.0, status="QUEUED", queued_at=10.0)  # queued first
    b1 = _record(store, "ws-b", now=3.0, status="QUEUED", queued_at=30.0)
    assert store.claim_next_queued(now=5.0).file_id == a2.file_id
    assert store.claim_next_queued(now=5.0).file_id == b1.file_id  # ws-a is busy
    assert store.claim_next_queued(now=5.0) is None
    store.transition(a2.file_id, from_statuses=("PROCESSING",), to_status="FINISHED")
    assert store.claim_next_queued(now=6.0).file_id == a1.file_id


def test_list_filters_and_pages_newest_first(store: Store) -> None:
    records = [_record(store, "ws-a" if i % 2 else "ws-b", now=float(i)) for i in range(10)]
    store.transition(records[3].file_id, from_statuses=("PENDING_UPLOAD",), to_status="FAILED")
    total, page = store.list_files(FileQuery(offset=2, limit=3))
    assert total == 10 and [r.date_created for r in page] == [7.0, 6.0, 5.0]
    total, page = store.list_files(FileQuery(workspaces=["ws-a"], created_after=3, created_before=7))
    assert total == 3 and [r.date_created for r in page] == [7.0, 5.0, 3.0]
    total, page = store.list_files(FileQuery(statuses=["FAILED"]))
    assert total == 1 and page[0].file_id == records[3].file_id
    total, _ = store.list_files(FileQuery(workspaces=["ws-a"], statuses=["PENDING_UPLOAD"]))
    assert total == 4  # ws-a holds 1, 3 (FAILED), 5, 7, 9
    assert store.list_files(FileQuery(workspaces=[]))[0] == 0


def test_pending_uploads_by_object_key_and_by_expiry(store: Store) -> None:
    early = _record(store, now=1.0, expires_at=10.0)
    late = _record(store, now=2.0, expires_at=50.0)
    queued = _record(store, now=3.0, status="QUEUED", expires_at=5.0)
    found = store.pending_uploads(object_keys=[late.object_key, queued.object_key, "ws-a/none"])
    assert [r.file_id for r in found] == [late.file_id]
    assert [r.file_id for r in store.pending_uploads(expired_before=20.0)] == [early.file_id]


def test_apply_imports_rows_in_file_order_exactly_once(store: Store, tmp_path: Path) -> None:
    first = _claimed(store)
    done = _apply(store, tmp_path, first, rows=5)
    assert (done.status, done.successful_count) == ("FINISHED", 5)
    with pytest.raises(StateChanged):  # a second apply of the same claim changes nothing
        _apply(store, tmp_path, first, rows=50)
    second = _claimed(store, now=2.0)
    _apply(store, tmp_path, second, rows=3, start=3, deletes=[0])  # overwrites 3-4, adds 5, deletes 0
    rows = _rows(store)
    assert sorted(rows) == ["C0000001", "C0000002", "C0000003", "C0000004", "C0000005"]
    assert rows["C0000003"] == 3.5
    assert _rows(store, "ws-other") == {}  # workspace scoping: nothing elsewhere


def test_schema_mismatch_applies_nothing(store: Store, tmp_path: Path) -> None:
    from toolkit.cc5 import plan_import

    _apply(store, tmp_path, _claimed(store), rows=2)
    record = _claimed(store, now=2.0)
    path = tmp_path / "other-keys.cc5txt"
    text = make_cc5(tmp_path, rows=2, workspace="ws-a", name="x.cc5txt", start=10).read_text()
    path.write_text(text.replace("02|customer_code", "02|name"))
    con = store.engine_connection()
    try:
        with plan_import(path, con, expected_workspace="ws-a", progress=False) as plan:
            with pytest.raises(SchemaMismatch, match="keys"):
                store.apply_import(record.replace(entity_type="customer"), plan, con, clock=lambda: 3.0,
                                   rejected_key=None, max_findings=10)
    finally:
        con.close()
    assert store.get_file(record.file_id).status == "PROCESSING"
    assert sorted(_rows(store)) == ["C0000000", "C0000001"]


def test_the_end_time_is_read_once_the_rows_are_in(store: Store, tmp_path: Path) -> None:
    """process_end_time is when the import ended, not when its apply began (seconds apart at 3M rows)."""
    from toolkit.cc5 import plan_import

    record = _claimed(store)
    path = make_cc5(tmp_path, rows=3, workspace="ws-a")
    seen: list[dict[str, float]] = []
    con = store.engine_connection()
    try:
        with plan_import(path, con, expected_workspace="ws-a", progress=False) as plan:
            def clock() -> float:  # DuckDB: what the apply's own connection holds when the store asks
                seen.append({} if store.shared else dict(con.execute(
                    f"SELECT customer_code, credit FROM {store.table_name('ws-a', 'customer')}").fetchall()))
                return 7.0
            done = store.apply_import(record.replace(entity_type="customer"), plan, con, clock=clock,
                                      rejected_key=None, max_findings=10)
    finally:
        con.close()
    assert done.process_end_time == 7.0 and len(seen) == 1
    if not store.shared:  # PostgreSQL's rows are in its own uncommitted transaction, out of sight here
        assert sorted(seen[0]) == ["C0000000", "C0000001", "C0000002"]


def test_findings_and_failure_are_recorded(store: Store, tmp_path: Path) -> None:
    from toolkit.cc5 import plan_import

    record = _claimed(store)
    path = make_cc5(tmp_path, rows=2, workspace="ws-a", bad_rows=2)
    con = store.engine_connection()
    try:
        with plan_import(path, con, expected_workspace="ws-a", progress=False) as plan:
            done = store.apply_import(record.replace(entity_type="customer"), plan, con, clock=lambda: 3.0,
                                      rejected_key="ws-a/rej.csv", max_findings=1)
    finally:
        con.close()
    assert (done.successful_count, done.failure_count, done.rejected_key) == (2, 2, "ws-a/rej.csv")
    found = store.findings(record.file_id)
    assert len(found) == 1 and found[0]["code"] == "INVALID_NUMBER" and found[0]["line"] == 7
    other = _claimed(store, "ws-b")
    failed = store.fail_file(other, code="STORAGE_ERROR", message="S3 down", now=4.0, failure_count=3)
    assert (failed.status, failed.failure_code, failed.failure_count) == ("FAILED", "STORAGE_ERROR", 3)
    with pytest.raises(StateChanged):
        store.fail_file(other, code="X", message="again", now=5.0)


TRICKY_HEADER = (
    "00|ACME|cc5|20261122093000|ref\n01|customer|ws-a|bk|CRM|UPSERT\n02|code\n"
    "03|code:string|n:int|x:number|b:bool|d:date|tags:array|obj:object|lst:list|note:string\n"
)
TRICKY_ROWS = [
    '10|a|9223372036854775807|1e-7|true|20240229235959|x,y#/#z,"q",back\\slash,NULL,{}|'
    '{"k":"say \\"hi\\"","t":"a\\\\b"}|[1,"\\\\N",null]|tab\there#Enter#\\N and "quotes", é ✓\\|',
    "10|b|-9223372036854775808|1.7976931348623157e308|FALSE|00010101|\\N|{}|[]|\\\\.|",
    "10|c||||||||\\.|",
    "10|d|0|-0.5|0|99991231|,x|||",  # an empty array element: rejected
]


def _plain(value: Any, is_json: bool = False) -> Any:
    """A read-back value compared by meaning: JSON parsed, arrays as lists, missing as None."""
    import json

    import pandas as pd

    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if is_json and isinstance(value, str):
        return json.loads(value)
    if value is None or (not isinstance(value, (list, str)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def test_every_type_and_escape_reaches_the_table_as_open_cc5_reads_it(store: Store, tmp_path: Path) -> None:
    """Tabs, backslashes, ``\\N``, quotes, CR LF, array literals, JSON, 64-bit and double extremes: the
    table holds what ``open_cc5`` reads from the file (PostgreSQL: through COPY's text format)."""
    from toolkit.cc5 import open_cc5

    path = tmp_path / "tricky.cc5txt"
    path.write_text(TRICKY_HEADER + "\n".join(TRICKY_ROWS) + f"\n99|{len(TRICKY_ROWS)}|\n", encoding="utf-8")
    with open_cc5(path) as opened:
        expected = {row[0]: [_plain(v, i in (6, 7)) for i, v in enumerate(row)] for row in opened.data.fetchall()[:3]}
    done = _apply_file(store, path, _claimed(store))
    assert (done.successful_count, done.failure_count) == (3, 1)
    table = store.read_table("ws-a", "customer")
    got = {row[0]: [_plain(v, i in (6, 7)) for i, v in enumerate(row)] for row in table.fetchall()}
    assert got == expected
    assert expected["a"][5] == ["x", "y|z", '"q"', "back\\slash", "NULL", "{}"]
    assert expected["a"][8] == 'tab\there\r\n\\N and "quotes", é ✓\\'
    assert expected["b"][5] == ["\\N"] and expected["b"][8] == "\\\\."
    assert expected["c"][1:] == [None] * 7 + ["\\."]


def test_a_json_key_is_replaced_by_the_next_import(store: Store, tmp_path: Path) -> None:
    """A key of type object compares by its JSON value in both stores (PostgreSQL: jsonb to jsonb)."""
    for n in range(2):
        path = tmp_path / f"json-key-{n}.cc5txt"
        path.write_text("00|ACME|cc5|20261122093000|ref\n01|customer|ws-a|bk|CRM|UPSERT\n02|obj\n"
                        f'03|obj:object|v:int\n10|{{"a":1}}|{n}|\n10|{{"a":2}}|{n}|\n99|2|\n', encoding="utf-8")
        assert _apply_file(store, path, _claimed(store, now=1.0 + n)).status == "FINISHED"
    rows = store.read_table("ws-a", "customer").fetchall()
    assert sorted(((_plain(obj, True), v) for obj, v in rows), key=repr) == [({"a": 1}, 1), ({"a": 2}, 1)]
