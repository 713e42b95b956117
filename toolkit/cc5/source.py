"""The one reader of a cc5 file: its physical lines, for DuckDB.

Every reader of the file sees ``(line BIGINT, raw VARCHAR, enc_ok BOOLEAN)``:
``line`` is the 1-based physical line number (lines end at ``\n``; one
``\r`` before it is dropped; a byte-order mark before line 1 is dropped),
``raw`` the text of the line and ``enc_ok`` false when the line was not
valid UTF-8 or held a NUL byte (then shown with U+FFFD).

:func:`line_batches` splits the file on ``\n`` in 8 MB chunks with numpy
(no Python object per line) and yields Arrow batches; :func:`prefetch` runs
it one step ahead of DuckDB in a thread, and DuckDB's threads do the per-line
work (:mod:`toolkit.cc5.engine`). DuckDB's own CSV reader is not used: it
treats a lone ``\r`` as a line break and rejects invalid UTF-8.

    >>> con = connect(memory_limit="256MB")                  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
import weakref
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Union

import duckdb
import numpy as np
import pyarrow as pa

from toolkit.progress import ProgressCallback, ProgressEvent

__all__ = ["connect", "registered", "unordered", "line_batches", "prefetch", "LINE_SCHEMA", "Progress", "ProgressArg", "DEFAULT_MEMORY_LIMIT"]

#: The memory limit of the connections the engine creates (beyond it DuckDB spills to disk).
DEFAULT_MEMORY_LIMIT = "320MB"
_CHUNK = 8 << 20
_BOM = b"\xef\xbb\xbf"
LINE_SCHEMA = pa.schema([("line", pa.int64()), ("raw", pa.large_string()), ("enc_ok", pa.bool_())])


def connect(*, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB connection for the cc5 engine.

    It has a memory limit (default :data:`DEFAULT_MEMORY_LIMIT`) and its own
    temp directory, removed when the connection is garbage-collected, so large
    files spill to disk instead of growing the process.
    """
    tmp = tempfile.mkdtemp(prefix="toolkit-duckdb-")
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": memory_limit,
        "temp_directory": tmp,
        "preserve_insertion_order": "true",
    }
    if threads:
        config["threads"] = str(threads)
    con = duckdb.connect(":memory:", config=dict(config))
    con.execute("SET enable_progress_bar = false")  # no bar of DuckDB's own on the CLI's stdout
    weakref.finalize(con, shutil.rmtree, tmp, True)
    return con


def line_batches(path: str | os.PathLike[str], on_bytes: Callable[[int], None] | None = None,
                 chunk: int = _CHUNK) -> Iterator[pa.RecordBatch]:
    """The physical lines of the file as Arrow batches ``(line, raw, enc_ok)``.

    Vectorised: each chunk of bytes is split on ``\n`` with numpy and turned
    into an Arrow string array without a Python object per line. A ``\r``
    right before ``\n`` is dropped; a byte-order mark before line 1 is
    dropped. Lines that are not UTF-8 (or hold a NUL byte) are decoded with
    U+FFFD replacements and flagged ``enc_ok = false``.
    """
    number = 1
    rest = b""
    first = True
    with open(path, "rb") as fh:
        while True:
            data = fh.read(chunk)
            if on_bytes and data:
                on_bytes(len(data))
            final = not data
            if final:
                if not rest:
                    break
                buf = rest + b"\n"
                rest = b""
            else:
                buf = rest + data if rest else data
                if first:
                    if len(buf) < len(_BOM) and _BOM.startswith(buf):
                        rest = buf
                        continue
                    if buf.startswith(_BOM):
                        buf = buf[len(_BOM):]
                    first = False
                cut = buf.rfind(b"\n")
                if cut < 0:
                    rest = buf
                    continue
                rest = buf[cut + 1:]
                buf = buf[: cut + 1]
            del data
            if b"\r" in buf:
                buf = buf.replace(b"\r\n", b"\n")
            arr = np.frombuffer(buf, np.uint8)
            nl = np.flatnonzero(arr == 10)
            n = len(nl)
            del arr
            values = buf.replace(b"\n", b"")
            offsets = np.empty(n + 1, dtype=np.int64)
            offsets[0] = 0
            offsets[1:] = nl - np.arange(n)
            text = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(values))
            ok = None
            try:
                if not values.isascii():
                    text.validate(full=True)
                if b"\x00" in values:
                    raise ValueError("NUL")
            except (pa.ArrowInvalid, ValueError):
                decoded = []
                flags = np.ones(n, dtype=bool)
                for i in range(n):
                    piece = values[offsets[i]: offsets[i + 1]]
                    try:
                        decoded.append(piece.decode("utf-8"))
                        if b"\x00" in piece:
                            flags[i] = False
                    except UnicodeDecodeError:
                        decoded.append(piece.decode("utf-8", errors="replace"))
                        flags[i] = False
                text = pa.array(decoded, pa.large_string())
                ok = pa.array(flags)
            if ok is None:
                ok = pa.array(np.ones(n, dtype=bool))
            lines = pa.array(np.arange(number, number + n, dtype=np.int64))
            number += n
            yield pa.RecordBatch.from_arrays([lines, text, ok], schema=LINE_SCHEMA)
            del buf, values, text
            if final:
                break


