"""The one pass over a cc5 file on one DuckDB connection: the per-line table and typed data.

:class:`Scan` serves :func:`validate`, :func:`plan_import` and :func:`open_cc5`.
Every file, clean or not, goes the same way: the reader
(:mod:`toolkit.cc5.source`) streams the physical lines to DuckDB once, and
DuckDB's threads split each line and evaluate one boolean per value
(:func:`~toolkit.cc5.values.valid_sql`); only a line where one of them fails
gets its findings built (a list of ``{code, field, value}``). The result is
one per-line table: row type, the row's errors (NULL for good rows), its
typed key and, for rejected or special lines, the raw text. (A regular
expression over the whole line as a shortcut for clean lines was measured
and dropped: it cost more CPU than the per-value checks it saved.)

A scan creates temp objects named ``cc5_<random>_*`` on the connection, so
several scans can run on cursors of one database, and drops them in
:meth:`Scan.close`. Its inputs are given at construction.

    >>> scan = Scan("customers.cc5txt", con)          # doctest: +SKIP
    >>> rows = scan.build_rows()                      # doctest: +SKIP
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

from toolkit.cc5.header import Field, HeadScan, scan_head
from toolkit.cc5.source import LINE_SCHEMA, Progress, line_batches, prefetch, unordered
from toolkit.cc5.values import INVALID_CODE, cast_sql, ident, lit, typed_sql, valid_sql

__all__ = ["Scan", "HEADER_ROW_TYPES", "RESERVED_ROW_TYPES"]

HEADER_ROW_TYPES = ("00", "01", "02", "03")
RESERVED_ROW_TYPES = ("04", "05", "06", "07", "08", "09")
_NON_DATA = "('99', '00', '01', '02', '03', '04', '05', '06', '07', '08', '09')"


def _sql_list(items: Iterable[object]) -> str:
    return "(" + ", ".join(str(i) for i in items) + ")"


class Scan:
    """One file on one connection: the per-line table and the typed data.

    ``label``: the file's name in findings. ``keep_typed``: keep each
    accepted 10 row's typed values in the per-line table (field ``i`` in
    column :meth:`typed_column`), computed in the same pass: the import plan
    applies them from there, without a second split or cast of the file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        con: duckdb.DuckDBPyConnection,
        *,
        head: HeadScan | None = None,
        label: str | None = None,
        keep_typed: bool = False,
        progress: Progress | None = None,
    ) -> None:
        self.path = Path(path)
        self.label = label if label is not None else str(path)
        self.con = con
        self.head = head if head is not None else scan_head(path)
        self.header = self.head.header
        self.keep_typed = keep_typed
        self.progress = progress or Progress(False, "", self.head.size)
        self.prefix = f"cc5_{uuid.uuid4().hex[:12]}_"
        self.fields: list[Field] = list(self.header.fields)
        positions = {f.code: i for i, f in enumerate(self.fields)}
        #: (key code, index of its field or None) in 02's order
        self.keys: list[tuple[str, int | None]] = [(k, positions.get(k)) for k in self.header.keys]
        self._objects: list[str] = []
        self._registered: list[str] = []
        # results, computed once
        self.rows_table: str | None = None
        self.footer_line: int | None = None
        self._lines: str | None = None
        self._footer_known = False

    # ------------------------------------------------------------------ names
    def name(self, suffix: str) -> str:
        n = self.prefix + suffix
        if n not in self._objects:
            self._objects.append(n)
        return n

    def _header_lines_sql(self) -> str:
        return _sql_list(self.head.header_lines or [0])

    # ---------------------------------------------------------------- sources
    def lines_table(self) -> str:
        """The file's lines ``(line, raw, enc_ok)`` in a temp table, loaded once (typed relations re-read it)."""
        if self._lines is None:
            table = self.name("lines")
            view = self.name("lines_arrow")
            self.con.register(view, self._reader())
            try:
                self.progress.run(self.con, f"CREATE TEMP TABLE {table} AS SELECT * FROM {view}")
            finally:
                self.con.unregister(view)
            self._lines = table
        return self._lines

    def _stream(self) -> str:
        """Register a one-shot Arrow stream of the lines; returns its view name."""
        view = self.name("stream")
        self.con.register(view, self._reader())
        self._registered.append(view)
        return view

    def _reader(self) -> pa.RecordBatchReader:
        """The lines as a one-shot Arrow stream, read one step ahead, counted by the progress."""
        batches = line_batches(self.path, on_bytes=self.progress.bytes_read)
        return pa.RecordBatchReader.from_batches(LINE_SCHEMA, prefetch(self.progress.track(batches)))

    def _unregister(self, view: str) -> None:
        try:
            self.con.unregister(view)
        except Exception:  # noqa: BLE001
            pass
        if view in self._registered:
            self._registered.remove(view)

    def find_footer(self) -> int | None:
        """The line of the first 99 row (after the header)."""
        if not self._footer_known:
            self.footer_line = self.con.execute(
                f"SELECT min(line) FROM {self.lines_table()} WHERE (raw = '99' OR starts_with(raw, '99|')) "
                f"AND line NOT IN {self._header_lines_sql()}"
            ).fetchall()[0][0]
            self._footer_known = True
        return self.footer_line

    # ------------------------------------------------------------- rows table
    def rows_sql(self, source: str, table: str) -> str:
        """CREATE the per-line table: row type, row-level errors, typed keys, raw text when needed."""
        n_fields = len(self.fields)
        n_keys = len(self.keys)
        key_pos = {fi: j for j, (_k, fi) in enumerate(self.keys) if fi is not None}

        # b: the raw value of each field (keys also from 90 rows)
        value_cols = []
        for i, _f in enumerate(self.fields):
            if i in key_pos:
                expr = f"CASE rt WHEN '10' THEN p[{i + 2}] WHEN '90' THEN p[{key_pos[i] + 2}] END"
            else:
                expr = f"CASE WHEN rt = '10' THEN p[{i + 2}] END"
            value_cols.append(f"{expr} AS v{i}")
        fc10 = f"(nv = {n_fields} OR (nv = {n_fields + 1} AND p[{n_fields + 2}] = ''))" if n_fields else "true"
        fc90 = f"(nv = {n_keys} OR (nv = {n_keys + 1} AND p[{n_keys + 2}] = ''))" if n_keys else "true"

        # c: the casts a check and the typed value share, computed once (t<i>)
        # (JSON only when typed values are kept: validation alone is cheaper with json_valid)
        cast_cols = {i: f"CASE WHEN v{i} <> '' THEN {cast} END AS t{i}"
                     for i, f in enumerate(self.fields)
                     if (cast := cast_sql(f.type, f"v{i}")) is not None
                     and (self.keep_typed or f.type not in ("object", "list"))}

        # c2: one flag per check
        flag_cols, entries, key_entries, flags = [], [], [], []
        for i, f in enumerate(self.fields):
            check = valid_sql(f.type, f"v{i}", cast=f"t{i}" if i in cast_cols else None)
            if check is not None:
                flag_cols.append(f"(v{i} <> '' AND NOT {check}) AS bad{i}")
                flags.append(f"bad{i}")
                entries.append(
                    f"CASE WHEN bad{i} THEN {{'code': '{INVALID_CODE[f.type]}', 'field': {lit(f.code)}, "
                    f"'value': left(v{i}, 200)}} END"
                )
        for j, (k, fi) in enumerate(self.keys):
            if fi is None:
                continue
            flag_cols.append(f"(v{fi} = '') AS empty{j}")
            flags.append(f"empty{j}")
            key_entries.append(
                f"CASE WHEN empty{j} THEN {{'code': 'EMPTY_KEY', 'field': {lit(k)}, 'value': NULL::VARCHAR}} END"
            )
        entries = key_entries + entries
        any_flag = " OR ".join(flags) if flags else "false"
        entry_list = "[" + ", ".join(entries) + "]" if entries else "[]"

        key_cols = []
        for j, (_k, fi) in enumerate(self.keys):
            if fi is None:
                continue
            if fi in cast_cols:  # valid: its cast, already computed
                key_cols.append(f"CASE WHEN fc AND v{fi} <> '' AND NOT bad{fi} THEN t{fi} END AS k{j}")
            else:
                key_cols.append(f"CASE WHEN fc THEN {typed_sql(self.fields[fi].type, f'v{fi}')} END AS k{j}")

        fc_row = "{'code': 'FIELD_COUNT', 'field': NULL::VARCHAR, 'value': CAST(nv AS VARCHAR)}"
        unknown = "{'code': 'UNKNOWN_ROW_TYPE', 'field': NULL::VARCHAR, 'value': left(rt, 200)}"
        data_errs = (
            f"CASE WHEN NOT fc THEN [{fc_row}] "
            f"WHEN {any_flag} THEN list_filter({entry_list}, lambda x: x IS NOT NULL) END"
            if (n_fields or n_keys)
            else "NULL"
        )
        sel_values = (", " + ", ".join(value_cols)) if value_cols else ""
        sel_casts = "".join(", " + col for col in cast_cols.values())
        sel_flags = (", " + ", ".join(flag_cols)) if flag_cols else ""
        sel_keys = (", " + ", ".join(key_cols)) if key_cols else ""
        key_names = "".join(f", k{j}" for j, (_k, fi) in enumerate(self.keys) if fi is not None)
        if key_names and all(fi is not None for _k, fi in self.keys):
            # the key's hash, computed in the parallel pass: duplicate keys are looked for by it
            key_names += f", hash({key_names[2:]}) AS kh"
        raw_col = "CASE WHEN errs IS NOT NULL OR rt NOT IN ('10', '90') OR NOT enc_ok THEN raw END"
        typed_cols, carried = "", ""
        if self.keep_typed:
            # the values of accepted rows passed their checks: the shared cast, or a cast without re-checking;
            # a key field's value is its k column
            # (an array keeps its raw text: its list is built once, by the apply's SELECT (typed_column),
            # instead of being written here and copied there)
            typed = {i: f"t{i}" if i in cast_cols else f"p[{i + 2}]" if f.type == "array"
                     else typed_sql(f.type, f"p[{i + 2}]", checked=True)
                     for i, f in enumerate(self.fields) if i not in key_pos}
            typed_cols = "".join(f", CASE WHEN rt = '10' AND errs IS NULL THEN {expr} END AS f{i}"
                                 for i, expr in typed.items())
            carried = ", p" + "".join(f", t{i}" for i in typed if i in cast_cols)
        return f"""
CREATE TEMP TABLE {table} AS
WITH s AS (
    SELECT line, raw, enc_ok, string_split(raw, '|') AS p
    FROM {source} WHERE line NOT IN {self._header_lines_sql()}
), a AS (
    SELECT *, p[1] AS rt, len(p) - 1 AS nv FROM s
), b AS (
    SELECT *, CASE rt WHEN '10' THEN {fc10} WHEN '90' THEN {fc90} END AS fc{sel_values}
    FROM a
), c AS (
    SELECT *{sel_casts} FROM b
), c2 AS (
    SELECT *{sel_flags} FROM c
), d AS (
    SELECT line, rt, raw, enc_ok,
           CASE WHEN rt IN ('10', '90') THEN {data_errs}
                WHEN rt IN {_NON_DATA} THEN NULL
                ELSE [{unknown}] END AS errs{sel_keys}{carried}
    FROM c2
)
SELECT line, rt, errs, NOT enc_ok AS bad_enc,
       {raw_col} AS raw{key_names}{typed_cols}
FROM d
"""

    def typed_column(self, index: int) -> str:
        """The per-line table's column with field ``index``'s typed value (``keep_typed``): ``k<j>`` for a key."""
        for j, (_k, fi) in enumerate(self.keys):
            if fi == index:
                return f"k{j}"
        if self.fields[index].type == "array":  # kept raw by the pass: its list is built here, once
            return typed_sql("array", f"f{index}", checked=True)
        return f"f{index}"

    def build_rows(self) -> str:
        """Create the per-line table (once: one pass over the file) and find the footer."""
        if self.rows_table is not None:
            return self.rows_table
        table = self.name("rows")
        source = self._lines if self._lines is not None else self._stream()
        try:
            with unordered(self.con):  # rows carry their line number: insertion order does not matter
                self.progress.run(self.con, self.rows_sql(source, table))
        finally:
            if source != self._lines:
                self._unregister(source)
        self.rows_table = table
        self.footer_line = self.con.execute(f"SELECT min(line) FROM {table} WHERE rt = '99'").fetchall()[0][0]
        self._footer_known = True
        return table

    def body_sql(self, column: str = "line") -> str:
        """SQL condition: the line is a body line (before the footer)."""
        return f"{column} < {self.footer_line}" if self.footer_line is not None else "true"

    # ------------------------------------------------------------- typed data
    def data_sql(self, *, row_type: str = "10", with_line: bool = True, checked: bool = False) -> str:
        """SELECT of the typed 10 rows (or the typed keys of the 90 rows) before the footer, in file order.

        ``checked=True`` when the caller keeps only rows validation accepted:
        their values need no second validity test.
        """
        footer = self.find_footer()
        sql = self.data_sql_from(self.lines_table(), row_type=row_type, with_line=with_line, footer=footer,
                                 checked=checked)
        return sql + " ORDER BY line"

    def data_sql_from(self, source: str, *, row_type: str, with_line: bool, footer: int | None,
                      checked: bool = False) -> str:
        cols = []
        if row_type == "10":
            for i, f in enumerate(self.fields):
                cols.append(f"{typed_sql(f.type, f'p[{i + 2}]', checked=checked)} AS {ident(f.code)}")
        else:
            for j, (k, fi) in enumerate(self.keys):
                ftype = self.fields[fi].type if fi is not None else "string"
                cols.append(f"{typed_sql(ftype, f'p[{j + 2}]', checked=checked)} AS {ident(k)}")
        if with_line:
            cols.insert(0, "line AS _line")
        where = f"p[1] = '{row_type}'"
        if footer is not None:
            where += f" AND line < {footer}"
        return (
            f"SELECT {', '.join(cols) or 'line AS _line'} FROM (SELECT line, string_split(raw, '|') AS p "
            f"FROM {source} WHERE line NOT IN {self._header_lines_sql()}) WHERE {where}"
        )

    # ---------------------------------------------------------------- cleanup
    def close(self) -> None:
        for view in list(self._registered):
            self._unregister(view)
        for name in reversed(self._objects):
            for kind in ("TABLE", "VIEW"):
                try:
                    self.con.execute(f"DROP {kind} IF EXISTS {name}")
                except duckdb.Error:
                    pass
        self._objects.clear()
