"""The Validate & import page (AppTest): upload, findings, rejected rows, conversion, import, live status.

This Streamlit's AppTest drives ``st.file_uploader`` itself
(``file_uploader[0].set_value((name, bytes, mime))``): the uploads below go
through the real widget.
"""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from toolkit.app_support.validate_view import IMPORT_STATE_KEY, PREPARED_KEY
from toolkit.demo import make_demo_file

from app_helpers import ROOT, app_api  # noqa: F401  (fixtures)

PAGE = str(ROOT / "app_pages" / "validate_import.py")


def demo_text(defect: str, rows: int = 6, workspace: str = "ws-app-validate", seed: int = 3):
    return make_demo_file(random.Random(seed), workspace=workspace, entity="customer", defect=defect, rows=rows)


def upload(name: str, data: bytes, mime: str = "text/plain") -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    app.file_uploader[0].set_value((name, data, mime)).run()
    assert not app.exception
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def import_and_wait(app: AppTest, timeout: float = 60) -> AppTest:
    """Press Import (the page waits for the end), then rerun (as the polling fragment would) until it ends."""
    shown_before = [e.value for e in app.error]  # e.g. the verdict of a blocked file
    app.button(key="validate.import_button").click().run()
    assert not app.exception
    new_errors = [e.value for e in app.error if e.value not in shown_before]
    # The only new error may be the result of an import that FAILED (not a failure of the page's import).
    assert not new_errors or app.session_state[IMPORT_STATE_KEY]["record"].status == "FAILED", new_errors
    deadline = time.monotonic() + timeout
    while not app.session_state[IMPORT_STATE_KEY]["record"].is_terminal:
        assert time.monotonic() < deadline, "the import did not end"
        time.sleep(0.3)
        app.run()
    return app.run()


def test_page_without_a_file_shows_the_uploader():
    app = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not app.exception and not app.error
    assert len(app.file_uploader) == 1
    assert not app.button


def test_a_valid_file_shows_header_preview_profile_and_no_findings(app_api):
    file = demo_text("clean", rows=6)
    app = upload(file.name, file.data.encode())
    assert not app.error
    assert app.success[0].value.startswith(f"**{file.name}** is valid: 6 data rows")
    shown = metrics(app)
    assert (shown["Customer"], shown["Entity type"], shown["Workspace"]) == ("DEMO", "customer", "ws-app-validate")
    assert "**Keys** `customer_code`" in [m.value for m in app.markdown]
    fields, preview, profile = (app.dataframe[i].value for i in range(3))
    assert list(fields["field"]) == ["customer_code", "name", "credit", "active", "since", "tags", "profile"]
    assert list(fields["type"])[:3] == ["string", "string", "number"]
    assert len(preview) == 6 and "customer_code" in preview.columns
    assert len(profile) >= 7
    assert any(s.value == "No findings." for s in app.success)
    assert not app.button(key="validate.import_button").disabled


def test_row_errors_are_listed_with_lines_and_rejected_rows_download(app_api):
    file = demo_text("bad_values", rows=8)
    app = upload(file.name, file.data.encode())
    assert app.warning[0].value.startswith(f"**{file.name}** can be imported, but {file.bad_rows} rows")
    findings = next(d.value for d in app.dataframe if "message" in d.value.columns)
    bad_lines = [i + 1 for i, line in enumerate(file.data.splitlines())
                 if any(v in line.split("|") for v in ("12x", "1,5", "yes", "20261345", "{not json", "[1,"))]
    assert sorted(findings["line"].astype(int)) == bad_lines
    assert set(findings["code"]) <= {"INVALID_NUMBER", "INVALID_BOOL", "INVALID_DATE", "INVALID_OBJECT"}
    assert [b.proto.label for b in app.get("download_button")] == [
        f"Download the {file.bad_rows} rejected rows (CSV)"]
    rejected = pd.read_csv(io.BytesIO(app.session_state[PREPARED_KEY][1].rejected_csv))
    assert sorted(rejected["line"]) == bad_lines


