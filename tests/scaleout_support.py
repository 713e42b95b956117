"""Real processes of a scale-out deployment for tests and benchmarks:
``toolkit serve --workers 0`` API instances and ``toolkit worker`` processes
on one PostgreSQL database and one S3 endpoint, all on 127.0.0.1.

    >>> with Deployment(pg_url, s3_endpoint, bucket="b", apis=2, workers=2) as dep:   # doctest: +SKIP
    ...     dep.apis[0].url
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Deployment", "Proc", "write_versioned_cc5", "KEY"]

KEY = "key-scale"
_CLI = "from toolkit.cli import main; main()"


class Proc:
    """One ``toolkit`` process; its output is kept (``lines``) for failure messages."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args = args
        self.proc = subprocess.Popen([sys.executable, "-c", _CLI, *args], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        self.url = ""

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        """The first output line matching ``pattern`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.args[0]} did not print {pattern!r}; output:\n" + "\n".join(self.lines[-40:]))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill9(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


class Deployment:
    """``apis`` API instances and ``workers`` worker processes (``threads`` import
    threads each) on ``pg_url`` and ``s3_endpoint``; stopped on exit."""

    def __init__(self, pg_url: str, s3_endpoint: str, *, bucket: str, apis: int = 2, workers: int = 2,
                 threads: int = 1, lease_seconds: float = 30.0, **settings: Any) -> None:
        env = dict(os.environ)
        env.update({
            "PYTHONUNBUFFERED": "1",
            "TOOLKIT_API_KEYS": json.dumps({KEY: {"workspaces": ["*"]}}),
            "TOOLKIT_S3_ACCESS_KEY_ID": "test", "TOOLKIT_S3_SECRET_ACCESS_KEY": "test",
            "TOOLKIT_LEASE_SECONDS": str(lease_seconds), "TOOLKIT_WATCH_INTERVAL_SECONDS": "0.2",
        })
        env.update({f"TOOLKIT_{k.upper()}": str(v) for k, v in settings.items()})
        common = ["--store", pg_url, "--s3-endpoint", s3_endpoint, "--bucket", bucket]
        self.apis: list[Proc] = []
        self.workers: list[Proc] = []
        try:
            # One process first: it applies the schema migrations the others find done.
            for _ in range(apis):
                self.apis.append(Proc(["serve", "--workers", "0", "--port", "0", *common], env))
            self.workers = [Proc(["worker", "--workers", str(threads), *common], env) for _ in range(workers)]
            for api in self.apis:
                api.url = api.wait_line(r"toolkit service on (http://\S+)").group(1)
            for worker in self.workers:
                worker.wait_line(r"toolkit worker: ")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for proc in [*self.apis, *self.workers]:
            proc.stop()

    def __enter__(self) -> "Deployment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_versioned_cc5(path: Path, workspace: str, *, version: int, keys: range, deletes: list[int] = (),
                        entity: str = "customer") -> Path:
    """A cc5 file upserting ``keys`` with ``version`` in every row, then deleting ``deletes``."""
    lines = ["00|ACME|cc5|20261122093000|scale", f"01|{entity}|{workspace}|bk-main|CRM|UPSERT",
             "02|customer_code", "03|customer_code:string|version:int"]
    lines += [f"10|C{k:07d}|{version}|" for k in keys]
    lines += [f"90|C{k:07d}" for k in deletes]
    lines.append(f"99|{len(keys) + len(deletes)}|")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, every: float = 0.1) -> Any:
    """``check()``'s first truthy answer; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
