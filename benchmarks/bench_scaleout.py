"""Benchmark of the scale-out deployment (PostgreSQL store, separate API and
worker processes) against the embedded DuckDB store, in the same run.

1. Import throughput, steps interleaved (each workload runs on every
   configuration before the next workload):
   * one file of ``--rows`` rows (default 1,000,000);
   * ``--files`` small files (default 200, ``--small-rows`` rows each) over 10
     workspaces;
   on ``toolkit serve`` with the DuckDB store and 1 or 2 import threads, and
   on PostgreSQL with 1 API instance and 1 or 2 ``toolkit worker`` processes.
   Wall time from the first trigger to the last import's end; CPU seconds
   of the toolkit processes and of the PostgreSQL server.
2. Status look-up latency: ``--pollers`` pollers (default 50) split over two
   API instances (``toolkit serve --workers 0``) for ``--seconds`` while two
   workers import (target p99 <= 50 ms).

    .venv/bin/python benchmarks/bench_scaleout.py
    .venv/bin/python benchmarks/bench_scaleout.py --rows 200000 --files 40 --seconds 5
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from bench_service import _percentile, _poll_process, _portal_upload  # noqa: E402
from pg_server import PostgresServer  # noqa: E402
from scaleout_support import KEY, Deployment, Proc, write_versioned_cc5  # noqa: E402

_ENDED = ("FINISHED", "FAILED")


def _load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu(pids: list[int]) -> float:
    """User + system CPU seconds of these processes and their children."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                times = p.cpu_times()
                total += times.user + times.system + getattr(times, "children_user", 0.0) + getattr(
                    times, "children_system", 0.0)
        except psutil.NoSuchProcess:
            continue
    return total


def _postmaster(server: PostgresServer) -> int:
    return int((server.root / "data" / "postmaster.pid").read_text().split()[0])


def _status(api: httpx.Client, file_id: str) -> str:
    return api.get(f"/appfile/file/{file_id}").json()["Data"]["File"]["Status"]


def _run(kind: str, workers: int, files: list[tuple[Path, str]], *, server: PostgresServer, s3: str,
         tmp: Path) -> dict[str, Any]:
    """Upload ``files`` (path, workspace), trigger them all, wait for the last; timings."""
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    env_settings = {"TOOLKIT_API_KEYS": json.dumps({KEY: {"workspaces": ["*"]}}), "PYTHONUNBUFFERED": "1",
                    "TOOLKIT_S3_ACCESS_KEY_ID": "test", "TOOLKIT_S3_SECRET_ACCESS_KEY": "test"}
    if kind == "duckdb":
        proc = Proc(["serve", "--store", str(tmp / f"{bucket}.duckdb"), "--workers", str(workers),
                     "--s3-endpoint", s3, "--bucket", bucket, "--port", "0"], {**os.environ, **env_settings})
        proc.url = proc.wait_line(r"toolkit service on (http://\S+)").group(1)
        procs, url, stop = [proc], proc.url, proc.stop
    else:
        dep = Deployment(server.new_database(), s3, bucket=bucket, apis=1, workers=workers)
        procs, url, stop = [*dep.apis, *dep.workers], dep.apis[0].url, dep.stop
    try:
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600)
        ids = [(_portal_upload(api, path, ws)["FileId"], ws) for path, ws in files]
        last = {ws: file_id for file_id, ws in ids}  # a workspace's files end in order
        pids = [p.pid for p in procs]
        pg = [_postmaster(server)] if kind == "postgres" else []
        cpu0, pg0 = _cpu(pids), _cpu(pg)
        started = time.perf_counter()
        for file_id, _ in ids:
            answer = api.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": file_id})
            assert answer.status_code == 200, answer.text
        pending = set(last.values())
        while pending:
            pending = {f for f in pending if _status(api, f) not in _ENDED}
            time.sleep(0.05)
        wall = time.perf_counter() - started
        cpu, pg_cpu = _cpu(pids) - cpu0, _cpu(pg) - pg0
        statuses = {_status(api, f) for f, _ in ids}
        assert statuses == {"FINISHED"}, statuses
        api.close()
    finally:
        stop()
    return {"wall_s": wall, "toolkit_cpu_s": cpu, "postgres_cpu_s": pg_cpu, "load": os.getloadavg()[0]}


