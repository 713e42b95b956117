"""validate(): every finding of a cc5 file, with its line, field and value."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from toolkit.cc5.engine import Scan
from toolkit.cc5.findings import Finding, findings_to_arrow, make_finding, quote_value
from toolkit.cc5.header import check_path, scan_head
from toolkit.cc5.report import ValidationReport
from toolkit.cc5.source import (
    DEFAULT_MEMORY_LIMIT,
    Progress,
    ProgressArg,
    connect,
    registered,
)
from toolkit.cc5.values import INVALID_WHAT, lit
from toolkit.errors import Cc5Error

__all__ = ["validate", "run_validation"]


def _insert(con: duckdb.DuckDBPyConnection, table: str, findings: list[Finding]) -> None:
    if findings:
        with registered(con, findings_to_arrow(findings)) as view:
            con.execute(f"INSERT INTO {table} SELECT * FROM {view}")


def _quote_sql(v: str) -> str:
    return f"'''' || CASE WHEN length({v}) > 60 THEN left({v}, 60) || '…' ELSE {v} END || ''''"


def run_validation(
    path: str | os.PathLike[str],
    con: duckdb.DuckDBPyConnection,
    *,
    expected_workspace: str | None = None,
    max_bytes: int | None = None,
    progress: ProgressArg = None,
    owns_connection: bool = False,
    keep_typed: bool = False,
) -> ValidationReport:
    """Validate ``path`` on ``con``; the report's tables live on ``con``.

    ``keep_typed``: keep each accepted 10 row's typed values in the per-line
    table (``plan_import`` applies them from there).
    """
    p = check_path(path)
    label = str(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise Cc5Error(f"cannot read: {exc.strerror or exc}", file=label) from None
    bar = Progress(progress, f"validate {p.name}", size)
    try:
        return _run(p, label, con, bar, expected_workspace, max_bytes, owns_connection, keep_typed)
    finally:
        bar.close()


def _run(p: Path, label: str, con: duckdb.DuckDBPyConnection, bar: Progress, expected_workspace: str | None,
         max_bytes: int | None, owns_connection: bool, keep_typed: bool) -> ValidationReport:
    size = bar.total

    if max_bytes is not None and size > max_bytes:
        # checked before any parsing: no header, no rows
        from toolkit.cc5.header import Header, HeadScan

        big = make_finding("FILE_TOO_LARGE", None, f"the file has {size} bytes, more than the {max_bytes} allowed",
                           value=str(size), file=label)
        head = HeadScan(Header(findings=(big,)), [big], [], True, False, size)
        scan = Scan(p, con, head=head, label=label, progress=bar)
        table = _findings_table(scan)
        _insert(con, table, [big])
        return ValidationReport(scan=scan, findings_table=table, data_rows=0, delete_rows=0, rejected_rows=0,
                                owns_connection=owns_connection)

    head = scan_head(p, file_label=label)
    scan = Scan(p, con, head=head, label=label, keep_typed=keep_typed, progress=bar)
    table = _findings_table(scan)
    findings = list(head.findings)
    header = head.header

    if head.stop:  # empty, not text, or a header beyond the limits: the body is not read
        _insert(con, table, findings)
        return ValidationReport(scan=scan, findings_table=table, data_rows=0, delete_rows=0, rejected_rows=0,
                                owns_connection=owns_connection)

    if expected_workspace is not None and header.workspace_id is not None and header.workspace_id != expected_workspace:
        findings.append(make_finding(
            "WORKSPACE_MISMATCH", header.lines[1],
            f"row 01 names workspace {quote_value(header.workspace_id)}, the upload is for "
            f"{quote_value(expected_workspace)}", value=header.workspace_id, file=label))

    rows = scan.build_rows()
    footer = scan.footer_line
    body = scan.body_sql()
    # reserved rows belong between 03 and the first data row; later ones are rejected
    con.execute(f"""
UPDATE {rows} SET errs = [{{'code': 'MISPLACED_ROW', 'field': NULL::VARCHAR, 'value': rt}}]
WHERE rt IN ('04', '05', '06', '07', '08', '09') AND {body}
  AND line > (SELECT min(line) FROM {rows} WHERE rt IN ('10', '90'))
