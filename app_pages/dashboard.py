"""Dashboard: which workspaces fail, how often and why (DuckDB aggregates, plotly charts)."""

from __future__ import annotations

import streamlit as st

from toolkit.app_support import charts, session
from toolkit.app_support.ui import filter_controls, format_seconds, show_errors

st.title("Dashboard")

imports = None
with show_errors("Loading the import list"):
    imports = session.load_imports()
if imports is None:
    st.stop()

filters = filter_controls(imports, key="dashboard")
data = None
with show_errors("Aggregating imports"):
    data = session.dashboard_for(imports, filters)
if data is None:
    st.stop()

kpis = data.kpis
cols = st.columns(6)
cols[0].metric("Imports", f"{kpis.imports:,}", help=f"{kpis.in_flight:,} still in flight")
cols[1].metric("Finished", f"{kpis.finished:,}")
cols[2].metric("Failed", f"{kpis.failed:,}")
cols[3].metric("Failure rate", "—" if kpis.failure_rate is None else f"{kpis.failure_rate:.1%}",
               help="FAILED / (FINISHED + FAILED)")
cols[4].metric("Rows applied / rejected", f"{kpis.rows_succeeded:,} / {kpis.rows_rejected:,}")
cols[5].metric("Median processing", format_seconds(kpis.median_processing_s),
               help=f"95th percentile: {format_seconds(kpis.p95_processing_s)}")

if kpis.imports == 0:
    st.info("No imports match these filters yet: import a file on the Validate & import page.")
    st.stop()

left, right = st.columns(2)
left.plotly_chart(charts.status_by_workspace_chart(data.status_by_workspace), key="status_by_workspace")
if data.failures_by_workspace.empty:
    right.success("No failed imports in this selection.")
else:
    right.plotly_chart(charts.failure_heatmap(data.failures_by_workspace), key="failure_heatmap")
left, right = st.columns(2)
left.plotly_chart(charts.imports_over_time_chart(data.over_time, data.bucket), key="over_time")
right.plotly_chart(charts.rows_over_time_chart(data.rows_over_time, data.bucket), key="rows_over_time")
st.plotly_chart(charts.processing_time_chart(data.processing_histogram), key="processing_time")
st.caption(f"Aggregated in DuckDB; refreshed at most every {session.CACHE_TTL_SECONDS} s.")
