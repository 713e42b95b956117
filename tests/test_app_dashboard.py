"""The Dashboard page (AppTest): KPIs, charts and filters over injected and real import lists."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from toolkit.app_support.aggregations import ImportFilters, dashboard_data
from toolkit.app_support.session import IMPORTS_SOURCE_KEY
from toolkit.app_support.synthetic import synthetic_imports
from toolkit.app_support.ui import compact_number

from app_helpers import app_api, imported, unused_port  # noqa: F401  (fixtures)

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "dashboard.py")
CHART_TITLES = {
    "Imports by status per workspace",
    "Failure codes by workspace (failed imports)",
    "Imports and failure rate per day",
    "Rows applied and not applied per day",
    "Processing time (start to end)",
}


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()


def page_with(records: pd.DataFrame) -> AppTest:
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state[IMPORTS_SOURCE_KEY] = records
    return app.run()


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def figures(app: AppTest) -> dict[str, go.Figure]:
    """The page's plotly figures by title (decoded: plotly sends numbers as typed arrays)."""
    found = [pio.from_json(c.proto.spec) for c in app.get("plotly_chart")]
    return {fig.layout.title.text: fig for fig in found}


def figure(app: AppTest, title: str) -> go.Figure:
    return figures(app)[title]


def values(data) -> list:
    """A trace's x/y/z as a list, decoding plotly's base64 typed arrays."""
    if isinstance(data, dict) and "bdata" in data:
        array = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        if "shape" in data:  # "rows, columns" for 2-d arrays
            array = array.reshape([int(n) for n in str(data["shape"]).split(",")])
        return array.tolist()
    return list(data)


def test_kpis_and_every_chart_over_injected_records():
    records = synthetic_imports(3000, seed=5)
    app = page_with(records)
    assert not app.exception and not app.error
    kpis = dashboard_data(records).kpis
    shown = metrics(app)
    assert shown["Imports"] == f"{kpis.imports:,}"
    assert shown["Finished"] == f"{kpis.finished:,}" and shown["Failed"] == f"{kpis.failed:,}"
    assert shown["Failure rate"] == f"{kpis.failure_rate:.1%}"
    assert shown["Rows applied"] == compact_number(kpis.rows_succeeded)
    assert shown["Rows not applied"] == compact_number(kpis.rows_not_applied)
    assert set(figures(app)) == CHART_TITLES


def test_filters_narrow_every_figure():
    records = synthetic_imports(3000, seed=6)
    app = page_with(records)
    app.multiselect(key="dashboard.workspaces").set_value(["ws-eu"])
    app.multiselect(key="dashboard.statuses").set_value(["FINISHED", "FAILED"]).run()
    assert not app.exception and not app.error
    expected = dashboard_data(records, ImportFilters(workspaces=("ws-eu",), statuses=("FINISHED", "FAILED")))
    assert metrics(app)["Imports"] == f"{expected.kpis.imports:,}"
    bars = figure(app, "Imports by status per workspace").data
    assert {tuple(values(bar.x)) for bar in bars} == {("ws-eu",)}
    assert sum(sum(values(bar.y)) for bar in bars) == expected.kpis.imports


def test_empty_list_says_so_instead_of_charts():
    app = page_with(synthetic_imports(0))
    assert not app.exception and not app.error
    assert metrics(app)["Imports"] == "0"
    assert not app.get("plotly_chart")
    assert any("No imports yet" in i.value and "Validate & import" in i.value for i in app.info)


def test_filters_that_match_nothing_say_so():
    app = page_with(synthetic_imports(500, seed=3))
    app.multiselect(key="dashboard.statuses").set_value(["QUEUED"])
    app.multiselect(key="dashboard.failure_codes").set_value(["BAD_HEADER"]).run()
    assert not app.exception and not app.error
    assert any("No imports match these filters (of 500)" in i.value for i in app.info)


