"""Benchmark: `toolkit validate` against DuckDB's and pandas' plain parse of the same file.

    .venv/bin/python benchmarks/bench_validate.py              # 3M rows, ~300 MB
    .venv/bin/python benchmarks/bench_validate.py --rows 300000

It writes a cc5 file with every field type (benchmarks/out/, git-ignored),
then runs, each in its own fresh Python process (so each peak RSS is that
step's own, read from ``ru_maxrss``):

1. DuckDB parse-only: ``read_csv`` with ``delim='|'``, every column VARCHAR,
   no quote/escape, the 4 header lines skipped, ``ignore_errors`` (drops the
   footer line), all threads. Measured twice: ``count(*)`` alone (DuckDB may
   skip materialising the columns) and ``count(col)`` of every column (each
   value parsed and materialised) -- the honest baseline.
2. pandas ``read_csv(sep='|', dtype=str, header=None, skiprows=4,
   quoting=QUOTE_NONE)`` (C engine).
3. ``toolkit.cc5.validate(path)``: the full validation (all checks, findings
   table, counts, duplicate keys), progress off. The file is clean, so this
   is the quick path (the step fails if validate had to fall back to the
   exact engine).

With ``--repeat N`` the steps run N times, interleaved (a burst of load from
other work on the machine then hits every step alike); the best time and
the median are reported, with the load average before and after.

Targets: validate <= 2.0x DuckDB's parse-only time, faster than pandas,
validate's peak RSS <= 600 MB. Results are printed and saved as JSON next to
the file; docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
FIELDS = ("code:string|name:string|credit:number|qty:int|active:bool|since:date|tags:array|"
          "profile:object|hist:list|note:string")
N_COLS = 12  # row type + 10 values + the empty value after the trailing |


def generate(path: Path, rows: int) -> None:
    import duckdb

    body = path.with_suffix(".body")
    con = duckdb.connect()
    con.execute(f"""
COPY (
  SELECT '10|C' || lpad(CAST(i AS VARCHAR), 9, '0')
      || '|Customer ' || (i % 5000) || CASE WHEN i % 97 = 0 THEN ' #/# escaped' ELSE '' END
      || '|' || CAST((i % 100000) / 100.0 AS VARCHAR)
      || '|' || CAST(i % 100000 AS VARCHAR)
      || '|' || CASE WHEN i % 3 = 0 THEN 'true' WHEN i % 3 = 1 THEN 'false' ELSE '1' END
      || '|' || CASE WHEN i % 2 = 0
                     THEN strftime(TIMESTAMP '2020-01-01' + to_minutes(CAST(i % 500000 AS BIGINT)), '%Y%m%d%H%M%S')
                     ELSE strftime(TIMESTAMP '2020-01-01' + to_minutes(CAST(i % 500000 AS BIGINT)), '%Y%m%d') END
      || '|vip,eu,t' || (i % 7)
      || '|{{"tier":"gold","n":' || (i % 10) || '}}'
      || '|[' || (i % 5) || ',2]'
      || '|' || CASE WHEN i % 11 = 0 THEN '' ELSE 'n' || (i % 1000) END
      || '|'
  FROM range({rows}) t(i)
) TO '{body}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x01')
""")
    con.close()
    with open(path, "wb") as out:
        out.write(b"00|ACME|cc5|20261122093000|bench-ref\n01|customer|ws-bench|bk-main|CRM|UPSERT\n")
        out.write(b"02|code\n03|" + FIELDS.encode() + b"\n")
        with open(body, "rb") as fh:
            while chunk := fh.read(16 << 20):
                out.write(chunk)
        out.write(f"99|{rows}|\n".encode())
    body.unlink()


STEPS = {
    "duckdb_count": """
import duckdb
cols = {f"c{i}": "VARCHAR" for i in range(%(n)d)}
rel = f"read_csv('%(path)s', columns={cols}, delim='|', header=false, quote='', escape='', auto_detect=false, skip=4, ignore_errors=true)"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t0 = time.perf_counter()
n = con.execute(f"SELECT count(*) FROM {rel}").fetchall()[0][0]
elapsed = time.perf_counter() - t0
""",
    "duckdb_columns": """
import duckdb
cols = {f"c{i}": "VARCHAR" for i in range(%(n)d)}
rel = f"read_csv('%(path)s', columns={cols}, delim='|', header=false, quote='', escape='', auto_detect=false, skip=4, ignore_errors=true)"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t0 = time.perf_counter()
n = con.execute("SELECT count(*), " + ", ".join(f"count(c{i})" for i in range(%(n)d)) + f" FROM {rel}").fetchall()[0][0]
elapsed = time.perf_counter() - t0
""",
    "pandas": """