def test_file_level_errors_block_the_import_unless_overridden(app_api):
    file = demo_text("footer_count", rows=4)
    app = upload(file.name, file.data.encode())
    assert app.error[0].value.startswith(f"**{file.name}** cannot be imported: file-level errors")
    findings = next(d.value for d in app.dataframe if "message" in d.value.columns)
    assert list(findings["code"]) == ["FOOTER_COUNT_MISMATCH"]
    assert app.button(key="validate.import_button").disabled
    app.checkbox(key="validate.override").check().run()
    assert not app.button(key="validate.import_button").disabled
    app = import_and_wait(app)
    assert ":red-badge[FOOTER_COUNT_MISMATCH]" in [m.value for m in app.markdown]
    assert any(":red-badge[FAILED]" in m.value for m in app.markdown)


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_import_uploads_then_follows_the_status_to_finished(app_api, monkeypatch, api):
    monkeypatch.setenv("TOOLKIT_API", api)
    file = demo_text("bad_values", rows=7, workspace=f"ws-app-import-{api}")
    app = upload(file.name, file.data.encode())
    app = import_and_wait(app)
    assert not app.exception and not app.error
    record = app.session_state[IMPORT_STATE_KEY]["record"]
    assert record.status == "FINISHED"
    shown = metrics(app)
    assert shown["Rows applied"] == str(7 - file.bad_rows) and shown["Rows not applied"] == str(file.bad_rows)
    assert any(":green-badge[FINISHED]" in m.value for m in app.markdown)
    assert f"Download {file.bad_rows} rejected rows (CSV)" in [b.proto.label for b in app.get("download_button")]


def table_bytes(kind: str) -> bytes:
    frame = pd.DataFrame({"code": ["P1", "P2"], "name": ["Widget", "Gadget"], "amount": [9.5, 12.0]})
    out = io.BytesIO()
    frame.to_csv(out, index=False) if kind == "csv" else frame.to_parquet(out, index=False)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_table_is_converted_with_the_form_then_validated(app_api, kind):
    app = upload(f"products.{kind}", table_bytes(kind), "application/octet-stream")
    assert not app.error
    columns = app.data_editor[0].value if hasattr(app, "data_editor") else app.dataframe[0].value
    assert columns.to_dict("records") == [{"column": "code", "type": "string", "key": True},
                                          {"column": "name", "type": "string", "key": False},
                                          {"column": "amount", "type": "number", "key": False}]
    app.text_input(key="validate.convert.entity").input("product")
    app.text_input(key="validate.convert.workspace").input("ws-app-csv")
    app.button[0].click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    shown = metrics(app)
    assert (shown["Entity type"], shown["Workspace"]) == ("product", "ws-app-csv")
    assert "**Keys** `code`" in [m.value for m in app.markdown]
    assert app.success[0].value.startswith("**products.cc5txt** is valid: 2 data rows")
    assert f"Written as cc5 from the {kind.upper()} table (`write_cc5`), then validated." in [
        c.value for c in app.caption]
    assert "Download products.cc5txt" in [b.proto.label for b in app.get("download_button")]
    app = import_and_wait(app)
    assert app.session_state[IMPORT_STATE_KEY]["record"].status == "FINISHED"


def test_the_user_sets_a_column_type_and_the_keys_and_sees_what_the_file_gets(app_api):
    # A credit column with one "abc": inferred as text, so the user says it is a number.
    app = upload("customers.csv", b"code,region,credit\nC1,eu,12.5\nC2,us,abc\nC3,eu,7\n", "text/csv")
    types = app.dataframe[0].value if not hasattr(app, "data_editor") else app.data_editor[0].value
    assert dict(zip(types["column"], types["type"]))["credit"] == "string"
    app.session_state["validate.convert.columns"] = {
        "edited_rows": {0: {"key": False}, 1: {"key": True}, 2: {"type": "number"}},
        "added_rows": [], "deleted_rows": []}
    app.text_input(key="validate.convert.entity").input("customer")
    app.text_input(key="validate.convert.workspace").input("ws-app-types")
    app.button[0].click().run()
    assert not app.exception
    prepared = app.session_state[PREPARED_KEY][1]
    assert list(prepared.header.keys) == ["region"]
    assert {f.code: f.type for f in prepared.header.fields}["credit"] == "number"
    findings = next(d.value for d in app.dataframe if "message" in d.value.columns)
    # The typed column's bad value, and (region is the key now) a duplicate key: what the file gets.
    assert findings[["line", "code", "field", "value"]].values.tolist() == [
        [6, "INVALID_NUMBER", "credit", "abc"], [7, "DUPLICATE_KEY", "region", "eu"]]
    assert findings["raw"].tolist() == ["10|us|C2|abc|", "10|eu|C3|7|"]  # as written: keys first
    cc5 = next(b for b in app.get("download_button") if b.proto.label == "Download customers.cc5txt")
    assert cc5 is not None


