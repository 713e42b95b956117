"""Imports: the file list with filters and status labels; select a row to open its detail."""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import session
from toolkit.app_support.aggregations import filter_imports
from toolkit.app_support.detail import delete_control, rejected_rows_download, show_record
from toolkit.app_support.drill import DRILL_KEY
from toolkit.app_support.records import STATUS_HEX, STATUSES
from toolkit.app_support.ui import (
    AUTO_REFRESH_SECONDS,
    auto_refresh_toggle,
    filter_controls,
    selection_key,
    set_filters,
    show_errors,
)

st.title("Imports")

drill = st.session_state.pop(DRILL_KEY, None)
if drill is not None:  # a click on the dashboard: list the imports behind it
    set_filters(drill, key="imports")

top = st.columns([4, 1], vertical_alignment="center")
auto = auto_refresh_toggle(top[0], key="imports.auto")
if top[1].button("Refresh", icon=":material/refresh:"):
    session.refresh_imports()


@st.fragment(run_every=AUTO_REFRESH_SECONDS if auto else None)
def imports_list() -> None:
    if auto:
        session.refresh_imports()  # the point of auto-refresh: the API's list of now
    imports = None
    with show_errors("Loading the import list"):
        imports = session.load_imports()
    if imports is None:
        return
    st.caption(f"{len(imports):,} file{'s' if len(imports) != 1 else ''} visible to this API key"
               + (f" · refreshed every {AUTO_REFRESH_SECONDS} s" if auto else ""))
    filters = filter_controls(imports, key="imports")
    shown = filter_imports(imports, filters)
    event = st.dataframe(
        shown.assign(status=shown["status"].map(lambda status: [status]),  # a one-label list: a coloured pill
                     failure_code=shown["failure_code"].fillna("")),
        hide_index=True,
        # Fits 1280 px with the sidebar open: the entity is a filter above, the file id is in the detail.
        column_order=["status", "file_name", "stream_name", "date_created", "successful_count", "failure_count",
                      "failure_code"],
        column_config={
            "status": st.column_config.MultiselectColumn(
                "Status", options=list(STATUSES), color=[STATUS_HEX[s] + "55" for s in STATUSES], width=95),
            "file_name": st.column_config.TextColumn("File", width=160),
            "stream_name": st.column_config.TextColumn("Workspace", width=95),
            "date_created": st.column_config.DatetimeColumn("Created (UTC)", format="MM-DD HH:mm", width=100),
            "successful_count": st.column_config.NumberColumn("Applied", format="%d", width=70,
                                                              help="Rows applied"),
            "failure_count": st.column_config.NumberColumn(
                "Not applied", format="%d", width=80,
                help="Rows rejected by a finished import; every row of a failed file"),
            "failure_code": st.column_config.TextColumn("Failure code", width=130),
        },
        on_select="rerun",
        selection_mode="single-row",
        # A new filter is a new table: a selection never points at another file.
        key=selection_key("imports.table", filters),
    )
    st.caption(f"{len(shown):,} of {len(imports):,} files match. Select a row to open its detail.")

    rows = event.selection.rows if event is not None else []
    if not rows or rows[0] >= len(shown):
        if shown.empty:
            st.info("No file matches these filters.")
        return
    file_id = str(shown.iloc[rows[0]]["file_id"])
    record = client = None
    with show_errors(f"Loading file {file_id}"):
        client = session.get_client()
        record = client.status(file_id)
    if record is not None:
        with st.container(border=True):
            show_record(record)
            rejected_rows_download(client, record, key=f"rejected.{file_id}")
            if delete_control(client, record, key=f"delete.{file_id}") is not None:
                session.refresh_imports()


imports_list()
