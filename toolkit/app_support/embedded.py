"""The app's embedded import service: kept on disk between runs, demo history made in the background.

Without a configured API the app runs the reference service in its own
process. Its DuckDB store lives in a data folder (``.toolkit/app`` by
default, git-ignored), so the demo history is made once and every later
start has it at once. On the first start (an empty store) a background
thread runs the demo through the real API with a ``DemoClock``, so the
history spans the last 30 days; the pages are usable meanwhile and show its
progress (``AppService.demo``).

The embedded S3 (moto) keeps objects in memory only: the rejected-rows CSVs
of ended imports are copied to ``<folder>/s3`` after the demo and at exit,
and put back on the next start, so the drill-down to rejected rows keeps
working across restarts.

    >>> app_service = AppService.start(Path(".toolkit/app"), demo_count=300)   # doctest: +SKIP
    >>> app_service.demo.state, app_service.url                                 # doctest: +SKIP
    ('running', 'http://127.0.0.1:50123')
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DemoProgress", "AppService", "STORE_NAME", "SNAPSHOT_DIR"]

log = logging.getLogger("toolkit.app")

STORE_NAME = "service.duckdb"
SNAPSHOT_DIR = "s3"
#: Written when the demo history is complete (its summary).
DEMO_DONE = "demo-done"


@dataclass
class DemoProgress:
    """Where the background demo is: ``state`` is idle, running, ready or failed.

        >>> DemoProgress(total=300, done=75, state="running").fraction
        0.25
    """

    total: int = 0
    done: int = 0
    state: str = "idle"
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None

    @property
    def fraction(self) -> float:
        """Share of the demo imports that have ended."""
        return self.done / self.total if self.total else 0.0

    @property
    def elapsed(self) -> float:
        """Seconds since the demo started (or its duration once over)."""
        return self.seconds if self.seconds is not None else time.monotonic() - self.started


class AppService:
    """The running embedded service, its data folder and its demo progress."""

    def __init__(self, manager: AbstractContextManager[Any], service: Any, folder: Path | None,
                 clock: Any, note: str = "") -> None:
        self._manager = manager
        self.service = service
        self.folder = folder
        self.clock = clock
        #: Why the store is not kept between runs, when it is not.
        self.note = note
        self.demo = DemoProgress()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def url(self) -> str:
        return self.service.url

    @property
    def api_key(self) -> str:
        return self.service.api_key

    @classmethod
    def start(cls, folder: Path | None, *, demo_count: int = 300, days: int = 30) -> "AppService":
        """Start the service on ``folder`` (None: a temporary store) and, on an empty store, the demo.

        A folder another process holds (a second ``make run``) falls back
        to a temporary store; ``note`` says so.
        """
        from toolkit.demo import DemoClock
        from toolkit.service import local_service

        clock = DemoClock()
        note = ""
        manager: Any = None
        service: Any = None
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                manager = local_service(store=folder / STORE_NAME, clock=clock)
                service = manager.__enter__()
            except Exception as exc:  # noqa: BLE001 - a held or unwritable folder: run from a temporary store
                note = (f"The data folder {folder} is not usable ({type(exc).__name__}); "
                        "this run's imports are not kept.")
                log.warning(note)
                folder = manager = service = None
        if service is None:
            manager = local_service(clock=clock)
            service = manager.__enter__()
        app_service = cls(manager, service, folder, clock, note)
        app_service._restore_snapshot()
        if demo_count > 0 and app_service._store_is_empty():
            app_service._start_demo(demo_count, days)
        return app_service

    # -- the demo ------------------------------------------------------------
    def _store_is_empty(self) -> bool:
        from toolkit.client import ImportClient

        with ImportClient(self.url, self.api_key) as client:
            return client.count() == 0

    def _start_demo(self, count: int, days: int) -> None:
        self.demo = DemoProgress(total=count, state="running", message="Starting…")
        self._thread = threading.Thread(target=self._run_demo, args=(count, days), name="toolkit-app-demo",
                                        daemon=True)
        self._thread.start()

    def _run_demo(self, count: int, days: int) -> None:
        from toolkit.client import ImportClient
        from toolkit.demo import run_demo

        def progressed(done: int, total: int) -> None:
            self.demo.done, self.demo.total = done, total
            self.demo.message = f"{done:,} of {total:,} imports"

        try:
            with ImportClient(self.url, self.api_key) as client:
                summary = run_demo(client, count, progress=False, on_progress=progressed,
                                   clock=self.clock, days=days)
            self.demo.message = summary.describe()
            self.demo.state = "ready"
            if self.folder is not None:
                (self.folder / DEMO_DONE).write_text(summary.describe() + "\n", encoding="utf-8")
            self.snapshot()
        except Exception as exc:  # noqa: BLE001 - shown in the app; the service keeps running
            log.exception("the demo history failed")
            self.demo.message = f"{type(exc).__name__}: {exc}"
            self.demo.state = "failed"
        finally:
            self.demo.seconds = time.monotonic() - self.demo.started

    def wait_for_demo(self, timeout: float) -> bool:
        """Block until the demo has ended (tests); True when it is over."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.demo.state in ("ready", "failed", "idle")

    # -- rejected rows across restarts ---------------------------------------
    def _s3(self) -> Any:
        import boto3
        from botocore.config import Config

        from toolkit.service.local import EMBEDDED_KEY_ID, EMBEDDED_SECRET

        return boto3.session.Session().client(
            "s3", endpoint_url=self.service.s3_endpoint, region_name="us-east-1",
            aws_access_key_id=EMBEDDED_KEY_ID, aws_secret_access_key=EMBEDDED_SECRET,
            config=Config(s3={"addressing_style": "path"}))

    def snapshot(self) -> int:
        """Copy the rejected-rows objects to ``<folder>/s3``; returns how many (0 without a folder)."""
        if self.folder is None:
            return 0
        s3, bucket, copied = self._s3(), self.service.bucket, 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                key = item["Key"]
                if "/_rejected/" not in key:
                    continue
                dest = self.folder / SNAPSHOT_DIR / key
                if dest.exists() and dest.stat().st_size == item["Size"]:
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                # get_object, not download_file: no transfer threads (this also runs at exit).
                dest.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
                copied += 1
        return copied

    def _restore_snapshot(self) -> None:
        if self.folder is None or not (self.folder / SNAPSHOT_DIR).is_dir():
            return
        s3, root = self._s3(), self.folder / SNAPSHOT_DIR
        for path in root.rglob("*"):
            if path.is_file():
                s3.put_object(Bucket=self.service.bucket, Key=path.relative_to(root).as_posix(),
                              Body=path.read_bytes(), ContentType="text/csv")

    def close(self) -> None:
        """Save the rejected rows and stop the service (at exit)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.demo.state != "running":
                self.snapshot()
        except Exception:  # noqa: BLE001 - the store itself is safe; only the CSVs are lost
            log.exception("saving the rejected rows failed")
        self._manager.__exit__(None, None, None)
