"""Benchmark: Streamlit's memory while the app validates a large upload (target: peak < 2x the file).

Starts the app as `make run` does, ``streamlit run serve_app.py`` (or
``--entry app.py``: Streamlit's own upload route), embedded service, no
demo, on a loopback port, opens it in Debian's Chromium through Playwright, drops a generated
cc5 file of ``--megabytes`` MB on Validate & import and waits for the
verdict. The Streamlit process's resident memory is read from
``/proc/<pid>/status``: ``VmRSS`` once the page is up (baseline) and
``VmHWM`` (the peak) after the verdict. Through ``serve_app.py`` the upload
streams to disk as it arrives and the engine validates that file (a child
process for large files); through ``app.py`` Streamlit holds the upload in
memory. The figure is the peak over the baseline, against the file size.

    .venv/bin/python benchmarks/bench_app_memory.py [--megabytes 200] [--entry serve_app.py|app.py]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def big_file(path: Path, megabytes: int) -> int:
    """A valid customer file of about ``megabytes`` MB (unique keys); returns its data rows."""
    header = ("00|DEMO|cc5|20261122093000|bench\n01|customer|ws-bench|bk-main|CRM|UPSERT\n02|customer_code\n"
              "03|customer_code:string|name:string|credit:number|active:bool|since:date|tags:array|profile:object\n")
    rows = 0
    target = megabytes * 1_000_000
    with path.open("w", encoding="utf-8") as out:
        out.write(header)
        written = len(header)
        while written < target:
            chunk = "".join(
                f'10|C{i:09d}|Customer {i % 977}|{(i % 90000) / 10:.2f}|{"true" if i % 3 else "false"}|'
                f'2020{1 + i % 12:02d}{1 + i % 28:02d}|eu,vip|{{"tier": "gold", "n": {i % 50}}}|\n'
                for i in range(rows, rows + 10_000))
            out.write(chunk)
            written += len(chunk)
            rows += 10_000
        out.write(f"99|{rows}|\n")
    return rows


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--entry", default="serve_app.py", choices=["serve_app.py", "app.py"],
                        help="the script `streamlit run` starts (default: what `make run` starts)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-app-memory-") as folder:
        path = Path(folder) / "big_customers.cc5txt"
        rows = big_file(path, args.megabytes)
        size = path.stat().st_size
        port = subprocess.check_output([sys.executable, "-c", "import socket; s=socket.socket(); "
                                        "s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"], text=True).strip()
        # The app's temporary files (the spooled upload, its working folders) go with this folder.
        env = {**os.environ, "TOOLKIT_API_URL": "", "TOOLKIT_APP_DEMO": "0", "TOOLKIT_APP_DATA": f"{folder}/data",
               "TMPDIR": folder}
        log = open(Path(folder) / "streamlit.log", "wb")
        app = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", args.entry, "--server.address", "127.0.0.1", "--server.port",
             port, "--server.headless", "true"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(url)
                expect(page.get_by_role("heading", name="Validate & import")).to_be_visible(timeout=120_000)
                time.sleep(2)
                baseline = memory_kb(app.pid)["VmRSS"]
                cpu_before = os.times()
                started = time.perf_counter()
                samples: list[tuple[float, int]] = []
                sampling = threading.Event()

                def sample() -> None:  # the process's RSS every 0.1 s: where the peak happens
                    while not sampling.is_set():
                        samples.append((time.perf_counter() - started, memory_kb(app.pid)["VmRSS"]))
                        time.sleep(0.1)

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                page.locator("input[type=file]").set_input_files(str(path))
                expect(page.get_by_text("Validating big_customers.cc5txt")).to_be_visible(timeout=900_000)
                upload_s = time.perf_counter() - started
                expect(page.get_by_text("big_customers.cc5txt is valid")).to_be_visible(timeout=900_000)
                seconds = time.perf_counter() - started
                after = memory_kb(app.pid)
                sampling.set()
                sampler.join()
                browser.close()
            with open(f"/proc/{app.pid}/stat") as stat:
                ticks = stat.read().split()
            cpu_s = (int(ticks[13]) + int(ticks[14])) / os.sysconf("SC_CLK_TCK")
        finally:
            app.send_signal(signal.SIGINT)  # as Ctrl-C stops `make run`: the app's exit handlers run
            app.wait(30)
            log.close()
    peak_over = (after["VmHWM"] - baseline) * 1024
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"Upload of {size / 1e6:,.0f} MB ({rows:,} rows) validated in the app, `streamlit run {args.entry}` "
          f"(load average {load})")
    print(f"  upload to verdict: {seconds:.1f} s wall; Streamlit process CPU total {cpu_s:.1f} s")
    print(f"  Streamlit RSS: {baseline / 1024:,.0f} MB before, peak {after['VmHWM'] / 1024:,.0f} MB, "
          f"{after['VmRSS'] / 1024:,.0f} MB after")
    print(f"  peak over baseline: {peak_over / 1e6:,.0f} MB = {peak_over / size:.2f}x the file (target < 2x)")
    during_upload = max((kb for t, kb in samples if t <= upload_s), default=baseline)
    during_validation = max((kb for t, kb in samples if t > upload_s), default=baseline)
    print(f"  sampled RSS peak over baseline: upload (until the bar shows) {(during_upload - baseline) / 1e3:,.0f} MB, "
          f"validation {(during_validation - baseline) / 1e3:,.0f} MB (upload took {upload_s:.1f} s)")
    del cpu_before


if __name__ == "__main__":
    main()
