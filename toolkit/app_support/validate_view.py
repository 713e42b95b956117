"""What the Validate & import page shows of a prepared file: header card, preview,
profile, findings; and the import step with its live status.

    >>> show_prepared(prepared)                          # doctest: +SKIP
    >>> import_controls(prepared, key="import")          # doctest: +SKIP
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from toolkit.app_support import session
from toolkit.app_support.detail import rejected_rows_download, show_record
from toolkit.app_support.uploads import MAX_FINDINGS_SHOWN, PREVIEW_ROWS, PreparedFile, new_workdir
from toolkit.app_support.ui import show_errors, status_badge

__all__ = [
    "header_card",
    "prepare_once",
    "held_prepared",
    "show_prepared",
    "import_controls",
    "POLL_SECONDS",
    "IMPORT_STATE_KEY",
    "PREPARED_KEY",
]

#: How often the live status asks the API while an import runs.
POLL_SECONDS = 1.0
IMPORT_STATE_KEY = "validate.import"
PREPARED_KEY = "validate.prepared"


def held_prepared(prefix: str) -> tuple[str, PreparedFile] | None:
    """The (upload key, prepared file) held for an upload whose key starts with ``prefix``."""
    held = st.session_state.get(PREPARED_KEY)
    return held if held is not None and held[0].startswith(prefix) else None


def prepare_once(
    upload_key: str, label: str, make: Callable[[Path], PreparedFile]
) -> PreparedFile | None:
    """The prepared file of this upload, made once per upload (reruns reuse it).

    ``make(workdir)`` saves, converts and validates; its errors are shown
    with ``st.error`` (returns None). The previous upload's file is released.
    """
    held = st.session_state.get(PREPARED_KEY)
    if held is not None and held[0] == upload_key:
        return held[1]
    if held is not None:
        held[1].close()
        st.session_state.pop(PREPARED_KEY)
    workdir = new_workdir()
    with st.spinner(f"Validating {label}…"), show_errors(f"Reading {label}"):
        try:
            prepared = make(workdir)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        st.session_state[PREPARED_KEY] = (upload_key, prepared)
        return prepared
    return None


def header_card(header: Any) -> None:
    """Customer, entity, workspace, keys, and the fields with their types."""
    with st.container(border=True):
        if header is None:
            st.error("The header rows (00-03) cannot be read: see the findings below.")
            return
        cols = st.columns(3)
        cols[0].metric("Customer", header.customer or "—")
        cols[1].metric("Entity type", header.entity_type or "—")
        cols[2].metric("Workspace", header.workspace_id or "—")
        keys = ", ".join(f"`{k}`" for k in header.keys) or "—"
        st.markdown(f"**Keys** {keys}")
        created = header.create_time.strftime("%Y-%m-%d %H:%M:%S") if header.create_time else "—"
        st.caption(
            f"Bucket `{header.bucket_id or '—'}` · datasource `{header.datasource or '—'}` · action "
            f"`{header.action or '—'}` · created {created} · reference `{header.reference_id or '—'}`"
        )
        fields = pd.DataFrame(
            [{"field": f.code, "type": f.type, "key": f.code in header.keys} for f in header.fields]
        )
        if not fields.empty:
            st.dataframe(fields, hide_index=True, height=min(35 * (len(fields) + 1) + 3, 300))


def show_prepared(prepared: PreparedFile) -> None:
    """Verdict, header card, preview, profile and findings of a prepared file."""
    report = prepared.report
    summary = f"{report.data_rows:,} data rows, {report.delete_rows:,} delete rows, {report.rejected_rows:,} rejected"
    if report.ok:
        st.success(f"**{prepared.name}** is valid: {summary}.", icon=":material/check_circle:")
    elif report.importable:
        st.warning(f"**{prepared.name}** can be imported, but {report.rejected_rows:,} rows will be rejected "
                   f"({summary}).", icon=":material/warning:")
    else:
        st.error(f"**{prepared.name}** cannot be imported: file-level errors ({summary}).",
                 icon=":material/block:")
    if prepared.source != "cc5":
        st.caption(f"Written as cc5 from the {prepared.source.upper()} table (`write_cc5`), then validated.")
    for problem in prepared.problems:
        st.warning(problem)

    header_card(prepared.header)
    preview_tab, profile_tab, findings_tab = st.tabs(
        [f"Preview (first {PREVIEW_ROWS} rows)", "Profile", f"Findings ({sum(report.counts.values()):,})"]
    )
    with preview_tab:
        if prepared.preview is None:
            st.info("No preview: the header does not define readable fields.")
        else:
            st.dataframe(prepared.preview, hide_index=True)
    with profile_tab:
        if prepared.profile is None:
            st.info("No profile: the header does not define readable fields.")
        else:
            st.dataframe(prepared.profile, hide_index=True)
    with findings_tab:
        _findings(prepared)


def _findings(prepared: PreparedFile) -> None:
    report = prepared.report
    if prepared.findings.empty:
        st.success("No findings.")
    else:
        counts = pd.DataFrame(sorted(report.counts.items()), columns=["code", "findings"])
        st.dataframe(counts, hide_index=True)
        shown = len(prepared.findings)
        total = sum(report.counts.values())
        if shown < total:
            st.caption(f"The first {MAX_FINDINGS_SHOWN:,} of {total:,} findings, in line order.")
        st.dataframe(prepared.findings, hide_index=True, column_config={
            "line": st.column_config.NumberColumn("line", format="%d")})
    if prepared.rejected_count:
        st.download_button(
            f"Download the {prepared.rejected_count:,} rejected rows (CSV)",
            prepared.rejected_csv,
            file_name=f"{prepared.path.stem}_rejected.csv",
            mime="text/csv",
            icon=":material/download:",
            key="validate.rejected",
        )


def import_controls(prepared: PreparedFile, *, upload_id: str) -> None:
    """Workspace and override inputs, the Import button, then the live status.

    ``upload_id`` ties the import to this upload: a new file starts afresh.
    """
    state = st.session_state.get(IMPORT_STATE_KEY)
    if state is not None and state.get("upload_id") != upload_id:
        state = None
        st.session_state.pop(IMPORT_STATE_KEY, None)
    if state is None:
        _import_form(prepared, upload_id)
    else:
        _live_status(state)


def _import_form(prepared: PreparedFile, upload_id: str) -> None:
    header = prepared.header
    cols = st.columns(3)
    workspace = cols[0].text_input("Workspace", value=(header.workspace_id if header else "") or "",
                                   key="validate.workspace")
    entity = cols[1].text_input("Entity type", value=(header.entity_type if header else "") or "",
                                key="validate.entity")
    bucket = cols[2].text_input("Bucket", value=(header.bucket_id if header else "") or "bk-main",
                                key="validate.bucket")
    if header is not None and header.workspace_id and workspace and workspace != header.workspace_id:
        st.warning(f"The file's 01 row names workspace {header.workspace_id!r}: the service will fail "
                   f"it with WORKSPACE_MISMATCH for {workspace!r}.")
    override = False
    if prepared.blocked:
        override = st.checkbox("Import anyway (the service will fail it; useful to test the pipeline)",
                               key="validate.override")
    if not st.button("Import", type="primary", icon=":material/cloud_upload:",
                     disabled=prepared.blocked and not override, key="validate.import_button"):
        if prepared.blocked and not override:
            st.caption("Import is blocked by file-level errors; fix the file or tick the override.")
        return
    record = None
    with show_errors(f"Importing {prepared.name}"):
        client = session.get_client()
        bar = st.progress(0.0, text="Requesting an upload URL…")
        target = client.request_upload(prepared.name, workspace=workspace, entity_type=entity or None,
                                       bucket_id=bucket or None)
        size = prepared.path.stat().st_size
        bar.progress(0.05, text=f"Uploading {size:,} bytes…")
        try:
            client.upload(prepared.path, target, progress=False,
                          on_progress=lambda sent, total: bar.progress(
                              0.05 + 0.9 * sent / max(total, 1), text=f"Uploading… {sent:,} of {total:,} bytes"))
        except BaseException:
            client.discard_pending(target.file_id)  # no file left waiting for an upload that failed
            raise
        bar.progress(0.95, text="Starting the import…")
        record = client.start_import(target)
        bar.progress(1.0, text=f"Uploaded; the import is {record.status}.")
    if record is not None:
        st.session_state[IMPORT_STATE_KEY] = {"upload_id": upload_id, "file_id": record.file_id,
                                              "record": record}
        session.refresh_imports()
        st.rerun()


def _live_status(state: dict[str, Any]) -> None:
    running = not state["record"].is_terminal

    @st.fragment(run_every=POLL_SECONDS if running else None)
    def poll() -> None:
        if running:
            with show_errors(f"Checking file {state['file_id']}"):
                state["record"] = session.get_client().status(state["file_id"])
        record = state["record"]
        if running and record.is_terminal:
            session.refresh_imports()
            st.rerun()  # the whole page: render the result and stop polling
        with st.container(border=True):
            if not record.is_terminal:
                cols = st.columns([1, 5])
                with cols[0]:
                    status_badge(record.status)
                cols[1].caption(f"File `{record.file_id}`: {record.status.lower()}; "
                                f"checking every {POLL_SECONDS:g} s…")
            else:
                show_record(record)
                with show_errors("Connecting to the import API"):
                    rejected_rows_download(session.get_client(), record, key="validate.service_rejected")

    poll()
    if st.button("Import this file again", key="validate.again"):
        st.session_state.pop(IMPORT_STATE_KEY, None)
        st.rerun()