def test_findings_filter_by_code_and_field_and_show_their_raw_line(app_api):
    file = demo_text("bad_values", rows=30, seed=8)
    app = upload(file.name, file.data.encode())
    findings = next(d.value for d in app.dataframe if "message" in d.value.columns)
    lines = file.data.splitlines()
    assert all(row.raw == lines[int(row.line) - 1] for row in findings.itertuples())
    code = findings["code"].iloc[0]
    app.multiselect(key="validate.filter_codes").set_value([code]).run()
    shown = next(d.value for d in app.dataframe if "message" in d.value.columns)
    assert set(shown["code"]) == {code} and len(shown) == (findings["code"] == code).sum()
    field = shown["field"].iloc[0]
    app.multiselect(key="validate.filter_fields").set_value([field]).run()
    shown = next(d.value for d in app.dataframe if "message" in d.value.columns)
    assert set(shown["field"]) == {field}
    assert any(f"of {len(findings)} findings match" in c.value for c in app.caption)


def test_a_binary_file_is_said_to_be_one(app_api):
    app = upload("photo.cc5txt", bytes(range(256)) * 200, "application/octet-stream")
    assert not app.exception
    assert [e.value for e in app.error] == [
        "**photo.cc5txt** is not a text file: a cc5 file is UTF-8 text, one record per line. "
        "It cannot be previewed or imported."]
    assert not app.button and not app.dataframe  # no mojibake findings, no import


def test_a_refused_conversion_names_the_file_not_a_server_path(app_api):
    app = upload("bad.csv", b"code,name\n,Widget\n", "text/csv")  # an empty key value
    app.text_input(key="validate.convert.entity").input("product")
    app.text_input(key="validate.convert.workspace").input("ws-app-csv")
    app.button[0].click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and errors[0].startswith("Reading bad.csv failed: bad.csv: cannot write it as cc5")
    assert "/tmp" not in errors[0] and "toolkit-app-" not in errors[0]


def test_progress_text_reads_rows_percent_and_bytes():
    from toolkit.app_support.validate_view import describe_progress
    from toolkit.progress import ProgressEvent

    event = ProgressEvent("validate", done=150_000_000, total=200_000_000, unit="B", rows=1_234_567)
    assert describe_progress(event, 61.2, "big.cc5txt") == (
        0.75, "Validating big.cc5txt: 75% · 1,234,567 rows · 150 of 200 MB · 61 s")
    assert describe_progress(None, 3.0, "big.cc5txt") == (None, "Validating big.cc5txt… 3 s")


def test_a_csv_without_entity_metadata_is_an_error_message(app_api):
    app = upload("products.csv", b"code,name\nP1,Widget\n", "text/csv")
    app.button[0].click().run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "Reading products.csv failed: products.csv: to convert it, fill in entity type, workspace"]


def test_text_that_is_not_cc5_and_latin1_bytes_are_findings_not_crashes(app_api):
    app = upload("notes.txt", b"hello\nworld\n")
    assert app.error[0].value.startswith("**notes.txt** cannot be imported: file-level errors")
    findings = next(d.value for d in app.dataframe if "message" in d.value.columns)
    assert "MISSING_HEADER" in set(findings["code"])
    assert app.button(key="validate.import_button").disabled
    app = upload("latin1.cc5txt", "00|ACME|cc5|20261122093000|r\n01|customer|ws|bk|CRM|UPSERT\n"
                 "02|code\n03|code\n10|Zo\xeb|\n99|1|\n".encode("latin-1"))
    findings = next(d.value for d in app.dataframe if "message" in d.value.columns)
    assert "NOT_UTF8" in set(findings["code"])
    assert list(findings.loc[findings["code"] == "NOT_UTF8", "line"]) == [5]


