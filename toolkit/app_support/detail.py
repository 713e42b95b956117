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

__all__ = ["timeline_rows", "show_record", "failure_explanation", "rejected_rows_download", "delete_control"]


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


def failure_explanation(record: Any) -> str:
    """What a FAILED (or DELETED) import means, in the user's words: no server path, no command.

        >>> from toolkit.client.result import ImportRecord
        >>> failure_explanation(ImportRecord(file_id="f_1", file_name="c.cc5txt", status="FAILED",
        ...                                  failure_code="FOOTER_COUNT_MISMATCH", failure_count=2000))
        "c.cc5txt failed with FOOTER_COUNT_MISMATCH: the 99 row's count is not a number or differs from the number of 10 and 90 rows. None of its 2,000 rows was applied."
    """
    from toolkit.cc5.codes import FINDING_CODES

    name = record.file_name or record.file_id
    if record.status == "DELETED":
        return f"{name} was deleted before its import finished; nothing of it is kept."
    precise = _precise_code(record)
    code = precise or "no failure code"
    info = FINDING_CODES.get(precise or "")
    meaning = (info.meaning.rstrip(".") if info is not None
               else _SERVICE_FAILURES.get(precise or "", "the service refused the file"))
    meaning = meaning[0].lower() + meaning[1:]
    rows = record.failure_count or 0
    refused = f" None of its {rows:,} rows was applied." if rows else " Nothing was applied."
    return f"{name} failed with {code}: {meaning}.{refused}"


def _precise_code(record: Any) -> str | None:
    """The precise failure code: the imports API's ``failure_code`` is broad, its ``failure_detail`` is not."""
    return getattr(record, "failure_detail", None) or record.failure_code


#: Failure codes the service gives (not findings of the file itself).
_SERVICE_FAILURES: dict[str, str] = {
    "FILE_NOT_UPLOADED": "no uploaded file was found when the import ran",
    "FILE_TOO_LARGE": "the file is over the service's size limit",
    "URL_EXPIRED": "the upload link expired before the file arrived; import the file again",
    "WORKSPACE_MISMATCH": "the file's 01 row names another workspace than the one chosen for the import",
    "SCHEMA_MISMATCH": "the file's keys or field types disagree with the data already imported for this "
                       "workspace and entity type",
    "STORAGE_ERROR": "the service could not read or write its storage; try again",
    "INTERNAL_ERROR": "the service failed unexpectedly; try again",
}


def show_record(record: Any) -> None:
    """Status badge, timeline, counts and failure code of an ``ImportRecord``.

    Counts mean the same everywhere: "rows applied" and "rows not applied"
    (``failure_count``: the rejected rows of a finished import, every row of
    a failed file).
    """
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
    counts[1].metric("Rows not applied", f"{record.failure_count:,}",
                     help="Rows rejected by a finished import; every row of a failed file.")
    with counts[2]:  # a code is too long for a metric's big font
        st.markdown("Failure code")
        code = _precise_code(record)
        st.markdown(f":red-badge[{code}]" if code else "—")
    if record.status in ("FAILED", "DELETED"):
        st.error(failure_explanation(record), icon=":material/error:")
    elif record.status == "FINISHED" and record.failure_count:
        st.warning(f"{record.failure_count:,} rows were rejected; the other {record.successful_count:,} "
                   "were applied.")
    elif record.status == "FINISHED":
        st.success("Every row was applied.")


def rejected_rows_download(client: Any, record: Any, *, key: str) -> None:
    """The rejected rows of an ended import: a table (line, field, value, error) and a CSV download.

    For a failed file they are the rows with errors of their own: the file
    as a whole was refused, so the count can be lower than "rows not applied".
    """
    from toolkit.app_support.drill import rejected_rows_table

    if record.status not in ("FINISHED", "FAILED") or not (record.failure_count or record.status == "FAILED"):
        return
    with show_errors("Fetching the rejected rows"):
        rejected = client.rejected_rows(record.file_id)
        table = rejected_rows_table(rejected)
        if record.status == "FAILED":
            st.markdown(f"**Rows with errors of their own: {len(rejected):,}**")
            if rejected.empty:
                st.caption(f"No row has an error of its own: the file-level error "
                           f"({record.failure_code or 'see above'}) refused all {record.failure_count:,} rows.")
                return
            st.caption("Besides the file-level error that refused the whole file, these rows would be "
                       "rejected on their own.")
        else:
            st.markdown(f"**Rejected rows: {len(rejected):,}**")
            if rejected.empty:
                st.caption("The service lists no rejected row for this import.")
                return
        st.dataframe(table, hide_index=True, key=f"{key}.table", column_config={
            "line": st.column_config.NumberColumn("Line", format="%d", width="small"),
            "code": "Code", "field": "Field", "value": "Value", "error": "Error",
            "raw": st.column_config.TextColumn("Raw line", width="large"),
        })
        st.download_button(
            f"Download {len(rejected):,} rejected rows (CSV)",
            rejected.to_csv(index=False).encode("utf-8"),
            file_name=f"{_stem(record.file_name) or record.file_id}_rejected.csv",
            mime="text/csv",
            key=key,
            icon=":material/download:",
        )


def _stem(name: str | None) -> str:
    return name.rsplit(".", 1)[0] if name else ""


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