def test_only_failed_imports_still_draw_their_rows():
    records = synthetic_imports(2000, seed=4)
    app = page_with(records)
    app.multiselect(key="dashboard.statuses").set_value(["FAILED"]).run()
    assert not app.exception and not app.error
    bars = figure(app, "Rows applied and not applied per day").data
    failed_rows = next(b for b in bars if b.name == "in failed files")
    expected = dashboard_data(records, ImportFilters(statuses=("FAILED",))).kpis.rows_of_failed_files
    assert sum(values(failed_rows.y)) == expected


def test_kpis_fit_in_two_rows_of_four_with_compact_numbers():
    records = synthetic_imports(300_000, seed=2)
    app = page_with(records)
    assert not app.exception and not app.error
    shown = metrics(app)
    assert list(shown) == ["Imports", "Finished", "Failed", "Failure rate",
                           "Rows applied", "Rows not applied", "Median processing", "95th percentile"]
    assert shown["Imports"] == "300k" and all(len(v) <= 8 for v in shown.values())


def test_charts_leave_room_for_their_labels_and_clicks_select():
    app = page_with(synthetic_imports(3000, seed=5))
    for title, fig in figures(app).items():
        assert fig.layout.margin.l >= 50 and fig.layout.margin.b >= 40, title
        assert fig.layout.clickmode == "event+select", title
        for axis in (fig.layout.xaxis, fig.layout.yaxis):
            assert axis.automargin, title
    selectable = [c for c in app.get("plotly_chart") if c.proto.selection_mode]
    assert len(selectable) == 2  # the status bars and the heatmap


def test_auto_refresh_toggle_asks_again():
    calls = []

    def source():
        calls.append(1)
        return synthetic_imports(100, seed=len(calls))

    app = AppTest.from_file(PAGE, default_timeout=60)
    app.session_state[IMPORTS_SOURCE_KEY] = source
    app.run()
    app.toggle(key="dashboard.auto").set_value(True).run()
    assert not app.exception and not app.error
    assert any("refreshed every 10 s" in c.value for c in app.caption)


def test_unreachable_api_is_an_error_message_not_a_crash(monkeypatch, unused_port):
    monkeypatch.setenv("TOOLKIT_API_URL", f"http://127.0.0.1:{unused_port}")
    monkeypatch.setenv("TOOLKIT_API_KEY", "k")
    app = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not app.exception
    assert len(app.error) == 1 and "Loading the import list failed" in app.error[0].value


def test_dashboard_over_the_live_service(app_api, imported):
    app = AppTest.from_file(PAGE, default_timeout=60).run()
    app.multiselect(key="dashboard.workspaces").set_value([imported.workspace]).run()
    assert not app.exception and not app.error
    shown = metrics(app)
    assert shown["Imports"] == "3" and shown["Finished"] == "2" and shown["Failed"] == "1"
    # The failed file's rows count as not applied, here as on its detail.
    assert shown["Rows applied"] == f"{imported.rows_applied:,}"
    assert shown["Rows not applied"] == f"{imported.rows_rejected + imported.failed.failure_count:,}"
    heatmap = figure(app, "Failure codes by workspace (failed imports)").data[0]
    assert values(heatmap.x) == [imported.workspace] and values(heatmap.y) == ["FOOTER_COUNT_MISMATCH"]
    assert values(heatmap.marker.color) == [1]
    assert [list(c) for c in heatmap.customdata] == [[imported.workspace, "FOOTER_COUNT_MISMATCH"]]


def test_the_date_range_filter_counts_whole_utc_days():
    records = synthetic_imports(3000, seed=8)
    app = page_with(records)
    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 7)
    app.date_input(key="dashboard.dates").set_value((first, last)).run()
    assert not app.exception and not app.error
    days = records["date_created"].dt.date
    assert metrics(app)["Imports"] == f"{int(((days >= first) & (days <= last)).sum()):,}"
