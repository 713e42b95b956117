"""The PostgreSQL store's bulk apply: the rows of an engine plan (DuckDB
relations) go to PostgreSQL by ``COPY``: the touched keys into a temporary
table for one ``DELETE ... USING`` (skipped while the table has no rows), the
upserts straight into the workspace/entity table; findings go by ``COPY``
too. DuckDB writes each row as a line of ``COPY``'s text format
(:func:`copy_line_sql`), and each Arrow batch of those lines is sent as the
one buffer it already is: no per-row Python, no per-row INSERT. Every
function runs inside the caller's transaction.

    >>> pg_type("DOUBLE")
    'double precision'
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa

from toolkit.service.store import SchemaMismatch

__all__ = ["apply_rows", "copy_line_sql", "insert_findings", "prepare_table", "pg_ident", "pg_type",
           "FINDING_COLUMNS"]

FINDING_COLUMNS = ["line", "code", "severity", "level", "field", "value", "message"]
_COPY_BATCH_ROWS = 50_000
_DB_NOW = "extract(epoch from clock_timestamp())::double precision"

#: engine (DuckDB) column type -> its PostgreSQL type (of the imported table and of a staging table:
#: COPY's text format reads every one of them, JSON into jsonb)
_PG_TYPES: dict[str, str] = {
    "VARCHAR": "text",
    "BIGINT": "bigint",
    "DOUBLE": "double precision",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp without time zone",
    "VARCHAR[]": "text[]",
    "JSON": "jsonb",
}


def pg_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted.

    >>> pg_ident('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def pg_type(duckdb_type: str) -> str:
    """The PostgreSQL column type for an engine (DuckDB) column type."""
    return _PG_TYPES.get(duckdb_type.upper(), "text")


def prepare_table(conn: Any, ws: str, entity: str, plan: Any, new_table: str) -> str:
    """The table of ``ws``/``entity``: created as ``new_table`` (with an
    index on the keys) on its first import, else checked against the plan
    (SchemaMismatch) and given the plan's new columns. Call it inside the
    apply transaction, so a mismatch leaves no trace."""
    keys = list(plan.keys)
    row = conn.execute("SELECT table_name, key_fields FROM data_tables WHERE workspace_id = %s "
                       "AND entity_type = %s", [ws, entity]).fetchone()
    if row is None:
        table = new_table
        columns = ", ".join(f"{pg_ident(f.code)} {pg_type(f.duckdb_type)}" for f in plan.fields)
        conn.execute(f"CREATE TABLE {table} ({columns})")
        if keys:
            conn.execute(f"CREATE INDEX ON {table} ({', '.join(pg_ident(k) for k in keys)})")
        conn.execute("INSERT INTO data_tables (workspace_id, entity_type, table_name, key_fields, created_at) "
                     f"VALUES (%s, %s, %s, %s, {_DB_NOW})", [ws, entity, table, json.dumps(keys)])
        return table
    table, existing_keys = row[0], json.loads(row[1])
    if [k.lower() for k in existing_keys] != [k.lower() for k in keys]:
        raise SchemaMismatch(
            f"the file's keys ({', '.join(keys)}) differ from the keys of {ws}/{entity} "
            f"already imported ({', '.join(existing_keys)})")
    current = {
        name.lower(): data_type for name, data_type in conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped", [table]).fetchall()
    }
    for f in plan.fields:
        wanted = pg_type(f.duckdb_type)
        found = current.get(f.code.lower())
        if found is None:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {pg_ident(f.code)} {wanted}")
        elif found != wanted:
            raise SchemaMismatch(
                f"field {f.code} is {wanted} in the file but {found} in {ws}/{entity} already imported")
    return table


def _copy_text_sql(text: str, *, gate: bool = True) -> str:
    """A text value escaped for COPY's text format (backslash, tab, LF and CR). ``gate``: most values
    have none of them, and four ``contains`` cost less than four ``replace`` (not for an expression
    too costly to evaluate five times)."""
    specials = " OR ".join(f"contains({text}, {c})" for c in ("'\\'", "chr(9)", "chr(10)", "chr(13)"))
    escaped = (f"replace(replace(replace(replace({text}, '\\', '\\\\'), chr(9), '\\t'), chr(10), '\\n'), "
               f"chr(13), '\\r')")
    return f"CASE WHEN {specials} THEN {escaped} ELSE {text} END" if gate else escaped


def _copy_value_sql(column: str, duckdb_type: str) -> str:
    """One column's value in COPY's text format; ``\\N`` for NULL."""
    kind = duckdb_type.upper()
    if kind == "VARCHAR[]":
        # a PostgreSQL array literal: every element double-quoted, \ and " escaped inside
        element = "'\"' || replace(replace(x, '\\', '\\\\'), '\"', '\\\"') || '\"'"
        text = f"'{{' || array_to_string(list_transform({column}, lambda x: {element}), ',') || '}}'"
        return f"coalesce({_copy_text_sql(text, gate=False)}, '\\N')"
    if kind in ("BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP"):
        return f"coalesce(CAST({column} AS VARCHAR), '\\N')"  # no character COPY would read as special
    return f"coalesce({_copy_text_sql(f'CAST({column} AS VARCHAR)')}, '\\N')"  # VARCHAR, JSON


def copy_line_sql(columns: list[tuple[str, str]]) -> str:
    """SQL (DuckDB) of a row as one line of PostgreSQL ``COPY``'s text format, newline included.

    >>> print(copy_line_sql([("n", "BIGINT")]))
    coalesce(CAST("n" AS VARCHAR), '\\N') || chr(10)
    """
    values = " || chr(9) || ".join(_copy_value_sql(pg_ident(code), t) for code, t in columns)
    return f"{values} || chr(10)"


def stage(conn: Any, name: str, rows: Any, columns: list[tuple[str, str]]) -> None:
    """A temp table ``name`` (dropped at commit) with the rows of ``rows`` (a DuckDB relation), its
    columns of the data table's types (so a JSON key compares as jsonb with the table's)."""
    conn.execute(f"CREATE TEMP TABLE {name} ("
                 + ", ".join(f"{pg_ident(code)} {pg_type(t)}" for code, t in columns)
                 + ") ON COMMIT DROP")
    copy_rows(conn, name, rows, columns)


def copy_rows(conn: Any, table: str, rows: Any, columns: list[tuple[str, str]]) -> None:
    """COPY the rows of ``rows`` (a DuckDB relation) into ``columns`` of ``table``.

    DuckDB formats each row as a COPY text line; every Arrow batch of lines
    goes to PostgreSQL as its one data buffer (the lines end to end).
    """
    if not columns:
        return
    conn.execute("SET LOCAL client_encoding TO 'UTF8'")  # the lines are DuckDB's UTF-8 bytes, sent as they are
    lines = rows.project(f"{copy_line_sql(columns)} AS line")
    with conn.cursor() as cur, cur.copy(
        f"COPY {table} ({', '.join(pg_ident(c) for c, _ in columns)}) FROM STDIN (FORMAT TEXT)"
    ) as copy:
        for batch in lines.to_arrow_reader(_COPY_BATCH_ROWS):
            if batch.num_rows:
                copy.write(_text_buffer(batch.column(0)))


def _text_buffer(array: Any) -> memoryview:
    """The bytes of a string array's values end to end (its data buffer between the first and last offset)."""
    if array.null_count:
        raise ValueError("a COPY line is NULL")  # copy_line_sql never makes one
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.large_string())  # e.g. a string view
    _validity, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64 if pa.types.is_large_string(array.type) else np.int32)
    return memoryview(data)[int(bounds[array.offset]):int(bounds[array.offset + len(array)])]


