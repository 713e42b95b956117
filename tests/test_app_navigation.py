"""app.py (AppTest): navigation between the page files, the sidebar's API, configuration errors,
and the embedded service: its store kept on disk, the backdated demo history made in the background."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from streamlit.testing.v1 import AppTest

from toolkit.app_support import session
from toolkit.app_support.embedded import AppService
from toolkit.client import ImportClient

from app_helpers import ROOT, app_api  # noqa: F401  (fixtures)

APP = str(ROOT / "app.py")
PAGES = {
    "app_pages/validate_import.py": "Validate & import",
    "app_pages/imports.py": "Imports",
    "app_pages/dashboard.py": "Dashboard",
}


def sidebar_text(app: AppTest) -> str:
    return " ".join([m.value for m in app.sidebar.markdown] + [c.value for c in app.sidebar.caption])


def test_every_page_opens_and_the_sidebar_names_the_api(app_api):
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception and not app.error
    assert [t.value for t in app.title] == ["Validate & import"]  # the default page
    assert app_api.url in sidebar_text(app) and "Configured API" in sidebar_text(app)
    for page, title in PAGES.items():
        # AppTest runs a switched-to page file on its own (not through app.py):
        # each page must stand alone, which is what this checks.
        app.switch_page(page).run()
        # (Imports opens on the newest file: if that one FAILED, its explanation is an st.error.)
        assert not app.exception and not [e for e in app.error if " failed: " in e.value], page
        assert [t.value for t in app.title] == [title]


def test_page_files_exist_for_the_navigation():
    for page in PAGES:
        assert (ROOT / page).is_file()
    # No pages/ folder: Streamlit would build its own navigation from it for a deep link.
    assert not (ROOT / "pages").exists()
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == 400 and "theme" in config
    from streamlit.watcher.folder_black_list import FolderBlackList

    ignored = FolderBlackList(config["server"]["folderWatchBlacklist"])
    for path in (".venv/lib/python3.11/site-packages/x.py", ".toolkit/app/service.duckdb", "data/x.csv",
                 "test-artifacts/browser.log", "notebooks/01_preview_and_validate.ipynb"):
        assert ignored.is_blacklisted(str(ROOT / path)), path
    for path in ("app.py", "app_pages/dashboard.py", "toolkit/app_support/session.py"):
        assert not ignored.is_blacklisted(str(ROOT / path)), path


def test_a_half_configured_api_is_an_error_and_the_app_keeps_working(monkeypatch):
    monkeypatch.setenv("TOOLKIT_API_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("TOOLKIT_API_KEY", raising=False)
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert [e.value for e in app.sidebar.error] == [
        "Connecting to the import API failed: No API key configured for http://127.0.0.1:9: "
        "pass api_key or set TOOLKIT_API_KEY"
    ]
    assert [t.value for t in app.title] == ["Validate & import"]
    assert len(app.file_uploader) == 1


def test_secrets_win_over_the_environment(app_api, monkeypatch):
    monkeypatch.setenv("TOOLKIT_API_URL", "http://127.0.0.1:9")
    app = AppTest.from_file(APP, default_timeout=60)
    app.secrets["TOOLKIT_API_URL"] = app_api.url
    app.run()
    assert not app.exception and not app.error
    assert app_api.url in sidebar_text(app)


def test_without_a_url_the_app_uses_the_embedded_service(monkeypatch, tmp_path):
    monkeypatch.delenv("TOOLKIT_API_URL", raising=False)
    monkeypatch.setenv("TOOLKIT_APP_DEMO", "0")
    monkeypatch.setenv("TOOLKIT_APP_DATA", str(tmp_path / "data"))
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception and not app.error
    text = sidebar_text(app)
    assert "Embedded local service" in text and "http://127.0.0.1:" in text
    assert (tmp_path / "data" / "service.duckdb").is_file()  # the store is kept in the data folder
    session.embedded_service().close()
    st.cache_resource.clear()


def test_first_start_makes_a_backdated_demo_in_the_background_and_keeps_it(tmp_path):
    folder = tmp_path / "data"
    service = AppService.start(folder, demo_count=24, days=30)
    try:
        assert service.demo.state == "running"  # start() returned before the demo ended
        assert service.wait_for_demo(120) and service.demo.state == "ready", service.demo.message
        assert service.demo.done == 24 and service.demo.message.startswith("24 imports (")
        with ImportClient(service.url, service.api_key) as client:
            listed = client.list_imports()
            failed = listed[(listed["status"] == "FAILED") & listed["failure_code"].notna()]
            with_rows = listed[(listed["status"] == "FINISHED") & (listed["failure_count"] > 0)].iloc[0]
            rejected_before = client.rejected_rows(with_rows["file_id"])
        assert len(listed) == 24 and set(listed["status"]) <= {"FINISHED", "FAILED", "DELETED"}
        # Backdated through the service's clock: the history spans weeks, not the seconds it took.
        created = listed["date_created"]
        assert created.max() - created.min() > dt.timedelta(days=10)
        assert created.dt.date.nunique() >= 8 and listed["stream_name"].nunique() >= 3
        ended = listed.dropna(subset=["process_end_time"])
        assert ((ended["process_end_time"] - ended["date_created"]) < dt.timedelta(minutes=5)).all()
        assert not failed.empty and len(rejected_before) > 0
    finally:
        service.close()
    # The next start finds the history on disk: no second demo, and the rejected rows are back.
    again = AppService.start(folder, demo_count=24, days=30)
    try:
        assert again.demo.state == "idle"
        with ImportClient(again.url, again.api_key) as client:
            assert len(client.list_imports()) == 24
            assert client.rejected_rows(with_rows["file_id"]).equals(rejected_before)
    finally:
        again.close()


def test_the_demo_progress_shows_on_the_page_while_it_runs(monkeypatch, tmp_path):
    monkeypatch.delenv("TOOLKIT_API_URL", raising=False)
    monkeypatch.setenv("TOOLKIT_APP_DEMO", "40")
    monkeypatch.setenv("TOOLKIT_APP_DATA", str(tmp_path / "data"))
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception and not app.error
    texts = [p.proto.text for p in app.get("progress")]
    assert texts and texts[0].startswith("Making the demo history through the embedded service")
    assert [t.value for t in app.title] == ["Validate & import"]  # the page is there meanwhile
    service = session.embedded_service()
    service.wait_for_demo(120)
    service.close()
    st.cache_resource.clear()


def test_a_bad_demo_setting_is_an_error_message(monkeypatch, tmp_path):
    monkeypatch.delenv("TOOLKIT_API_URL", raising=False)
    monkeypatch.setenv("TOOLKIT_APP_DEMO", "lots")
    monkeypatch.setenv("TOOLKIT_APP_DATA", str(tmp_path / "data"))
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    assert [e.value for e in app.sidebar.error] == [
        "Connecting to the import API failed: TOOLKIT_APP_DEMO must be a number of imports (0: no demo), "
        "got 'lots'"
    ]
    assert [t.value for t in app.title] == ["Validate & import"]  # and the page is there
