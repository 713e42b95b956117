"""The one reader of a cc5 file: its physical lines, for DuckDB.

Every reader of the file sees ``(line BIGINT, raw VARCHAR, enc_ok BOOLEAN)``:
``line`` is the 1-based physical line number (lines end at ``\n``; one
``\r`` before it is dropped; a byte-order mark before line 1 is dropped),
``raw`` the text of the line and ``enc_ok`` false when the line was not
valid UTF-8 or held a NUL byte (then shown with U+FFFD).

:func:`line_batches` splits the file on ``\n`` in 16 MB chunks with numpy
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
import uuid
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["connect", "registered", "line_batches", "prefetch", "LINE_SCHEMA", "Progress", "DEFAULT_MEMORY_LIMIT"]

#: The memory limit of the connections the engine creates (beyond it DuckDB spills to disk).
DEFAULT_MEMORY_LIMIT = "320MB"
_CHUNK = 16 << 20
_BOM = b"\xef\xbb\xbf"
LINE_SCHEMA = pa.schema([("line", pa.int64()), ("raw", pa.large_string()), ("enc_ok", pa.bool_())])


def connect(*, memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB connection for the cc5 engine.

    It has a memory limit (default :data:`DEFAULT_MEMORY_LIMIT`) and its own
    temp directory, removed when the connection is garbage-collected, so large
    files spill to disk instead of growing the process.
    """
    tmp = tempfile.mkdtemp(prefix="toolkit-duckdb-")
    config = {
        "memory_limit": memory_limit,
        "temp_directory": tmp,
        "preserve_insertion_order": "true",
    }
    if threads:
        config["threads"] = str(threads)
    con = duckdb.connect(":memory:", config=config)
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


def prefetch(batches: Iterator[pa.RecordBatch], depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Produce the batches in a background thread, ``depth`` ahead of the consumer.

    The reader's numpy work then overlaps DuckDB's processing of the previous
    batches. Errors are raised in the consumer; closing the consumer stops the
    producer.
    """
    import queue

    q: queue.Queue = queue.Queue(maxsize=depth)
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


class Progress:
    """A tqdm bar on stderr (shown after one second) fed by bytes or DuckDB's query progress."""

    def __init__(self, enabled: bool | None, desc: str) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = enabled
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=100, desc=desc, file=sys.stderr, delay=1.0, leave=False,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def set(self, percent: float) -> None:
        if self._bar is not None and percent >= 0:
            self._bar.n = min(100.0, percent)
            self._bar.refresh()

    def bytes_callback(self, total: int, start: float = 0.0, span: float = 100.0) -> Callable[[int], None] | None:
        if self._bar is None or total <= 0:
            return None
        done = [0]

        def cb(n: int) -> None:
            done[0] += n
            self.set(start + span * done[0] / total)

        return cb

    @contextmanager
    def query(self, con: duckdb.DuckDBPyConnection, start: float = 0.0, span: float = 100.0):
        """Follow the running DuckDB query's progress while the block runs."""
        if self._bar is None:
            yield
            return
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(0.2):
                try:
                    p = con.query_progress()
                except Exception:  # noqa: BLE001 - progress is best effort
                    return
                if p >= 0:
                    self.set(start + span * p / 100.0)

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
