"""The validation report: findings held in DuckDB, summaries in Python."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from toolkit.cc5.codes import FINDING_CODES
from toolkit.cc5.findings import Finding
from toolkit.cc5.header import Header
from toolkit.cc5.values import decode_sql, ident

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.cc5.engine import Scan

__all__ = ["ValidationReport", "FINDINGS_COLUMNS"]

FINDINGS_COLUMNS = ["code", "severity", "level", "line", "field", "value", "message"]
_ORDER = "line NULLS FIRST, CASE level WHEN 'file' THEN 0 WHEN 'row' THEN 1 ELSE 2 END, code, field"


class ValidationReport:
    """What :func:`validate` found in one file.

    Findings stay in a DuckDB table (a file with millions of bad rows does not
    fill Python's memory); :attr:`findings` materialises them on first use.
    """

    def __init__(
        self,
        *,
        scan: "Scan",
        findings_table: str,
        data_rows: int,
        delete_rows: int,
        rejected_rows: int,
        owns_connection: bool,
        accepted_rows: int | None = None,
        dups_table: str | None = None,
    ) -> None:
        self._scan = scan
        #: accepted rows whose key repeats (line, keys, first_line, last_line); None when no key repeats
        self._dups_table = dups_table
        self._con = scan.con
        self._table = findings_table
        self.path = scan.label
        head = scan.head
        readable = head is not None and not head.empty and not (head.refused and not any(head.header.lines))
        self.header: Header | None = scan.header if readable else None
        self.data_rows = data_rows
        self.delete_rows = delete_rows
        self.rejected_rows = rejected_rows
        self._owns = owns_connection
        self._accepted_known = accepted_rows
        self._findings: list[Finding] | None = None
        rows = self._con.execute(f"SELECT code, count(*) FROM {self._table} GROUP BY code ORDER BY code").fetchall()
        self.counts: dict[str, int] = {code: int(n) for code, n in rows}

    # ------------------------------------------------------------ summaries
    @property
    def ok(self) -> bool:
        """True when no finding has severity ``error`` (warnings allowed)."""
        return not any(FINDING_CODES[c].severity == "error" for c in self.counts)

    @property
    def importable(self) -> bool:
        """True when no file-level error: the import applies the accepted rows."""
        return not any(FINDING_CODES[c].level == "file" for c in self.counts)

    @property
    def error_count(self) -> int:
        return sum(n for c, n in self.counts.items() if FINDING_CODES[c].severity == "error")

    @property
    def warning_count(self) -> int:
        return sum(n for c, n in self.counts.items() if FINDING_CODES[c].severity == "warning")

    @property
    def accepted_rows(self) -> int:
        """10 and 90 rows that would be applied (0 when the file is not importable)."""
        if not self.importable:
            return 0
        return self._accepted

    @property
    def _accepted(self) -> int:
        if self._accepted_known is not None:
            return self._accepted_known
        if self._scan.rows_table is None:
            return 0
        return int(self._con.execute(
            f"SELECT count(*) FROM {self._scan.rows_table} WHERE errs IS NULL AND rt IN ('10', '90') "
            f"AND {self._scan.body_sql()}"
        ).fetchall()[0][0])

    def summary(self) -> str:
        """One line: counts and verdict."""
        parts = [
            f"{self.data_rows} data row{'s' if self.data_rows != 1 else ''}",
            f"{self.delete_rows} delete row{'s' if self.delete_rows != 1 else ''}",
            f"{self.rejected_rows} rejected",
        ]
        e, w = self.error_count, self.warning_count
        verdict = "OK" if self.ok else ("NOT IMPORTABLE" if not self.importable else "ERRORS")
        tail = f"{e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}"
        return f"{self.path}: {verdict}: {', '.join(parts)}; {tail}"

    def __repr__(self) -> str:
        return f"<ValidationReport {self.summary()}>"

    def _repr_html_(self) -> str:
        """Jupyter: verdict, counts by code and the first findings (``toolkit._html``)."""
        from toolkit._html import report_html

        return report_html(self)

    # ------------------------------------------------------------- findings
    def _rows_to_findings(self, rows: Iterable[tuple[Any, ...]]) -> list[Finding]:
        return [
            Finding(code, sev, level, None if line is None else int(line), field, value, message, self.path)
            for code, sev, level, line, field, value, message in rows
        ]

    @property
    def findings(self) -> list[Finding]:
        """Every finding, in line order (file-level findings without a line first)."""
        if self._findings is None:
            rows = self._con.execute(f"SELECT {', '.join(FINDINGS_COLUMNS)} FROM {self._table} ORDER BY {_ORDER}").fetchall()
            self._findings = self._rows_to_findings(rows)
        return self._findings

    def iter_findings(self, *, code: str | None = None, limit: int | None = None) -> list[Finding]:
        """Findings (of one code), in line order, at most ``limit``."""
        where = "WHERE code = ?" if code else ""
        lim = f"LIMIT {int(limit)}" if limit is not None else ""
        params = [code] if code else []
        rows = self._con.execute(
            f"SELECT {', '.join(FINDINGS_COLUMNS)} FROM {self._table} {where} ORDER BY {_ORDER} {lim}", params
        ).fetchall()
        return self._rows_to_findings(rows)

    @property
    def file_errors(self) -> list[Finding]:
        """The file-level errors (any of them means nothing is imported)."""
        rows = self._con.execute(
            f"SELECT {', '.join(FINDINGS_COLUMNS)} FROM {self._table} WHERE level = 'file' ORDER BY {_ORDER}"
        ).fetchall()
        return self._rows_to_findings(rows)

    def first_lines(self, code: str, n: int = 5) -> list[int]:
        """The first ``n`` line numbers with a finding of ``code``."""
        rows = self._con.execute(
            f"SELECT DISTINCT line FROM {self._table} WHERE code = ? AND line IS NOT NULL ORDER BY line LIMIT {int(n)}",
            [code],
        ).fetchall()
        return [int(r[0]) for r in rows]

    def to_pandas(self) -> pd.DataFrame:
        """All findings as a DataFrame (columns code, severity, level, line, field, value, message)."""
        return self._con.execute(f"SELECT {', '.join(FINDINGS_COLUMNS)} FROM {self._table} ORDER BY {_ORDER}").df()

    def to_dict(self, *, max_findings: int | None = 1000) -> dict[str, Any]:
        """A JSON-able dict (used by ``toolkit validate --json`` and the service).

        ``findings`` holds at most ``max_findings`` findings (None: all);
        ``findings_truncated`` says when some were left out; ``counts`` is complete.
        """
        total = sum(self.counts.values())
        found = self.iter_findings(limit=max_findings)
        return {
            "path": self.path,
            "ok": self.ok,
            "importable": self.importable,
            "summary": self.summary(),
            "header": self.header.to_dict() if self.header is not None else None,
            "data_rows": self.data_rows,
            "delete_rows": self.delete_rows,
            "rejected_rows": self.rejected_rows,
            "counts": dict(self.counts),
            "findings": [f.to_dict() for f in found],
            "findings_truncated": len(found) < total,
        }

    # -------------------------------------------------------------- rejected
    def write_rejected(self, path: str | os.PathLike[str]) -> int:
        """Write the rejected rows as CSV; returns how many.

        Columns: ``line``, ``error`` (every row-level finding of that line,
        ``CODE: message`` joined by ``; ``), one column per field (the row's
        values by position, escapes decoded; for a 90 row the key values) and
        ``raw`` (the line as in the file).
        """
        scan = self._scan
        rows_table = scan.rows_table
        fields = [f.code for f in scan.fields]
        taken = {"line", "error", "row_type", "raw"}
        cols = []
        key_pos = {fi: j for j, (_k, fi) in enumerate(scan.keys) if fi is not None}
        for i, code in enumerate(fields):
            name = code if code.lower() not in taken else f"field_{code}"
            taken.add(name.lower())
            v10 = decode_sql(f"p[{i + 2}]")
            if i in key_pos:
                expr = f"CASE rt WHEN '90' THEN {decode_sql(f'p[{key_pos[i] + 2}]')} WHEN '10' THEN {v10} END"
            else:
                expr = f"CASE WHEN rt = '10' THEN {v10} END"
            cols.append(f"{expr} AS {ident(name)}")
        out = str(path)
        if rows_table is None:
            header_cols = ["line", "error", "row_type", *fields, "raw"]
            with open(out, "w", encoding="utf-8", newline="") as fh:
                fh.write(",".join(header_cols) + "\n")
            return 0
        select_cols = ", ".join(["r.line", "f.error", "r.rt AS row_type", *cols, "r.raw"])
        sql = f"""
COPY (
    SELECT {select_cols}
    FROM (SELECT *, string_split(raw, '|') AS p FROM {rows_table}
          WHERE errs IS NOT NULL AND {scan.body_sql()}) r
    LEFT JOIN (SELECT line, string_agg(code || ': ' || message, '; ' ORDER BY code, field) AS error
               FROM {self._table} WHERE level = 'row' GROUP BY line) f USING (line)
    ORDER BY r.line
) TO '{out.replace("'", "''")}' (FORMAT csv, HEADER true)
"""
        res = self._con.execute(sql).fetchall()[0]
        return int(res[0]) if res else 0

    # --------------------------------------------------------------- cleanup
    def close(self) -> None:
        """Drop the report's temp tables (and its private connection)."""
        try:
            self._scan.close()
        finally:
            if self._owns:
                try:
                    self._con.close()
                except Exception:  # noqa: BLE001
                    pass

    def __enter__(self) -> "ValidationReport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