def prefetch(batches: Iterator[pa.RecordBatch], depth: int = 1) -> Iterator[pa.RecordBatch]:
    """Produce the batches in a background thread, ``depth`` ahead of the consumer.

    The reader's numpy work then overlaps DuckDB's processing of the previous
    batches. Errors are raised in the consumer; closing the consumer stops the
    producer.
    """
    import queue

    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        q.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc)

    t = threading.Thread(target=work, daemon=True, name="cc5-reader")
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while t.is_alive():
            try:
                q.get_nowait()
            except Exception:  # noqa: BLE001
                pass
            t.join(0.05)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, data: object, name: str | None = None) -> Iterator[str]:
    """Register ``data`` (an Arrow table or reader, a DataFrame, a relation)
    as a view for the ``with`` block; yields the view's name."""
    view = name or f"_tk_view_{uuid.uuid4().hex}"
    con.register(view, data)
    try:
        yield view
    finally:
        con.unregister(view)


@contextmanager
def unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """``preserve_insertion_order`` off for the ``with`` block, then as it was: statements whose
    result order does not matter run in parallel."""
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")


ProgressArg = Union[bool, None, ProgressCallback]


class Progress:
    """Progress of one pass over a file: a tqdm bar or a :data:`~toolkit.progress.ProgressCallback`.

    ``progress``: ``False`` nothing; ``True`` a bar at once; ``None`` a bar only
    when the work takes more than a second, on a terminal or in a notebook; a callable receives
    :class:`~toolkit.progress.ProgressEvent` (stage ``"validate"``, bytes done
    of ``total``, rows seen). The bar is ``tqdm.auto`` (a widget in Jupyter).
    Events and bar updates come from the caller's thread (:meth:`run`), so a
    Streamlit callback may draw.

        >>> events = []
        >>> p = Progress(events.append, "validate f", total=10)
        >>> p.bytes_read(10); p.rows_seen(3); p.emit(); events[-1].fraction
        1.0
    """

    def __init__(self, progress: "ProgressArg", desc: str, total: int = 0) -> None:
        self.total = total
        self._callback: ProgressCallback | None = progress if callable(progress) else None
        self._bar = None
        self._done = 0
        self._rows = 0
        self._started = time.monotonic()
        # None: a bar only on a terminal or in a notebook (not into a log or a pipe), after 1 s
        later = progress is None and (sys.stderr.isatty() or "ipykernel" in sys.modules)
        if progress is True or later:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total or None, desc=desc, unit="B", unit_scale=True, leave=False,
                             delay=0.0 if progress is True else 1.0)

    @property
    def active(self) -> bool:
        return self._bar is not None or self._callback is not None

    def bytes_read(self, n: int) -> None:
        """Count ``n`` bytes read (any thread)."""
        self._done += n

    def rows_seen(self, n: int) -> None:
        """Count ``n`` lines split (any thread)."""
        self._rows += n

    def track(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        """Count the rows of the batches passing through."""
        for batch in batches:
            self._rows += batch.num_rows
            yield batch

    def emit(self) -> None:
        """Report the current state (call from the caller's thread)."""
        if self._bar is not None:
            target = min(self._done, self.total) if self.total else self._done
            if target > self._bar.n:
                self._bar.update(target - self._bar.n)  # update() honours the bar's delay; refresh() would not
        if self._callback is not None:
            self._callback(ProgressEvent(stage="validate", done=min(self._done, self.total) if self.total else self._done,
                                         total=self.total or None, unit="B", rows=self._rows,
                                         elapsed=time.monotonic() - self._started))

    def run(self, con: duckdb.DuckDBPyConnection, sql: str, interval: float = 0.2) -> None:
        """Execute ``sql`` on ``con``, reporting progress every ``interval`` seconds meanwhile.

        The statement runs in a helper thread (DuckDB releases the GIL) while
        this thread reports; errors are raised here.
        """
        if not self.active:
            con.execute(sql)
            return
        failure: list[BaseException] = []

        def work() -> None:
            try:
                con.execute(sql)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                failure.append(exc)

        t = threading.Thread(target=work, daemon=True, name="cc5-pass")
        t.start()
        try:
            while t.is_alive():
                t.join(interval)
                self.emit()
        except BaseException:  # Ctrl-C, or the callback raised: stop the statement too
            con.interrupt()
            t.join()
            raise
        if failure:
            raise failure[0]

    def finish(self, rows: int | None = None) -> None:
        """The last event: everything read."""
        if rows is not None:
            self._rows = rows
        self._done = max(self._done, self.total)
        if self.active:
            self.emit()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
