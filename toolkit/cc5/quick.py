"""The quick path of validate(): a clean file proven clean in one parallel DuckDB pass.

Most files a team validates are fine. For them one parallel DuckDB pass is
enough: DuckDB's CSV reader hands over every line after the 4 header lines
as one VARCHAR (one column is several times cheaper to parse than one per
field), and each line is matched against ONE regular expression built from
the header (:func:`toolkit.cc5.lexical.line_pattern`: ``10|``, then each
value in a conservative shape of its type). A line that does not match is
split on ``|`` and checked field by field with the exact engine's SQL
(:func:`toolkit.cc5.values.valid_sql`), so a
valid value outside the common shapes (an exponent, a 19-digit integer,
deep JSON...) costs a little more but never a wrong answer. The key values
are hashed to look for duplicates: the hashes (8 bytes a row) are sorted
with numpy, much cheaper than a DuckDB hash table of millions of distinct
keys; files over 1 GB use ``count(DISTINCT hash)`` in DuckDB instead.
Meanwhile a Python thread counts the file's lines (DuckDB skips blank
lines: the counts then differ), looks for ``\\r``, NUL and ``\\x01``
bytes, checks the UTF-8 of non-ASCII chunks and keeps the last line.

The quick path only ever concludes *"no row-level finding, no duplicate
key, the footer is right"*; when anything is off (a blank line, a bad
value, a 90 row, a duplicate key hash, a ``\\r``, a footer problem...)
it gives up and :func:`toolkit.cc5.validate` runs the exact engine, which
finds and locates every problem. So both paths report the same findings;
``TOOLKIT_CC5_QUICK=0`` turns the quick path off (the tests compare both).
"""

from __future__ import annotations

import codecs
import os
import threading
from dataclasses import dataclass

import duckdb
import numpy as np

from toolkit.cc5.engine import Scan
from toolkit.cc5.source import MAX_LINE_SIZE, _BUFFER_SIZE
from toolkit.cc5.lexical import line_pattern
from toolkit.cc5.values import lit, typed_sql, valid_sql

__all__ = ["QuickResult", "try_quick"]

_CHUNK = 16 << 20
_TAIL = 65536
#: files up to this size find duplicate keys by sorting their key hashes in numpy (8 bytes a row)
NUMPY_DISTINCT_MAX_BYTES = 1 << 30


@dataclass
class QuickResult:
    data_rows: int
    footer_line: int
    last_line: int


