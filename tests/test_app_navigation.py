"""app.py (AppTest): navigation between the page files, the sidebar's API, configuration errors,
and the demo data on the embedded service's first start."""

from __future__ import annotations

import streamlit as st
from streamlit.testing.v1 import AppTest

import toolkit
from toolkit.client import ImportClient

from app_helpers import ROOT, app_api  # noqa: F401  (fixtures)

APP = str(ROOT / "app.py")
PAGES = {
    "pages/validate_import.py": "Validate & import",
    "pages/imports.py": "Imports",
    "pages/dashboard.py": "Dashboard",
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
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "maxUploadSize = 400" in config and "[theme]" in config


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


def test_without_a_url_the_app_uses_the_embedded_service(monkeypatch):
    monkeypatch.delenv("TOOLKIT_API_URL", raising=False)
    monkeypatch.setenv("TOOLKIT_APP_DEMO", "0")
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception and not app.error
    text = sidebar_text(app)
    assert "Embedded local service" in text and "http://127.0.0.1:" in text


def demo_page(url: str, api_key: str) -> None:
    """A script that runs the app's first-start hook against the given (embedded) service."""
    import streamlit as st  # noqa: F401 - AppTest runs this function's body as a script

    from toolkit.app_support import session
    from toolkit.app_support.target import ApiTarget

    session.ensure_demo_data(ApiTarget(url, api_key, embedded=True))
    st.write("ready")


def test_first_start_on_an_empty_store_runs_the_demo_once(monkeypatch):
    monkeypatch.setenv("TOOLKIT_APP_DEMO", "24")
    with toolkit.local_service() as fresh, ImportClient(fresh.url, fresh.api_key) as client:
        st.cache_resource.clear()
        app = AppTest.from_function(demo_page, args=(fresh.url, fresh.api_key), default_timeout=120).run()
        assert not app.exception and not app.error
        assert app.status[0].label.startswith("Demo data ready: 24 imports")
        listed = client.list_imports()
        assert len(listed) == 24 and set(listed["status"]) <= {"FINISHED", "FAILED", "DELETED"}
        # A second session (or a rerun) does not add a second history.
        AppTest.from_function(demo_page, args=(fresh.url, fresh.api_key), default_timeout=60).run()
        assert len(client.list_imports()) == 24
    st.cache_resource.clear()


def test_a_bad_demo_setting_is_an_error_message(monkeypatch):
    monkeypatch.delenv("TOOLKIT_API_URL", raising=False)
    monkeypatch.setenv("TOOLKIT_APP_DEMO", "lots")
    st.cache_resource.clear()
    app = AppTest.from_file(APP, default_timeout=120).run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "Loading the demo data failed: TOOLKIT_APP_DEMO must be a number of imports (0: no demo), got 'lots'"
    ]
    assert [t.value for t in app.title] == ["Validate & import"]  # and the page is there
