"""``toolkit worker``: a process that only imports (no HTTP), for a
deployment on a PostgreSQL store and a shared S3 bucket.

Any number of workers, on any number of machines, claim QUEUED files from
the store (``SELECT ... FOR UPDATE SKIP LOCKED``, one file per workspace at a
time, in trigger order), renew their leases while importing, and pick up the
files of a worker that died once its lease runs out. Each runs the upload
watcher too. SIGTERM or Ctrl-C stop it: an import still running is left to
the next worker (its transaction rolls back).

    >>> run_worker(store="postgresql://toolkit@db/toolkit",
    ...            s3_endpoint="https://s3.eu-west-1.amazonaws.com", s3_bucket="imports")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError
from toolkit.service.config import ServiceConfig, load_config
from toolkit.service.priority import lower_this_thread

__all__ = ["run_worker", "check_shared_deployment"]

log = logging.getLogger("toolkit.service")


def check_shared_deployment(cfg: ServiceConfig, what: str) -> None:
    """A PostgreSQL store needs an S3 every process reaches: refuse the
    embedded (in-process) one."""
    if cfg.postgres and not cfg.s3_endpoint:
        raise ConfigError(f"{what} with a PostgreSQL store needs a shared S3: give --s3-endpoint "
                          "(or TOOLKIT_S3_ENDPOINT); the embedded S3 lives in one process only")


def run_worker(config_file: str | Path | None = None, *, announce: Any = print,
               stop: threading.Event | None = None, **overrides: Any) -> None:
    """Import until SIGINT/SIGTERM (or ``stop`` is set).

    Settings as for ``toolkit serve`` (defaults < ``config_file`` <
    ``TOOLKIT_*`` environment < ``overrides``); the store must be a
    ``postgresql://`` URL and ``s3_endpoint`` set. This process answers no
    requests; it imports at a lowered CPU priority (nice 10 on Linux).
    """
    from toolkit.service.runtime import Service

    cfg = load_config(config_file, **overrides)
    if not cfg.postgres:
        raise ConfigError("toolkit worker needs a PostgreSQL store: --store postgresql://user@host:port/db")
    check_shared_deployment(cfg, "toolkit worker")
    if cfg.workers < 1:
        raise ConfigError("toolkit worker needs --workers 1 or more")
    # Every thread started from here on inherits the lowered priority: where
    # API instances share the machine, their requests come first.
    lower_this_thread()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    service = Service(cfg)
    try:
        service.start()
        announce(f"toolkit worker: {cfg.workers} import thread(s); S3 {cfg.s3_endpoint} bucket {cfg.s3_bucket}")
        stop.wait()
    finally:
        service.close()
    announce("toolkit worker stopped")
