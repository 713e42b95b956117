"""One import's detail view: timeline, counts, failure code, rejected rows, delete.

Shared by the Imports page and the result of an import on Validate & import.

    >>> timeline_rows(None, None, None)[0]
    ('Created', None, None)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from toolkit.app_support.ui import format_seconds, show_errors, status_badge

__all__ = ["timeline_rows", "show_record", "rejected_rows_download", "delete_control"]


def timeline_rows(
    created: dt.datetime | None, started: dt.datetime | None, ended: dt.datetime | None
) -> list[tuple[str, dt.datetime | None, float | None]]:
    """(step, time, seconds since the previous step) for created → processing → finished.

        >>> t0 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.timezone.utc)
        >>> [s for _, _, s in timeline_rows(t0, t0 + dt.timedelta(seconds=2), None)]
        [None, 2.0, None]
    """
    rows: list[tuple[str, dt.datetime | None, float | None]] = []
    previous: dt.datetime | None = None
    for step, moment in (("Created", created), ("Processing", started), ("Finished", ended)):
        gap = (moment - previous).total_seconds() if moment and previous else None
        rows.append((step, moment, gap))
        previous = moment or previous
    return rows


def show_record(record: Any) -> None:
    """Status badge, timeline, counts and failure code of an ``ImportRecord``."""
    from toolkit.client.result import describe_failure

    title = st.columns([3, 1])
    title[0].markdown(f"**{record.file_name or record.file_id}**  \n`{record.file_id}`")
    with title[1]:
        status_badge(record.status)
    st.caption(f"Workspace `{record.stream_name or '—'}` · entity `{record.entity_type or '—'}`")
    steps = st.columns(3)
    for column, (step, moment, gap) in zip(
        steps, timeline_rows(record.date_created, record.process_start_time, record.process_end_time)
    ):
        column.metric(
            f"{step} · {moment:%Y-%m-%d} UTC" if moment else step,
            f"{moment:%H:%M:%S}" if moment else "—",
            delta=f"+{format_seconds(gap)}" if gap is not None else None,
            delta_color="off",
            delta_arrow="off",
            delta_description="after the previous step" if gap is not None else None,
        )
    counts = st.columns(3)
    counts[0].metric("Rows applied", f"{record.successful_count:,}")
    counts[1].metric("Rows rejected", f"{record.failure_count:,}")
    with counts[2]:  # a code is too long for a metric's big font
        st.markdown("Failure code")
        st.markdown(f":red-badge[{record.failure_code}]" if record.failure_code else "—")
    if record.status in ("FAILED", "DELETED"):
        st.error(describe_failure(record), icon=":material/error:")
    elif record.status == "FINISHED" and record.failure_count:
        st.warning(f"{record.failure_count:,} rows were rejected; the others were applied.")
    elif record.status == "FINISHED":
        st.success("Every row was applied.")


def rejected_rows_download(client: Any, record: Any, *, key: str) -> None:
    """A download button with the service's rejected-rows CSV of ``record``."""
    if not (record.failure_count or record.status == "FAILED"):
        return
    with show_errors("Fetching the rejected rows"):
        rejected = client.rejected_rows(record.file_id)
        if rejected.empty:
            st.caption("The service has no rejected rows for this file.")
            return
        st.download_button(
            f"Download {len(rejected):,} rejected rows (CSV)",
            rejected.to_csv(index=False).encode("utf-8"),
            file_name=f"{record.file_id}_rejected.csv",
            mime="text/csv",
            key=key,
            icon=":material/download:",
        )


def delete_control(client: Any, record: Any, *, key: str) -> Any | None:
    """A guarded delete button; returns the DELETED record once deleted."""
    if record.status == "DELETED":
        return None
    confirm = st.checkbox("I want to delete this file", key=f"{key}.confirm")
    if st.button("Delete file", key=key, disabled=not confirm, icon=":material/delete:", type="secondary"):
        with show_errors(f"Deleting {record.file_id}"):
            deleted = client.delete(record.file_id)
            st.success(f"{record.file_id} is now {deleted.status}.")
            return deleted
    return None
