"""What the Validate & import page shows of a prepared file: header card, preview,
profile, findings; and the import step with its live status.

    >>> show_prepared(prepared)                          # doctest: +SKIP
    >>> import_controls(prepared, key="import")          # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from toolkit.app_support import session
from toolkit.app_support.detail import rejected_rows_download, show_record
from toolkit.app_support.uploads import (
    FIELD_TYPES,
    MAX_FINDINGS_SHOWN,
    PREVIEW_ROWS,
    PreparedFile,
    convert_table,
    new_workdir,
    table_schema,
    upload_path,
)
from toolkit.app_support.ui import show_errors, status_badge
from toolkit.client import ImportOptions
from toolkit.errors import ImportTimeout, ToolkitError
from toolkit.progress import ProgressCallback, ProgressEvent

__all__ = [
    "header_card",
    "prepare_once",
    "conversion_form",
    "held_prepared",
    "release_held",
    "show_prepared",
    "import_controls",
    "POLL_SECONDS",
    "describe_progress",
    "describe_upload",
    "describe_processing",
    "describe_result",
    "ImportProgress",
    "WAIT_IN_PAGE_SECONDS",
    "IMPORT_STATE_KEY",
    "PREPARED_KEY",
]

#: How often the live status asks the API while an import runs on after the page stopped waiting.
POLL_SECONDS = 1.0
#: How long the page waits for the import to end with its bars before the live status takes over.
WAIT_IN_PAGE_SECONDS = 60.0
#: How often the validation bar is redrawn.
PROGRESS_SECONDS = 0.25
IMPORT_STATE_KEY = "validate.import"
PREPARED_KEY = "validate.prepared"
#: The saved CSV/Parquet upload: (upload id, folder, path, column schema).
TABLE_KEY = "validate.table"


def _workdir() -> Path:
    """A working folder for this session's upload (in its upload folder when uploads are spooled)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return new_workdir(context.session_id if context is not None else None)


def release_held() -> None:
    """Delete the working folders of the upload the widget no longer holds (the user removed it)."""
    held = st.session_state.pop(PREPARED_KEY, None)
    if held is not None:
        held[1].close()
    table = st.session_state.pop(TABLE_KEY, None)
    if table is not None:
        shutil.rmtree(table[1], ignore_errors=True)


def held_prepared(prefix: str) -> tuple[str, PreparedFile] | None:
    """The (upload key, prepared file) held for an upload whose key starts with ``prefix``."""
    held = st.session_state.get(PREPARED_KEY)
    return held if held is not None and held[0].startswith(prefix) else None


def prepare_once(
    upload_key: str, label: str, make: Callable[[Path, ProgressCallback], PreparedFile]
) -> PreparedFile | None:
    """The prepared file of this upload, made once per upload (reruns reuse it).

    ``make(workdir, progress)`` saves, converts and validates in a worker
    thread while a progress bar shows the engine's ``ProgressEvent`` s (rows
    and % of the bytes); its errors are shown with ``st.error`` (returns
    None), naming the file by ``label``, never by its path on the server.
    The previous upload's file is released.
    """
    held = st.session_state.get(PREPARED_KEY)
    if held is not None and held[0] == upload_key:
        return held[1]
    if held is not None:
        held[1].close()
        st.session_state.pop(PREPARED_KEY)
    workdir = _workdir()
    latest: dict[str, ProgressEvent] = {}
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["prepared"] = make(workdir, lambda event: latest.__setitem__("event", event))
        except BaseException as exc:  # noqa: BLE001 - handed to the script thread, which shows it
            outcome["error"] = exc

    bar = st.progress(0.0, text=f"Validating {label}…")
    thread = threading.Thread(target=work, name="toolkit-app-validate", daemon=True)
    started = time.monotonic()
    thread.start()
    while thread.is_alive():
        thread.join(PROGRESS_SECONDS)
        fraction, text = describe_progress(latest.get("event"), time.monotonic() - started, label)
        bar.progress(fraction if fraction is not None else 0.0, text=text)
    bar.empty()
    if "error" in outcome:
        shutil.rmtree(workdir, ignore_errors=True)
        with show_errors(f"Reading {label}"):
            raise _in_user_words(outcome["error"], workdir)
        return None
    prepared = outcome["prepared"]
    st.session_state[PREPARED_KEY] = (upload_key, prepared)
    return prepared


