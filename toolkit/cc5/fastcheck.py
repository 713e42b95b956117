"""Vectorised (numpy) checks of the data rows, so SQL only handles the rows that need it.

For each chunk of lines the reader asks :class:`FastChecker` which lines are
*plain* 10 rows: the right number of ``|``, every value lexically valid for
its type (checked with numpy on the raw bytes), no escape in a JSON value.
Those rows skip the per-field SQL; their JSON values (whose validity needs a
JSON parser) and their key values are handed to DuckDB as Arrow string-view
columns pointing into the chunk (no copy). Every other line (header, 90,
99, reserved or unknown rows, wrong value count, any suspicious value) goes
through the full SQL checks, which also write the messages. The numpy
checks are *conservative*: when in doubt a line is left to SQL, never
accepted, so the result is the same as with SQL alone (a test compares both).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa

from toolkit.cc5.header import Field

__all__ = ["FastChecker"]

_PIPE, _COMMA, _HASH = 124, 44, 35
_INT_MAX_FAST = 18  # up to 18 digits is always a 64-bit integer; 19 goes to SQL
_NUMBER_MAX_FAST = 24
_PAD = 32
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int16)

# byte classes
_DIGIT, _DOT, _SIGN = 1, 2, 4
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[48:58] = _DIGIT
_CLASS[46] = _DOT
_CLASS[43] = _SIGN
_CLASS[45] = _SIGN


def _views(data: pa.Buffer, padded: np.ndarray, win12: np.ndarray, s: np.ndarray, e: np.ndarray,
           valid: np.ndarray | None = None) -> pa.Array:
    """Arrow string_view array of the byte ranges [s, e) of ``data`` (no copy of long values)."""
    r = len(s)
    length = (e - s).astype(np.int32)
    v = np.zeros((r, 4), dtype=np.int32)  # 16 bytes per view: length, 12 inline bytes or prefix/buffer/offset
    v[:, 0] = length
    b = v.view(np.uint8).reshape(r, 16)
    short = np.flatnonzero(length <= 12)
    if len(short):
        w = win12[s[short]]
        b[short, 4:16] = np.where(np.arange(12)[None, :] < length[short, None], w, 0)
    long_rows = np.flatnonzero(length > 12)
    if len(long_rows):
        b[long_rows, 4:8] = win12[s[long_rows], :4]
        v[long_rows, 3] = s[long_rows]
    validity = None
    nulls = 0
    if valid is not None:
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(r - valid.sum())
    return pa.Array.from_buffers(pa.string_view(), r, [validity, pa.py_buffer(v), data], null_count=nulls)


class FastChecker:
    """Numpy checks for one header's fields; see the module docstring."""

    def __init__(self, fields: Sequence[Field], key_indexes: Sequence[int]) -> None:
        self.fields = list(fields)
        self.n = len(self.fields)
        self.keys = list(key_indexes)
        self.json_fields = [i for i, f in enumerate(self.fields) if f.type in ("object", "list")]

    def extra_schema(self) -> list[tuple[str, pa.DataType]]:
        cols = [("fast", pa.bool_())]
        cols += [(f"j{i}", pa.string_view()) for i in self.json_fields]
        cols += [(f"kr{j}", pa.string_view()) for j in range(len(self.keys))]
        return cols

    def empty_columns(self, n: int) -> list[pa.Array]:
        cols: list[pa.Array] = [pa.array(np.zeros(n, dtype=bool))]
        cols += [pa.nulls(n, pa.string_view()) for _ in self.json_fields]
        cols += [pa.nulls(n, pa.string_view()) for _ in self.keys]
        return cols

    # ------------------------------------------------------------------ rows
    def _pipe_matrix(self, a: np.ndarray, pipes: np.ndarray, starts: np.ndarray, ends: np.ndarray):
        """(rows, P, row_end): the candidate 10 rows and the positions of their first n pipes."""
        n = self.n
        n_lines = len(starts)
        # the usual chunk: every line is a 10 row with a trailing |, so the pipes form a matrix
        if len(pipes) == n_lines * (n + 1):
            m = pipes.reshape(n_lines, n + 1)
            if (np.all(m[:, 0] == starts + 2) and np.all(m[:, n] == ends - 1)
                    and np.all(a[starts] == 49) and np.all(a[starts + 1] == 48)):
                return np.arange(n_lines), m[:, :n], m[:, n]
        length = ends - starts
        first = np.searchsorted(pipes, starts)
        npipes = np.searchsorted(pipes, ends) - first
        s0 = np.minimum(starts, len(a) - 1)
        is10 = (length >= 3) & (a[s0] == 49) & (a[np.minimum(s0 + 1, len(a) - 1)] == 48) \
            & (a[np.minimum(s0 + 2, len(a) - 1)] == _PIPE)
        trailing = (npipes == n + 1) & (a[np.maximum(ends - 1, 0)] == _PIPE)
        rows = np.flatnonzero(is10 & ((npipes == n) | trailing))
        if len(rows) == 0:
            return rows, None, None
        P = pipes[first[rows][:, None] + np.arange(n, dtype=np.int64)[None, :]]
        row_end = np.where(trailing[rows], pipes[np.minimum(first[rows] + n, len(pipes) - 1)], ends[rows])
        return rows, P, row_end

    def check(self, buf: bytes, starts: np.ndarray, ends: np.ndarray) -> list[pa.Array]:
        """The extra columns for the lines [starts, ends) of ``buf`` (a chunk of valid UTF-8 lines)."""
        n_lines = len(starts)
        if self.n == 0 or n_lines == 0:
            return self.empty_columns(n_lines)
        padded = np.frombuffer(buf + bytes(_PAD), dtype=np.uint8)
        a = padded[: len(buf)]
        pipes = np.flatnonzero(a == _PIPE)
        rows, P, row_end = self._pipe_matrix(a, pipes, starts, ends)
        if len(rows) == 0:
            return self.empty_columns(n_lines)
        win = np.lib.stride_tricks.sliding_window_view
        n = self.n
        ok = np.ones(len(rows), dtype=bool)
        spans = []
        hash_pos = np.flatnonzero(a == _HASH) if b"#" in buf else None
        dcomma = np.flatnonzero((a[:-1] == _COMMA) & (a[1:] == _COMMA)) if b",," in buf else None
        for i, f in enumerate(self.fields):
            s = P[:, i] + 1
            e = P[:, i + 1] if i + 1 < n else row_end
            spans.append((s, e))
            t = f.type
            if t in ("string",) or t not in ("int", "number", "bool", "date", "array", "object", "list"):
                continue
            l = e - s
            if t == "int" or t == "number":
                limit = _INT_MAX_FAST + 1 if t == "int" else _NUMBER_MAX_FAST + 1
                width = int(min(limit, max(1, l.max())))  # longer values fail the length test below
                c = _CLASS[win(padded, width)[s]]
                sign = (c[:, 0] & _SIGN) > 0
                inside = np.arange(width)[None, :] < l[:, None]
                body = inside & ~((np.arange(width)[None, :] == 0) & sign[:, None])
                digit = (c & _DIGIT) > 0
                if t == "int":
                    good = np.all(digit | ~body, axis=1)
                    dl = l - sign
                    good &= (dl >= 1) & (dl <= _INT_MAX_FAST)
                else:
                    dot = (c & _DOT) > 0
                    good = np.all(digit | dot | ~body, axis=1)
                    good &= ((dot & body).sum(axis=1) <= 1) & (digit & body).any(axis=1)
                    good &= l <= _NUMBER_MAX_FAST
                ok &= (l == 0) | good
            elif t == "bool":
                raw = win(padded, 5)[s]
                w = raw | 0x20  # lower case; only letters map onto the letters compared
                one = (l == 1) & ((raw[:, 0] == 48) | (raw[:, 0] == 49))
                true = (l == 4) & (w[:, 0] == 116) & (w[:, 1] == 114) & (w[:, 2] == 117) & (w[:, 3] == 101)
                false = ((l == 5) & (w[:, 0] == 102) & (w[:, 1] == 97) & (w[:, 2] == 108) & (w[:, 3] == 115)
                         & (w[:, 4] == 101))
                ok &= (l == 0) | one | true | false
            elif t == "date":
                raw = win(padded, 14)[s]
                inside = np.arange(14)[None, :] < l[:, None]
                d = raw.astype(np.int16) - 48
                digits = np.all(((d >= 0) & (d < 10)) | ~inside, axis=1)
                year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
                month = d[:, 4] * 10 + d[:, 5]
                day = d[:, 6] * 10 + d[:, 7]
                leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
                mclip = np.clip(month, 0, 12)
                dim = _DAYS[mclip] + ((mclip == 2) & leap)
                ymd = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= dim)
                hms = (l == 8) | ((d[:, 8] * 10 + d[:, 9] < 24) & (d[:, 10] * 10 + d[:, 11] < 60)
                                  & (d[:, 12] * 10 + d[:, 13] < 60))
                ok &= (l == 0) | (((l == 8) | (l == 14)) & digits & ymd & hms)
            elif t == "array":
                bad = (a[s] == _COMMA) | (a[np.maximum(e - 1, 0)] == _COMMA)
                if dcomma is not None:
                    bad |= (np.searchsorted(dcomma, np.maximum(e - 1, s)) - np.searchsorted(dcomma, s)) > 0
                ok &= (l == 0) | ~bad
            else:  # object, list: the shape here, the JSON parse in DuckDB
                opener, closer = (123, 125) if t == "object" else (91, 93)
                shaped = (l >= 2) & (a[s] == opener) & (a[np.maximum(e - 1, 0)] == closer)
                if hash_pos is not None:
                    shaped &= (np.searchsorted(hash_pos, e) - np.searchsorted(hash_pos, s)) == 0
                ok &= (l == 0) | shaped
        for i in self.keys:
            s, e = spans[i]
            ok &= e > s

        fast = np.zeros(n_lines, dtype=bool)
        fast[rows[ok]] = True
        cols: list[pa.Array] = [pa.array(fast)]
        extra = [spans[i] for i in self.json_fields] + [spans[i] for i in self.keys]
        if not extra:
            return cols
        # one (s, e) per line: lines that are not fast get an empty range (masked as NULL below)
        data = pa.py_buffer(buf)
        win12 = win(padded, 12)
        full = len(rows) == n_lines and bool(ok.all())
        for s, e in extra:
            if full:
                cols.append(_views(data, padded, win12, s, e))
                continue
            ls = np.zeros(n_lines, dtype=np.int64)
            le = np.zeros(n_lines, dtype=np.int64)
            ls[rows] = s
            le[rows] = e
            le[~fast] = ls[~fast]
            cols.append(_views(data, padded, win12, ls, le, fast))
        return cols
