"""``PostgresStore``: the service's store on a PostgreSQL database, shared by
any number of API instances and workers.

Same contract as :class:`~toolkit.service.duckdb_store.DuckDBStore` (see
:mod:`toolkit.service.store`); what differs is how it holds under many
processes:

* **Schema**: created and upgraded by the store itself on open, from the
  versioned migrations in :mod:`toolkit.service.postgres_schema` (concurrent
  starters wait on an advisory lock; ``schema_version`` says what is applied).
* **Claiming**: ``claim_next_queued`` takes the oldest QUEUED file among the
  *head* files of the workspaces with no file PROCESSING, with ``FOR UPDATE
  SKIP LOCKED``; claims are serialised by a transaction-level advisory lock,
  so two workers never start two files of one workspace: files of a
  workspace (hence of each of its entity types) apply in trigger order.
* **Leases**: a claimed file carries ``lease_until`` (database clock); its
  worker renews it (``renew_leases``) while the import runs. A worker killed
  mid-import stops renewing; ``requeue_interrupted`` puts such files back
  to QUEUED for another worker. The apply and the fail check the file is
  still PROCESSING *at the claim's attempt number* (a fencing token), under
  a row lock, so a worker that lost its lease can never apply twice.
* **Bulk apply** (:mod:`toolkit.service.postgres_apply`): the plan's rows go
  from the engine's DuckDB connection to temporary tables with binary
  ``COPY``, then one ``DELETE ... USING`` and one ``INSERT ... SELECT`` in
  the transaction that marks the file FINISHED.
* **No record cache**: another process may change any record, so every
  look-up reads the database (an indexed primary-key read).

    >>> store = PostgresStore("postgresql://toolkit@127.0.0.1:5432/toolkit")   # doctest: +SKIP
    >>> store.count_files()                                                    # doctest: +SKIP
    0
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields as dataclass_fields
from typing import Any

import duckdb

from toolkit.errors import ConfigError
from toolkit.service.postgres_apply import FINDING_COLUMNS, apply_rows, insert_findings, pg_ident, prepare_table
from toolkit.service.postgres_schema import CLAIM_LOCK, migrate
from toolkit.service.records import (
    FAILED, FINISHED, PENDING_UPLOAD, PROCESSING, QUEUED, FileQuery, FileRecord,
)
from toolkit.service.store import StateChanged

__all__ = ["PostgresStore", "is_postgres_url", "pg_ident", "redact_url"]

log = logging.getLogger("toolkit.service")

_COLUMNS = [f.name for f in dataclass_fields(FileRecord)]
_SELECT = ", ".join(_COLUMNS)
_JSON_COLUMNS = {"tags", "metadata"}
_DB_NOW = "extract(epoch from clock_timestamp())::double precision"
# Told when a file may have become claimable (queued, or a workspace's import
# ended): idle workers of every process wake at once instead of at their next poll.
_WORK_CHANNEL = "toolkit_work"
_NOTIFY = f"SELECT pg_notify('{_WORK_CHANNEL}', '')"

def is_postgres_url(value: object) -> bool:
    """Whether a ``--store`` value names a PostgreSQL database.

    >>> is_postgres_url("postgresql://u@h/db"), is_postgres_url("service.duckdb")
    (True, False)
    """
    return isinstance(value, str) and value.startswith(("postgresql://", "postgres://"))


def _table_ident(workspace_id: str, entity_type: str) -> str:
    """``data."<workspace>/<entity>"``, or a shortened name with a hash when
    that passes PostgreSQL's 63-byte identifier limit (it would be cut silently).

    >>> _table_ident("ws-eu", "customer")
    'data."ws-eu/customer"'
    """
    name = f"{workspace_id}/{entity_type}"
    if len(name.encode()) > 63:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        name = name.encode()[:46].decode(errors="ignore") + "#" + digest
    return f"data.{pg_ident(name)}"


def _record(row: tuple[Any, ...]) -> FileRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name]) if values[name] else ([] if name == "tags" else {})
    return FileRecord(**values)


def _db_value(name: str, value: Any) -> Any:
    return json.dumps(value) if name in _JSON_COLUMNS else value


class TableRows:
    """An imported table read from PostgreSQL (what ``read_table`` returns).

    >>> TableRows(["a"], [(1,)]).df()["a"].tolist()
    [1]
    """

    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.columns = columns
        self.rows = rows

    def df(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame.from_records(self.rows, columns=self.columns)

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows as tuples."""
        return list(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


class PostgresStore:
    """The Store on a PostgreSQL database (``postgresql://user@host:port/db``).

    ``lease_seconds``: how long a claimed file stays with its worker without
    a renewal; ``pool_size``: connections of this process; ``engine_config``:
    DuckDB settings of the engine connections (e.g. ``memory_limit``,
    ``temp_directory``: plans spill to disk instead of growing past it).
    """

    shared = True  # other processes use the same database: leases, no cache

    def __init__(self, url: str, *, lease_seconds: float = 30.0, pool_size: int = 8,
                 engine_config: dict[str, Any] | None = None) -> None:
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise ConfigError("A PostgreSQL store needs psycopg: pip install 'toolkit[postgres]'") from None
        self.url = url
        self.lease_seconds = float(lease_seconds)
        self._engine_config: dict[str, Any] = dict(engine_config or {})
        self._engine_db: duckdb.DuckDBPyConnection | None = None  # opened by the first import
        self._engine_guard = threading.Lock()
        self._psycopg = psycopg
        self._pool = ConnectionPool(url, min_size=1, max_size=max(2, pool_size), open=False,
                                    kwargs={"autocommit": True}, name="toolkit-store")
        try:
            # A direct connection first: a wrong URL or a database down fails
            # at once with PostgreSQL's own message (the pool would retry).
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                applied = migrate(conn)
            self._pool.open(wait=True, timeout=15)
        except Exception as exc:  # noqa: BLE001 - psycopg errors and the pool's PoolTimeout
            self._pool.close()
            raise ConfigError(f"Cannot open the PostgreSQL store {redact_url(url)}: {exc}") from None
        if applied:
            log.info("PostgreSQL store: applied schema migration(s) %s", ", ".join(map(str, applied)))
        self._closed = False

    # -- connections -------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[Any]:
        with self._pool.connection() as conn:
            yield conn

    def _one(self, sql: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        with self._conn() as conn:
            return conn.execute(sql, list(params)).fetchone()

    def engine_connection(self) -> duckdb.DuckDBPyConnection:
        """A cursor of this process's in-memory DuckDB database: the engine
        plans there (temp tables are per cursor); the apply copies the plan's
        rows into PostgreSQL. One database, since opening one costs ~45 ms."""
        with self._engine_guard:
            if self._engine_db is None:
                self._engine_db = duckdb.connect(config=self._engine_config)
            return self._engine_db.cursor()

    # -- file records --------------------------------------------------------
    def create_file(self, record: FileRecord) -> None:
        """Insert a new record."""
        values = [_db_value(name, getattr(record, name)) for name in _COLUMNS]
        with self._conn() as conn:
            conn.execute(f"INSERT INTO files ({_SELECT}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})", values)
            if record.status == QUEUED:
                conn.execute(_NOTIFY)

    def cached_file(self, file_id: str) -> FileRecord | None:
        """Always None: any process may change a record, so there is no cache."""
        return None

    def get_file(self, file_id: str) -> FileRecord | None:
        """The record with this id, or None."""
        row = self._one(f"SELECT {_SELECT} FROM files WHERE file_id = %s", [file_id])
        return _record(row) if row else None

    def count_files(self) -> int:
        """How many records exist (from the per-workspace counters: no scan)."""
        row = self._one("SELECT coalesce(sum(n), 0)::bigint FROM file_counts")
        return int(row[0]) if row else 0

    def list_files(self, query: FileQuery) -> tuple[int, list[FileRecord]]:
        """(total matching, the requested page newest first).

        The page walks the index on (date_created, file_id) from the newest;
        the total comes from the per-(workspace, status) counters unless a
        created range is asked for (then an index range count).
        """
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if query.workspaces is not None:
            where.append("workspace_id = ANY(%s)")
            params.append(list(query.workspaces))
        if query.statuses is not None:
            where.append("status = ANY(%s)")
            params.append(list(query.statuses))
        counted_where, counted_params = list(where), list(params)
        if query.created_after is not None:
            where.append("date_created >= %s")
            params.append(float(query.created_after))
        if query.created_before is not None:
            where.append("date_created <= %s")
            params.append(float(query.created_before))
        condition = " AND ".join(where)
        with self._conn() as conn:
            if query.created_after is None and query.created_before is None:
                total = conn.execute("SELECT coalesce(sum(n), 0)::bigint FROM file_counts WHERE "
                                     + " AND ".join(counted_where), counted_params).fetchone()[0]
            else:
                total = conn.execute(f"SELECT count(*) FROM files WHERE {condition}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_SELECT} FROM files WHERE {condition} "
                "ORDER BY date_created DESC, file_id DESC LIMIT %s OFFSET %s",
                [*params, int(query.limit), int(query.offset)],
            ).fetchall()
        return int(total), [_record(row) for row in rows]

    def transition(
        self, file_id: str, *, from_statuses: tuple[str, ...], to_status: str, **changes: Any
    ) -> FileRecord | None:
        """Compare-and-set the status (and other columns); None if not in ``from_statuses``."""
        changes["status"] = to_status
        sets = ", ".join(f"{name} = %s" for name in changes)
        params = [_db_value(name, value) for name, value in changes.items()]
        with self._conn() as conn:
            row = conn.execute(
                f"UPDATE files SET {sets} WHERE file_id = %s AND status = ANY(%s) RETURNING {_SELECT}",
                [*params, file_id, list(from_statuses)],
            ).fetchone()
            if row is not None and (to_status == QUEUED or PROCESSING in from_statuses):
                conn.execute(_NOTIFY)
        return _record(row) if row else None

    def claim_next_queued(self, *, now: float) -> FileRecord | None:
        """Move the oldest QUEUED file of a workspace with no import running to
        PROCESSING with a fresh lease; None when there is none."""
        # Only a workspace's head file (its oldest QUEUED) is a candidate, so
        # SKIP LOCKED passing over a locked row never lets a later file of that
        # workspace overtake it. Claims are serialised (each is one short transaction):
        # otherwise two workers could both see a workspace idle.
        sql = (
            f"UPDATE files SET status = '{PROCESSING}', process_start_time = %s, attempts = attempts + 1, "
            f"lease_until = {_DB_NOW} + %s "
            "WHERE file_id = (SELECT f.file_id FROM files f WHERE f.file_id IN ("
            f"  SELECT DISTINCT ON (workspace_id) file_id FROM files WHERE status = '{QUEUED}' "
            "   ORDER BY workspace_id, queued_at NULLS FIRST, date_created, file_id) "
            f" AND NOT EXISTS (SELECT 1 FROM files p WHERE p.status = '{PROCESSING}' "
            "   AND p.workspace_id = f.workspace_id) "
            " ORDER BY f.queued_at NULLS FIRST, f.date_created, f.file_id LIMIT 1 FOR UPDATE SKIP LOCKED) "
            f"AND status = '{QUEUED}' RETURNING {_SELECT}"
        )
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
            row = conn.execute(sql, [now, self.lease_seconds]).fetchone()
        return _record(row) if row else None

    def listen(self, on_work: Callable[[], None], stop: threading.Event) -> None:
        """Call ``on_work`` whenever any process tells that a file may have
        become claimable, until ``stop`` is set (a thread of the worker runs it;
        a lost connection is re-opened)."""
        while not stop.is_set():
            try:
                with self._psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {_WORK_CHANNEL}")
                    on_work()  # anything queued while not listening
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            on_work()
            except self._psycopg.Error as exc:
                log.warning("listening for queued files: %s", exc)
                stop.wait(1.0)

    def renew_leases(self, file_ids: Iterable[str]) -> None:
        """Extend the leases of files this process is importing."""
        ids = list(file_ids)
        if ids:
            with self._conn() as conn:
                conn.execute(f"UPDATE files SET lease_until = {_DB_NOW} + %s "
                             f"WHERE file_id = ANY(%s) AND status = '{PROCESSING}'", [self.lease_seconds, ids])

    def release_leases(self, file_ids: Iterable[str]) -> None:
        """End the leases of files this process stopped importing (a graceful
        stop): the next ``requeue_interrupted`` of any worker re-queues them."""
        ids = list(file_ids)
        if ids:
            with self._conn() as conn:
                conn.execute(f"UPDATE files SET lease_until = 0 WHERE file_id = ANY(%s) AND status = '{PROCESSING}'",
                             [ids])
                conn.execute(_NOTIFY)

    def requeue_interrupted(self) -> int:
        """PROCESSING files whose lease ran out (their worker died) go back to QUEUED."""
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
            rows = conn.execute(
                f"UPDATE files SET status = '{QUEUED}', lease_until = NULL WHERE status = '{PROCESSING}' "
                f"AND coalesce(lease_until, 0) < {_DB_NOW} RETURNING file_id").fetchall()
            if rows:
                conn.execute(_NOTIFY)
        if rows:
            log.info("re-queued %d file(s) whose worker stopped renewing its lease", len(rows))
        return len(rows)

    def files_with_status(self, status: str, *, limit: int = 1000) -> list[FileRecord]:
        """Records in ``status``, oldest first."""
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_SELECT} FROM files WHERE status = %s ORDER BY date_created LIMIT %s",
                                [status, limit]).fetchall()
        return [_record(row) for row in rows]

    def pending_uploads(self, *, object_keys: list[str] | None = None, expired_before: float | None = None,
                        limit: int = 1000) -> list[FileRecord]:
        """PENDING_UPLOAD files whose object key is in ``object_keys``, or whose
        upload URL expired before ``expired_before`` (both by index)."""
        with self._conn() as conn:
            if object_keys is not None:
                rows = conn.execute(f"SELECT {_SELECT} FROM files WHERE object_key = ANY(%s) "
                                    f"AND status = '{PENDING_UPLOAD}' LIMIT %s", [object_keys, limit]).fetchall()
            else:
                rows = conn.execute(f"SELECT {_SELECT} FROM files WHERE status = '{PENDING_UPLOAD}' "
                                    "AND expires_at < %s ORDER BY expires_at LIMIT %s",
                                    [expired_before, limit]).fetchall()
        return [_record(row) for row in rows]

    # -- findings ------------------------------------------------------------
    def findings(self, file_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Recorded findings of a file, in line order."""
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(FINDING_COLUMNS)} FROM findings WHERE file_id = %s "
                "ORDER BY line NULLS FIRST, code LIMIT %s", [file_id, limit]).fetchall()
        return [dict(zip(FINDING_COLUMNS, row, strict=True)) for row in rows]

    # -- imported data -----------------------------------------------------
    @staticmethod
    def table_name(workspace_id: str, entity_type: str) -> str:
        """The SQL name of the table holding ``entity_type`` rows of ``workspace_id``."""
        return _table_ident(workspace_id, entity_type)

    def read_table(self, workspace_id: str, entity_type: str) -> TableRows | None:
        """The imported rows, or None if never imported."""
        with self._conn() as conn:
            found = conn.execute("SELECT table_name FROM data_tables WHERE workspace_id = %s AND entity_type = %s",
                                 [workspace_id, entity_type]).fetchone()
            if found is None:
                return None
            cur = conn.execute(f"SELECT * FROM {found[0]}")
            columns = [d.name for d in cur.description]
            return TableRows(columns, cur.fetchall())

    def apply_import(
        self, record: FileRecord, plan: Any, con: duckdb.DuckDBPyConnection, *, clock: Callable[[], float],
        rejected_key: str | None, max_findings: int,
    ) -> FileRecord:
        """Apply ``plan`` and mark the file FINISHED, in one PostgreSQL transaction."""
        with self._conn() as conn, conn.transaction():
            self._lock_processing(conn, record)
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         [f"table:{record.workspace_id}/{record.entity_type}"])
            table = prepare_table(conn, record.workspace_id, record.entity_type, plan,
                                  self.table_name(record.workspace_id, record.entity_type))
            apply_rows(conn, table, plan)
            insert_findings(conn, record.file_id, plan.report, max_findings)
            row = conn.execute(
                f"UPDATE files SET status = '{FINISHED}', successful_count = %s, failure_count = %s, "
                "process_end_time = %s, rejected_key = %s, entity_type = %s, failure_code = NULL, "
                f"failure_message = NULL, lease_until = NULL WHERE file_id = %s RETURNING {_SELECT}",
                [int(plan.successful_count), int(plan.failure_count), clock(), rejected_key, record.entity_type,
                 record.file_id]).fetchone()
            conn.execute(_NOTIFY)  # delivered at commit: the workspace's next file may go
        return _record(row)

    @staticmethod
    def _lock_processing(conn: Any, record: FileRecord) -> None:
        """Row-lock the file if it is still PROCESSING under this claim (its
        attempt number); StateChanged otherwise (then nothing is applied)."""
        found = conn.execute(
            f"SELECT 1 FROM files WHERE file_id = %s AND status = '{PROCESSING}' AND attempts = %s FOR UPDATE",
            [record.file_id, record.attempts]).fetchone()
        if found is None:
            raise StateChanged(f"file {record.file_id} is no longer PROCESSING under this claim")

    def fail_file(
        self, record: FileRecord, *, code: str, message: str, now: float,
        report: Any = None, con: Any = None, max_findings: int = 0,
        rejected_key: str | None = None, failure_count: int = 0,
    ) -> FileRecord:
        """Mark a PROCESSING file FAILED and record its findings, in one transaction."""
        with self._conn() as conn, conn.transaction():
            self._lock_processing(conn, record)
            insert_findings(conn, record.file_id, report, max_findings)
            row = conn.execute(
                f"UPDATE files SET status = '{FAILED}', failure_code = %s, failure_message = %s, "
                "successful_count = 0, failure_count = %s, process_end_time = %s, rejected_key = %s, "
                f"entity_type = %s, lease_until = NULL WHERE file_id = %s RETURNING {_SELECT}",
                [code, message, failure_count, now, rejected_key, record.entity_type, record.file_id]).fetchone()
            conn.execute(_NOTIFY)
        return _record(row)

    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        if not self._closed:
            self._closed = True
            self._pool.close()
            with self._engine_guard:
                if self._engine_db is not None:
                    self._engine_db.close()


def redact_url(url: str) -> str:
    """The URL without its password.

    >>> redact_url("postgresql://u:secret@h/db")
    'postgresql://u:***@h/db'
    """
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, user_pass = head.partition("//")
    user = user_pass.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"
