"""The shape of the import list the app works on, and how to coerce to it.

The app reads import records from ``ImportClient.list_imports()`` (or an
injected DataFrame): one row per file with the columns of ``IMPORT_COLUMNS``.
``normalize_imports`` makes any such frame safe for DuckDB and the charts:
tz-aware UTC datetimes, nullable integer counts, string labels, even when the
list is empty.

    >>> import pandas as pd
    >>> df = normalize_imports(pd.DataFrame({"file_id": ["f_1"], "status": ["FINISHED"]}))
    >>> list(df.columns) == list(IMPORT_COLUMNS), str(df["date_created"].dtype)
    (True, 'datetime64[us, UTC]')
"""

from __future__ import annotations

import pandas as pd

from toolkit.statuses import IN_FLIGHT_STATUSES, STATUSES, TERMINAL_STATUSES

__all__ = [
    "IMPORT_COLUMNS",
    "DATETIME_COLUMNS",
    "COUNT_COLUMNS",
    "STATUSES",
    "TERMINAL_STATUSES",
    "IN_FLIGHT_STATUSES",
    "STATUS_COLORS",
    "STATUS_HEX",
    "normalize_imports",
    "empty_imports",
]

#: Columns of a list_imports frame, in display order.
IMPORT_COLUMNS: tuple[str, ...] = (
    "file_id",
    "file_name",
    "file_type",
    "stream_name",
    "entity_type",
    "date_created",
    "process_start_time",
    "process_end_time",
    "successful_count",
    "failure_count",
    "status",
    "failure_code",
)
DATETIME_COLUMNS: tuple[str, ...] = ("date_created", "process_start_time", "process_end_time")
COUNT_COLUMNS: tuple[str, ...] = ("successful_count", "failure_count")
_TEXT_COLUMNS = tuple(c for c in IMPORT_COLUMNS if c not in DATETIME_COLUMNS + COUNT_COLUMNS)


#: One colour per status: Streamlit badge colours (``st.badge``)...
STATUS_COLORS: dict[str, str] = {
    "PENDING_UPLOAD": "gray",
    "ADDED": "violet",
    "QUEUED": "orange",
    "PROCESSING": "blue",
    "FINISHED": "green",
    "FAILED": "red",
    "DELETED": "gray",
}
#: ... and the same hues as hex, for charts and table labels.
STATUS_HEX: dict[str, str] = {
    "PENDING_UPLOAD": "#9aa4b2",
    "ADDED": "#8e6bd8",
    "QUEUED": "#f0a030",
    "PROCESSING": "#3b82f6",
    "FINISHED": "#2e9e5b",
    "FAILED": "#d64545",
    "DELETED": "#c4c9d0",
}

def empty_imports() -> pd.DataFrame:
    """An empty import list with the right columns and dtypes.

        >>> empty_imports().shape
        (0, 12)
    """
    return normalize_imports(pd.DataFrame(columns=list(IMPORT_COLUMNS)))


def normalize_imports(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly ``IMPORT_COLUMNS`` in canonical dtypes.

    Missing columns are added as nulls, extra columns are kept after them.
    Datetimes become ``datetime64[us, UTC]`` (naive values are taken as UTC,
    numbers as UNIX seconds), counts become ``Int64``, labels ``string``.
    ``failure_code`` is the precise code: ``failure_detail`` where the list
    has one (the imports API's own ``failure_code`` is one of four broad values).

        >>> normalize_imports(pd.DataFrame({"successful_count": [3]}))["successful_count"].dtype
        Int64Dtype()
    """
    out = pd.DataFrame(index=df.index)
    for column in IMPORT_COLUMNS:
        values = df[column] if column in df.columns else pd.Series(pd.NA, index=df.index)
        if column == "failure_code" and "failure_detail" in df.columns:
            # The precise code: the imports API's failure_code is one of four broad values.
            values = df["failure_detail"].where(df["failure_detail"].notna(), values)
        if column in DATETIME_COLUMNS:
            out[column] = _to_utc(values)
        elif column in COUNT_COLUMNS:
            out[column] = pd.to_numeric(values, errors="coerce").astype("Int64")
        else:
            out[column] = values.astype("string")
    extra = [c for c in df.columns if c not in IMPORT_COLUMNS]
    for column in extra:
        out[column] = df[column]
    return out.reset_index(drop=True)


def _to_utc(values: pd.Series) -> pd.Series:
    """Coerce datetimes, ISO strings or UNIX seconds to tz-aware UTC (us)."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        converted = pd.to_datetime(values, unit="s", utc=True, errors="coerce")
    else:
        converted = pd.to_datetime(values, utc=True, errors="coerce", format="mixed")
    return converted.astype("datetime64[us, UTC]")
