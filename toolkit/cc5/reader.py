"""open_cc5(): a cc5 file as typed DuckDB relations and pandas frames."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.cc5.engine import Scan
from toolkit.cc5.header import Header, check_path, scan_head
from toolkit.cc5.report import ValidationReport
from toolkit.cc5.source import LINE_SCHEMA, ProgressArg, connect, line_batches
from toolkit.cc5.validate import run_validation
from toolkit.errors import Cc5Error

__all__ = ["Cc5File", "open_cc5"]


class Cc5File:
    """An open cc5 file: header, typed data rows, delete rows, profile, validation.

    Data relations follow the 03 row: ``int`` -> BIGINT, ``number`` -> DOUBLE,
    ``bool`` -> BOOLEAN, ``date`` -> TIMESTAMP, ``array`` -> VARCHAR[],
    ``object``/``list`` -> JSON, ``string`` -> VARCHAR; escapes decoded; an
    empty value, or a value that is not valid for its type, is NULL (see
    :meth:`validate` for what is wrong). Rows are in file order; only rows
    before the 99 footer are read.
    """

    def __init__(self, path: str | os.PathLike[str], con: duckdb.DuckDBPyConnection | None = None,
                 *, progress: ProgressArg = None) -> None:
        check_path(path)
        self.path = str(path)
        self._owns = con is None
        self.con = connect() if con is None else con
        self._progress = progress
        self._head = scan_head(path)
        self.header: Header = self._head.header
        if self._head.empty:
            raise Cc5Error("the file is empty", file=self.path)
        if self._head.refused:
            raise Cc5Error(self._head.findings[0].message, file=self.path)
        if not self.header.fields:
            raise Cc5Error("the file has no 03 row defining its fields; run `toolkit validate` for details",
                           file=self.path)
        self._scan = Scan(path, self.con, head=self._head)
        self._report: ValidationReport | None = None

    # --------------------------------------------------------------- relations
    @property
    def data(self) -> duckdb.DuckDBPyRelation:
        """The 10 rows as a relation: one typed column per field, file order."""
        return self.con.sql(self._scan.data_sql(row_type="10", with_line=False))

    @property
    def data_with_lines(self) -> duckdb.DuckDBPyRelation:
        """Like :attr:`data` with a first column ``_line``: the row's line in the file."""
        return self.con.sql(self._scan.data_sql(row_type="10", with_line=True))

    @property
    def deletes(self) -> duckdb.DuckDBPyRelation:
        """The 90 rows as a relation: one typed column per key, file order."""
        return self.con.sql(self._scan.data_sql(row_type="90", with_line=False))

    def to_pandas(self, limit: int | None = None, *, lines: bool = False) -> pd.DataFrame:
        """The data rows as a DataFrame; ``limit`` reads only the first rows (fast on big files)."""
        if limit is None:
            rel = self.data_with_lines if lines else self.data
            return rel.df()
        return self.head(limit, lines=lines)

    def head(self, n: int = 10, *, lines: bool = True) -> pd.DataFrame:
        """The first ``n`` data rows, typed, reading only the start of the file."""
        scan = self._scan
        if scan._lines is not None:
            rel = self.con.sql(scan.data_sql(row_type="10", with_line=True) + f" LIMIT {int(n)}")
        else:
            batches = []
            seen = 0
            for batch in line_batches(self.path, chunk=1 << 20):
                batches.append(batch)
                seen += pc.sum(pc.starts_with(batch.column(1), "10|")).as_py() or 0
                if seen >= n:
                    break
            table = pa.Table.from_batches(batches, schema=LINE_SCHEMA)
            view = scan.name("head")
            self.con.register(view, table)
            scan._registered.append(view)
            # the footer bounds the data; in the first lines it is found in the same table
            footer = self.con.execute(
                f"SELECT min(line) FROM {view} WHERE (raw = '99' OR starts_with(raw, '99|')) "
                f"AND line NOT IN {scan._header_lines_sql()}"
            ).fetchall()[0][0]
            sql = scan.data_sql_from(view, row_type="10", with_line=True, footer=footer)
            rel = self.con.sql(sql + f" LIMIT {int(n)}")
        df = rel.df()
        if not lines:
            df = df.drop(columns=["_line"])
        return df

    def profile(self, *, top: int = 5) -> pd.DataFrame:
        """Per field: type, rows, nulls, distinct, min, max and the top values."""
        from toolkit.cc5.profile import profile_relation

        return profile_relation(self.con, self.data, self.header.fields, top=top)

    # -------------------------------------------------------------- validation
    def validate(self, *, expected_workspace: str | None = None) -> ValidationReport:
        """The validation report of this file (computed once, on this file's connection)."""
        if self._report is None:
            self._report = run_validation(self.path, self.con, expected_workspace=expected_workspace,
                                          progress=self._progress, owns_connection=False)
        return self._report

    # ----------------------------------------------------------------- cleanup
    def close(self) -> None:
        try:
            self._scan.close()
            if self._report is not None:
                self._report._scan.close()
        finally:
            if self._owns:
                try:
                    self.con.close()
                except Exception:  # noqa: BLE001
                    pass

    def __enter__(self) -> "Cc5File":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        h = self.header
        return f"<Cc5File {self.path} entity={h.entity_type} workspace={h.workspace_id} fields={len(h.fields)}>"


def open_cc5(path: str | os.PathLike[str], *, con: duckdb.DuckDBPyConnection | None = None,
             progress: ProgressArg = None) -> Cc5File:
    """Open a cc5 file: header, typed data relation, delete rows, pandas, profile.

    Raises :class:`Cc5Error` when the file is missing, empty, or has no 03
    row (its columns cannot be known). Other problems do not raise: see
    :meth:`Cc5File.validate`.
    """
    return Cc5File(path, con, progress=progress)