def describe_progress(event: ProgressEvent | None, elapsed: float, label: str) -> tuple[float | None, str]:
    """The bar's fraction and text for the latest validation event.

        >>> describe_progress(ProgressEvent("validate", 50_000_000, 200_000_000, rows=400_000), 8.0, "big.cc5txt")
        (0.25, 'Validating big.cc5txt: 25% · 400,000 rows · 50 of 200 MB · 8 s')
        >>> describe_progress(None, 2.4, "a.cc5txt")
        (None, 'Validating a.cc5txt… 2 s')
    """
    if event is None:
        return None, f"Validating {label}… {elapsed:.0f} s"
    parts = [f"Validating {label}:"]
    fraction = event.fraction
    if fraction is not None:
        parts.append(f"{fraction:.0%} ·")
    if event.rows is not None:
        parts.append(f"{event.rows:,} rows ·")
    if event.unit == "B" and event.total:
        parts.append(f"{event.done / 1e6:,.0f} of {event.total / 1e6:,.0f} MB ·")
    parts.append(f"{elapsed:.0f} s")
    return fraction, " ".join(parts)


def describe_upload(sent: int, total: int) -> str:
    """The upload bar's text: bytes sent of the file's size.

        >>> describe_upload(50_000_000, 200_000_000)
        'Uploading… 50.0 of 200.0 MB (25%)'
    """
    return f"Uploading… {sent / 1e6:,.1f} of {total / 1e6:,.1f} MB ({sent / max(total, 1):.0%})"


def describe_processing(name: str, status: str, elapsed: float, rows: int | None = None) -> str:
    """What the service is doing with the import: status, time since it was sent, rows once known.

        >>> describe_processing("customers.cc5txt", "PROCESSING", 4.2)
        'customers.cc5txt is processing · 4 s since it was sent'
        >>> describe_processing("customers.cc5txt", "PROCESSING", 9, rows=900)
        'customers.cc5txt is processing · 9 s since it was sent · 900 rows so far'
    """
    known = f" · {rows:,} rows so far" if rows else ""
    return f"{name} is {status.lower()} · {elapsed:.0f} s since it was sent{known}"


class ImportProgress:
    """The ``on_progress`` callback of the import pipeline, drawn on the page.

    One bar follows the upload's bytes (stage "upload"; "validate" only if
    the pipeline validates again), a line under it the service's processing
    (stage "process": status, elapsed, rows). ``last`` keeps each stage's
    latest event, for the summary shown once the import has ended.

        >>> progress = ImportProgress("customers.cc5txt")          # doctest: +SKIP
        >>> client.import_file(path, on_progress=progress)          # doctest: +SKIP
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.last: dict[str, ProgressEvent] = {}
        self._bar = st.progress(0.0, text=f"Sending {name}…")
        self._line = st.empty()
        self._started = time.monotonic()

    def __call__(self, event: ProgressEvent) -> None:
        self.last[event.stage] = event
        if event.stage == "validate":
            fraction, text = describe_progress(event, time.monotonic() - self._started, self.name)
            self._bar.progress(fraction or 0.0, text=text)
        elif event.stage == "upload":
            self._bar.progress(event.fraction or 0.0, text=describe_upload(event.done, event.total or event.done))
        else:
            self._bar.progress(1.0, text=f"Uploaded {self.name}")
            self._line.caption(describe_processing(self.name, event.status or "sent", event.elapsed or 0.0,
                                                   event.rows))


def describe_result(last: dict[str, ProgressEvent], upload_seconds: float | None = None) -> str:
    """One line on how the import went, from the pipeline's last events.

    ``upload_seconds``: the upload's time as the pipeline measured it (until
    storage answered; the last upload event comes when the last chunk is read).

        >>> describe_result({"upload": ProgressEvent("upload", 2_000, 2_000, elapsed=0.12),
        ...                  "process": ProgressEvent("process", 7, None, unit="rows", rows=7,
        ...                                           status="FINISHED", elapsed=1.4)}, upload_seconds=0.153)
        'Uploaded 2,000 bytes in 0.15 s · the service took 1.40 s for 7 rows'
    """
    parts = []
    upload = last.get("upload")
    if upload is not None:
        seconds = upload_seconds if upload_seconds is not None else upload.elapsed or 0.0
        parts.append(f"Uploaded {upload.done:,} bytes in {seconds:.2f} s")
    process = last.get("process")
    if process is not None:
        rows = f" for {process.rows:,} rows" if process.rows else ""
        parts.append(f"the service took {process.elapsed or 0.0:.2f} s{rows}")
    return " · ".join(parts)


def _in_user_words(exc: BaseException, workdir: Path) -> BaseException:
    """``exc`` with the server's working folder taken out of its message (toolkit errors only)."""
    if isinstance(exc, ToolkitError) and str(workdir) in str(exc):
        return ToolkitError(str(exc).replace(f"{workdir}/", "").replace(str(workdir), ""))
    return exc


