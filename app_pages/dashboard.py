"""Dashboard: which workspaces fail, how often and why (DuckDB aggregates, plotly charts).

Click a bar of "Imports by status per workspace" or a cell of the failure
heatmap: the Imports page opens, filtered to those imports.
"""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import charts, session
from toolkit.app_support.drill import DRILL_KEY, filters_from_click
from toolkit.app_support.ui import (
    AUTO_REFRESH_SECONDS,
    auto_refresh_toggle,
    compact_number,
    filter_controls,
    format_seconds,
    page_link,
    show_errors,
)

IMPORTS_PAGE = "app_pages/imports.py"

st.title("Dashboard")
auto = auto_refresh_toggle(st, key="dashboard.auto")


def drill_down(chart: str, event: object, filters: object) -> None:
    """A click on ``chart``: open the Imports page filtered to the clicked imports."""
    points = list(getattr(getattr(event, "selection", None), "points", None) or [])
    drill = filters_from_click(chart, points, base=filters)  # type: ignore[arg-type]
    if drill is not None:
        st.session_state[DRILL_KEY] = drill
        st.switch_page(IMPORTS_PAGE)


@st.fragment(run_every=AUTO_REFRESH_SECONDS if auto else None)
def dashboard() -> None:
    if auto:
        session.refresh_imports()
    imports = None
    with show_errors("Loading the import list"):
        imports = session.load_imports()
    if imports is None:
        return
    filters = filter_controls(imports, key="dashboard")
    data = None
    with show_errors("Aggregating imports"):
        data = session.dashboard_for(imports, filters)
    if data is None:
        return

    kpis = data.kpis
    # Two rows of four: every value fits its tile at 1280 px, sidebar open.
    first = st.columns(4)
    first[0].metric("Imports", compact_number(kpis.imports), help=f"{kpis.imports:,} imports; "
                    f"{kpis.in_flight:,} still in flight")
    first[1].metric("Finished", compact_number(kpis.finished), help=f"{kpis.finished:,}")
    first[2].metric("Failed", compact_number(kpis.failed), help=f"{kpis.failed:,}")
    first[3].metric("Failure rate", "—" if kpis.failure_rate is None else f"{kpis.failure_rate:.1%}",
                    help="FAILED / (FINISHED + FAILED)")
    second = st.columns(4)
    second[0].metric("Rows applied", compact_number(kpis.rows_succeeded), help=f"{kpis.rows_succeeded:,}")
    second[1].metric("Rows not applied", compact_number(kpis.rows_not_applied),
                     help=f"{kpis.rows_rejected:,} rejected by finished imports + "
                          f"{kpis.rows_of_failed_files:,} in failed files")
    second[2].metric("Median processing", format_seconds(kpis.median_processing_s))
    second[3].metric("95th percentile", format_seconds(kpis.p95_processing_s))

    if kpis.imports == 0:
        if imports.empty:
            st.info("No imports yet. Drop a file on **Validate & import** to send your first one; "
                    "this page then shows how your imports go.", icon=":material/info:")
            page_link("app_pages/validate_import.py", "Validate & import", ":material/fact_check:")
        else:
            st.info(f"No imports match these filters (of {len(imports):,}). Clear a filter or widen the "
                    "date range.", icon=":material/filter_alt_off:")
        return

    st.caption("Click a bar or a heatmap cell to list those imports on the Imports page.")
    left, right = st.columns(2)
    with left:
        event = st.plotly_chart(charts.status_by_workspace_chart(data.status_by_workspace),
                                key="status_by_workspace", on_select="rerun", selection_mode="points")
        drill_down("status_by_workspace", event, filters)
    with right:
        if data.failures_by_workspace.empty:
            st.success("No failed imports in this selection.", icon=":material/check_circle:")
        else:
            event = st.plotly_chart(charts.failure_heatmap(data.failures_by_workspace),
                                    key="failure_heatmap", on_select="rerun", selection_mode="points")
            drill_down("failure_heatmap", event, filters)
    left, right = st.columns(2)
    left.plotly_chart(charts.imports_over_time_chart(data.over_time, data.bucket), key="over_time")
    right.plotly_chart(charts.rows_over_time_chart(data.rows_over_time, data.bucket), key="rows_over_time")
    st.plotly_chart(charts.processing_time_chart(data.processing_histogram), key="processing_time")
    st.caption("Aggregated in DuckDB; "
               + (f"refreshed every {AUTO_REFRESH_SECONDS} s." if auto
                  else f"reused for up to {session.CACHE_TTL_SECONDS} s."))


dashboard()
