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

# Room for axis titles and tick labels (automargin grows it further when needed),
# the legend above the plot so it never squeezes it, and a click selects.
_LAYOUT = dict(
    margin=dict(l=60, r=60, t=90, b=50), legend_title_text="", height=380,
    legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0),
    title_y=0.97, title_yanchor="top",
    clickmode="event+select", dragmode=False,
)


def status_by_workspace_chart(frame: pd.DataFrame) -> go.Figure:
    """Stacked bars: imports per workspace, split by status (a bar's customdata: its status)."""
    fig = go.Figure()
    for status in _ordered_statuses(frame["status"]):
        part = frame[frame["status"] == status]
        fig.add_bar(
            x=part["workspace"], y=part["imports"], name=status,
            marker_color=STATUS_HEX.get(status), customdata=[[status]] * len(part),
            hovertemplate="%{x} · " + status + ": %{y} imports (click: list them)<extra></extra>",
        )
    fig.update_layout(title="Imports by status per workspace", barmode="stack", showlegend=True, **_LAYOUT)
    fig.update_yaxes(title="imports", automargin=True)
    fig.update_xaxes(automargin=True)
    return fig


def failure_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Heatmap of FAILED imports per failure code (rows) and workspace (columns).

    Drawn as square markers, not ``go.Heatmap``: plotly selects (and so
    Streamlit reports a click on) markers, never heatmap cells. Codes go on
    the y axis, where their long names read horizontally.

        >>> fig = failure_heatmap(pd.DataFrame({"workspace": ["ws-eu"], "failure_code": ["BAD_HEADER"],
        ...                                     "imports": [3]}))
        >>> list(fig.data[0].x), list(fig.data[0].y), [int(n) for n in fig.data[0].marker.color]
        (['ws-eu'], ['BAD_HEADER'], [3])
    """
    cells = frame[frame["imports"] > 0]
    codes = sorted(cells["failure_code"].unique(), reverse=True)  # A at the top
    workspaces = sorted(cells["workspace"].unique())
    # The plot area is about 420 x 240 px in a half-width column at 1280 px.
    size = max(14, min(44, 380 // max(len(workspaces), 1), 220 // max(len(codes), 1)))
    counts = cells["imports"].astype(int)
    dark = counts > counts.max() * 0.55 if len(counts) else counts.astype(bool)
    fig = go.Figure(
        go.Scatter(
            x=cells["workspace"], y=cells["failure_code"], mode="markers+text",
            text=counts.astype(str), textfont=dict(color=["#ffffff" if d else "#1c2430" for d in dark], size=12),
            marker=dict(symbol="square", size=size, color=counts, colorscale="Reds", cmin=0,
                        cmax=max(int(counts.max()) if len(counts) else 1, 1),
                        showscale=True, colorbar=dict(title="failed", thickness=12),
                        line=dict(width=1, color="#ffffff")),
            customdata=cells[["workspace", "failure_code"]].to_numpy(),
            hovertemplate="%{x} · %{y}: %{marker.color} failed imports (click: list them)<extra></extra>",
        )
    )
    fig.update_layout(title="Failure codes by workspace (failed imports)", showlegend=False, **_LAYOUT)
    fig.update_xaxes(categoryorder="array", categoryarray=workspaces, automargin=True, showgrid=False)
    fig.update_yaxes(categoryorder="array", categoryarray=codes, automargin=True, showgrid=False)
    return fig


def imports_over_time_chart(frame: pd.DataFrame, bucket: str) -> go.Figure:
    """Bars of imports per ``bucket`` with the failure rate as a line on a second axis.

    Periods without ended imports have no rate: the line stops there
    (``connectgaps`` off) instead of running straight across.
    """
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=frame["period"], y=frame["imports"], name="imports", marker_color="#1f6feb")
    fig.add_scatter(
        x=frame["period"], y=frame["failure_rate"], name="failure rate", connectgaps=False,
        mode="lines+markers", line_color=STATUS_HEX["FAILED"], secondary_y=True,
    )
    fig.update_layout(title=f"Imports and failure rate per {bucket}", **_LAYOUT)
    fig.update_yaxes(title_text="imports", secondary_y=False, automargin=True)
    fig.update_yaxes(title_text="failure rate", tickformat=".0%", range=[0, 1.05], dtick=0.25, secondary_y=True,
                     automargin=True, showgrid=False)
    fig.update_xaxes(automargin=True)
    return fig


def rows_over_time_chart(frame: pd.DataFrame, bucket: str) -> go.Figure:
    """Stacked bars per ``bucket``: rows applied, rows rejected, and rows of failed files (not applied)."""
    fig = go.Figure()
    for column, name, color in (
        ("rows_succeeded", "applied", STATUS_HEX["FINISHED"]),
        ("rows_rejected", "rejected", "#f0a030"),
        ("rows_of_failed_files", "in failed files", STATUS_HEX["FAILED"]),
    ):
        if column in frame:
            fig.add_bar(x=frame["period"], y=frame[column], name=name, marker_color=color)
    fig.update_layout(title=f"Rows applied and not applied per {bucket}", barmode="stack", **_LAYOUT)
    fig.update_yaxes(title="rows", automargin=True)
    fig.update_xaxes(automargin=True)
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
    fig.update_xaxes(title="seconds", automargin=True)
    fig.update_yaxes(title="imports", automargin=True)
    return fig


def _ordered_statuses(values: pd.Series) -> list[str]:
    present = set(values.dropna())
    return [s for s in STATUSES if s in present] + sorted(present - set(STATUSES))
