"""Planning big imports in a separate, lower-priority process.

Validating and planning a file is the CPU-heavy part of an import, and much
of it is Python (header checks, Arrow batches, numpy checks) that holds the
GIL. In the service process that would stall the event loop: status look-ups
waited up to ~250 ms behind a 3M-row import. So files of at least
``ServiceConfig.plan_process_min_bytes`` are planned by a planner process:

* the service writes one JSON line per job to the planner's stdin (the file
  to plan and a directory for the results);
* the planner (a Python process running :func:`main` at idle priority) runs
  :func:`toolkit.cc5.plan_import` on a DuckDB database file in that
  directory, stores the rows to apply as tables ``upserts`` and ``touched``,
  writes the rejected rows to ``rejected.csv`` and answers with one JSON
  line: the report's summary and its first findings;
* the service attaches that database read-only and applies the tables in its
  own transaction, exactly as for a plan made in-process.

The planner only reads the file and writes into the job's directory; the
store is never opened by two processes. A planner is reused for the next
job (starting one costs about a second), restarted when it dies, and killed
when the service stops.

    >>> job = PlanJob(Path("upload.cc5txt"), Path("job"), "ws-a", 300_000_000, 10_000)  # doctest: +SKIP
    >>> planned = Planner().plan(job, con)                                        # doctest: +SKIP
    >>> planned.report.importable, planned.successful_count                       # doctest: +SKIP
    (True, 1000)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from toolkit.cc5.findings import Finding
from toolkit.cc5.header import Field

__all__ = ["PlanJob", "PlannedImport", "PlannedReport", "Planner", "PlannerFailed", "plan_to_directory"]

PLAN_DATABASE = "plan.duckdb"
REJECTED_CSV = "rejected.csv"
PLANNER_NICE = 10
# Lowered before anything is imported, so every thread (numpy's, DuckDB's)
# inherits it: SCHED_IDLE where there is one (Linux: the planner only gets
# CPU no other process wants), else nice 10.
_PLANNER_MAIN = (
    "import os, signal\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"  # Ctrl-C is the service's to handle
    "try:\n"
    "    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))\n"
    "except (AttributeError, OSError):\n"
    "    try:\n"
    f"        os.nice({PLANNER_NICE})\n"
    "    except OSError:\n"
    "        pass\n"
    "from toolkit.service.planner import main\n"
    "main()\n"
)


class PlannerFailed(Exception):
    """The planner process died or could not plan the file (an internal error)."""


@dataclass(frozen=True)
class PlanJob:
    """One file to plan: the results go to ``out_dir`` (which must exist)."""

    source: Path
    out_dir: Path
    expected_workspace: str | None
    max_bytes: int | None
    max_findings: int
    memory_limit: str = "512MB"


class PlannedReport:
    """The parts of a :class:`~toolkit.cc5.report.ValidationReport` the
    service uses, as sent back by the planner."""

    def __init__(self, summary: dict[str, Any], rejected_csv: Path) -> None:
        self._rejected_csv = rejected_csv
        self.importable: bool = summary["importable"]
        self.data_rows: int = summary["data_rows"]
        self.delete_rows: int = summary["delete_rows"]
        self.rejected_rows: int = summary["rejected_rows"]
        self.findings = [Finding(**f) for f in summary["findings"]]
        self.file_errors = [Finding(**f) for f in summary["file_errors"]]

    def write_rejected(self, path: str | os.PathLike[str]) -> None:
        """Put the rejected rows the planner wrote at ``path``."""
        if self._rejected_csv.exists() and Path(path).resolve() != self._rejected_csv.resolve():
            shutil.copyfile(self._rejected_csv, path)

    def iter_findings(self, *, limit: int | None = None) -> list[Finding]:
        """The first findings in line order (the planner sent at most the
        service's ``max_findings_per_file``)."""
        return self.findings if limit is None else self.findings[:limit]


@dataclass
class PlannedImport:
    """What :meth:`DuckDBStore.apply_import` needs, read from the planner's
    database attached to the import's connection. :meth:`close` detaches it."""

    report: PlannedReport
    entity_type: str | None
    fields: list[Field]
    keys: list[str]
    upserts: duckdb.DuckDBPyRelation | None
    touched: duckdb.DuckDBPyRelation | None
    successful_count: int
    failure_count: int
    seconds: dict[str, float]  # how long the planner took, by step
    _con: duckdb.DuckDBPyConnection
    _alias: str | None

    def close(self) -> None:
        if self._alias is not None:
            alias, self._alias = self._alias, None
            self.upserts = self.touched = None
            self._con.execute(f"DETACH {alias}")


# -- the planner process side -------------------------------------------------
def plan_to_directory(job: PlanJob) -> dict[str, Any]:
    """Plan ``job.source`` into ``job.out_dir`` (runs in the planner process)."""
    from toolkit.cc5 import plan_import

    started = time.perf_counter()
    con = duckdb.connect(str(job.out_dir / PLAN_DATABASE),
                         config={"temp_directory": str(job.out_dir / "spill"), "preserve_insertion_order": "true",
                                 "memory_limit": job.memory_limit})
    try:
        con.execute("SET enable_progress_bar = false")
        with plan_import(job.source, con, expected_workspace=job.expected_workspace,
                         max_bytes=job.max_bytes, progress=False) as plan:
            report = plan.report
            planned = time.perf_counter()
            report.write_rejected(job.out_dir / REJECTED_CSV)
            importable = bool(report.importable)
            if importable:
                plan.upserts.create("upserts")
                plan.touched.create("touched")
            stored = time.perf_counter()
            return {
                "importable": bool(report.importable),
                "data_rows": int(report.data_rows),
                "delete_rows": int(report.delete_rows),
                "rejected_rows": int(report.rejected_rows),
                "successful_count": int(plan.successful_count),
                "failure_count": int(plan.failure_count),
                "entity_type": plan.entity_type,
                "fields": [[f.code, f.type, f.duckdb_type] for f in plan.fields],
                "keys": list(plan.keys),
                "tables": importable,
                "findings": [_finding(f) for f in report.iter_findings(limit=job.max_findings)],
                "file_errors": [_finding(f) for f in report.file_errors[:1]],
                "seconds": {"plan": round(planned - started, 3), "store": round(stored - planned, 3)},
            }
    finally:
        con.close()


def _finding(finding: Finding) -> dict[str, Any]:
    out = asdict(finding)
    out["file"] = None  # the planner's path of the download means nothing to the service
    return out


def _exit_with_parent() -> None:
    """Exit when the service process is gone (killed with -9, say)."""
    parent = os.getppid()
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main() -> None:
    """Serve jobs from stdin until it closes (the planner process runs this)."""
    # Answers go to a private copy of stdout; anything else printed goes to stderr.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    for line in sys.stdin:
        raw = json.loads(line)
        job = PlanJob(Path(raw["source"]), Path(raw["out_dir"]), raw["expected_workspace"],
                      raw["max_bytes"], int(raw["max_findings"]), raw["memory_limit"])
        try:
            answer = {"ok": True, "summary": plan_to_directory(job)}
        except Exception as exc:  # noqa: BLE001 - reported to the service, which fails the file
            answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


# -- the service side ---------------------------------------------------------
class Planner:
    """One planner process, started on first use and restarted after it dies.

    Not for concurrent use: the service keeps one per import in flight.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the process now (it takes about a second to be ready), so a
        job sent later does not wait for it."""
        self._running()

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            root = str(Path(__file__).resolve().parents[2])  # toolkit importable however it was found
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
            self._process = subprocess.Popen(
                [sys.executable, "-c", _PLANNER_MAIN], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env,
            )
        return self._process

    def plan(self, job: PlanJob, con: duckdb.DuckDBPyConnection) -> PlannedImport:
        """Plan ``job`` in the planner process; attach its results to ``con``."""
        process = self._running()
        try:
            process.stdin.write(json.dumps({  # type: ignore[union-attr]
                # absolute: a relative store path must not depend on the planner's directory
                "source": str(Path(job.source).resolve()), "out_dir": str(Path(job.out_dir).resolve()),
                "expected_workspace": job.expected_workspace, "max_bytes": job.max_bytes,
                "max_findings": job.max_findings, "memory_limit": job.memory_limit,
            }) + "\n")
            process.stdin.flush()  # type: ignore[union-attr]
            line = process.stdout.readline()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            code = process.wait()
            self._process = None
            raise PlannerFailed(f"the planner process ended (exit status {code})")
        answer = json.loads(line)
        if not answer["ok"]:
            raise PlannerFailed(answer["error"])
        return attach_plan(con, job.out_dir, answer["summary"])

    def kill(self) -> None:
        """Stop a job in progress (the waiting :meth:`plan` raises PlannerFailed)."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def close(self, timeout: float = 5.0) -> None:
        """End the planner process (idempotent)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            process.stdin.close()  # type: ignore[union-attr]
            process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def attach_plan(con: duckdb.DuckDBPyConnection, out_dir: Path, summary: dict[str, Any]) -> PlannedImport:
    """Attach a planner's results read-only to ``con``."""
    alias = None
    upserts = touched = None
    if summary["tables"]:
        alias = f"tk_plan_{uuid.uuid4().hex[:12]}"
        path = str((out_dir / PLAN_DATABASE).resolve()).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS {alias} (READ_ONLY)")
        upserts = con.sql(f"SELECT * FROM {alias}.upserts")
        touched = con.sql(f"SELECT * FROM {alias}.touched")
    return PlannedImport(
        report=PlannedReport(summary, out_dir / REJECTED_CSV), entity_type=summary["entity_type"],
        fields=[Field(*field) for field in summary["fields"]], keys=summary["keys"],
        upserts=upserts, touched=touched, successful_count=summary["successful_count"],
        failure_count=summary["failure_count"], seconds=summary["seconds"], _con=con, _alias=alias,
    )

