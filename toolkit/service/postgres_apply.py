"""The PostgreSQL store's bulk apply: the rows of an engine plan (DuckDB
relations) go to PostgreSQL with binary ``COPY`` into temporary tables, fed
from Arrow batches, then one ``DELETE ... USING`` and one ``INSERT ...
SELECT`` into the workspace/entity table; findings go by ``COPY`` too. No
per-row INSERT. Every function runs inside the caller's transaction.

    >>> pg_type("DOUBLE")
    ('double precision', 'float8')
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from toolkit.service.store import SchemaMismatch

__all__ = ["apply_rows", "insert_findings", "prepare_table", "pg_ident", "pg_type", "FINDING_COLUMNS"]

FINDING_COLUMNS = ["line", "code", "severity", "level", "field", "value", "message"]
_COPY_BATCH_ROWS = 50_000
_DB_NOW = "extract(epoch from clock_timestamp())::double precision"

#: engine (DuckDB) column type -> (PostgreSQL type of the imported table, COPY type of the staging table)
_PG_TYPES: dict[str, tuple[str, str]] = {
    "VARCHAR": ("text", "text"),
    "BIGINT": ("bigint", "int8"),
    "DOUBLE": ("double precision", "float8"),
    "BOOLEAN": ("boolean", "bool"),
    "TIMESTAMP": ("timestamp without time zone", "timestamp"),
    "VARCHAR[]": ("text[]", "text[]"),
    "JSON": ("jsonb", "text"),  # staged as text, cast on insert
}


def pg_ident(name: str) -> str:
    """A PostgreSQL identifier, quoted.

    >>> pg_ident('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def pg_type(duckdb_type: str) -> tuple[str, str]:
    """(column type, COPY type) in PostgreSQL for an engine (DuckDB) column type."""
    return _PG_TYPES.get(duckdb_type.upper(), ("text", "text"))


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
        columns = ", ".join(f"{pg_ident(f.code)} {pg_type(f.duckdb_type)[0]}" for f in plan.fields)
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
        wanted = pg_type(f.duckdb_type)[0]
        found = current.get(f.code.lower())
        if found is None:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {pg_ident(f.code)} {wanted}")
        elif found != wanted:
            raise SchemaMismatch(
                f"field {f.code} is {wanted} in the file but {found} in {ws}/{entity} already imported")
    return table


def stage(conn: Any, name: str, batches: Iterable[Any], columns: list[tuple[str, str]]) -> None:
    """A temp table ``name`` (dropped at commit) with the rows of ``batches``
    (Arrow record batches), sent by binary COPY."""
    conn.execute(f"CREATE TEMP TABLE {name} ("
                 + ", ".join(f"{pg_ident(code)} {pg_type(t)[1]}" for code, t in columns)
                 + ") ON COMMIT DROP")
    with conn.cursor() as cur, cur.copy(
        f"COPY {name} ({', '.join(pg_ident(c) for c, _ in columns)}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types([pg_type(t)[1] for _, t in columns])
        for batch in batches:
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                copy.write_row(row)


def apply_rows(conn: Any, table: str, plan: Any) -> None:
    """Apply the plan to ``table`` in file order: every touched key's rows go,
    then the upserts (a key's last 10 row) come in."""
    keys = list(plan.keys)
    types = {f.code: f.duckdb_type for f in plan.fields}
    stage(conn, "_tk_touched", plan.touched_batches(_COPY_BATCH_ROWS), [(k, types[k]) for k in keys])
    stage(conn, "_tk_upserts", plan.upsert_batches(_COPY_BATCH_ROWS), [(f.code, f.duckdb_type) for f in plan.fields])
    if keys:
        match = " AND ".join(f"t.{pg_ident(k)} = s.{pg_ident(k)}" for k in keys)
        conn.execute(f"DELETE FROM {table} AS t USING _tk_touched AS s WHERE {match}")
    columns = ", ".join(pg_ident(f.code) for f in plan.fields)
    values = ", ".join(f"{pg_ident(f.code)}::jsonb" if f.duckdb_type == "JSON" else pg_ident(f.code)
                       for f in plan.fields)
    conn.execute(f"INSERT INTO {table} ({columns}) SELECT {values} FROM _tk_upserts")


def insert_findings(conn: Any, file_id: str, report: Any, limit: int) -> None:
    """COPY at most ``limit`` findings of ``report`` into ``findings``."""
    if report is None or limit <= 0:
        return
    if hasattr(report, "iter_findings"):
        picked = report.iter_findings(limit=limit)
    else:
        picked = list(report.findings)[:limit]
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


