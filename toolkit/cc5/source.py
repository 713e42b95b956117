"""The physical lines of a cc5 file, for DuckDB.

Every reader of the file sees ``(line BIGINT, raw VARCHAR, enc_ok BOOLEAN)``:
``line`` is the 1-based physical line number (lines end at ``\n``; one
``\r`` before it is dropped; a byte-order mark before line 1 is dropped),
``raw`` the text of the line and ``enc_ok`` false when the line was not
valid UTF-8 or held a NUL byte (then shown with U+FFFD).

* :func:`line_batches` is the reader every validation uses: it splits the
  file on ``\n`` in 16 MB chunks with numpy (no Python object per line) and
  yields Arrow batches, optionally with the columns of the numpy pre-check
  (:mod:`toolkit.cc5.fastcheck`). :func:`prefetch` runs it one step ahead of
  DuckDB in a thread.
* :func:`fast_source_sql` is DuckDB's CSV reader with one VARCHAR column, no
  quote, no escape, strict mode and ``\n`` as the only line break, numbered
  by ``row_number() OVER ()`` (a streaming window that keeps file order). It
  re-reads a file lazily for typed relations, but only when a pass of the
  reader showed that DuckDB splits this file exactly the same way (DuckDB
  treats a lone ``\r`` as a line break and rejects invalid UTF-8); otherwise
  :func:`load_exact` loads the reader's lines into a temp table once.
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

from toolkit.cc5.values import lit

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from toolkit.cc5.fastcheck import FastChecker

__all__ = ["connect", "registered", "fast_source_sql", "load_exact", "line_batches", "LineStats", "LINE_SCHEMA", "Progress", "MAX_LINE_SIZE"]

#: The longest line the fast reader accepts; longer lines go through the exact reader.
MAX_LINE_SIZE = 32 << 20
_BUFFER_SIZE = 64 << 20
_CHUNK = 16 << 20
_BOM = b"\xef\xbb\xbf"


def connect(*, memory_limit: str | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB connection for the cc5 engine.

    It has a memory limit (``TOOLKIT_DUCKDB_MEMORY_LIMIT``, default 320MB) and
    its own temp directory, removed when the connection is garbage-collected,
    so large files spill to disk instead of growing the process.
    """
    tmp = tempfile.mkdtemp(prefix="toolkit-duckdb-")
    config = {
        "memory_limit": memory_limit or os.environ.get("TOOLKIT_DUCKDB_MEMORY_LIMIT", "320MB"),
        "temp_directory": tmp,
        "preserve_insertion_order": "true",
    }
    if threads:
        config["threads"] = str(threads)
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")  # no bar of DuckDB's own on the CLI's stdout
    weakref.finalize(con, shutil.rmtree, tmp, True)
    return con


def fast_source_sql(path: str | os.PathLike[str]) -> str:
    """The fast source as a parenthesised SELECT over DuckDB's CSV reader."""
    return (
        "(SELECT row_number() OVER () AS line, coalesce(l, '') AS raw, true AS enc_ok "
        f"FROM read_csv({lit(str(path))}, columns={{'l': 'VARCHAR'}}, delim='\\x01', header=false, "
        "quote='', escape='', comment='', auto_detect=false, strict_mode=true, new_line='\\n', "
        f"compression='none', max_line_size={MAX_LINE_SIZE}, buffer_size={_BUFFER_SIZE}, null_padding=false))"
    )


class LineStats:
    """What the reader saw while splitting the file (filled as batches are produced)."""

    def __init__(self) -> None:
        self.lines = 0
        self.has_cr = False  # a \r anywhere: DuckDB's CSV reader cannot split this file exactly
        self.bad_lines = 0  # lines with invalid UTF-8 or NUL bytes
        self.has_sep = False  # a \x01 byte (the fast reader's column separator)
        self.max_line = 0  # longest line in bytes
        self.done = False

    @property
    def fast_ok(self) -> bool:
        """True when DuckDB's CSV reader (fast source) splits this file exactly like this reader."""
        return self.done and not (self.has_cr or self.bad_lines or self.has_sep) and self.max_line < MAX_LINE_SIZE


def line_batches(path: str | os.PathLike[str], stats: LineStats | None = None,
                 on_bytes: Callable[[int], None] | None = None, chunk: int = _CHUNK,
                 checker: "FastChecker | None" = None) -> Iterator[pa.RecordBatch]:
    """The physical lines of the file as Arrow batches ``(line, raw, enc_ok)``.

    Vectorised: each chunk of bytes is split on ``\n`` with numpy and turned
    into an Arrow string array without a Python object per line. A ``\r``
    right before ``\n`` is dropped; a byte-order mark before line 1 is
    dropped. Lines that are not UTF-8 (or hold a NUL byte) are decoded with
    U+FFFD replacements and flagged ``enc_ok = false``.
    """
    stats = stats if stats is not None else LineStats()
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
                stats.has_cr = True
                buf = buf.replace(b"\r\n", b"\n")
            if b"\x01" in buf:
                stats.has_sep = True
            arr = np.frombuffer(buf, np.uint8)
            nl = np.flatnonzero(arr == 10)
            n = len(nl)
            del arr
            values = buf.replace(b"\n", b"")
            offsets = np.empty(n + 1, dtype=np.int64)
            offsets[0] = 0
            offsets[1:] = nl - np.arange(n)
            if n:
                longest = int(np.max(np.diff(offsets)))
                stats.max_line = max(stats.max_line, longest)
            text = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(values))
            ok = None
            clean = True
            try:
                if not values.isascii():
                    text.validate(full=True)
                if b"\x00" in values:
                    raise ValueError("NUL")
            except (pa.ArrowInvalid, ValueError):
                clean = False
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
                stats.bad_lines += int((~flags).sum())
                text = pa.array(decoded, pa.large_string())
                ok = pa.array(flags)
            if ok is None:
                ok = pa.array(np.ones(n, dtype=bool))
            lines = pa.array(np.arange(number, number + n, dtype=np.int64))
            number += n
            stats.lines = number - 1
            arrays = [lines, text, ok]
            names = ["line", "raw", "enc_ok"]
            if checker is not None:
                if not clean:
                    arrays += checker.empty_columns(n)
                else:
                    starts = np.empty(n, dtype=np.int64)
                    if n:
                        starts[0] = 0
                        starts[1:] = nl[:-1] + 1
                    arrays += checker.check(buf, starts, nl.astype(np.int64))
                names += [name for name, _t in checker.extra_schema()]
            yield pa.RecordBatch.from_arrays(arrays, names=names)
            del buf, values, text, arrays
            if final:
                break
    stats.done = True


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


LINE_SCHEMA = pa.schema([("line", pa.int64()), ("raw", pa.large_string()), ("enc_ok", pa.bool_())])


def batch_schema(checker: "FastChecker | None" = None) -> pa.Schema:
    """The schema of :func:`line_batches` batches (with or without the fast-check columns)."""
    if checker is None:
        return LINE_SCHEMA
    return pa.schema(list(zip(LINE_SCHEMA.names, LINE_SCHEMA.types)) + checker.extra_schema())


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


def load_exact(
    con: duckdb.DuckDBPyConnection,
    path: str | os.PathLike[str],
    table: str,
    *,
    on_bytes: Callable[[int], None] | None = None,
    stats: "LineStats | None" = None,
) -> None:
    """Load the physical lines of ``path`` into the temp table ``table`` (exact reader)."""
    reader = pa.RecordBatchReader.from_batches(LINE_SCHEMA, line_batches(path, stats, on_bytes=on_bytes))
    with registered(con, reader, f"{table}_arrow") as view:
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {view}")


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
