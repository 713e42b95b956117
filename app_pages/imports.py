"""Imports: the file list with filters and status badges, and one file's detail view."""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import session
from toolkit.app_support.aggregations import filter_imports
from toolkit.app_support.detail import delete_control, rejected_rows_download, show_record
from toolkit.app_support.records import STATUS_HEX, STATUSES
from toolkit.app_support.ui import filter_controls, show_errors

MAX_PICKER = 1000

st.title("Imports")

imports = None
with show_errors("Loading the import list"):
    imports = session.load_imports()
if imports is None:
    st.stop()

top = st.columns([4, 1])
top[0].caption(f"{len(imports):,} files visible to this API key · refreshed at most every "
               f"{session.CACHE_TTL_SECONDS} s")
if top[1].button("Refresh", icon=":material/refresh:"):
    session.refresh_imports()
    st.rerun()

filters = filter_controls(imports, key="imports")
shown = filter_imports(imports, filters)
st.dataframe(
    shown.assign(status=shown["status"].map(lambda status: [status]),  # a one-label list: a coloured pill
                 failure_code=shown["failure_code"].fillna("")),
    hide_index=True,
    column_order=["status", "failure_code", "file_name", "stream_name", "entity_type", "date_created",
                  "successful_count", "failure_count", "file_id"],
    column_config={
        "status": st.column_config.MultiselectColumn(
            "Status", options=list(STATUSES), color=[STATUS_HEX[s] + "55" for s in STATUSES]),
        "file_name": "File",
        "stream_name": "Workspace",
        "entity_type": "Entity",
        "date_created": st.column_config.DatetimeColumn("Created (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "successful_count": st.column_config.NumberColumn("Rows applied", format="%d"),
        "failure_count": st.column_config.NumberColumn("Rows rejected", format="%d"),
        "failure_code": "Failure code",
        "file_id": "File id",
    },
    key="imports.table",
)
st.caption(f"{len(shown):,} of {len(imports):,} files match.")

st.subheader("File detail")
if shown.empty:
    st.info("No file matches these filters.")
    st.stop()
picker = shown.head(MAX_PICKER)
labels = dict(zip(picker["file_id"], picker["file_name"].fillna("") + " · " + picker["status"].fillna("")))
file_id = st.selectbox(
    "File", list(labels), format_func=lambda fid: f"{labels[fid]} · {fid}", key="imports.file",
    help=f"The {MAX_PICKER:,} newest matching files; narrow the filters to find older ones.",
)

client = None
record = None
with show_errors(f"Loading file {file_id}"):
    client = session.get_client()
    record = client.status(file_id)
if record is not None:
    with st.container(border=True):
        show_record(record)
        rejected_rows_download(client, record, key=f"rejected.{file_id}")
        if delete_control(client, record, key=f"delete.{file_id}") is not None:
            session.refresh_imports()
