"""Probe (not the service): the lowest import ÷ validate a DuckDB store can reach.

Issue 11 asks for the service's import of a class-4 file (plan + apply) to
cost <= 1.5x (must <= 2.0x) ``validate`` of the same file. Any import must
find every finding validate finds (the plan costs at least validate) and
write the accepted rows into the store's DuckDB file. This probe measures,
each step in a fresh process, steps interleaved:

* ``validate``: ``toolkit.cc5.validate(path)``;
* ``import``: ``plan_import`` on a file-backed connection with the store's
  memory limit, then the DuckDB store's apply (one transaction, a new entity
  table, ``INSERT ... SELECT`` with ``preserve_insertion_order`` off);
* ``write``: in the same process, after the import, the plan's typed rows
  copied into an in-memory table (not timed) and then written into a new
  table of the file, as the apply writes them: DuckDB's own cost of storing
  those rows, with nothing of the engine in it.

``(validate + write) ÷ validate`` is the floor of import ÷ validate for a
plan that cost no more than validate, before the service's fetch of the
object, HTTP and findings (``bench_service.py`` measures those).

``--parts`` instead times the pass's one statement (the file's lines
already in a table, best of 3) in variants that show where the plan's cost
above validate's goes: validate's per-line table; the plan's (with the
typed values); the plan's with each non-key field's raw value stored
instead of its typed value; the same values only counted, not stored.

    .venv/bin/python benchmarks/probe_import_floor.py FILE [--repeat 3]
    .venv/bin/python benchmarks/probe_import_floor.py FILE --parts

FILE: a class-4 file (``bench_validate.py --classes bad_rare --keep`` writes
one to ``benchmarks/out/``). Prints one JSON line a run and the medians.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable


def _timed(step: Callable[[], object]) -> dict[str, float]:
    cpu0, wall0 = os.times(), time.perf_counter()
    step()
    cpu1 = os.times()
    return {"wall": round(time.perf_counter() - wall0, 3),
            "cpu": round(cpu1.user + cpu1.system - cpu0.user - cpu0.system, 3)}


def _validate(path: str) -> dict[str, Any]:
    from toolkit.cc5 import validate

    return {"validate": _timed(lambda: validate(path, progress=False).close())}


def _import(path: str) -> dict[str, Any]:
    import duckdb

    from toolkit.cc5 import plan_import
    from toolkit.cc5.source import unordered
    from toolkit.service.duckdb_store import STORE_MEMORY_LIMIT

    out: dict[str, Any] = {}
    tmp = tempfile.mkdtemp(prefix="probe-import-")
    try:
        con = duckdb.connect(f"{tmp}/store.duckdb", config={"memory_limit": STORE_MEMORY_LIMIT})
        box: dict[str, Any] = {}
        out["plan"] = _timed(lambda: box.setdefault("plan", plan_import(path, con)))
        plan = box["plan"]
        columns = ", ".join(f'"{name}" {kind}' for name, kind in zip(plan.upserts.columns, plan.upserts.types))

        def apply(source: str, table: str) -> None:
            with unordered(con):
                con.execute("BEGIN TRANSACTION")
                con.execute(f"CREATE TABLE {table} ({columns})")
                con.execute(f"INSERT INTO {table} SELECT * FROM {source}")
                con.execute("COMMIT")

        con.register("upserts", plan.upserts)
        out["apply"] = _timed(lambda: apply("upserts", "entity"))
        con.execute("ATTACH ':memory:' AS mem")
        con.execute("CREATE TABLE mem.typed AS SELECT * FROM upserts")
        con.unregister("upserts")
        plan.close()
        out["write"] = _timed(lambda: apply("mem.typed", "entity_again"))
        out["rows"] = con.execute("SELECT count(*) FROM entity_again").fetchall()[0][0]
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _parts(path: str) -> None:
    import re

    from toolkit.cc5.engine import Scan
    from toolkit.cc5.source import connect, unordered

    con = connect(memory_limit="2GB")
    lines = Scan(path, con, keep_typed=True).lines_table()
    validate_sql = Scan(path, con).rows_sql(lines, "probe")
    plan_scan = Scan(path, con, keep_typed=True)
    plan_sql = plan_scan.rows_sql(lines, "probe")
    # the plan's statement ends with the typed columns "CASE WHEN rt = '10' AND errs IS NULL THEN ... AS f<i>"
    select, source = plan_sql.rsplit("FROM d", 1)
    first, *typed = re.split(r", (?=CASE WHEN rt = '10' AND errs IS NULL)", select)
    stored = [int(col.rsplit(" AS f", 1)[1]) for col in typed]
    raw = [f"p[{i + 2}] AS f{i}" for i in stored]

    def table(cols: list[str]) -> str:
        return first + "".join(", " + c for c in cols) + "\nFROM d" + source

    def counted(cols: list[str]) -> str:
        inner = table(cols).replace("CREATE TEMP TABLE probe AS", "")
        names = ["line", "rt", "errs", "raw"] + [f"f{i}" for i in stored]
        return f"CREATE TEMP TABLE probe AS SELECT {', '.join(f'count({n})' for n in names)} FROM ({inner})"

    variants = {"validate's per-line table": validate_sql, "the plan's (typed values stored)": plan_sql,
                "raw values stored instead": table(raw), "raw values counted, not stored": counted(raw)}
    with unordered(con):
        for name, sql in variants.items():
            best: dict[str, float] | None = None
            statement = functools.partial(con.execute, sql)
            for _ in range(3):
                took = _timed(statement)
                con.execute("DROP TABLE probe")
                best = took if best is None or took["cpu"] < best["cpu"] else best
            print(json.dumps({"variant": name, **(best or {})}), flush=True)


def _run_step(step: str, path: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--step", step, path], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parts", action="store_true", help="where the plan's cost above validate's goes")
    parser.add_argument("--step", choices=["validate", "import"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # one step in this fresh process
        print(json.dumps(_validate(args.file) if args.step == "validate" else _import(args.file)))
        return
    path = str(Path(args.file).resolve())
    if args.parts:
        print(json.dumps({"load": round(os.getloadavg()[0], 2)}))
        _parts(path)
        return
    runs = []
    for _ in range(args.repeat):
        load = os.getloadavg()[0]
        run = {**_run_step("validate", path), **_run_step("import", path), "load": round(load, 2)}
        run["import_over_validate_cpu"] = round((run["plan"]["cpu"] + run["apply"]["cpu"]) / run["validate"]["cpu"], 2)
        run["floor_over_validate_cpu"] = round((run["validate"]["cpu"] + run["write"]["cpu"]) / run["validate"]["cpu"], 2)
        run["floor_over_validate_wall"] = round(
            (run["validate"]["wall"] + run["write"]["wall"]) / run["validate"]["wall"], 2)
        print(json.dumps(run), flush=True)
        runs.append(run)
    med = {key: statistics.median(r[key] for r in runs)
           for key in ("import_over_validate_cpu", "floor_over_validate_cpu", "floor_over_validate_wall")}
    steps = {s: {m: statistics.median(r[s][m] for r in runs) for m in ("wall", "cpu")}
             for s in ("validate", "plan", "apply", "write")}
    print(json.dumps({"median": med, "steps": steps, "load_end": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
