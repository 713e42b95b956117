"""DuckDB aggregations behind the Imports list and the Dashboard.

Everything here is plain Python over a list_imports-shaped DataFrame (see
``records.IMPORT_COLUMNS``): no Streamlit, so the numbers are unit-tested on
their own and the pages only draw them. Filters become one SQL ``WHERE``
clause with bound parameters, shared by every query.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"file_id": ["f_1", "f_2"], "stream_name": ["ws-eu", "ws-us"],
    ...                    "status": ["FINISHED", "FAILED"], "failure_code": [None, "BAD_HEADER"],
    ...                    "successful_count": [10, 0], "failure_count": [1, 0]})
    >>> data = dashboard_data(df)
    >>> data.kpis.imports, data.kpis.failed, data.kpis.failure_rate
    (2, 1, 0.5)
    >>> len(filter_imports(df, ImportFilters(workspaces=("ws-eu",))))
    1
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from toolkit.app_support.records import DATETIME_COLUMNS, IN_FLIGHT_STATUSES, normalize_imports

__all__ = [
    "ImportFilters",
    "Kpis",
    "DashboardData",
    "filter_imports",
    "filter_options",
    "dashboard_data",
    "time_bucket_for",
]

_IN_FLIGHT_SQL = ", ".join(f"'{s}'" for s in sorted(IN_FLIGHT_STATUSES))
_PROCESSING_SECONDS = "epoch(process_end_time) - epoch(process_start_time)"
#: What the dashboard aggregates read (not the file ids and names).
_AGGREGATED_COLUMNS = ("stream_name", "status", "entity_type", "failure_code", *DATETIME_COLUMNS,
                       "successful_count", "failure_count")


@dataclass(frozen=True)
class ImportFilters:
    """What the user narrowed the import list to; empty means "all".

    ``created_from``/``created_to`` are whole UTC days, both inclusive.

        >>> ImportFilters(statuses=("FAILED",)).is_empty()
        False
    """

    workspaces: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    entity_types: tuple[str, ...] = ()
    failure_codes: tuple[str, ...] = ()
    created_from: dt.date | None = None
    created_to: dt.date | None = None

    def is_empty(self) -> bool:
        """True when no filter is set."""
        return self == ImportFilters()

    def where(self) -> tuple[str, dict[str, Any]]:
        """The SQL condition and its named parameters.

            >>> ImportFilters(workspaces=("ws-eu",)).where()
            ('stream_name IN (SELECT unnest($workspaces))', {'workspaces': ['ws-eu']})
        """
        clauses: list[str] = []
        params: dict[str, Any] = {}
        for name, column, values in (
            ("workspaces", "stream_name", self.workspaces),
            ("statuses", "status", self.statuses),
            ("entity_types", "entity_type", self.entity_types),
            ("failure_codes", "failure_code", self.failure_codes),
        ):
            if values:
                clauses.append(f"{column} IN (SELECT unnest(${name}))")
                params[name] = list(values)
        if self.created_from is not None:
            clauses.append("date_created >= $created_from")
            params["created_from"] = _utc_midnight(self.created_from)
        if self.created_to is not None:
            clauses.append("date_created < $created_to")
            params["created_to"] = _utc_midnight(self.created_to + dt.timedelta(days=1))
        return (" AND ".join(clauses) or "TRUE"), params


@dataclass(frozen=True)
class Kpis:
    """Headline numbers of the dashboard, over the filtered imports."""

    imports: int = 0
    finished: int = 0
    failed: int = 0
    in_flight: int = 0
    rows_succeeded: int = 0
    rows_rejected: int = 0
    rows_of_failed_files: int = 0
    median_processing_s: float | None = None
    p95_processing_s: float | None = None

    @property
    def rows_not_applied(self) -> int:
        """Rows rejected by finished imports plus every row of failed files.

            >>> Kpis(rows_rejected=3, rows_of_failed_files=2000).rows_not_applied
            2003
        """
        return self.rows_rejected + self.rows_of_failed_files

    @property
    def failure_rate(self) -> float | None:
        """FAILED over ended (FINISHED + FAILED) imports; None before any ended."""
        ended = self.finished + self.failed
        return self.failed / ended if ended else None


@dataclass(frozen=True)
class DashboardData:
    """Every aggregate the dashboard draws, computed in one DuckDB pass."""

    kpis: Kpis
    bucket: str
    status_by_workspace: pd.DataFrame = field(repr=False)
    failures_by_workspace: pd.DataFrame = field(repr=False)
    over_time: pd.DataFrame = field(repr=False)
    rows_over_time: pd.DataFrame = field(repr=False)
    processing_histogram: pd.DataFrame = field(repr=False)


def filter_imports(df: pd.DataFrame, filters: ImportFilters = ImportFilters()) -> pd.DataFrame:
    """The imports matching ``filters``, newest first.

        >>> filter_imports(pd.DataFrame({"file_id": ["f_1"], "status": ["FAILED"]}),
        ...                ImportFilters(statuses=("FINISHED",))).empty
        True
    """
    with _connect(df) as con:
        where, params = filters.where()
        return _query(
            con,
            f"SELECT * FROM imports WHERE {where} ORDER BY date_created DESC NULLS LAST, file_id",
            params,
        )


def filter_options(df: pd.DataFrame) -> dict[str, list[str]]:
    """Distinct workspaces, statuses and entity types present in ``df``.

        >>> filter_options(pd.DataFrame({"stream_name": ["b", "a", "b"]}))["workspaces"]
        ['a', 'b']
    """
    df = normalize_imports(df)
    return {
        key: sorted(df[column].dropna().unique().tolist())
        for key, column in (
            ("workspaces", "stream_name"),
            ("statuses", "status"),
            ("entity_types", "entity_type"),
            ("failure_codes", "failure_code"),
        )
    }


def time_bucket_for(span: dt.timedelta) -> str:
    """The DuckDB ``date_trunc`` part that gives a readable time axis.

    A history of weeks is drawn per day; a fresh demo store, whose imports
    all happened in the last minute, per second, so it is not a single bar.

        >>> time_bucket_for(dt.timedelta(days=30)), time_bucket_for(dt.timedelta(seconds=40))
        ('day', 'second')
    """
    if span >= dt.timedelta(days=2):
        return "day"
    if span >= dt.timedelta(hours=3):
        return "hour"
    if span >= dt.timedelta(minutes=10):
        return "minute"
    return "second"


def dashboard_data(df: pd.DataFrame, filters: ImportFilters = ImportFilters()) -> DashboardData:
    """Aggregate the imports matching ``filters`` for the dashboard.

        >>> dashboard_data(pd.DataFrame()).kpis.imports
        0
    """
    with _connect(df, columns=_AGGREGATED_COLUMNS) as con:
        where, params = filters.where()
        # A table, not a view: filtered once, read by every query below (and views
        # cannot take bound parameters). Only the columns the aggregates read,
        # and times as plain UTC timestamps: date_trunc on TIMESTAMPTZ goes
        # through the time-zone calendar, 3x slower at a million rows.
        con.execute(
            "CREATE TEMP TABLE f AS SELECT * REPLACE ("
            + ", ".join(f"{c}::TIMESTAMP AS {c}" for c in DATETIME_COLUMNS)
            + f") FROM imports WHERE {where}",
            params,
        )
        kpis = _kpis(con)
        (span,) = _one(con, "SELECT max(date_created) - min(date_created) FROM f")
        bucket = time_bucket_for(span if isinstance(span, dt.timedelta) else dt.timedelta(0))
        return DashboardData(
            kpis=kpis,
            bucket=bucket,
            status_by_workspace=_query(
                con,
                "SELECT coalesce(stream_name, '(none)') AS workspace, status, count(*) AS imports"
                " FROM f GROUP BY ALL ORDER BY workspace, status",
            ),
            failures_by_workspace=_query(
                con,
                "SELECT coalesce(stream_name, '(none)') AS workspace,"
                " coalesce(failure_code, '(no code)') AS failure_code, count(*) AS imports"
                " FROM f WHERE status = 'FAILED' GROUP BY ALL ORDER BY workspace, failure_code",
            ),
            over_time=_every_period(
                con, bucket,
                f"SELECT date_trunc('{bucket}', date_created) AS period, count(*) AS imports,"
                " count(*) FILTER (status = 'FAILED') AS failed,"
                " count(*) FILTER (status IN ('FINISHED', 'FAILED')) AS ended"
                " FROM f WHERE date_created IS NOT NULL GROUP BY period",
                "coalesce(imports, 0) AS imports, coalesce(failed, 0) AS failed, coalesce(ended, 0) AS ended,"
                " failed / nullif(ended, 0) AS failure_rate",
            ),
            rows_over_time=_every_period(
                con, bucket,
                f"SELECT date_trunc('{bucket}', coalesce(process_end_time, date_created)) AS period,"
                " sum(successful_count) FILTER (status = 'FINISHED') AS rows_succeeded,"
                " sum(failure_count) FILTER (status = 'FINISHED') AS rows_rejected,"
                " sum(failure_count) FILTER (status = 'FAILED') AS rows_of_failed_files"
                " FROM f WHERE status IN ('FINISHED', 'FAILED') AND period IS NOT NULL GROUP BY period",
                "coalesce(rows_succeeded, 0)::BIGINT AS rows_succeeded,"
                " coalesce(rows_rejected, 0)::BIGINT AS rows_rejected,"
                " coalesce(rows_of_failed_files, 0)::BIGINT AS rows_of_failed_files",
            ),
            processing_histogram=_processing_histogram(con),
        )


def _every_period(con: duckdb.DuckDBPyConnection, bucket: str, grouped: str, columns: str) -> pd.DataFrame:
    """``grouped`` (one row per ``period`` that has data) with a row for every period in between.

    A period without imports is a row of zeros (and a null rate), so a chart
    shows the gap instead of drawing a line straight across it.
    """
    return _query(
        con,
        f"WITH g AS ({grouped}),"
        " span AS (SELECT min(period) AS low, max(period) AS high FROM g),"
        f" periods AS (SELECT unnest(generate_series(low, high, INTERVAL 1 {bucket})) AS period"
        "  FROM span WHERE low IS NOT NULL)"
        f" SELECT period::TIMESTAMPTZ AS period, {columns} FROM periods LEFT JOIN g USING (period)"
        " ORDER BY period",
    )


def _kpis(con: duckdb.DuckDBPyConnection) -> Kpis:
    row = _one(
        con,
        "SELECT count(*), count(*) FILTER (status = 'FINISHED'),"
        " count(*) FILTER (status = 'FAILED'),"
        f" count(*) FILTER (status IN ({_IN_FLIGHT_SQL})),"
        " coalesce(sum(successful_count) FILTER (status = 'FINISHED'), 0)::BIGINT,"
        " coalesce(sum(failure_count) FILTER (status = 'FINISHED'), 0)::BIGINT,"
        " coalesce(sum(failure_count) FILTER (status = 'FAILED'), 0)::BIGINT,"
        f" median({_PROCESSING_SECONDS}), quantile_cont({_PROCESSING_SECONDS}, 0.95)"
        " FROM f",
    )
    return Kpis(
        imports=int(row[0]),
        finished=int(row[1]),
        failed=int(row[2]),
        in_flight=int(row[3]),
        rows_succeeded=int(row[4]),
        rows_rejected=int(row[5]),
        rows_of_failed_files=int(row[6]),
        median_processing_s=None if row[7] is None else float(row[7]),
        p95_processing_s=None if row[8] is None else float(row[8]),
    )


def _processing_histogram(con: duckdb.DuckDBPyConnection, bins: int = 30) -> pd.DataFrame:
    """Processing seconds of ended imports in ``bins`` equal-width bins.

    The last bin also holds everything slower than the 99th percentile.

    Binned in DuckDB so that 100k imports draw as 30 bars, not 100k points.
    """
    con.execute(
        f"CREATE TEMP VIEW p AS SELECT {_PROCESSING_SECONDS} AS seconds, status FROM f"
        " WHERE status IN ('FINISHED', 'FAILED') AND process_start_time IS NOT NULL"
        " AND process_end_time IS NOT NULL"
    )
    # Up to the 99th percentile; slower imports land in the last bin, so one
    # outlier does not squeeze every other bar into the first bin.
    low, high = _one(con, "SELECT min(seconds), quantile_cont(seconds, 0.99) FROM p")
    if low is None:
        return pd.DataFrame({"seconds_from": [], "seconds_to": [], "status": [], "imports": []})
    width = (high - low) / bins or 1.0
    return _query(
        con,
        "SELECT $low + b * $width AS seconds_from, $low + (b + 1) * $width AS seconds_to,"
        " status, count(*) AS imports FROM"
        " (SELECT least(floor((seconds - $low) / $width), $last)::INTEGER AS b, status FROM p)"
        " GROUP BY b, status ORDER BY b, status",
        {"low": float(low), "width": float(width), "last": bins - 1},
    )


class _connect:
    """A private in-memory DuckDB connection with ``imports`` registered (UTC).

    With ``columns``, only those are registered, as an Arrow table: DuckDB
    scans Arrow 3x faster than a pandas frame of nullable columns.
    """

    def __init__(self, df: pd.DataFrame, columns: tuple[str, ...] | None = None) -> None:
        df = normalize_imports(df)
        self._data: Any = df if columns is None else pa.Table.from_pandas(df[list(columns)], preserve_index=False)

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self._con = duckdb.connect()
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET preserve_insertion_order = false")  # every query that needs an order says so
        self._con.register("imports", self._data)
        return self._con

    def __exit__(self, *exc: object) -> None:
        self._con.close()


def _query(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pd.DataFrame:
    # Through Arrow: DuckDB's own .df() trips pandas 3 deprecation warnings.
    return con.sql(sql, params=params or None).to_arrow_table().to_pandas()


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, ...]:
    # fetchall(), not fetchone(): DuckDB 2 keeps a half-read result open.
    return con.execute(sql).fetchall()[0]


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)