def apply_rows(conn: Any, table: str, plan: Any) -> None:
    """Apply the plan to ``table`` in file order: every touched key's rows go,
    then the upserts (a key's last 10 row) come in, by COPY straight into the
    table (a JSON value becomes jsonb as COPY reads it; a column this file
    lacks stays NULL)."""
    keys = list(plan.keys)
    types = {f.code: f.duckdb_type for f in plan.fields}
    if keys and conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:  # else nothing to replace
        stage(conn, "_tk_touched", plan.touched, [(k, types[k]) for k in keys])
        match = " AND ".join(f"t.{pg_ident(k)} = s.{pg_ident(k)}" for k in keys)
        conn.execute(f"DELETE FROM {table} AS t USING _tk_touched AS s WHERE {match}")
    copy_rows(conn, table, plan.upserts, [(f.code, f.duckdb_type) for f in plan.fields])


def insert_findings(conn: Any, file_id: str, report: Any, limit: int) -> None:
    """COPY at most ``limit`` findings of ``report`` into ``findings``."""
    if report is None or limit <= 0:
        return
    picked = report.iter_findings(limit=limit)
    if not picked:
        return
    with conn.cursor() as cur, cur.copy(
        f"COPY findings (file_id, {', '.join(FINDING_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["text", "int8", "text", "text", "text", "text", "text", "text"])
        for finding in picked[:limit]:
            copy.write_row([file_id, *(_finding_value(finding, c) for c in FINDING_COLUMNS)])


def _finding_value(finding: Any, column: str) -> Any:
    value = finding.get(column) if isinstance(finding, dict) else getattr(finding, column, None)
    if value is None:
        return None
    return int(value) if column == "line" else str(value)