""")
    accepted = f"errs IS NULL AND rt IN ('10', '90') AND {body}"
    data_rows, delete_rows, rejected, accepted_rows, last_line = con.execute(
        f"SELECT count(*) FILTER (WHERE rt = '10' AND {body}), count(*) FILTER (WHERE rt = '90' AND {body}), "
        f"count(*) FILTER (WHERE errs IS NOT NULL AND {body}), count(*) FILTER (WHERE {accepted}), max(line) "
        f"FROM {rows}"
    ).fetchall()[0]
    last_line = max([x for x in (last_line, *head.header_lines) if x is not None] or [0])

    # footer
    if footer is None:
        findings.append(make_finding(
            "MISSING_FOOTER", last_line or None,
            f"there is no 99 footer row (the last line, {last_line}, should be one)" if last_line
            else "there is no 99 footer row", file=label))
    else:
        raw = con.execute(f"SELECT raw FROM {rows} WHERE line = ?", [footer]).fetchall()[0][0] or ""
        values = raw.split("|")[1:]
        count_text = values[0] if values else ""
        expected = data_rows + delete_rows
        if not count_text.isdigit() or not count_text.isascii():
            findings.append(make_finding(
                "FOOTER_COUNT_MISMATCH", footer,
                f"the footer count {quote_value(count_text)} is not a number (the file has {expected} data and delete rows)",
                value=count_text, file=label))
        elif int(count_text) != expected:
            findings.append(make_finding(
                "FOOTER_COUNT_MISMATCH", footer,
                f"the footer says {int(count_text)} rows, the file has {expected} data and delete rows (10 and 90)",
                value=count_text, file=label))
        after_line, after_n = con.execute(
            f"SELECT min(line), count(*) FROM {rows} WHERE line > ? AND (rt IN ('10', '90') OR trim(raw) <> '')",
            [footer],
        ).fetchall()[0]
        if after_n:
            findings.append(make_finding(
                "CONTENT_AFTER_FOOTER", after_line,
                f"{after_n} non-blank line{'s' if after_n != 1 else ''} after the footer on line {footer} "
                "(they are not read)", file=label))
    _insert(con, table, findings)

    # row-level errors, in SQL
    n_fields = len(scan.fields)
    n_keys = len(scan.keys)
    what = " ".join(f"WHEN {lit(code)} THEN {lit(text)}" for code, text in INVALID_WHAT.items())
    con.execute(f"""
INSERT INTO {table}
SELECT e.code, 'error', 'row', line, e.field, e.value,
       CASE e.code
         WHEN 'FIELD_COUNT' THEN CASE rt
              WHEN '10' THEN 'a 10 row needs {n_fields} value{'s' if n_fields != 1 else ''} (one per field), found ' || e.value
              ELSE 'a 90 row needs {n_keys} key value{'s' if n_keys != 1 else ''}, found ' || e.value END
         WHEN 'EMPTY_KEY' THEN 'field ' || e.field || ': the key value is empty'
         WHEN 'MISPLACED_ROW' THEN 'reserved row ' || e.value || ' after the first data row (rows 04-09 belong '
              || 'between 03 and the first 10/90 row)'
         WHEN 'UNKNOWN_ROW_TYPE' THEN CASE WHEN e.value = '' THEN 'empty line (not a 10, 90 or 99 row)'
              ELSE 'unknown row type ' || {_quote_sql('e.value')} END
         ELSE 'field ' || e.field || ': ' || {_quote_sql('e.value')} || ' ' || (CASE e.code {what} END)
       END
FROM (SELECT line, rt, unnest(errs) AS e FROM {rows} WHERE errs IS NOT NULL AND {body})
""")
    # encoding, misplaced header rows, reserved rows (anywhere)
    con.execute(f"""
INSERT INTO {table}
SELECT 'NOT_UTF8', 'error', 'file', line, NULL, NULL,
       CASE WHEN contains(raw, chr(0)) THEN 'the line holds a NUL byte: binary data, not text'
            ELSE 'the line holds bytes that are not UTF-8 (shown as U+FFFD)' END
FROM {rows} WHERE bad_enc
""")
    con.execute(f"""
INSERT INTO {table}
SELECT 'BAD_HEADER', 'error', 'file', line, NULL, rt,
       'row ' || rt || ' is repeated or out of place: header rows 00-03 are the first four lines'
FROM {rows} WHERE rt IN ('00', '01', '02', '03') AND {body}
""")
    con.execute(f"""
