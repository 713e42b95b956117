"""Benchmark: `validate` on five file classes against DuckDB's and pandas' plain parse of the same file.

    .venv/bin/python benchmarks/bench_validate.py                    # 3M rows a class (~330 MB files)
    .venv/bin/python benchmarks/bench_validate.py --rows 300000 --repeat 3
    .venv/bin/python benchmarks/bench_validate.py --classes clean,bad1pct

The five classes (issue 11), generated with DuckDB into benchmarks/out/ (git-ignored):

1. ``clean``: clean, 1-field key, every field type.
2. ``escapes``: clean, 2-field key, ``#/#`` / ``#Enter#`` escapes in 40 % of the string values.
3. ``deletes``: class 2 plus 2,000 ``90`` rows whose keys also appear as data rows
   (each a DUPLICATE_KEY warning).
4. ``bad_rare``: class 2 with 0.001 % bad rows spread over every row-level code.
5. ``bad1pct``: class 2 with 1 % bad rows, same spread.

Per class, each step runs in its own fresh Python process (its peak RSS is its
own: ``VmHWM``;
``ru_maxrss`` would carry the parent's peak across ``exec``), steps interleaved, ``--repeat`` times:

* ``duckdb``: the baseline: ``read_csv`` with ``delim='|'``, every column
  VARCHAR, no quote/escape, the header lines skipped, ``ignore_errors``, and
  ``count()`` of every column (each value parsed and materialised).
* ``pandas``: ``read_csv(sep='|', dtype=str, header=None, skiprows=4, quoting=QUOTE_NONE)``.
* ``validate``: ``toolkit.cc5.validate(path, progress=False)`` with every
  finding counted (the counts are checked against the generator's).

CPU seconds (user + system of the process) and wall seconds of the step
itself, the best and median of the runs, peak RSS, and the load average
before and after are printed and saved to benchmarks/out/bench_validate.json.
Targets (issue 11): validate <= 1.5x the baseline's CPU (must <= 2.0x),
faster than pandas, peak RSS <= 400 MB (must <= 500 MB).
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

CLASSES = ("clean", "escapes", "deletes", "bad_rare", "bad1pct")
ONE_KEY_FIELDS = ("code:string|name:string|credit:number|qty:int|active:bool|since:date|tags:array|"
                  "profile:object|hist:list|note:string")
TWO_KEY_FIELDS = "code:string|region:string|" + ONE_KEY_FIELDS.split("|", 1)[1]
#: row-level codes the bad rows cover, and how each one is made (a whole 10 row of class 2, or another line)
BAD_ROWS = {
    "INVALID_INT": "'10|' || k || '|' || name || '|1.5|x|true|20240115|a|{}|[]|n|'",
    "INVALID_NUMBER": "'10|' || k || '|' || name || '|1,5|1|true|20240115|a|{}|[]|n|'",
    "INVALID_BOOL": "'10|' || k || '|' || name || '|1.5|1|yes|20240115|a|{}|[]|n|'",
    "INVALID_DATE": "'10|' || k || '|' || name || '|1.5|1|true|20230229|a|{}|[]|n|'",
    "INVALID_ARRAY": "'10|' || k || '|' || name || '|1.5|1|true|20240115|a,,b|{}|[]|n|'",
    "INVALID_OBJECT": "'10|' || k || '|' || name || '|1.5|1|true|20240115|a|[1]|[]|n|'",
    "INVALID_LIST": "'10|' || k || '|' || name || '|1.5|1|true|20240115|a|{}|{}|n|'",
    "EMPTY_KEY": "'10||R0|' || name || '|1.5|1|true|20240115|a|{}|[]|n|'",
    "FIELD_COUNT": "'10|' || k || '|' || name || '|1.5|1|true|'",
    "UNKNOWN_ROW_TYPE": "'11|' || k",
    "MISPLACED_ROW": "'05|' || k",
}
NOT_COUNTED = ("UNKNOWN_ROW_TYPE", "MISPLACED_ROW")  # not 10/90 rows: the footer does not count them


def _values(escapes: bool) -> str:
    """SQL of the values after the key, for row i."""
    esc = "CASE WHEN i % 5 < 2 THEN ' #/# x#Enter#y' ELSE '' END" if escapes else \
        "CASE WHEN i % 97 = 0 THEN ' #/# escaped' ELSE '' END"
    note_esc = "CASE WHEN i % 5 IN (1, 2) THEN '#Enter#z' ELSE '' END" if escapes else "''"
    return f"""
      'Customer ' || (i % 5000) || {esc}
      || '|' || CAST((i % 100000) / 100.0 AS VARCHAR)
      || '|' || CAST(i % 100000 AS VARCHAR)
      || '|' || CASE WHEN i % 3 = 0 THEN 'true' WHEN i % 3 = 1 THEN 'false' ELSE '1' END
      || '|' || CASE WHEN i % 2 = 0
                     THEN strftime(TIMESTAMP '2020-01-01' + to_minutes(CAST(i % 500000 AS BIGINT)), '%Y%m%d%H%M%S')
                     ELSE strftime(TIMESTAMP '2020-01-01' + to_minutes(CAST(i % 500000 AS BIGINT)), '%Y%m%d') END
      || '|vip,eu,t' || (i % 7)
      || '|{{"tier":"gold","n":' || (i % 10) || '}}'
      || '|[' || (i % 5) || ',2]'
      || '|' || CASE WHEN i % 11 = 0 THEN '' ELSE 'n' || (i % 1000) || {note_esc} END
      || '|'"""


def generate(path: Path, kind: str, rows: int) -> dict[str, int]:
    """Write the file of class ``kind``; returns the finding counts validate must report."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = true")
    if kind == "clean":
        key, fields = "code", ONE_KEY_FIELDS
        k = "'C' || lpad(CAST(i AS VARCHAR), 9, '0')"
    else:
        key, fields = "code|region", TWO_KEY_FIELDS
        k = "'C' || lpad(CAST(i // 2 AS VARCHAR), 9, '0') || '|R' || (i % 2)"
    con.execute(f"CREATE TEMP TABLE body AS SELECT i, 2 * i AS pos, {k} AS k, {_values(kind != 'clean')} AS v "
                f"FROM range({rows}) t(i)")
    con.execute("UPDATE body SET v = k || '|' || v")
    expected: dict[str, int] = {}
    lines = "SELECT pos, '10|' || v AS line FROM body"
    if kind == "deletes":
        step = max(1, rows // 2000)
        lines += f" UNION ALL SELECT pos + 1, '90|' || k FROM body WHERE i % {step} = 0 AND i // {step} < 2000"
        expected["DUPLICATE_KEY"] = min(2000, len(range(0, rows, step)))
    if kind in ("bad_rare", "bad1pct"):
        every = 100_000 if kind == "bad_rare" else 100
        codes = list(BAD_ROWS)
        cases = " ".join(f"WHEN {n} THEN {BAD_ROWS[c].replace('name', 'split_part(v, chr(124), 3)')}"
                         for n, c in enumerate(codes))
        lines = (f"SELECT pos, CASE WHEN i % {every} = {every // 2} THEN CASE (i // {every}) % {len(codes)} {cases} END "
                 f"ELSE line END AS line FROM ({lines}) JOIN body USING (pos)")
        bad = con.execute(f"SELECT (i // {every}) % {len(codes)} AS c, count(*) FROM body "
                          f"WHERE i % {every} = {every // 2} GROUP BY c").fetchall()
        for c, n in bad:
            expected[codes[c]] = int(n)
    con.execute(f"CREATE TEMP TABLE out AS {lines}")
    counted = con.execute("SELECT count(*) FROM out WHERE starts_with(line, '10|') OR starts_with(line, '90|')").fetchall()[0][0]
    tmp = path.with_suffix(".body")
    con.execute(f"COPY (SELECT line FROM out ORDER BY pos) TO '{tmp}' "
                "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\\x01')")
    con.close()
    with open(path, "wb") as out:
        out.write(b"00|ACME|cc5|20261122093000|bench-ref\n01|customer|ws-bench|bk-main|CRM|UPSERT\n")
        out.write(f"02|{key}\n03|{fields}\n".encode())
        with open(tmp, "rb") as fh:
            while chunk := fh.read(16 << 20):
                out.write(chunk)
        out.write(f"99|{counted}|\n".encode())
    tmp.unlink()
    return expected


STEPS = {
    "duckdb": """
import duckdb
cols = {f"c{i}": "VARCHAR" for i in range(%(n)d)}
rel = f"read_csv('%(path)s', columns={cols}, delim='|', header=false, quote='', escape='', auto_detect=false, skip=4, ignore_errors=true, null_padding=true)"
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
cpu0 = os.times(); t0 = time.perf_counter()
n = con.execute("SELECT count(*), " + ", ".join(f"count(c{i})" for i in range(%(n)d)) + f" FROM {rel}").fetchall()[0][0]
elapsed = time.perf_counter() - t0; cpu1 = os.times()
counts = {}
""",
    "pandas": """
import csv
import pandas as pd
cpu0 = os.times(); t0 = time.perf_counter()
df = pd.read_csv('%(path)s', sep='|', dtype=str, header=None, skiprows=4, quoting=csv.QUOTE_NONE,
                 names=list(range(%(n)d)), engine='c')
n = len(df)
elapsed = time.perf_counter() - t0; cpu1 = os.times()
counts = {}
""",
    "validate": """
from toolkit.cc5 import validate
cpu0 = os.times(); t0 = time.perf_counter()
report = validate('%(path)s', progress=False)
n = report.data_rows
counts = dict(report.counts)
elapsed = time.perf_counter() - t0; cpu1 = os.times()
""",
}

RUNNER = """
import json, os, sys, time
%(imports)s
%(body)s
# VmHWM, not ru_maxrss: Linux keeps the parent's peak in ru_maxrss across exec
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({"seconds": elapsed, "rows": int(n), "peak_rss_mb": peak, "counts": counts,
                  "cpu_seconds": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)}))
"""


def run_step(name: str, path: Path, n_cols: int) -> dict:
    imports = {"validate": "import toolkit.cc5", "pandas": "import pandas"}.get(name, "import duckdb")
    code = RUNNER % {"imports": imports, "body": STEPS[name] % {"path": str(path), "n": n_cols}}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
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
    parser.add_argument("--rows", type=int, default=3_000_000, help="data rows a class (default 3,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per step, interleaved")
    parser.add_argument("--classes", default=",".join(CLASSES), help="comma-separated subset of " + ", ".join(CLASSES))
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    classes = [c for c in args.classes.split(",") if c]
    files: dict[str, tuple[Path, dict[str, int]]] = {}
    for kind in classes:
        path = OUT / f"bench_{kind}_{args.rows}.cc5txt"
        t0 = time.perf_counter()
        expected = generate(path, kind, args.rows)
        files[kind] = (path, expected)
        print(f"{kind}: {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s; "
              f"expected findings {expected}")
    steps = ("duckdb", "pandas", "validate")
    runs: dict[tuple[str, str], list[dict]] = {(k, s): [] for k in classes for s in steps}
    load_before = _load()
    for _ in range(args.repeat):  # interleaved: a burst of load hits every step alike
        for kind in classes:
            path, expected = files[kind]
            with open(path, "rb") as fh:  # the page cache warmed the same way for every step
                while fh.read(64 << 20):
                    pass
            n_cols = 12 if kind == "clean" else 13
            for step in steps:
                result = run_step(step, path, n_cols)
                result["load"] = _load()
                if step == "validate" and result["counts"] != expected:
                    raise SystemExit(f"{kind}: validate found {result['counts']}, expected {expected}")
                runs[(kind, step)].append(result)
    load_after = _load()
    summary: dict[str, dict] = {}
    print(f"{'class':9s} {'step':9s} {'cpu s':>7s} {'med':>6s} {'wall s':>7s} {'med':>6s} {'RSS MB':>7s}  "
          "cpu ratio (median) vs duckdb / pandas")
    for kind in classes:
        summary[kind] = {}
        for step in steps:
            rs = runs[(kind, step)]
            cpu = [r["cpu_seconds"] for r in rs]
            wall = [r["seconds"] for r in rs]
            summary[kind][step] = {"cpu_best": min(cpu), "cpu_median": statistics.median(cpu),
                                   "wall_best": min(wall), "wall_median": statistics.median(wall),
                                   "peak_rss_mb": max(r["peak_rss_mb"] for r in rs), "runs": rs}
        for step in steps:
            s = summary[kind][step]
            ratio = ""
            if step == "validate":
                base = summary[kind]["duckdb"]["cpu_median"]
                pandas = summary[kind]["pandas"]["cpu_median"]
                s["cpu_vs_duckdb"] = s["cpu_median"] / base
                s["cpu_vs_pandas"] = s["cpu_median"] / pandas
                s["wall_vs_pandas"] = s["wall_median"] / summary[kind]["pandas"]["wall_median"]
                ratio = f"{s['cpu_vs_duckdb']:.2f}x / {s['cpu_vs_pandas']:.2f}x (wall vs pandas {s['wall_vs_pandas']:.2f}x)"
            print(f"{kind:9s} {step:9s} {s['cpu_best']:7.2f} {s['cpu_median']:6.2f} {s['wall_best']:7.2f} "
                  f"{s['wall_median']:6.2f} {s['peak_rss_mb']:7.0f}  {ratio}")
    print(f"load average (1, 5, 15 min) before: {load_before}, after: {load_after}")
    (OUT / "bench_validate.json").write_text(json.dumps(
        {"rows": args.rows, "results": summary, "cpus": os.cpu_count(), "loadavg_before": load_before,
         "loadavg_after": load_after, "python": platform.python_version()}, indent=2))
    if not args.keep:
        for path, _e in files.values():
            path.unlink()


if __name__ == "__main__":
    main()
