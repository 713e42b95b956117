"""Probe (not the engine): what would validate cost if DuckDB's CSV parser split the values?

Issue 11 asks for validate <= 1.5x (must <= 2.0x) the CPU of DuckDB's plain
all-VARCHAR ``read_csv``. This probe measures the lower bound of the design
"DuckDB's ``read_csv`` splits every line into VARCHAR columns, one vectorised
check per column flags the bad lines, the key hashes are sorted for
duplicates" on a file written by ``bench_validate.py --keep`` (its ``clean``
layout, or the 2-key layout when the name holds ``bad1pct`` or ``escapes``).
It is a lower bound: it reconciles nothing (line numbers only through
``row_number() OVER ()``, no lone ``\\r``, blank-line or invalid-UTF-8
handling, no findings table, no footer), so it is NOT a correct validator.

    .venv/bin/python benchmarks/probe_readcsv_checks.py benchmarks/out/clean.cc5txt base
    .venv/bin/python benchmarks/probe_readcsv_checks.py benchmarks/out/clean.cc5txt full
    .venv/bin/python benchmarks/probe_readcsv_checks.py benchmarks/out/clean.cc5txt full int,number,bool,date,array,object,list
    .venv/bin/python benchmarks/probe_readcsv_checks.py benchmarks/out/clean.cc5txt validate

Steps: ``base`` the baseline of ``bench_validate.py``; ``typed`` the same with
the int, number and bool columns typed BIGINT, DOUBLE, BOOLEAN (DuckDB's
parser casts them; its rules are not cc5's); ``full`` the probe
(the optional third argument names checks to leave out, and ``rn`` leaves out
the line numbers); ``validate`` ``toolkit.cc5.validate``; ``noop`` nothing
(the process's fixed cost, for instruction counts under callgrind). Prints
the CPU seconds (user + system) and wall seconds of the step.
"""

from __future__ import annotations

import os
import sys
import time

import duckdb
import numpy as np

from toolkit.cc5 import validate

CHECKS = {  # the cheapest vectorised form of each value rule found (shape only: not the full rule)
    "int": "(TRY_CAST({v} AS BIGINT) IS NULL)",
    "number": "(NOT isfinite(TRY_CAST({v} AS DOUBLE)))",
    "bool": "(lower({v}) NOT IN ('true','false','1','0'))",
    "date": "((CASE length({v}) WHEN 8 THEN try_strptime({v}, '%Y%m%d') "
            "WHEN 14 THEN try_strptime({v}, '%Y%m%d%H%M%S') END) IS NULL)",
    "array": "(starts_with({v}, ',') OR ends_with({v}, ',') OR contains({v}, ',,'))",
    "object": "(NOT (starts_with({v},'{{') AND json_valid({v})))",
    "list": "(NOT (starts_with({v},'[') AND json_valid({v})))",
}


def main() -> None:
    path, what = sys.argv[1], sys.argv[2]
    skip = set(sys.argv[3].split(",")) if len(sys.argv) > 3 and sys.argv[3] else set()
    two_keys = "bad1pct" in path or "escapes" in path or "bad_rare" in path or "deletes" in path
    types = (["string", "string"] if two_keys else ["string"]) + [
        "string", "number", "int", "bool", "date", "array", "object", "list", "string"]
    n_keys = 2 if two_keys else 1
    n_cols = len(types) + 3  # row type, the fields, the trailing empty value, one sentinel for too many
    t0 = os.times()
    w0 = time.perf_counter()
    if what == "validate":
        report = validate(path, progress=False)
        print(sum(dict(report.counts).values()), "findings")
    elif what in ("base", "full", "typed"):
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        cols = {f"c{i}": "VARCHAR" for i in range(n_cols)}
        if what == "typed":  # the parser casts int, number, bool itself; bad lines are dropped
            sql_type = {"int": "BIGINT", "number": "DOUBLE", "bool": "BOOLEAN"}
            cols.update({f"c{i + 1}": sql_type[t] for i, t in enumerate(types) if t in sql_type})
        rel = (f"read_csv('{path}', columns={cols}, delim='|', header=false, quote='', escape='', "
               "auto_detect=false, skip=4, ignore_errors=true, null_padding=true)")
        if what in ("base", "typed"):
            print(con.execute("SELECT count(*), " + ", ".join(f"count(c{i})" for i in range(n_cols))
                              + f" FROM {rel}").fetchone())
        else:
            parts = [f"c{i + 1} IS NULL" for i in range(n_keys)]  # an empty key (empty reads as NULL)
            for i, ftype in enumerate(types):
                if ftype in CHECKS and ftype not in skip:
                    v = f"c{i + 1}"
                    parts.append(f"({v} IS NOT NULL AND {CHECKS[ftype].format(v=v)})")
            parts += ["c0 NOT IN ('10', '90')", f"c{len(types) + 2} IS NOT NULL"]
            keys = ", ".join(f"c{i + 1}" for i in range(n_keys))
            line = "" if "rn" in skip else "row_number() OVER () AS line, "
            con.execute(f"CREATE TABLE t AS SELECT {line}c0 AS rt, CASE WHEN {' OR '.join(parts)} THEN true END "
                        f"AS bad, {keys}, hash({keys}) AS kh FROM {rel}")
            h = np.sort(con.execute("SELECT kh FROM t WHERE bad IS NULL").fetchnumpy()["kh"])
            print(con.execute("SELECT count(*), count(bad) FROM t").fetchone(), int((h[1:] == h[:-1]).sum()))
    t1 = os.times()
    print(f"{os.path.basename(path)} {what} {','.join(sorted(skip))}: "
          f"cpu {(t1.user - t0.user) + (t1.system - t0.system):.2f} wall {time.perf_counter() - w0:.2f}")


if __name__ == "__main__":
    main()
