"""The Imports page (AppTest) over a live service: list, filters, badges, detail view, delete."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from toolkit.client import ImportClient

from app_helpers import ROOT, app_api, imported  # noqa: F401  (fixtures)

PAGE = str(ROOT / "app_pages" / "imports.py")


def open_page(workspace: str) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    app.multiselect(key="imports.workspaces").set_value([workspace]).run()
    # (The detail view opens on the newest file; an error on the page is its failure, if it failed.)
    assert not app.exception and not [e for e in app.error if " failed: " in e.value]
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


def test_detail_of_a_failed_file_shows_timeline_code_and_reason(app_api, imported):
    app = open_page(imported.workspace)
    app.selectbox(key="imports.file").set_value(imported.failed.file_id).run()
    assert not app.exception
    # The one error on the page is the file's failure, explained.
    assert [e.value for e in app.error] == [
        f"Import of {imported.failed.file_name} (file {imported.failed.file_id}) FAILED with "
        "FOOTER_COUNT_MISMATCH: the file has file-level errors (run `toolkit validate` on it for "
        "lines and fields)"
    ]
    shown = metrics(app)
    assert ":red-badge[FOOTER_COUNT_MISMATCH]" in [m.value for m in app.markdown]
    assert shown["Rows applied"] == "0"
    created, finished = (next(label for label in shown if label.startswith(step)) for step in ("Created", "Finished"))
    assert created.endswith(" UTC") and finished.endswith(" UTC")
    assert len(shown[created]) == len("10:30:00") and shown[finished] != "—"
    assert any(":red-badge[FAILED]" in m.value for m in app.markdown)


def test_detail_of_a_file_with_rejected_rows_offers_them(app_api, imported):
    app = open_page(imported.workspace)
    app.selectbox(key="imports.file").set_value(imported.with_rejects.file_id).run()
    assert not app.exception and not app.error
    shown = metrics(app)
    assert shown["Rows rejected"] == f"{imported.rows_rejected:,}"
    buttons = [b.proto.label for b in app.get("download_button")]
    assert buttons == [f"Download {imported.rows_rejected:,} rejected rows (CSV)"]
    assert any("rows were rejected" in w.value for w in app.warning)


def test_delete_needs_a_confirmation_then_deletes(app_api, imported):
    app = open_page(imported.workspace)
    app.selectbox(key="imports.file").set_value(imported.clean.file_id).run()
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
    assert len(app.dataframe[0].value) == 0 and not app.selectbox