def test_a_failed_upload_is_an_error_and_leaves_no_pending_file(app_api, monkeypatch):
    from toolkit.client import ImportClient
    from toolkit.errors import UploadError

    requested: list[str] = []
    real_request = ImportClient.request_upload

    def remember(self, *args, **kwargs):
        target = real_request(self, *args, **kwargs)
        requested.append(target.file_id)
        return target

    def broken_upload(self, path, target, progress=True, *, on_progress=None):
        on_progress(10, 100)
        raise UploadError("Upload of x to storage failed: connection reset", step="transfer")

    monkeypatch.setattr(ImportClient, "request_upload", remember)
    monkeypatch.setattr(ImportClient, "upload", broken_upload)
    file = demo_text("clean", rows=3)
    app = upload(file.name, file.data.encode())
    app.button(key="validate.import_button").click().run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        f"Importing {file.name} failed: Upload of x to storage failed: connection reset"]
    assert IMPORT_STATE_KEY not in app.session_state
    assert not app.button(key="validate.import_button").disabled  # try again
    with ImportClient(app_api.url, app_api.api_key) as client:
        assert client.status(requested[0]).status == "DELETED"


def test_the_upload_progress_callback_follows_the_bytes(live_service, tmp_path):
    """The page's upload bar is fed by ImportClient.upload(on_progress=...)."""
    from toolkit.client import ImportClient

    path = tmp_path / "big.cc5txt"
    path.write_bytes(b"x" * (3 * 1024 * 1024 + 5))  # several chunks; content does not matter here
    seen: list[tuple[int, int]] = []
    with ImportClient(live_service.url, live_service.api_key) as client:
        target = client.request_upload(path.name, workspace="ws-app-progress", entity_type="customer",
                                       bucket_id="bk-main")
        client.upload(path, target, progress=False, on_progress=lambda sent, total: seen.append((sent, total)))
        client.delete(target.file_id)
    size = path.stat().st_size
    assert len(seen) >= 4 and seen[-1] == (size, size)
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)


def test_upload_and_processing_progress_read_bytes_status_elapsed_and_rows():
    from toolkit.app_support.validate_view import describe_processing, describe_result, describe_upload
    from toolkit.progress import ProgressEvent

    assert describe_upload(150_000_000, 200_000_000) == "Uploading… 150.0 of 200.0 MB (75%)"
    assert describe_processing("c.cc5txt", "QUEUED", 2.4) == "c.cc5txt is queued · 2 s since it was sent"
    assert "1,203 rows so far" in describe_processing("c.cc5txt", "PROCESSING", 30, 1203)
    last = {"upload": ProgressEvent("upload", 5_000, 5_000, elapsed=0.3),
            "process": ProgressEvent("process", 9, None, unit="rows", rows=9, status="FINISHED", elapsed=2.0)}
    assert describe_result(last) == "Uploaded 5,000 bytes in 0.30 s · the service took 2.00 s for 9 rows"
    assert describe_result(last, upload_seconds=0.5).startswith("Uploaded 5,000 bytes in 0.50 s · ")


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_the_import_goes_through_the_library_pipeline_with_its_progress_events(app_api, monkeypatch, api):
    """The Import button calls the one pipeline (run_import) with the page's verdict and a progress
    callback; the bars are drawn from its events. A page that re-implemented the steps fails here."""
    from toolkit.client import api as client_api

    monkeypatch.setenv("TOOLKIT_API", api)
    real_run_import = client_api.run_import
    calls: list[dict] = []

    def recording_run_import(client, source, options=None, *, on_progress=None, report=None):
        events: list = []

        def both(event):
            events.append(event)
            on_progress(event)

        calls.append({"source": source, "options": options, "report": report, "events": events})
        return real_run_import(client, source, options, on_progress=both, report=report)

    monkeypatch.setattr(client_api, "run_import", recording_run_import)
    file = demo_text("clean", rows=9, workspace=f"ws-app-pipeline-{api}")
    app = upload(file.name, file.data.encode())
    prepared = app.session_state[PREPARED_KEY][1]
    app = import_and_wait(app)
    assert not app.exception and not app.error
    assert len(calls) == 1
    call = calls[0]
    assert call["source"] == prepared.path and call["report"] is prepared.report  # the page's verdict
    assert call["options"].file_name == file.name and call["options"].raise_on_failure is False
    stages = [e.stage for e in call["events"]]
    assert "validate" not in stages  # not validated a second time
    assert stages.index("upload") < stages.index("process")
    size = len(file.data.encode())
    state = app.session_state[IMPORT_STATE_KEY]
    assert state["record"].status == "FINISHED"
    last = state["progress"]  # the page's callback kept each stage's last event
    assert last["upload"].done == last["upload"].total == size
    assert last["process"].status == "FINISHED" and last["process"].rows == 9
    captions = [c.value for c in app.caption]
    uploaded = f"Uploaded {size:,} bytes in {state['upload_seconds']:.2f} s · the service took "
    assert any(c.startswith(uploaded) and c.endswith("for 9 rows") for c in captions), captions


