"""The PostgreSQL store's schema as versioned migrations, applied by the
service itself when it opens the store.

``schema_version`` holds one row per applied migration. Starters (API
instances, workers) that open the store at the same time are serialised by a
session-level advisory lock, so each migration runs exactly once, in its own
transaction. A migration is never edited once released: changes are a new
entry at the end of ``MIGRATIONS``.

    >>> [version for version, _ in MIGRATIONS][:1]
    [1]
"""

from __future__ import annotations

from typing import Any

__all__ = ["MIGRATIONS", "migrate", "CLAIM_LOCK", "MIGRATION_LOCK"]

# Advisory lock ids (any constant 64-bit numbers; they only need to differ).
MIGRATION_LOCK = 0x746B_6D69_6772  # "tkmigr"
CLAIM_LOCK = 0x746B_636C_6169  # "tkclai"

_FILES = """
CREATE TABLE files (
    file_id text PRIMARY KEY, api text, workspace_id text NOT NULL, file_name text, object_key text,
    file_path text, status text NOT NULL, date_created double precision NOT NULL, expires_at double precision,
    bucket_id text, entity_type text, file_type text, folder text, category text, tags text, metadata text,
    action_id text, description text, failure_code text, failure_message text,
    successful_count bigint, failure_count bigint, size bigint, uploaded_at double precision,
    queued_at double precision, process_start_time double precision, process_end_time double precision,
    rejected_key text, attempts integer NOT NULL DEFAULT 0,
    lease_until double precision
)"""

# Totals of listings without a created range come from these counters (kept
# by a trigger), so the dashboard's "N files" never counts 100,000 rows.
_COUNTS = """
CREATE TABLE file_counts (
    workspace_id text NOT NULL, status text NOT NULL, n bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, status)
)"""

# Counter rows are locked in one order (workspace, status), so two
# transitions in opposite directions never deadlock.
_COUNT_ADD = """
CREATE FUNCTION files_count_add(ws text, st text, delta bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO file_counts AS c (workspace_id, status, n) VALUES (ws, st, delta)
    ON CONFLICT (workspace_id, status) DO UPDATE SET n = c.n + delta
$$"""

_COUNT_TRIGGER = """
CREATE FUNCTION files_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM files_count_add(NEW.workspace_id, NEW.status, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM files_count_add(OLD.workspace_id, OLD.status, -1);
    ELSIF (OLD.workspace_id, OLD.status) IS DISTINCT FROM (NEW.workspace_id, NEW.status) THEN
        IF (OLD.workspace_id, OLD.status) < (NEW.workspace_id, NEW.status) THEN
            PERFORM files_count_add(OLD.workspace_id, OLD.status, -1);
            PERFORM files_count_add(NEW.workspace_id, NEW.status, 1);
        ELSE
            PERFORM files_count_add(NEW.workspace_id, NEW.status, 1);
            PERFORM files_count_add(OLD.workspace_id, OLD.status, -1);
        END IF;
    END IF;
    RETURN NULL;
END $$"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        _FILES,
        # listings: newest first, overall, per workspace, per status
        "CREATE INDEX files_created ON files (date_created DESC, file_id DESC)",
        "CREATE INDEX files_workspace_created ON files (workspace_id, date_created DESC, file_id DESC)",
        "CREATE INDEX files_status_created ON files (status, date_created DESC, file_id DESC)",
        # the queue, the running imports, the upload watcher
        "CREATE INDEX files_queued ON files (workspace_id, queued_at, date_created, file_id) WHERE status = 'QUEUED'",
        "CREATE INDEX files_processing ON files (workspace_id) WHERE status = 'PROCESSING'",
        "CREATE INDEX files_pending_key ON files (object_key) WHERE status = 'PENDING_UPLOAD'",
        "CREATE INDEX files_pending_expiry ON files (expires_at) WHERE status = 'PENDING_UPLOAD'",
        "CREATE TABLE findings (file_id text NOT NULL, line bigint, code text, severity text, level text, "
        "field text, value text, message text)",
        "CREATE INDEX findings_file ON findings (file_id, line)",
        "CREATE TABLE data_tables (workspace_id text NOT NULL, entity_type text NOT NULL, table_name text NOT NULL, "
        "key_fields text NOT NULL, created_at double precision, PRIMARY KEY (workspace_id, entity_type))",
        "CREATE SCHEMA IF NOT EXISTS data",
        _COUNTS,
        _COUNT_ADD,
        _COUNT_TRIGGER,
        "CREATE TRIGGER files_count AFTER INSERT OR DELETE OR UPDATE OF status, workspace_id ON files "
        "FOR EACH ROW EXECUTE FUNCTION files_count()",
    ]),
]


def migrate(conn: Any) -> list[int]:
    """Apply the migrations ``conn``'s database lacks; returns their versions.

    ``conn`` is a psycopg connection in autocommit mode.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        current = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        applied = []
        for version, statements in MIGRATIONS:
            if version <= current:
                continue
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", [version])
            applied.append(version)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