INSERT INTO {table}
SELECT 'RESERVED_ROW', 'warning', 'warning', line, NULL, rt, 'reserved row ' || rt || ': ignored'
FROM {rows} WHERE rt IN ('04', '05', '06', '07', '08', '09') AND errs IS NULL AND {body}
""")
    # duplicate keys among accepted rows: the key hashes (8 bytes a row, computed in the pass)
    # are sorted; exact keys are compared only for the hashes that repeat
    keys = [(k, fi) for k, fi in scan.keys]
    dups: str | None = None
    if keys and all(fi is not None for _k, fi in keys):
        kcols = [f"k{j}" for j in range(len(keys))]
        klist = ", ".join(kcols)
        kvalue = " || '|' || ".join(f"CAST({c} AS VARCHAR)" for c in kcols)
        kfields = ",".join(k for k, _ in keys)
        repeated = _repeated_hashes(_fetch_hashes(con, f"SELECT kh FROM {rows} WHERE {accepted}", accepted_rows))
        if len(repeated):
            # the rows of keys that really repeat, with the first and last line of their key
            dups = scan.name("dups")
            with registered(con, pa.table({"kh": repeated})) as dup:
                con.execute(f"""
CREATE TEMP TABLE {dups} AS
SELECT line, {klist}, min(line) OVER (PARTITION BY {klist}) AS first_line,
       max(line) OVER (PARTITION BY {klist}) AS last_line
FROM {rows} WHERE {accepted} AND kh IN (SELECT kh FROM {dup})
""")
            con.execute(f"""
INSERT INTO {table}
SELECT 'DUPLICATE_KEY', 'warning', 'warning', line, {lit(kfields)}, left({kvalue}, 200),
       'key ' || {_quote_sql(kvalue)} || ' is also on line ' || first_line || ' (rows apply in file order: the last one wins)'
FROM {dups} WHERE line > first_line
""")
    bar.finish(int(last_line))
    return ValidationReport(scan=scan, findings_table=table, data_rows=int(data_rows), delete_rows=int(delete_rows),
                            rejected_rows=int(rejected), owns_connection=owns_connection, dups_table=dups)


def _fetch_hashes(con: duckdb.DuckDBPyConnection, sql: str, count: int) -> np.ndarray:
    """The ``count`` key hashes ``sql`` selects, streamed into one array (a fetched result would be held
    twice at the peak: DuckDB's copy and numpy's, 16 bytes a row)."""
    hashes = np.empty(count, dtype=np.uint64)
    filled = 0
    for batch in con.sql(sql).to_arrow_reader(1 << 20):
        column = batch.column(0).to_numpy(zero_copy_only=False)
        hashes[filled:filled + len(column)] = column
        filled += len(column)
    if filled != count:  # the per-line table does not change between the count and this read
        raise RuntimeError(f"expected {count} key hashes, read {filled}")
    return hashes


def _repeated_hashes(hashes: np.ndarray) -> np.ndarray:
    """The values that occur more than once (a sort: cheaper than a hash table of millions of keys)."""
    hashes.sort()  # in place: the fetched array is ours, a sorted copy would add 8 bytes a row to the peak
    return np.unique(hashes[1:][hashes[1:] == hashes[:-1]])


def _findings_table(scan: Scan) -> str:
    table = scan.name("findings")
    scan.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} (code VARCHAR, severity VARCHAR, level VARCHAR, line BIGINT, "
        "field VARCHAR, value VARCHAR, message VARCHAR)"
    )
    return table


def validate(
    path: str | os.PathLike[str],
    *,
    expected_workspace: str | None = None,
    max_bytes: int | None = None,
    progress: ProgressArg = None,
    con: duckdb.DuckDBPyConnection | None = None,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> ValidationReport:
    """Validate a cc5 file: every finding with its code, severity, line, field and value.

    ``expected_workspace``: a 01 row naming another workspace is a
    ``WORKSPACE_MISMATCH``. ``max_bytes``: a larger file is ``FILE_TOO_LARGE``
    (checked before any parsing). ``progress``: ``None`` a tqdm bar (a widget
    in Jupyter; on a terminal or in a notebook only) when the work takes more than a second, ``True`` always,
    ``False`` never, or a :data:`~toolkit.progress.ProgressCallback` receiving
    ``ProgressEvent(stage="validate", done=bytes, total=size, rows=lines seen)``.
    ``con``: run on this DuckDB connection (the report's temp tables live
    there) instead of a private one with ``memory_limit``. A missing file or a
    directory raises :class:`Cc5Error`.

        >>> report = validate("customers.cc5txt", progress=lambda e: print(e.fraction))  # doctest: +SKIP
    """
    check_path(path)
    own = con is None
    connection = con if con is not None else connect(memory_limit=memory_limit)
    try:
        return run_validation(path, connection, expected_workspace=expected_workspace, max_bytes=max_bytes,
                              progress=progress, owns_connection=own)
    except BaseException:
        if own:
            connection.close()
        raise
