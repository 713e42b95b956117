"""plan_import(): what the import service applies."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pytest

from toolkit.cc5 import plan_import

HEADER = (
    "00|ACME|cc5|20261122093000|ref-1\n01|customer|ws-eu|bk-main|CRM|UPSERT\n02|code|n\n"
    "03|code:string|n:int|credit:number|since:date|tags:array|profile:object\n"
)


def write(tmp_path: Path, body: str, name: str = "p.cc5txt") -> Path:
    path = tmp_path / name
    n = sum(1 for line in body.splitlines() if line[:3] in ("10|", "90|"))
    path.write_text(HEADER + body + f"99|{n}|\n", encoding="utf-8")
    return path


def test_last_valid_operation_wins(tmp_path: Path) -> None:
    body = (
        "10|A|1|1.5|20240101|x,y|{}|\n"     # 5: A1 upsert (later replaced)
        "10|B|1|2|20240101||{}|\n"          # 6: B1 upsert (later deleted)
        "10|A|01|3.5|20240102||{\"k\":1}|\n"  # 7: A1 again: wins (01 == 1 as int)
        "90|B|1\n"                          # 8: delete B1
        "10|C|1|oops|20240101||{}|\n"       # 9: rejected
        "90|D|1\n"                          # 10: delete of a key not in the file
        "10|E|1|1|20240101||{}|\n"          # 11: E1 upsert
        "90|E|1\n"                          # 12: then deleted
        "10|E|1|9|20240101||{}|\n"          # 13: then inserted again: wins
        "90|F|x\n"                          # 14: rejected delete (n not an int)
    )
    con = duckdb.connect()
    with plan_import(write(tmp_path, body), con) as plan:
        assert plan.report.importable and not plan.report.ok
        assert plan.keys == ["code", "n"]
        assert [(f.code, f.duckdb_type) for f in plan.fields] == [
            ("code", "VARCHAR"), ("n", "BIGINT"), ("credit", "DOUBLE"), ("since", "TIMESTAMP"),
            ("tags", "VARCHAR[]"), ("profile", "JSON")]
        ups = sorted(plan.upserts.fetchall())
        assert [(r[0], r[1], r[2]) for r in ups] == [("A", 1, 3.5), ("E", 1, 9.0)]
        assert str(ups[0][3]) == "2024-01-02 00:00:00" and ups[0][4] is None and ups[0][5] == '{"k":1}'
        assert sorted(plan.deletes.fetchall()) == [("B", 1), ("D", 1)]
        assert sorted(plan.touched.fetchall()) == [("A", 1), ("B", 1), ("D", 1), ("E", 1)]
        assert plan.upserts.columns == ["code", "n", "credit", "since", "tags", "profile"]
        assert plan.successful_count == 8 and plan.failure_count == 2


def test_not_importable_gives_empty_relations(tmp_path: Path) -> None:
    path = write(tmp_path, "10|A|1|1|20240101||{}|\n")
    con = duckdb.connect()
    with plan_import(path, con, expected_workspace="ws-other") as plan:
        assert not plan.report.importable
        assert plan.upserts.fetchall() == [] and plan.deletes.fetchall() == [] and plan.touched.fetchall() == []
        assert plan.upserts.columns == ["code", "n", "credit", "since", "tags", "profile"]
        assert plan.deletes.columns == ["code", "n"]
        assert plan.successful_count == 0
    with plan_import(path, con, max_bytes=10) as plan:
        assert [f.code for f in plan.report.file_errors] == ["FILE_TOO_LARGE"]


def test_apply_like_the_service_and_close_drops_temp_objects(tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE target (code VARCHAR, n BIGINT, credit DOUBLE, since TIMESTAMP, tags VARCHAR[], "
                "profile JSON)")
    con.execute("INSERT INTO target VALUES ('B', 1, 0, NULL, NULL, NULL), ('Z', 9, 0, NULL, NULL, NULL)")
    before = set(con.execute("SELECT table_name FROM duckdb_tables()").fetchall())
    plan = plan_import(write(tmp_path, "10|A|1|1|20240101|a|{}|\n90|B|1\n"), con)
    con.register("t_touched", plan.touched)
    con.register("t_upserts", plan.upserts)
    con.execute("DELETE FROM target AS t USING t_touched AS s WHERE t.code = s.code AND t.n = s.n")
    con.execute("INSERT INTO target SELECT * FROM t_upserts")
    con.unregister("t_touched")
    con.unregister("t_upserts")
    plan.close()
    assert sorted(r[0] for r in con.execute("SELECT code FROM target").fetchall()) == ["A", "Z"]
    assert set(con.execute("SELECT table_name FROM duckdb_tables()").fetchall()) == before


def test_concurrent_plans_on_cursors_of_one_database(tmp_path: Path) -> None:
    db = duckdb.connect(str(tmp_path / "store.duckdb"))
    paths = [write(tmp_path, f"10|K{i}|{i}|1|20240101||{{}}|\n10|L{i}|{i}|2|20240101||{{}}|\n", f"f{i}.cc5txt")
             for i in range(4)]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            cur = db.cursor()
            with plan_import(paths[i], cur) as plan:
                results[i] = sorted(plan.upserts.fetchall())
            cur.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(4):
        assert [r[0] for r in results[i]] == [f"K{i}", f"L{i}"]


def test_missing_file_raises(tmp_path: Path) -> None:
    from toolkit.errors import Cc5Error

    with pytest.raises(Cc5Error):
        plan_import(tmp_path / "missing.cc5txt", duckdb.connect())


def test_rows_to_apply_as_arrow_batches(tmp_path: Path) -> None:
    body = "".join(f"10|K{i}|{i}|1.5|20240101|a|{{}}|\n" for i in range(250)) + "90|K3|3\n"
    con = duckdb.connect()
    with plan_import(write(tmp_path, body), con) as plan:
        batches = list(plan.upsert_batches(batch_rows=100))
        assert sum(b.num_rows for b in batches) == 249 and len(batches) >= 3
        assert batches[0].schema.names == ["code", "n", "credit", "since", "tags", "profile"]
        assert str(batches[0].schema.field("n").type) == "int64"
        touched = plan.touched_batches().read_all()
        assert touched.num_rows == 250 and touched.schema.names == ["code", "n"]
