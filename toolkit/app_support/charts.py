"""Plotly figures for the dashboard, drawn from ``DashboardData`` frames.

Each function takes one aggregate (already small: grouped in DuckDB) and
returns a figure; the page only places them.

    >>> import pandas as pd
    >>> fig = status_by_workspace_chart(pd.DataFrame(
    ...     {"workspace": ["ws-eu"], "status": ["FINISHED"], "imports": [3]}))
    >>> fig.layout.barmode
    'stack'
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from toolkit.app_support.records import STATUS_HEX, STATUSES

__all__ = [
    "status_by_workspace_chart",
    "failure_heatmap",
    "imports_over_time_chart",
    "rows_over_time_chart",
    "processing_time_chart",
]

_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend_title_text="", height=360)


def status_by_workspace_chart(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: imports per workspace, split by status."""
    fig = go.Figure()
    for status in _ordered_statuses(frame["status"]):
        part = frame[frame["status"] == status]
        fig.add_bar(
            x=part["workspace"], y=part["imports"], name=status,
            marker_color=STATUS_HEX.get(status),
        )
    fig.update_layout(title="Imports by status per workspace", barmode="stack", **_LAYOUT)
    fig.update_yaxes(title="imports")
    return fig


def failure_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Heatmap: FAILED imports per workspace (rows) and failure code (columns)."""
    grid = frame.pivot_table(
        index="workspace", columns="failure_code", values="imports", aggfunc="sum", fill_value=0
    )
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(), x=list(grid.columns), y=list(grid.index),
            colorscale="Reds", text=grid.to_numpy(), texttemplate="%{text}",
            hovertemplate="%{y} · %{x}: %{z} failed imports<extra></extra>",
        )
    )
    fig.update_layout(title="Failure codes by workspace (failed imports)", **_LAYOUT)
    return fig


def imports_over_time_chart(frame: pd.DataFrame, bucket: str) -> go.Figure:
    """Bars of imports per ``bucket`` with the failure rate as a line on a second axis."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=frame["period"], y=frame["imports"], name="imports", marker_color="#1f6feb")
    fig.add_scatter(
        x=frame["period"], y=frame["failure_rate"], name="failure rate",
        mode="lines+markers", line_color=STATUS_HEX["FAILED"], secondary_y=True,
    )
    fig.update_layout(title=f"Imports and failure rate per {bucket}", **_LAYOUT)
    fig.update_yaxes(title_text="imports", secondary_y=False)
    fig.update_yaxes(title_text="failure rate", tickformat=".0%", rangemode="tozero", secondary_y=True)
    return fig


def rows_over_time_chart(frame: pd.DataFrame, bucket: str) -> go.Figure:
    """Grouped bars: rows applied and rows rejected per ``bucket`` (finished imports)."""
    fig = go.Figure()
    fig.add_bar(x=frame["period"], y=frame["rows_succeeded"], name="rows succeeded",
                marker_color=STATUS_HEX["FINISHED"])
    fig.add_bar(x=frame["period"], y=frame["rows_rejected"], name="rows rejected",
                marker_color=STATUS_HEX["FAILED"])
    fig.update_layout(title=f"Rows succeeded and rejected per {bucket}", barmode="group", **_LAYOUT)
    return fig


def processing_time_chart(frame: pd.DataFrame) -> go.Figure:
    """Histogram (pre-binned) of processing seconds, stacked by final status."""
    fig = go.Figure()
    for status in _ordered_statuses(frame["status"]):
        part = frame[frame["status"] == status]
        fig.add_bar(
            x=(part["seconds_from"] + part["seconds_to"]) / 2,
            y=part["imports"],
            width=(part["seconds_to"] - part["seconds_from"]),
            name=status,
            marker_color=STATUS_HEX.get(status),
            customdata=part[["seconds_from", "seconds_to"]].to_numpy(),
            hovertemplate="%{customdata[0]:.2f}–%{customdata[1]:.2f} s: %{y}<extra></extra>",
        )
    fig.update_layout(title="Processing time (start to end)", barmode="stack", bargap=0, **_LAYOUT)
    fig.update_xaxes(title="seconds")
    fig.update_yaxes(title="imports")
    return fig


def _ordered_statuses(values: pd.Series) -> list[str]:
    present = set(values.dropna())
    return [s for s in STATUSES if s in present] + sorted(present - set(STATUSES))