def conversion_form(uploaded: Any, kind: str) -> None:
    """The CSV/Parquet form: entity metadata, each column's cc5 type and the keys; then convert and validate.

    The table is saved once per upload (``TABLE_KEY``); its columns start
    with the types ``write_cc5`` would infer, and the first column as key.
    """
    name = uploaded.name
    held = st.session_state.get(TABLE_KEY)
    if held is None or held[0] != uploaded.file_id:
        if held is not None:
            shutil.rmtree(held[1], ignore_errors=True)
        workdir = _workdir()
        path = upload_path(uploaded, workdir)
        held = (uploaded.file_id, workdir, path, table_schema(name, path))
        st.session_state[TABLE_KEY] = held
    _, _, path, schema = held
    with st.form("validate.convert"):
        st.caption(f"{name} is a {kind.upper()} table: say what it holds, check each column's cc5 type and "
                   "tick the key columns, then write it as cc5.")
        cols = st.columns(4)
        entity = cols[0].text_input("Entity type", placeholder="customer", key="validate.convert.entity")
        workspace = cols[1].text_input("Workspace", placeholder="ws-eu", key="validate.convert.workspace")
        bucket = cols[2].text_input("Bucket", value="bk-main", key="validate.convert.bucket")
        customer = cols[3].text_input("Customer code (optional)", key="validate.convert.customer")
        edited = st.data_editor(
            schema, hide_index=True, disabled=["column"], key="validate.convert.columns",
            column_config={
                "column": "Column",
                "type": st.column_config.SelectboxColumn("cc5 type", options=list(FIELD_TYPES), required=True,
                                                         help="A value that does not fit is a finding"),
                "key": st.column_config.CheckboxColumn("Key", help="Key columns identify a record"),
            },
        )
        converted = st.form_submit_button("Convert and validate", type="primary")
    if not converted:
        return
    keys = [str(c) for c in edited.loc[edited["key"].fillna(False).astype(bool), "column"]]
    types = {str(c): str(t) for c, t in zip(edited["column"], edited["type"])}
    options: dict[str, Any] = dict(entity_type=entity.strip(), workspace=workspace.strip(), keys=keys, bucket_id=bucket.strip(),
                   customer=customer.strip() or None, types=types)
    prepare_once(f"{uploaded.file_id}:{sorted((k, str(v)) for k, v in options.items())}", name,
                 lambda work, progress: convert_table(name, path, work, progress=progress, **options))


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
    if prepared.binary:
        st.error(f"**{prepared.name}** is not a text file: a cc5 file is UTF-8 text, one record per line. "
                 "It cannot be previewed or imported.", icon=":material/block:")
        return
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
        st.download_button(f"Download {prepared.name}", prepared.path.read_bytes(), file_name=prepared.name,
                           mime="text/plain", icon=":material/download:", key="validate.cc5_download")
    for problem in prepared.problems:
        st.warning(problem)

    header_card(prepared.header)
    findings_tab, preview_tab, profile_tab = st.tabs(
        [f"Findings ({sum(report.counts.values()):,})", f"Preview (first {PREVIEW_ROWS} rows)", "Profile"]
    )
    with preview_tab:
        if prepared.preview is None:
            st.info("No preview: the header does not define readable fields.")
        else:
            st.dataframe(prepared.preview, hide_index=True)
    with profile_tab:
        if not prepared.readable:
            st.info("No profile: the header does not define readable fields.")
        elif prepared.profile is None:
            megabytes = prepared.path.stat().st_size / 1e6
            st.caption(f"The profile reads every value of every field: for {megabytes:,.0f} MB that takes a while.")
            if st.button("Compute the profile", icon=":material/query_stats:", key="validate.profile"):
                with st.spinner("Profiling every field…"):
                    prepared.compute_profile()
                st.rerun()
        else:
            st.dataframe(prepared.profile, hide_index=True)
    with findings_tab:
        _findings(prepared)


