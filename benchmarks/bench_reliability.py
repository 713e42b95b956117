"""Reliability benchmark: the size limit at full scale.

1. A cc5 file just under the default 300 MB limit is uploaded (portal API,
   the toolkit's client) to a ``toolkit serve`` process and imported; the
   service's resident memory is sampled throughout and its peak (Linux
   ``VmHWM``) reported, as a ratio to its idle RSS (the service plans
   imports in its worker thread: there is no planner process); and the
   import time as a ratio to a local ``toolkit.validate`` of the same
   file in this process.
2. A file one byte over the limit goes to a fresh ``toolkit serve``: it must
   end FAILED ``FILE_TOO_LARGE`` before any processing; its time to the
   verdict (ratio to the import's) and that process's peak RSS are reported.

S3 is moto in its own process (it keeps objects in memory), everything on
127.0.0.1.

    .venv/bin/python benchmarks/bench_reliability.py                 # 300 MB
    .venv/bin/python benchmarks/bench_reliability.py --mb 50         # a quicker run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import toolkit  # noqa: E402
from toolkit.client import ImportClient  # noqa: E402
from toolkit.service.config import DEFAULT_MAX_FILE_BYTES  # noqa: E402
from toolkit.service.samples import write_sample_cc5  # noqa: E402

KEY = "bench-key"
BYTES_PER_ROW = 62.0  # the sample file's average line length at a few million rows


@contextmanager
def moto_process() -> Iterator[str]:
    """moto's S3 server in a child process on 127.0.0.1; yields its endpoint."""
    code = ("from moto.server import ThreadedMotoServer; import time, logging; "
            "logging.getLogger('werkzeug').setLevel(logging.WARNING); "
            "s = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False); s.start(); "
            "print('moto on %s:%d' % s.get_host_and_port(), flush=True); time.sleep(10**6)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        found = re.search(r"moto on ([\d.]+):(\d+)", line)
        if not found:
            raise RuntimeError(f"moto did not start: {line!r}")
        yield f"http://{found.group(1)}:{found.group(2)}"
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def serve_process(store: Path, s3: str, bucket: str, max_file_bytes: int) -> Iterator[tuple[str, psutil.Process]]:
    """``toolkit serve`` in a child process; yields its URL and process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    env.update(PYTHONUNBUFFERED="1", TOOLKIT_API_KEYS=json.dumps({KEY: ["*"]}),
               TOOLKIT_S3_ACCESS_KEY_ID="bench", TOOLKIT_S3_SECRET_ACCESS_KEY="bench")
    command = [sys.executable, "-c", "from toolkit.cli import main; main()", "serve",
               "--port", "0", "--store", str(store), "--s3-endpoint", s3, "--bucket", bucket,
                "--max-file-bytes", str(max_file_bytes), "--workers", "1"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        url = None
        for line in proc.stdout:  # type: ignore[union-attr]
            found = re.search(r"toolkit service on (http://127\.0\.0\.1:\d+)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            raise RuntimeError(f"toolkit serve did not start (exit {proc.wait()})")
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
        yield url, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)


def peak_rss(process: psutil.Process) -> int:
    """The process's peak resident set size (``VmHWM``), in bytes."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return process.memory_info().rss


class RssSampler:
    """Samples a process's RSS every 0.1 s in a thread (a cross-check of VmHWM)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process, self.maximum = process, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                own = self.process.memory_info().rss
            except psutil.Error:
                return
            self.maximum = max(self.maximum, own)
            self._stop.wait(0.1)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def import_through(url: str, path: Path, workspace: str) -> tuple[dict[str, Any], float, float]:
    """Upload with the client, trigger the sync import; returns the record, upload and import seconds."""
    with ImportClient(url, KEY, api="portal", timeout=3600) as client:
        target = client.request_upload(path, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        receipt = client.upload(path, target, progress=True)
        started = time.perf_counter()
        record = client.start_import(target, wait=True, timeout=3600)
        return record.raw, receipt.seconds, time.perf_counter() - started


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=DEFAULT_MAX_FILE_BYTES / 1e6 - 0.5,
                        help="size of the imported file in MB (default: just under the 300 MB limit)")
    args = parser.parse_args()
    limit = DEFAULT_MAX_FILE_BYTES if args.mb * 1e6 < DEFAULT_MAX_FILE_BYTES else int(args.mb * 1e6) + 1000
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")

    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as tmp_name:
        tmp = Path(tmp_name)
        rows = int(args.mb * 1e6 / BYTES_PER_ROW)
        path = tmp / "big.cc5txt"
        started = time.perf_counter()
        write_sample_cc5(path, rows=rows, workspace="ws-big", bad_rows=rows // 10_000,
                         deletes=range(0, rows, 10_000))
        size = path.stat().st_size
        assert size <= limit, (size, limit)
        print(f"file: {rows:,} rows, {mb(size)} (limit {mb(limit)}), written in {time.perf_counter() - started:.0f} s")

        started = time.perf_counter()
        with toolkit.validate(path, max_bytes=limit) as report:
            validate_s = time.perf_counter() - started
            accepted = report.accepted_rows
        print(f"baseline: local validate {validate_s:.1f} s ({accepted:,} rows accepted)")

        with moto_process() as s3:
            with serve_process(tmp / "big.duckdb", s3, "bench-big", limit) as (url, proc):
                time.sleep(1.0)
                idle_rss = proc.memory_info().rss
                with RssSampler(proc) as sampler:
                    record, upload_s, import_s = import_through(url, path, "ws-big")
                peak = peak_rss(proc)
            assert record["Status"] == "FINISHED", record
            assert record["SuccessfulCount"] == accepted, (record["SuccessfulCount"], accepted)
            print(f"upload: {upload_s:.1f} s; import: {import_s:.1f} s = {rows / import_s:,.0f} rows/s, "
                  f"{import_s / validate_s:.2f}x the local validate")
            print(f"service RSS: idle {mb(idle_rss)}, peak {mb(peak)} (sampled max {mb(sampler.maximum)}), "
                  f"{peak / idle_rss:.2f}x idle; {peak / size:.2f}x the file size")

            over = tmp / "over.cc5txt"
            with over.open("wb") as out:  # a sparse file: its bytes are never read by the service
                out.truncate(limit + 1)
            with serve_process(tmp / "over.duckdb", s3, "bench-over", limit) as (url, proc):
                time.sleep(1.0)
                over_idle = proc.memory_info().rss
                refused, _, refuse_s = import_through(url, over, "ws-big")
                over_peak = peak_rss(proc)
            assert (refused["Status"], refused["FailureCode"]) == ("FAILED", "FILE_TOO_LARGE"), refused
            assert (refused["SuccessfulCount"], refused["FailureCount"]) == (0, 0), refused
            print(f"over the limit ({limit + 1:,} bytes): FAILED FILE_TOO_LARGE in {refuse_s:.2f} s = "
                  f"{refuse_s / import_s:.4f}x the import; service RSS idle {mb(over_idle)}, peak {mb(over_peak)} "
                  f"({over_peak / over_idle:.2f}x idle)")

    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_reliability.json").write_text(json.dumps({
        "rows": rows, "bytes": size, "limit": limit, "validate_s": validate_s, "upload_s": upload_s,
        "import_s": import_s, "import_over_validate": import_s / validate_s, "idle_rss": idle_rss,
        "peak_rss": peak, "sampled_max_rss": sampler.maximum, "peak_over_idle": peak / idle_rss,
        "refuse_s": refuse_s, "refuse_over_import": refuse_s / import_s, "refuse_idle_rss": over_idle,
        "refuse_peak_rss": over_peak,
    }, indent=2))


if __name__ == "__main__":
    main()