class _Bytes:
    """Line count and odd bytes of the file, computed in a thread.

    Cheap on purpose (it shares the CPU with DuckDB's threads): the file is
    read into one reused buffer, newlines are counted with numpy, ``\\r``,
    NUL and ``\\x01`` are found with ``memchr`` (``bytearray.find``) and only
    chunks that are not pure ASCII are decoded to check their UTF-8.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.newlines = 0
        self.odd = False  # \r, NUL, \x01 or invalid UTF-8 somewhere
        self.tail = b""
        self.ends_with_newline = True
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="cc5-linecount")
        self.thread.start()

    def _run(self) -> None:
        try:
            size = max(1, min(_CHUNK, os.path.getsize(self.path)))  # small files: small buffers
            buf = bytearray(size)
            arr = np.frombuffer(buf, dtype=np.uint8)
            eq = np.empty(size, dtype=bool)
            decoder = codecs.getincrementaldecoder("utf-8")()
            tail = b""
            with open(self.path, "rb", buffering=0) as fh:
                while k := fh.readinto(buf):
                    np.equal(arr[:k], 10, out=eq[:k])
                    self.newlines += int(np.count_nonzero(eq[:k]))
                    if not self.odd and (buf.find(b"\r", 0, k) >= 0 or buf.find(b"\x00", 0, k) >= 0
                                         or buf.find(b"\x01", 0, k) >= 0):
                        self.odd = True
                    if not self.odd and not (buf.isascii() if k == size else buf[:k].isascii()):
                        with memoryview(buf) as view:
                            try:
                                decoder.decode(view[:k])
                            except UnicodeDecodeError:
                                self.odd = True  # invalid UTF-8: DuckDB may not drop such a line
                    tail = (tail + bytes(buf[max(0, k - _TAIL):k]))[-_TAIL:]
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    self.odd = True
            del arr
            self.ends_with_newline = tail.endswith(b"\n")
            self.tail = tail
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def join(self) -> None:
        self.thread.join()


def _counts_numpy(con: duckdb.DuckDBPyConnection, lines_sql: str) -> tuple[int, int, int, int]:
    """(lines, footers, bad lines, distinct key hashes) from the per-line hashes, sorted with numpy.

    Sorting 8 bytes per row costs a fraction of DuckDB's ``count(DISTINCT)``
    hash table for millions of distinct keys (cache misses).
    """
    result = con.execute(lines_sql).fetchnumpy()
    kind = np.asarray(result["kind"])
    hashes = np.asarray(result["h"])[kind != 2]
    del result
    hashes.sort()
    distinct = len(hashes) - int(np.count_nonzero(hashes[1:] == hashes[:-1])) if len(hashes) else 0
    return len(kind), int(np.count_nonzero(kind == 2)), int(np.count_nonzero(kind == 1)), distinct


def try_quick(scan: Scan) -> QuickResult | None:
    """Prove the file clean in one parallel pass, or return None (then run the exact engine)."""
    if os.environ.get("TOOLKIT_CC5_QUICK", "1") == "0":
        return None
    head = scan.head
    fields = scan.fields
    keys = scan.keys
    if head.header_lines != [1, 2, 3, 4] or not fields or not keys or any(fi is None for _k, fi in keys):
        return None
    if any(f.level == "file" for f in head.findings):
        return None  # nothing would import anyway: the exact engine reports everything
    counter = _Bytes(str(scan.path))
    con = scan.con
    n = len(fields)
    types = [f.type for f in fields]
    key_indexes = [fi for _k, fi in keys]
    # every line after the header as one VARCHAR (DuckDB skips empty lines: the line count tells)
    src = (f"read_csv({lit(str(scan.path))}, columns={{'l': 'VARCHAR'}}, delim='\\x01', header=false, quote='', "
           f"escape='', comment='', auto_detect=false, strict_mode=true, new_line='\\n', skip=4, "
           f"ignore_errors=true, null_padding=false, compression='none', max_line_size={MAX_LINE_SIZE}, "
           f"buffer_size={_BUFFER_SIZE})")
    # rows that do not match the line pattern are split and checked field by field (valid_sql)
    values = [f"NULLIF(p[{i + 2}], '')" for i in range(n)]
    slow_bad = [
        "p[1] IS DISTINCT FROM '10'",
        f"NOT (len(p) = {n + 1} OR (len(p) = {n + 2} AND p[{n + 2}] = ''))",
        *[f"{values[fi]} IS NULL" for fi in key_indexes],
    ]
    for i, ftype in enumerate(types):
        check = valid_sql(ftype, values[i])
        if check is not None:
            slow_bad.append(f"({values[i]} IS NOT NULL AND NOT {check})")
    key_exprs = []
    for fi in key_indexes:
        prefix = lit("^10\\|" + "(?:[^|]*\\|)" * fi + "([^|]*)")
        raw = f"(CASE WHEN p IS NULL THEN regexp_extract(l, {prefix}, 1) ELSE p[{fi + 2}] END)"
        # a raw string value stands for itself (decoding is one-to-one); other types compare typed
        key_exprs.append(raw if types[fi] == "string" else typed_sql(types[fi], raw, checked=True))
    bad = f"CASE WHEN fast OR footer THEN false ELSE {' OR '.join(slow_bad)} END"
    lines_sql = f"""
SELECT hash({', '.join(key_exprs)}) AS h, CASE WHEN footer THEN 2 WHEN {bad} THEN 1 ELSE 0 END::TINYINT AS kind
FROM (SELECT l, fast, footer, CASE WHEN fast OR footer THEN NULL ELSE string_split(l, '|') END AS p
      FROM (SELECT l, regexp_full_match(l, {lit(line_pattern(types, key_indexes))}) AS fast,
                   (l = '99' OR starts_with(l, '99|')) AS footer
            FROM {src}))
"""
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    try:
        con.execute("SET preserve_insertion_order = false")
        with scan.progress.query(con, 0.0, 90.0):
            if scan.head.size <= NUMPY_DISTINCT_MAX_BYTES:
                lines, footers, n_bad, distinct = _counts_numpy(con, lines_sql)
            else:  # 8 bytes per row in Python would be too many: DuckDB's hash aggregate (spills)
                lines, footers, n_bad, distinct = con.execute(
                    "SELECT count(*), count_if(kind = 2), count_if(kind = 1), "
                    f"count(DISTINCT h) FILTER (WHERE kind <> 2) FROM ({lines_sql})"
                ).fetchall()[0]
    except (duckdb.InvalidInputException, duckdb.ConversionException):
        return None
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")
        counter.join()
    rows = lines - 1
    if n_bad or footers != 1 or distinct != rows:
        return None  # a bad row, a 90 row, a duplicate key, no footer or several...
    if counter.error is not None or counter.odd:
        return None
    last_line = counter.newlines + (0 if counter.ends_with_newline else 1)
    if lines != last_line - 4:
        return None  # DuckDB skipped lines (blank ones) or could not read some
    text = counter.tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    parts = text.split(b"|")
    if parts[0] != b"99" or len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) != rows:
        return None  # the footer is not the last line or its count is wrong
    scan.stats.done = True  # the file is UTF-8 without \r, NUL or \x01 (every line parsed)
    scan.stats.max_line = 0
    scan.footer_line = last_line
    scan._footer_known = True
    return QuickResult(data_rows=int(rows), footer_line=last_line, last_line=last_line)
