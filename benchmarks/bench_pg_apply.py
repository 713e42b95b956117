"""Benchmark: the PostgreSQL store's apply of a big import (plan on the engine, rows to PostgreSQL).

    .venv/bin/python benchmarks/bench_pg_apply.py                        # 3M rows of class 4
    .venv/bin/python benchmarks/bench_pg_apply.py --rows 300000 --repeat 3
    .venv/bin/python benchmarks/bench_pg_apply.py --repo ../old-checkout  # the same, another checkout's code

Starts a throwaway PostgreSQL server (``tests/pg_server.py``), writes a file of
issue 11's class 4 (``bench_validate.py``'s ``bad_rare``: 2-field key, every field
type, escapes in 40 % of the string values), and ``--repeat`` times, each in a
fresh process and a new database, plans it on the store's engine connection and
applies it with ``PostgresStore.apply_import`` (a first import into a new table).
Prints the plan's and the apply's wall time, the apply's CPU seconds in the
toolkit process and in the PostgreSQL server, and the load average. ``--repo``
runs another checkout's ``toolkit`` with this script (before/after comparisons,
interleaved when given twice: ``--repo A --repo B``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_validate import generate  # noqa: E402
from pg_server import PostgresServer  # noqa: E402

STEP = r"""
import json, os, sys, time
import psutil
from toolkit.cc5 import plan_import
from toolkit.service.postgres_store import PostgresStore
from toolkit.service.records import FileRecord

path, url, postmaster = sys.argv[1], sys.argv[2], int(sys.argv[3])

def server_cpu():
    proc = psutil.Process(postmaster)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total

store = PostgresStore(url, lease_seconds=60.0)
record = FileRecord.new(api="imports", workspace_id="ws-bench", file_name="b.cc5txt", bucket="bk", now=1.0,
                        status="QUEUED", queued_at=1.0)
store.create_file(record)
record = store.claim_next_queued(now=1.0)
con = store.engine_connection()
t0 = time.perf_counter()
plan = plan_import(path, con, progress=False)
t1, c1, s1 = time.perf_counter(), os.times(), server_cpu()
done = store.apply_import(record.replace(entity_type=plan.entity_type), plan, con, clock=time.time,
                          rejected_key=None, max_findings=100)
t2, c2, s2 = time.perf_counter(), os.times(), server_cpu()
assert done.status == "FINISHED", done
print(json.dumps({"plan_s": t1 - t0, "apply_s": t2 - t1,
                  "apply_toolkit_cpu_s": (c2.user - c1.user) + (c2.system - c1.system),
                  "apply_postgres_cpu_s": s2 - s1, "rows": done.successful_count}))
plan.close()
con.close()
store.close()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--repo", action="append", help="a checkout whose toolkit to run (default: this one)")
    args = parser.parse_args()
    repos = [Path(r).resolve() for r in (args.repo or [str(ROOT)])]

    server = PostgresServer.start()
    postmaster = int((server.root / "data" / "postmaster.pid").read_text().split()[0])
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pg-apply-") as tmp:
            path = Path(tmp) / "class4.cc5txt"
            generate(path, "bad_rare", args.rows)
            print(f"{args.rows:,} rows of class 4, {path.stat().st_size / 1e6:.0f} MB; "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
            for n in range(args.repeat):
                for repo in repos:
                    done = subprocess.run([sys.executable, "-c", STEP, str(path), server.new_database(),
                                           str(postmaster)], capture_output=True, text=True,
                                          cwd=tmp, env={**os.environ, "PYTHONPATH": str(repo)})
                    if done.returncode != 0:
                        raise SystemExit(done.stderr[-3000:])
                    r = json.loads(done.stdout.strip().splitlines()[-1])
                    print(f"run {n + 1} {repo.name}: plan {r['plan_s']:.2f} s, apply {r['apply_s']:.2f} s "
                          f"(CPU: toolkit {r['apply_toolkit_cpu_s']:.2f} s, PostgreSQL "
                          f"{r['apply_postgres_cpu_s']:.2f} s), {r['rows']:,} rows; "
                          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
