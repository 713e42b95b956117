"""``Service``: a configured service's parts wired together (store, S3,
processor, domain service, worker threads, ASGI app).

    >>> svc = Service(load_config(s3_endpoint="http://127.0.0.1:9000"))   # doctest: +SKIP
    >>> svc.start(); app = svc.app; ...; svc.close()                     # doctest: +SKIP
"""

from __future__ import annotations

import gc
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from toolkit.service.app import create_app
from toolkit.service.config import ServiceConfig
from toolkit.service.core import ImportService
from toolkit.service.duckdb_store import STORE_MEMORY_LIMIT, DuckDBStore
from toolkit.service.processing import Processor
from toolkit.service.storage import ObjectStorage
from toolkit.service.store import Store
from toolkit.service.work_folder import WorkFolder
from toolkit.service.worker import Worker

__all__ = ["Service"]

log = logging.getLogger("toolkit.service")


class Service:
    """Everything behind one running service. ``config.s3_endpoint`` must be
    set (start an embedded S3 first if there is none); ``config.store``
    None means a store in a new temporary directory, a ``postgresql://`` URL
    the PostgreSQL store (``config.workers`` 0: answer the APIs only).

    ``clock`` (seconds since the epoch) stamps every record's times; only
    the demo passes one, to backdate its history (``toolkit.demo.DemoClock``)."""

    def __init__(self, config: ServiceConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        if config.store is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="toolkit-service-")
            config.store = Path(self._tmpdir.name) / "store.duckdb"
        self.storage = ObjectStorage(
            bucket=config.s3_bucket, endpoint=config.s3_endpoint, region=config.s3_region,
            access_key_id=config.s3_access_key_id, secret_access_key=config.s3_secret_access_key,
            public_endpoint=config.s3_public_endpoint, post_signature=config.s3_post_signature,
        )
        self.storage.ensure_bucket()
        self.store: Store
        self._work_folder: WorkFolder | None = None
        if config.postgres:
            from toolkit.service.postgres_store import PostgresStore

            # Downloads and the engine's spill files are this process's own (and a killed
            # process's are removed by the next one to start).
            self._work_folder = WorkFolder(prefix="toolkit-import-")
            work_dir = self._work_folder.path
            self.store = PostgresStore(
                str(config.store), lease_seconds=config.lease_seconds, pool_size=config.workers + 8,
                engine_config={"memory_limit": STORE_MEMORY_LIMIT, "temp_directory": str(work_dir)})
        else:
            self.store = DuckDBStore(config.store, background_priority=True)
            # Downloads live next to the store, so the next start (which holds the
            # store's lock, hence no other process uses them) clears what a killed
            # process left behind.
            work_dir = Path(config.store).parent / f"{Path(config.store).name}.work"
            shutil.rmtree(work_dir, ignore_errors=True)
            work_dir.mkdir(parents=True, exist_ok=True)
        self.processor = Processor(self.store, self.storage, config, clock=clock, work_dir=work_dir)
        self.imports = ImportService(config, self.store, self.storage, self.processor, clock=clock)
        self.worker = Worker(self.imports, threads=config.workers, watch_interval=config.watch_interval_seconds)
        self.app: FastAPI = create_app(self.imports)
        self._started = False

    def start(self) -> None:
        """Start the worker and the upload watcher (re-queuing interrupted files)."""
        if not self._started:
            self._started = True
            if self.config.workers > 0:  # 0: an API-only instance (PostgreSQL store)
                self.worker.start()
            # A full garbage collection walks every object of the process
            # (~190k after start-up, with the embedded S3): ~150-200 ms in
            # which no request is answered. Objects alive now live as long as
            # the service, so the collector is told to skip them.
            gc.collect()
            gc.freeze()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the threads and close the store (idempotent)."""
        if self._started:
            self.worker.stop(timeout)
            self._started = False
            gc.unfreeze()  # the service's objects may be collected again
        # A sync import still running in a request thread stays PROCESSING and
        # is re-run on the next start.
        self.processor.interrupt_all()
        self.store.close()
        if self._work_folder is not None:
            self._work_folder.cleanup()
            self._work_folder = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