def _lookups(server: PostgresServer, s3: str, tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """50 pollers over two API instances while two workers import."""
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    with Deployment(server.new_database(), s3, bucket=bucket, apis=2, workers=2) as dep:
        apis = [httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600)
                for a in dep.apis]
        target = write_versioned_cc5(tmp / "target.cc5txt", "ws-poll", version=0, keys=range(10))
        polled = _portal_upload(apis[0], target, "ws-poll")["FileId"]
        work = [write_versioned_cc5(tmp / f"work-{n}.cc5txt", f"ws-work-{n}", version=1, keys=range(args.poll_rows))
                for n in range(2)]
        queued = [_portal_upload(apis[n % 2], work[n % 2], f"ws-work-{n % 2}")["FileId"]
                  for n in range(args.poll_files)]
        ctx = multiprocessing.get_context("spawn")
        children, pipes = [], []
        for n, api in enumerate(dep.apis):
            share = args.pollers // 2 + (args.pollers % 2 if n == 0 else 0)
            receive, send = ctx.Pipe(duplex=False)
            child = ctx.Process(target=_poll_process, args=(
                (api.url, KEY, polled, share, args.seconds, args.poll_interval), send))
            child.start()
            children.append(child)
            pipes.append(receive)
        for receive in pipes:
            assert receive.recv() == "ready"
        worker_pids = [w.pid for w in dep.workers]
        cpu0, pg0, started = _cpu(worker_pids), _cpu([_postmaster(server)]), time.perf_counter()
        for n, file_id in enumerate(queued):
            apis[n % 2].post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": file_id})
        samples = [s for receive in pipes for s in receive.recv()]
        for child in children:
            child.join()
        window = time.perf_counter() - started
        worker_cpu, pg_cpu = _cpu(worker_pids) - cpu0, _cpu([_postmaster(server)]) - pg0
        ended = [_status(apis[0], f) for f in queued]
        for api in apis:
            api.close()
    latencies = [lat for _, lat in samples]
    return {"lookups": len(latencies), "p50_ms": _percentile(latencies, 50) * 1000,
            "p95_ms": _percentile(latencies, 95) * 1000, "p99_ms": _percentile(latencies, 99) * 1000,
            "max_ms": max(latencies) * 1000, "mean_ms": statistics.fmean(latencies) * 1000,
            "imports_finished_in_window": ended.count("FINISHED"),
            "imports_running_at_end": ended.count("PROCESSING"), "imports_queued_at_end": ended.count("QUEUED"),
            "window_s": window,
            "worker_cpu_s": worker_cpu, "postgres_cpu_s": pg_cpu, "load": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--small-rows", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--poll-interval", type=float, default=0.25)
    parser.add_argument("--poll-rows", type=int, default=100_000, help="rows of each file imported while polling")
    parser.add_argument("--poll-files", type=int, default=40, help="files queued at the start of the window")
    parser.add_argument("--lookups-only", action="store_true", help="skip the throughput part")
    args = parser.parse_args()

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request
    print(f"machine: {os.cpu_count()} cores, {_load()} at start")
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3 = f"http://{host}:{port}"
    server = PostgresServer.start()
    results: dict[str, Any] = {"rows": args.rows, "files": args.files, "small_rows": args.small_rows}
    configs = [("duckdb", 1), ("postgres", 1), ("duckdb", 2), ("postgres", 2)]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp_name:
            tmp = Path(tmp_name)
            rows = 0 if args.lookups_only else args.rows
            big = [(write_versioned_cc5(tmp / "big.cc5txt", "ws-big", version=1, keys=range(rows)), "ws-big")]
            small = []
            for n in range(0 if args.lookups_only else args.files):
                ws = f"ws-{n % 10}"
                path = write_versioned_cc5(tmp / f"small-{n}.cc5txt", ws, version=n,
                                           keys=range(n * 7, n * 7 + args.small_rows))
                small.append((path, ws))
            workloads = () if args.lookups_only else ((f"1 file x {args.rows:,} rows", big),
                                                      (f"{args.files} files x {args.small_rows} rows", small))
            for label, files in workloads:
                for kind, workers in configs:
                    measured = _run(kind, workers, files, server=server, s3=s3, tmp=tmp)
                    applied = len(files) * (args.rows if files is big else args.small_rows)
                    measured["rows_per_s"] = applied / measured["wall_s"]
                    results[f"{label} | {kind} | {workers}"] = measured
                    print(f"{label:<28} {kind:<8} workers={workers}: {measured['wall_s']:6.1f} s wall "
                          f"({measured['rows_per_s']:>9,.0f} rows/s), CPU toolkit {measured['toolkit_cpu_s']:.1f} s"
                          f" + PostgreSQL {measured['postgres_cpu_s']:.1f} s; {_load()}", flush=True)
                base = results[f"{label} | duckdb | 1"]["wall_s"]
                for kind, workers in configs[1:]:
                    print(f"  {kind} workers={workers} / duckdb workers=1 wall: "
                          f"{results[f'{label} | {kind} | {workers}']['wall_s'] / base:.2f}x")
            polled = _lookups(server, s3, tmp, args)
            results["lookups"] = polled
            print(f"status look-ups, {args.pollers} pollers over 2 API instances, 2 workers importing: "
                  f"{polled['lookups']:,} look-ups; ms p50 {polled['p50_ms']:.1f} p95 {polled['p95_ms']:.1f} "
                  f"p99 {polled['p99_ms']:.1f} max {polled['max_ms']:.1f} (target p99 <= 50 ms); "
                  f"imports: {polled['imports_finished_in_window']} finished, "
                  f"{polled['imports_running_at_end']} running and {polled['imports_queued_at_end']} queued at the "
                  "end (imports ran the whole window if not 0); workers used "
                  f"{polled['worker_cpu_s']:.1f} CPU s and PostgreSQL {polled['postgres_cpu_s']:.1f} CPU s "
                  f"in {polled['window_s']:.0f} s; {_load()}")
    finally:
        server.stop()
        moto.stop()
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_scaleout.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
