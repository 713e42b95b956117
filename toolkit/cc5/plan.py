"""plan_import(): what the import service applies, computed by the same engine as validate()."""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field as dc_field

import duckdb
import pyarrow as pa

from toolkit.cc5.engine import Scan
from toolkit.cc5.header import Field, Header
from toolkit.cc5.report import ValidationReport
from toolkit.cc5.source import ProgressArg
from toolkit.cc5.validate import run_validation
from toolkit.cc5.values import ident

__all__ = ["ImportPlan", "plan_import"]


@dataclass
class ImportPlan:
    """The rows an import applies, as DuckDB relations on the caller's connection.

    * ``upserts``: one row per key whose last operation in file order is an
      accepted 10 row; columns are the fields (typed, escapes decoded).
    * ``deletes``: the key columns of keys whose last operation is an accepted 90 row.
    * ``touched``: the key columns of every key in upserts or deletes.

    Apply it as ``DELETE ... WHERE key IN touched`` then ``INSERT ... FROM upserts``
    (a 10 row replaces the whole record: nulls overwrite), on the plan's own
    connection: the rows never pass through Python. For another database,
    :meth:`upsert_batches` and :meth:`touched_batches` stream the same rows
    as Arrow record batches (the PostgreSQL store formats them as ``COPY``
    lines in DuckDB instead: ``toolkit/service/postgres_apply.py``). When ``report.importable``
    is false the relations are empty. The relations read the plan's temp
    tables (the file is read once, by validation): :meth:`close` drops them.

        >>> with plan_import("f.cc5txt", con) as plan:                      # doctest: +SKIP
        ...     plan.upserts.insert_into("customer")                     # INSERT ... SELECT in DuckDB
        ...     for batch in plan.upsert_batches():                      # or: to another database
        ...         copy.write(batch)
    """

    report: ValidationReport
    header: Header | None
    fields: list[Field]
    keys: list[str]
    upserts: duckdb.DuckDBPyRelation
    deletes: duckdb.DuckDBPyRelation
    touched: duckdb.DuckDBPyRelation
    successful_count: int
    failure_count: int
    _scan: Scan = dc_field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def entity_type(self) -> str | None:
        """The 01 row's entity type (None without a readable header)."""
        return self.header.entity_type if self.header is not None else None

    def upsert_batches(self, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        """The ``upserts`` rows as an Arrow stream (typed columns, one batch per ``batch_rows`` rows)."""
        return self.upserts.to_arrow_reader(batch_rows)

    def touched_batches(self, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        """The ``touched`` keys as an Arrow stream."""
        return self.touched.to_arrow_reader(batch_rows)

    def close(self) -> None:
        """Drop the plan's temp tables and views from the connection."""
        if self._scan is not None:
            self._scan.close()

    def __enter__(self) -> "ImportPlan":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _empty(con: duckdb.DuckDBPyConnection, cols: list[tuple[str, str]]) -> duckdb.DuckDBPyRelation:
    if not cols:
        return con.sql("SELECT NULL::VARCHAR AS _none WHERE false")
    return con.sql("SELECT " + ", ".join(f"NULL::{t} AS {ident(c)}" for c, t in cols) + " WHERE false")


def plan_import(
    path: str | os.PathLike[str],
    con: duckdb.DuckDBPyConnection,
    *,
    expected_workspace: str | None = None,
    max_bytes: int | None = None,
    progress: ProgressArg = False,
) -> ImportPlan:
    """Validate ``path`` on ``con`` and compute what the import applies.

    Uses the caller's connection (the store is open on it); every temp object
    is named ``cc5_<random>_*`` so several imports can run on cursors of one
    database. Call :meth:`ImportPlan.close` when done.
    """
    report = run_validation(path, con, expected_workspace=expected_workspace, max_bytes=max_bytes,
                            progress=progress, owns_connection=False, keep_typed=True)
    scan = report._scan
    header = report.header
    fields = list(scan.fields)
    keys = [k for k, _fi in scan.keys]
    field_cols = [(f.code, f.duckdb_type) for f in fields]
    key_types = {f.code: f.duckdb_type for f in fields}
    key_cols = [(k, key_types.get(k, "VARCHAR")) for k in keys]

    if not report.importable or scan.rows_table is None or not fields or not keys:
        return ImportPlan(report, header, fields, keys, _empty(con, field_cols), _empty(con, key_cols),
                          _empty(con, key_cols), 0, report.rejected_rows, scan)

    rows = scan.rows_table
    kn = [f"k{j}" for j in range(len(keys))]
    accepted = f"errs IS NULL AND rt IN ('10', '90') AND {scan.body_sql()}"
    successful = con.execute(f"SELECT count(*) FROM {rows} WHERE {accepted}").fetchall()[0][0]
    # Rows apply in file order, so only the last row of a key counts. Validation
    # already found the keys that repeat (few): the earlier rows of those are
    # left out, every other accepted row applies as it is (no grouping of all keys).
    live = accepted
    if report._dups_table is not None:
        live += f" AND line NOT IN (SELECT line FROM {report._dups_table} WHERE line < last_line)"
    key_select = ", ".join(f"{kn[j]} AS {ident(k)}" for j, k in enumerate(keys))
    # The rows to apply and their typed values come from the per-line table:
    # the pass typed them, the file is not read or split again.
    typed = ", ".join(f"{scan.typed_column(i)} AS {ident(f.code)}" for i, f in enumerate(fields))
    upserts = con.sql(f"SELECT {typed} FROM {rows} WHERE {live} AND rt = '10'")
    deletes = con.sql(f"SELECT {key_select} FROM {rows} WHERE {live} AND rt = '90'")
    touched = con.sql(f"SELECT {key_select} FROM {rows} WHERE {live}")
    return ImportPlan(report, header, fields, keys, upserts, deletes, touched, int(successful),
                      report.rejected_rows, scan)