def test_the_page_keeps_following_an_import_that_outlasts_its_wait(app_api, monkeypatch):
    """After WAIT_IN_PAGE_SECONDS the pipeline gives up waiting (ImportTimeout); the live status
    follows the file on, by its name, with no advice to run a command."""
    from toolkit.app_support import validate_view

    monkeypatch.setattr(validate_view, "WAIT_IN_PAGE_SECONDS", 1e-9)  # give up at the first look
    file = demo_text("clean", rows=4, workspace="ws-app-pipeline-timeout")
    app = upload(file.name, file.data.encode())
    app.button(key="validate.import_button").click().run()
    assert not app.exception and not app.error
    state = app.session_state[IMPORT_STATE_KEY]
    assert "process" in state["progress"]
    assert not state["record"].is_terminal  # the service queues it: still running at the first look
    assert any(c.value.startswith(f"{file.name} is ") for c in app.caption)
    assert not any("toolkit status" in c.value for c in app.caption)
    deadline = time.monotonic() + 60
    while not app.session_state[IMPORT_STATE_KEY]["record"].is_terminal:
        assert time.monotonic() < deadline, "the import did not end"
        time.sleep(0.3)
        app.run()
    app.run()
    assert app.session_state[IMPORT_STATE_KEY]["record"].status == "FINISHED"
    assert any(":green-badge[FINISHED]" in m.value for m in app.markdown)


def test_the_page_verdict_is_a_checked_file_for_the_pipeline(tmp_path):
    """The plain summary kept of a validation carries what run_import reads of a report."""
    from toolkit.app_support.uploads import prepare_cc5
    from toolkit.cc5 import validate

    file = demo_text("footer_count", rows=3)
    prepared = prepare_cc5(file.name, file.data.encode(), tmp_path)
    try:
        summary = prepared.report
        with validate(prepared.path, progress=False) as report:
            assert summary.path == str(prepared.path)
            assert summary.file_errors == tuple(str(f) for f in report.file_errors) != ()
            assert summary.to_dict(max_findings=100) == report.to_dict(max_findings=100)
            assert len(summary.to_dict(max_findings=1)["findings"]) == 1
    finally:
        prepared.close()


def test_a_large_file_gets_its_profile_when_asked(app_api, monkeypatch):
    from toolkit.app_support import uploads

    monkeypatch.setattr(uploads, "PROFILE_EAGER_BYTES", 100)  # this small file counts as large
    file = demo_text("clean", rows=12)
    app = upload(file.name, file.data.encode())
    assert not app.error
    assert app.session_state[PREPARED_KEY][1].profile is None
    assert any("The profile reads every value" in c.value for c in app.caption)
    app.button(key="validate.profile").click().run()
    assert not app.exception
    profile = app.session_state[PREPARED_KEY][1].profile
    assert profile is not None and len(profile) >= 7


