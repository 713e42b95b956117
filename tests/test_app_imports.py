"""The Imports page (AppTest) over a live service: list, filters, badges, row selection to the
detail view (timeline, honest counts, rejected rows), drill-down filters, auto-refresh, delete."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from toolkit.client import ImportClient

from app_helpers import ROOT, app_api, imported  # noqa: F401  (fixtures)

PAGE = str(ROOT / "app_pages" / "imports.py")


def open_page(workspace: str) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    app.multiselect(key="imports.workspaces").set_value([workspace]).run()
    assert not app.exception and not app.error
    return app


def listed(app: AppTest):
    return app.dataframe[0].value


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def test_list_filters_and_status_badges(app_api, imported):
    app = open_page(imported.workspace)
    table = listed(app)
    assert set(table["file_id"]) == {imported.clean.file_id, imported.with_rejects.file_id,
                                     imported.failed.file_id}
    assert sorted(map(list, table["status"])) == [["FAILED"], ["FINISHED"], ["FINISHED"]]
    app.multiselect(key="imports.statuses").set_value(["FAILED"]).run()
    assert list(listed(app)["file_id"]) == [imported.failed.file_id]
    app.multiselect(key="imports.entity_types").set_value(["customer"]).run()
    assert list(listed(app)["file_id"]) == [imported.failed.file_id]


def select(app: AppTest, file_id: str) -> AppTest:
    """Select the table row of ``file_id`` (what a click on the row does), and rerun."""
    table = app.dataframe[0]
    row = list(table.value["file_id"]).index(file_id)
    app.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return app.run()


def test_nothing_is_opened_until_a_row_is_selected(app_api, imported):
    app = open_page(imported.workspace)
    assert not app.error and not [m for m in app.metric if m.label == "Rows applied"]
    assert any("Select a row to open its detail" in c.value for c in app.caption)


def test_selecting_a_failed_row_shows_timeline_code_reason_and_honest_counts(app_api, imported):
    app = select(open_page(imported.workspace), imported.failed.file_id)
    assert not app.exception
    failed = imported.failed
    # The one error on the page is the file's failure, explained: its name, no server path, no command.
    assert [e.value for e in app.error] == [
        f"{failed.file_name} failed with FOOTER_COUNT_MISMATCH: the 99 row's count is not a number or "
        f"differs from the number of 10 and 90 rows. None of its {failed.failure_count:,} rows was applied."
    ]
    assert "toolkit " not in app.error[0].value and "/tmp" not in app.error[0].value
    shown = metrics(app)
    assert ":red-badge[FOOTER_COUNT_MISMATCH]" in [m.value for m in app.markdown]
    assert shown["Rows applied"] == "0" and shown["Rows not applied"] == f"{failed.failure_count:,}"
    created, finished = (next(label for label in shown if label.startswith(step)) for step in ("Created", "Finished"))
    assert created.endswith(" UTC") and finished.endswith(" UTC")
    assert len(shown[created]) == len("10:30:00") and shown[finished] != "—"
    assert any(":red-badge[FAILED]" in m.value for m in app.markdown)
    # The rows part agrees with the counts: the file-level error refused them all.
    texts = " ".join(c.value for c in app.caption)
    assert f"refused all {failed.failure_count:,} rows" in texts
    assert "Rows with errors of their own: 0" in [m.value.strip("*") for m in app.markdown]


def test_selecting_a_row_with_rejected_rows_lists_them_and_offers_the_csv(app_api, imported):
    app = select(open_page(imported.workspace), imported.with_rejects.file_id)
    assert not app.exception and not app.error
    shown = metrics(app)
    assert shown["Rows not applied"] == f"{imported.rows_rejected:,}"
    rejected = app.dataframe[1].value  # the detail's table of rejected rows
    assert list(rejected.columns) == ["line", "code", "field", "value", "error", "raw"]
    assert len(rejected) == imported.rows_rejected and (rejected["line"] > 4).all()
    assert rejected["raw"].str.startswith("10|").all() and (rejected["code"] != "").all()
    buttons = [b.proto.label for b in app.get("download_button")]
    assert buttons == [f"Download {imported.rows_rejected:,} rejected rows (CSV)"]
    assert any("rows were rejected" in w.value for w in app.warning)


def test_a_new_filter_clears_the_selection(app_api, imported):
    app = select(open_page(imported.workspace), imported.clean.file_id)
    assert "Rows applied" in metrics(app)
    app.multiselect(key="imports.statuses").set_value(["FINISHED"]).run()
    assert "Rows applied" not in metrics(app)


def test_a_drill_down_from_the_dashboard_sets_the_filters(app_api, imported):
    from toolkit.app_support.aggregations import ImportFilters
    from toolkit.app_support.drill import DRILL_KEY

    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state[DRILL_KEY] = ImportFilters(workspaces=(imported.workspace,), statuses=("FAILED",),
                                                 failure_codes=("FOOTER_COUNT_MISMATCH",))
    app.run()
    assert not app.exception and not app.error
    assert list(listed(app)["file_id"]) == [imported.failed.file_id]
    assert app.multiselect(key="imports.failure_codes").value == ["FOOTER_COUNT_MISMATCH"]
    # Two clicks from the dashboard: the row, then its rejected rows are on the page.
    app = select(app, imported.failed.file_id)
    assert metrics(app)["Rows not applied"] == f"{imported.failed.failure_count:,}"


def test_auto_refresh_lists_a_deleted_file_as_deleted(app_api, imported, tmp_path):
    from app_helpers import import_text
    from toolkit.demo import make_demo_file
    import random

    file = make_demo_file(random.Random(21), workspace=imported.workspace, entity="customer", rows=3, serial=9)
    with ImportClient(app_api.url, app_api.api_key) as client:
        record = import_text(client, tmp_path, file.name, file.data, workspace=imported.workspace,
                             entity="customer")
        app = open_page(imported.workspace)
        app.toggle(key="imports.auto").set_value(True).run()
        status = dict(zip(listed(app)["file_id"], listed(app)["status"]))
        assert list(status[record.file_id]) == ["FINISHED"]
        client.delete(record.file_id)
    app.run()  # what the timer does: the list is asked for again, not served from the cache
    status = dict(zip(listed(app)["file_id"], listed(app)["status"]))
    assert list(status[record.file_id]) == ["DELETED"]
    assert any("refreshed every" in c.value for c in app.caption)


def test_delete_needs_a_confirmation_then_deletes(app_api, imported):
    app = select(open_page(imported.workspace), imported.clean.file_id)
    delete = app.button(key=f"delete.{imported.clean.file_id}")
    assert delete.disabled
    app.checkbox(key=f"delete.{imported.clean.file_id}.confirm").check().run()
    app.button(key=f"delete.{imported.clean.file_id}").click().run()
    assert not app.exception and not app.error
    assert any("is now DELETED" in s.value for s in app.success)
    with ImportClient(app_api.url, app_api.api_key) as client:
        assert client.status(imported.clean.file_id).status == "DELETED"


def test_an_empty_list_says_so():
    from toolkit.app_support.session import IMPORTS_SOURCE_KEY
    from toolkit.app_support.synthetic import synthetic_imports

    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state[IMPORTS_SOURCE_KEY] = synthetic_imports(0)
    app.run()
    assert not app.exception and not app.error
    assert [i.value for i in app.info] == ["No file matches these filters."]
    assert len(app.dataframe[0].value) == 0


def test_the_imports_api_shows_the_precise_failure_code(app_api, imported, monkeypatch):
    monkeypatch.setenv("TOOLKIT_API", "imports")  # its failure_code is broad; failure_detail is precise
    app = select(open_page(imported.workspace), imported.failed.file_id)
    assert not app.exception
    codes = dict(zip(listed(app)["file_id"], listed(app)["failure_code"]))
    assert codes[imported.failed.file_id] == "FOOTER_COUNT_MISMATCH"
    assert ":red-badge[FOOTER_COUNT_MISMATCH]" in [m.value for m in app.markdown]
    assert app.error[0].value.startswith(f"{imported.failed.file_name} failed with FOOTER_COUNT_MISMATCH: ")