import csv
import pandas as pd
t0 = time.perf_counter()
df = pd.read_csv('%(path)s', sep='|', dtype=str, header=None, skiprows=4, quoting=csv.QUOTE_NONE,
                 names=list(range(%(n)d)), engine='c')
n = len(df)
elapsed = time.perf_counter() - t0
""",
    "validate": """
from toolkit.cc5 import validate
t0 = time.perf_counter()
report = validate('%(path)s', progress=False)
n = report.data_rows
assert report.ok, report.summary()
elapsed = time.perf_counter() - t0
assert report._scan.rows_table is None, "the quick path was not taken"  # the clean-file path is measured
""",
}

RUNNER = """
import json, os, resource, sys, time
%(imports)s
rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
cpu0 = os.times()
%(body)s
cpu1 = os.times()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "rows": int(n), "peak_rss_mb": peak, "rss_after_imports_mb": rss_start,
                  "cpu_seconds": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)}))
"""


def run_step(name: str, path: Path) -> dict:
    imports = {"validate": "import toolkit.cc5", "pandas": "import pandas", }.get(name, "import duckdb")
    code = RUNNER % {"imports": imports, "body": STEPS[name] % {"path": str(path), "n": N_COLS}}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr}")
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")][-1]
    return json.loads(last)


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000, help="data rows (default 3,000,000: ~300 MB)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per step, interleaved; the best time and the median are reported")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"bench_{args.rows}.cc5txt"
    t0 = time.perf_counter()
    if not path.exists():
        generate(path, args.rows)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({size_mb:.0f} MB, {args.rows} data rows; ready in {time.perf_counter() - t0:.1f} s)")
    with open(path, "rb") as fh:  # warm the page cache the same way for every step
        while fh.read(64 << 20):
            pass
    load_before = _load()
    names = ("duckdb_count", "duckdb_columns", "pandas", "validate")
    runs: dict[str, list[dict]] = {name: [] for name in names}
    for _ in range(args.repeat):  # interleaved, so a burst of load on the machine hits every step alike
        for name in names:
            runs[name].append(run_step(name, path))
    results: dict[str, dict] = {}
    for name in names:
        best = dict(min(runs[name], key=lambda r: r["seconds"]))
        best["all_seconds"] = [r["seconds"] for r in runs[name]]
        best["median_seconds"] = statistics.median(best["all_seconds"])
        results[name] = best
        print(f"  {name:15s} {best['seconds']:7.2f} s  (median {best['median_seconds']:.2f})  "
              f"cpu {best['cpu_seconds']:6.2f} s  peak RSS {best['peak_rss_mb']:6.0f} MB  "
              f"(after imports {best['rss_after_imports_mb']:.0f} MB)  rows {best['rows']}")
    v = results["validate"]["seconds"]
    vm = results["validate"]["median_seconds"]
    ratios = {
        "validate_vs_duckdb_columns": v / results["duckdb_columns"]["seconds"],
        "validate_vs_duckdb_columns_median": vm / results["duckdb_columns"]["median_seconds"],
        "validate_vs_duckdb_columns_cpu": results["validate"]["cpu_seconds"] / results["duckdb_columns"]["cpu_seconds"],
        "validate_vs_duckdb_count": v / results["duckdb_count"]["seconds"],
        "validate_vs_pandas": v / results["pandas"]["seconds"],
    }
    print(f"validate / DuckDB parse-only (every column): {ratios['validate_vs_duckdb_columns']:.2f}x best, "
          f"{ratios['validate_vs_duckdb_columns_median']:.2f}x median, "
          f"{ratios['validate_vs_duckdb_columns_cpu']:.2f}x CPU (target <= 2.0x)")
    print(f"validate / DuckDB count(*) only:             {ratios['validate_vs_duckdb_count']:.2f}x")
    print(f"validate / pandas read_csv(dtype=str):       {ratios['validate_vs_pandas']:.2f}x (target < 1.0x)")
    print(f"validate peak RSS: {results['validate']['peak_rss_mb']:.0f} MB (target <= 600 MB)")
    load_after = _load()
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after}")
    summary = {"rows": args.rows, "size_mb": size_mb, "results": results, "ratios": ratios,
               "cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": load_after,
               "python": platform.python_version()}
    (OUT / "bench_validate.json").write_text(json.dumps(summary, indent=2))
    if not args.keep and args.rows >= 1_000_000:
        path.unlink()


if __name__ == "__main__":
    main()