def test_the_engine_progress_events_reach_the_page_callback(tmp_path):
    from toolkit.app_support.uploads import prepare_cc5

    events = []
    file = demo_text("clean", rows=3000)
    prepared = prepare_cc5(file.name, file.data.encode(), tmp_path, progress=events.append)
    try:
        assert prepared.report.data_rows == 3000
    finally:
        prepared.close()
    assert events and all(e.stage == "validate" and e.unit == "B" for e in events)
    size = len(file.data.encode())
    assert events[-1].done == events[-1].total == size and events[-1].rows >= 3000


def test_a_large_file_is_validated_in_a_child_process_with_the_same_results(app_api, monkeypatch):
    from toolkit.app_support import uploads

    file = demo_text("bad_values", rows=20, seed=5)
    in_process = upload(file.name, file.data.encode())
    monkeypatch.setattr(uploads, "CHILD_MIN_BYTES", 0)  # every file counts as large
    started = []
    real_start = uploads.multiprocessing.get_context("spawn").Process.start

    def counted_start(self):
        started.append(self.name)
        return real_start(self)

    monkeypatch.setattr(uploads.multiprocessing.get_context("spawn").Process, "start", counted_start)
    in_child = upload(file.name, file.data.encode())
    assert not in_child.exception and not in_child.error, [e.value for e in in_child.error]
    assert started == ["toolkit-app-validate"]
    one, other = (app.session_state[PREPARED_KEY][1] for app in (in_process, in_child))
    assert one.report == other.report and one.findings.equals(other.findings)
    assert one.rejected_csv == other.rejected_csv and one.preview.equals(other.preview)
    assert other.profile.equals(one.profile)
    # A profile asked for later comes from a child too.
    other.profile = None
    assert other.compute_profile().equals(one.profile) and started == ["toolkit-app-validate"] * 2


def spooled_upload(name: str, data: bytes, spool: Path, monkeypatch, mime: str = "text/plain") -> AppTest:
    """An upload as `serve_app.py` hands it over: no bytes in the widget, the file in the upload folder."""
    monkeypatch.setattr("toolkit.app_support.upload_spool.spool_folder", lambda: spool)
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    widget = app.file_uploader[0].set_value((name, b"", mime))
    file_id = widget._files[0][0]  # AppTest's own record of the file id it hands the widget
    (spool / "session").mkdir(parents=True, exist_ok=True)
    (spool / "session" / file_id).write_bytes(data)
    app.run()
    assert not app.exception
    return app


def test_a_spooled_upload_is_validated_from_its_file_not_the_widgets_bytes(app_api, monkeypatch, tmp_path):
    file = demo_text("bad_values", rows=30, seed=8)
    app = spooled_upload(file.name, file.data.encode(), tmp_path / "spool", monkeypatch)
    prepared = app.session_state[PREPARED_KEY][1]
    assert prepared.name == file.name
    assert prepared.path.read_bytes() == file.data.encode()
    assert prepared.report.data_rows == 30 and prepared.report.counts  # the defects were found
    spooled = next((tmp_path / "spool" / "session").iterdir())
    assert prepared.path.stat().st_ino == spooled.stat().st_ino  # linked, not copied through memory


def test_removing_the_upload_deletes_the_pages_working_folders(app_api, monkeypatch, tmp_path):
    file = demo_text("bad_values", rows=30, seed=8)
    app = spooled_upload(file.name, file.data.encode(), tmp_path / "spool", monkeypatch)
    workdir = app.session_state[PREPARED_KEY][1].path.parent
    assert workdir.is_dir()
    app.file_uploader[0].set_value(None).run()
    assert not app.exception
    assert not workdir.exists() and PREPARED_KEY not in app.session_state
    assert app.info[0].value.startswith("The file is validated here first")


def test_a_spooled_table_is_converted_from_its_file(app_api, monkeypatch, tmp_path):
    app = spooled_upload("customers.csv", b"code,region\nC1,eu\nC2,us\n", tmp_path / "spool", monkeypatch,
                         mime="text/csv")
    app.text_input(key="validate.convert.entity").input("customer")
    app.text_input(key="validate.convert.workspace").input("ws-app-spool")
    app.button[0].click().run()
    assert not app.exception
    prepared = app.session_state[PREPARED_KEY][1]
    assert prepared.report.data_rows == 2 and prepared.report.ok
