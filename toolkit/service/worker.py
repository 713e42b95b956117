"""Background threads: a small pool that imports QUEUED files, and the upload
watcher that notices objects landing for PENDING_UPLOAD files.

The queue is the store itself (files in status QUEUED), so a restart finds
what was queued; files left PROCESSING by a crash are put back to QUEUED on
start. Since an import's data and its FINISHED status commit in one
transaction, each file is applied exactly once.

With a ``shared`` store (PostgreSQL: many worker processes) a claim is a
lease: a lease thread renews the leases of the files this process imports,
and puts back to QUEUED the files whose worker stopped renewing (it died),
instead of everything PROCESSING at start.

    >>> worker = Worker(service, threads=2, watch_interval=0.5)   # doctest: +SKIP
    >>> worker.start(); ...; worker.stop()                       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading

from toolkit.service.core import ImportService
from toolkit.service.priority import lower_this_thread
from toolkit.service.processing import Interrupted
from toolkit.service.records import FileRecord

__all__ = ["Worker"]

log = logging.getLogger("toolkit.service")


class Worker:
    """Import threads plus one watcher thread, all stoppable."""

    def __init__(self, service: ImportService, *, threads: int = 2, watch_interval: float = 0.5) -> None:
        self.service = service
        self.threads = threads
        self.watch_interval = watch_interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._held: set[str] = set()  # files this process is importing (their leases are renewed)
        self._held_lock = threading.Lock()
        service.on_queued = self.wake

    def start(self) -> int:
        """Re-queue interrupted files and start the threads; returns how many were re-queued."""
        requeued = self.service.store.requeue_interrupted()
        if requeued:
            log.info("re-queued %d file(s) interrupted by a stop or crash", requeued)
        self._stop.clear()
        for n in range(self.threads):
            self._spawn(self._work_loop, f"toolkit-import-{n}")
        self._spawn(self._watch_loop, "toolkit-upload-watcher")
        if self.service.store.shared:
            self._spawn(self._lease_loop, "toolkit-leases")
            listen = getattr(self.service.store, "listen", None)
            if listen is not None:  # other processes queue files: wake when they tell
                self._spawn(lambda: listen(self.wake, self._stop), "toolkit-queue-listener")
        self.wake()
        return requeued

    def _spawn(self, target: object, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    def wake(self) -> None:
        """Tell the import threads that a file was queued."""
        self._wake.set()

    def run_next(self) -> FileRecord | None:
        """Claim and import the oldest QUEUED file, if any (used by the threads)."""
        record = self.service.store.claim_next_queued(now=self.service.clock())
        if record is None:
            return None
        limit = self.service.config.max_attempts
        if record.attempts > limit:
            # Each earlier attempt ended with the service stopping or crashing:
            # this file may be what brings it down, so it is not run again.
            log.error("file %s: started %d times without ending; FAILED TOO_MANY_ATTEMPTS",
                      record.file_id, record.attempts - 1)
            return self.service.store.fail_file(
                record, code="TOO_MANY_ATTEMPTS", now=self.service.clock(),
                message=f"the import was started {record.attempts - 1} times and never ended (the service "
                        f"stopped or crashed each time); it is not retried (limit: max_attempts={limit})")
        log.info("importing file %s (%s)", record.file_id, record.file_name)
        with self._held_lock:
            self._held.add(record.file_id)
        try:
            return self.service.processor.run(record)
        finally:
            with self._held_lock:
                self._held.discard(record.file_id)

    def _work_loop(self) -> None:
        lower_this_thread()  # imports yield the CPU to request threads
        while not self._stop.is_set():
            try:
                done = self.run_next()
            except Interrupted:
                return
            except Exception:  # noqa: BLE001 - keep the worker alive; the file's record says what failed
                log.exception("import worker error")
                done = None
            if done is None:
                self._wake.wait(self.watch_interval)
                self._wake.clear()

    def _watch_loop(self) -> None:
        lower_this_thread()
        while not self._stop.is_set():
            try:
                self.service.poll_uploads()
            except Exception:  # noqa: BLE001 - a failing pass must not end the watcher
                log.exception("upload watcher error")
            self._stop.wait(self.watch_interval)

    def _lease_loop(self) -> None:
        """Renew this process's leases a few times per lease period, and
        re-queue the files of workers that died."""
        store = self.service.store
        period = max(0.05, float(getattr(store, "lease_seconds", 30.0)) / 4)
        while not self._stop.wait(period):
            try:
                with self._held_lock:
                    held = list(self._held)
                store.renew_leases(held)
                if store.requeue_interrupted():
                    self.wake()
            except Exception:  # noqa: BLE001 - a failed renewal is retried next period
                log.exception("lease renewal error")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads; an import still running after ``timeout`` is
        interrupted and left PROCESSING for the next start."""
        with self._held_lock:
            importing = set(self._held)
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        if any(t.is_alive() for t in self._threads):
            self.service.processor.interrupt_all()
            for thread in self._threads:
                thread.join(timeout)
        self._threads = [t for t in self._threads if t.is_alive()]
        with self._held_lock:
            stopped = importing - self._held  # their threads ended; a stuck one keeps its claim
        if stopped and self.service.store.shared:
            try:
                self.service.store.release_leases(stopped)
            except Exception:  # noqa: BLE001 - the leases then run out by themselves
                log.exception("releasing the claims of stopped imports failed")
