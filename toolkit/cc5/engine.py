"""The scan of one cc5 file on one DuckDB connection: lines, rows, typed data.

:class:`Scan` is shared by :func:`validate`, :func:`plan_import` and
:func:`open_cc5`. It creates temp objects named ``cc5_<random>_*`` on the
connection, so several scans can run on cursors of one database, and drops
them in :meth:`Scan.close`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from toolkit.cc5.header import Field, HeadScan, scan_head
from toolkit.cc5.fastcheck import FastChecker
from toolkit.cc5.source import LineStats, Progress, batch_schema, fast_source_sql, line_batches, load_exact, prefetch
from toolkit.cc5.values import INVALID_CODE, ident, typed_sql, valid_sql

__all__ = ["Scan", "HEADER_ROW_TYPES", "RESERVED_ROW_TYPES"]

HEADER_ROW_TYPES = ("00", "01", "02", "03")
RESERVED_ROW_TYPES = ("04", "05", "06", "07", "08", "09")
_NON_DATA = "('99', '00', '01', '02', '03', '04', '05', '06', '07', '08', '09')"


def _sql_list(items) -> str:
    return "(" + ", ".join(str(i) for i in items) + ")"


class Scan:
    """One file on one connection: which reader works, the per-line table, typed data."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        con: duckdb.DuckDBPyConnection,
        *,
        head: HeadScan | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.path = Path(path)
        self.label = str(path)
        self.con = con
        self.head = head if head is not None else scan_head(path)
        self.header = self.head.header
        self.progress = progress or Progress(False, "")
        self.prefix = f"cc5_{uuid.uuid4().hex[:12]}_"
        self.mode: str | None = None  # "fast" | "exact"
        self._objects: list[str] = []
        self.fields: list[Field] = list(self.header.fields)
        codes = [f.code for f in self.fields]
        #: (key code, index of its field or None) in 02's order
        self.keys: list[tuple[str, int | None]] = [
            (k, codes.index(k) if k in codes else None) for k in self.header.keys
        ]
        self.rows_table: str | None = None
        #: keep every line's text in the per-line table (plan_import reads the
        #: rows to apply from it instead of reading the file a second time)
        self.keep_raw = False
        self.footer_line: int | None = None
        self._footer_known = False
        self.stats = LineStats()
        self._registered: list[str] = []
        self._checker: FastChecker | None = None

    # ------------------------------------------------------------------ names
    def name(self, suffix: str) -> str:
        n = self.prefix + suffix
        if n not in self._objects:
            self._objects.append(n)
        return n

    # ---------------------------------------------------------------- sources
    def source_sql(self) -> str:
        """The lines of the file as SQL ``(line, raw, enc_ok)``, re-readable.

        DuckDB's CSV reader when the scan showed it splits this file exactly
        (no \\r, valid UTF-8, no \\x01, no huge line); else a temp table
        loaded once by the exact reader.
        """
        if self.mode is None:
            if self.stats.done and self.stats.fast_ok:
                self.mode = "fast"
            else:
                self.use_exact()
        if self.mode == "exact":
            return self.name("lines")
        return fast_source_sql(self.path)

    def use_exact(self, start: float = 0.0, span: float = 100.0) -> None:
        """Load the lines into a temp table with the exact reader."""
        if self.mode == "exact":
            return
        table = self.name("lines")
        self.con.execute(f"DROP TABLE IF EXISTS {table}")
        cb = self.progress.bytes_callback(self.head.size, start, span)
        stats = LineStats()
        load_exact(self.con, self.path, table, on_bytes=cb, stats=stats)
        self.stats = stats
        self.mode = "exact"

    def _stream(self, start: float, span: float) -> str:
        """Register a one-shot Arrow stream of the lines; returns its view name."""
        view = self.name("stream")
        self.stats = LineStats()
        cb = self.progress.bytes_callback(self.head.size, start, span)
        checker = self.checker()
        batches = prefetch(line_batches(self.path, self.stats, on_bytes=cb, checker=checker))
        reader = pa.RecordBatchReader.from_batches(batch_schema(checker), batches)
        self.con.register(view, reader)
        self._registered.append(view)
        return view

    def _unregister(self, view: str) -> None:
        try:
            self.con.unregister(view)
        except Exception:  # noqa: BLE001
            pass
        if view in self._registered:
            self._registered.remove(view)

    def find_footer(self) -> int | None:
        """The line of the first 99 row (after the header), from the lines source."""
        if self.rows_table is None and not self._footer_known:
            self.footer_line = self.con.execute(
                f"SELECT min(line) FROM {self.source_sql()} WHERE (raw = '99' OR starts_with(raw, '99|')) "
                f"AND line NOT IN {self._header_lines_sql()}"
            ).fetchall()[0][0]
            self._footer_known = True
        return self.footer_line

    def _header_lines_sql(self) -> str:
        return _sql_list(self.head.header_lines or [0])

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

        # c: one flag per check
        flag_cols = []
        entries = []
        key_entries = []
        flags = []
        for i, f in enumerate(self.fields):
            check = valid_sql(f.type, f"v{i}")
            if check is not None:
                flag_cols.append(f"(v{i} <> '' AND NOT {check}) AS bad{i}")
                flags.append(f"bad{i}")
                entries.append(
                    f"CASE WHEN bad{i} THEN {{'code': '{INVALID_CODE[f.type]}', 'field': {_q(f.code)}, "
                    f"'value': left(v{i}, 200)}} END"
                )
        for j, (k, fi) in enumerate(self.keys):
            if fi is None:
                continue
            flag_cols.append(f"(v{fi} = '') AS empty{j}")
            flags.append(f"empty{j}")
            key_entries.append(
                f"CASE WHEN empty{j} THEN {{'code': 'EMPTY_KEY', 'field': {_q(k)}, 'value': NULL::VARCHAR}} END"
            )
        entries = key_entries + entries
        any_flag = " OR ".join(flags) if flags else "false"
        entry_list = "[" + ", ".join(entries) + "]" if entries else "[]"

        # rows the numpy pre-check passed: only their JSON values are left to check
        checker = self.checker()
        json_bad = []
        json_entries = []
        for i in checker.json_fields:
            f = self.fields[i]
            json_bad.append(f"(j{i} <> '' AND NOT json_valid(j{i}))")
            json_entries.append(
                f"CASE WHEN j{i} <> '' AND NOT json_valid(j{i}) THEN {{'code': '{INVALID_CODE[f.type]}', "
                f"'field': {_q(f.code)}, 'value': left(j{i}, 200)}} END"
            )
        if json_entries:
            fast_errs = (f"CASE WHEN {' OR '.join(json_bad)} "
                         f"THEN list_filter([{', '.join(json_entries)}], lambda x: x IS NOT NULL) END")
        else:
            fast_errs = "NULL"

        key_cols = []
        for j, (_k, fi) in enumerate(self.keys):
            if fi is None:
                continue
            ftype = self.fields[fi].type
            fast_key = f"WHEN fast THEN {typed_sql(ftype, f'kr{j}', checked=True)} " if checker.keys else ""
            key_cols.append(f"CASE {fast_key}WHEN fc THEN {typed_sql(ftype, f'v{fi}')} END AS k{j}")

        fc_row = ("{'code': 'FIELD_COUNT', 'field': NULL::VARCHAR, 'value': CAST(nv AS VARCHAR)}")
        unknown = "{'code': 'UNKNOWN_ROW_TYPE', 'field': NULL::VARCHAR, 'value': left(rt, 200)}"
        data_errs = (
            f"CASE WHEN NOT fc THEN [{fc_row}] "
            f"WHEN {any_flag} THEN list_filter({entry_list}, lambda x: x IS NOT NULL) END"
            if (n_fields or n_keys)
            else "NULL"
        )
        sel_values = (", " + ", ".join(value_cols)) if value_cols else ""
        sel_flags = (", " + ", ".join(flag_cols)) if flag_cols else ""
        sel_keys = (", " + ", ".join(key_cols)) if key_cols else ""
        key_names = "".join(f", k{j}" for j, (_k, fi) in enumerate(self.keys) if fi is not None)
        raw_col = ("raw" if self.keep_raw
                   else "CASE WHEN errs IS NOT NULL OR rt NOT IN ('10', '90') OR NOT enc_ok THEN raw END")
        return f"""
CREATE TEMP TABLE {table} AS
WITH s AS (
    SELECT *, CASE WHEN fast THEN NULL ELSE string_split(raw, '|') END AS p
    FROM {source} WHERE line NOT IN {self._header_lines_sql()}
), a AS (
    SELECT *, CASE WHEN fast THEN '10' ELSE p[1] END AS rt, len(p) - 1 AS nv FROM s
), b AS (
    SELECT *, CASE rt WHEN '10' THEN {fc10} WHEN '90' THEN {fc90} END AS fc{sel_values}
    FROM a
), c AS (
    SELECT *{sel_flags} FROM b
), d AS (
    SELECT line, rt, raw, enc_ok,
           CASE WHEN fast THEN {fast_errs}
                WHEN rt IN ('10', '90') THEN {data_errs}
                WHEN rt IN {_NON_DATA} THEN NULL
                ELSE [{unknown}] END AS errs{sel_keys}
    FROM c
)
SELECT line, rt, errs, NOT enc_ok AS bad_enc,
       {raw_col} AS raw{key_names}
FROM d
"""

    def checker(self) -> FastChecker:
        """The numpy pre-check for this header (keys only when every key is a field).

        ``TOOLKIT_CC5_FASTCHECK=0`` turns it off: every row then goes through the
        SQL checks (same findings, slower; the tests compare both).
        """
        if self._checker is None:
            keys = [fi for _k, fi in self.keys]
            fields = self.fields if os.environ.get("TOOLKIT_CC5_FASTCHECK", "1") != "0" else []
            self._checker = FastChecker(fields, keys if fields and keys and None not in keys else [])
        return self._checker

    def _plain_source(self, table: str) -> str:
        """A lines table seen with the fast-check columns (no row passed the pre-check)."""
        checker = self.checker()
        extra = ["false AS fast"] + [f"NULL::VARCHAR AS j{i}" for i in checker.json_fields]
        extra += [f"NULL::VARCHAR AS kr{j}" for j in range(len(checker.keys))]
        return f"(SELECT *, {', '.join(extra)} FROM {table})"

    def build_rows(self, start: float = 0.0, span: float = 90.0) -> str:
        """Create the per-line table (once, one pass over the file) and find the footer."""
        if self.rows_table is not None:
            return self.rows_table
        table = self.name("rows")
        if self.mode == "exact":
            source = self._plain_source(self.name("lines"))
            with self.progress.query(self.con, start, span):
                self.con.execute(self.rows_sql(source, table))
        else:
            view = self._stream(start, span)
            order = self.con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
            try:
                # rows carry their line number: insertion order does not matter, parallelism does
                self.con.execute("SET preserve_insertion_order = false")
                self.con.execute(self.rows_sql(view, table))
            finally:
                self.con.execute(f"SET preserve_insertion_order = {'true' if order else 'false'}")
                self._unregister(view)
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
        their values need no second validity test (the regexes cost most).
        """
        footer = self.find_footer()
        source = self.source_sql()
        sql = self.data_sql_from(source, row_type=row_type, with_line=with_line, footer=footer, checked=checked)
        return sql + " ORDER BY line" if self.mode == "exact" else sql

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


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