def _findings(prepared: PreparedFile) -> None:
    report = prepared.report
    findings = prepared.findings
    if findings.empty:
        st.success("No findings.")
    else:
        counts = pd.DataFrame(sorted(report.counts.items()), columns=["code", "findings"])
        st.dataframe(counts, hide_index=True)
        shown = len(findings)
        total = sum(report.counts.values())
        if shown < total:
            st.caption(f"The first {MAX_FINDINGS_SHOWN:,} of {total:,} findings, in line order.")
        cols = st.columns(2)
        codes = cols[0].multiselect("Code", sorted(findings["code"].dropna().unique()),
                                    key="validate.filter_codes", placeholder="All codes")
        fields = cols[1].multiselect("Field", sorted(f for f in findings["field"].dropna().astype(str).unique() if f),
                                     key="validate.filter_fields", placeholder="All fields")
        chosen = findings
        if codes:
            chosen = chosen[chosen["code"].isin(codes)]
        if fields:
            chosen = chosen[chosen["field"].astype("string").isin(fields)]
        # A file-level finding has no field or value: an empty cell, not "None".
        st.dataframe(chosen.fillna({"field": "", "value": ""}), hide_index=True, key="validate.findings",
                     # The raw line before the (long) message: both fit 1280 px only this way round.
                     column_order=["line", "code", "field", "value", "raw", "message"],
                     column_config={
                         "line": st.column_config.NumberColumn("line", format="%d", width=60),
                         "code": st.column_config.TextColumn("code", width=200),
                         "field": st.column_config.TextColumn("field", width=80),
                         "value": st.column_config.TextColumn("value", width=80),
                         "raw": st.column_config.TextColumn("raw line", width=200,
                                                            help="The line as it is in the file"),
                         "message": st.column_config.TextColumn("message", width="large"),
                     })
        if codes or fields:
            st.caption(f"{len(chosen):,} of {shown:,} findings match.")
    if prepared.rejected_count:
        st.download_button(
            f"Download the {prepared.rejected_count:,} rejected rows (CSV)",
            prepared.rejected_csv,
            file_name=f"{Path(prepared.name).stem}_rejected.csv",
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
    progress = ImportProgress(prepared.name)
    record = None
    with show_errors(f"Importing {prepared.name}"):
        client = session.get_client()
        # The library's one pipeline: it takes the page's verdict (no second validation),
        # uploads, triggers and waits, reporting each step to the bar.
        options = ImportOptions(workspace=workspace or None, entity_type=entity or None,
                                bucket_id=bucket or None, file_name=prepared.name, force=override,
                                progress=False, raise_on_failure=False, timeout=WAIT_IN_PAGE_SECONDS)
        upload_seconds = None
        try:
            result = client.import_file(prepared.path, options=options, on_progress=progress,
                                        report=prepared.report)
            record, upload_seconds = result.record, result.upload_seconds
        except ImportTimeout as exc:  # still running: the live status below follows it
            record = client.status(exc.file_id)
    if record is not None:
        st.session_state[IMPORT_STATE_KEY] = {"upload_id": upload_id, "file_id": record.file_id,
                                              "name": prepared.name, "record": record,
                                              "progress": progress.last, "upload_seconds": upload_seconds,
                                              "started": time.monotonic()}
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
                waited = state["progress"].get("process")  # the page's own wait before this
                elapsed = time.monotonic() - state["started"] + (waited.elapsed or 0.0 if waited else 0.0)
                rows = (record.successful_count or 0) + (record.failure_count or 0)
                cols[1].caption(describe_processing(state["name"], record.status, elapsed, rows))
            else:
                if state["progress"]:
                    st.caption(describe_result(state["progress"], state["upload_seconds"]))
                show_record(record)
                with show_errors("Connecting to the import API"):
                    rejected_rows_download(session.get_client(), record, key="validate.service_rejected")

    poll()
    if st.button("Import this file again", key="validate.again"):
        st.session_state.pop(IMPORT_STATE_KEY, None)
        st.rerun()
