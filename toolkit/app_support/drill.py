"""From a click on a dashboard chart to the matching imports, and from a rejected-rows CSV to a table.

Plain Python (no Streamlit), so the rules are unit-tested:

- ``filters_from_click(chart, points)``: the Imports filters for the points
  Streamlit reports when a bar or a heatmap cell is clicked
  (``st.plotly_chart(on_select="rerun")``); the dashboard hands them to the
  Imports page in ``st.session_state[DRILL_KEY]``.
- ``rejected_rows_table(csv_frame)``: the service's rejected-rows CSV as one
  row per error: line, code, field, value, error and the raw line.

    >>> filters_from_click("failure_heatmap", [{"customdata": ["ws-eu", "BAD_HEADER"]}])
    ImportFilters(workspaces=('ws-eu',), statuses=('FAILED',), entity_types=(), failure_codes=('BAD_HEADER',), created_from=None, created_to=None)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from toolkit.app_support.aggregations import ImportFilters

__all__ = ["DRILL_KEY", "filters_from_click", "rejected_rows_table", "REJECTED_COLUMNS"]

#: Session-state key the dashboard leaves for the Imports page (its filters).
DRILL_KEY = "imports.drill"
REJECTED_COLUMNS = ["line", "code", "field", "value", "error", "raw"]
_ONE_ERROR = re.compile(r"; (?=[A-Z][A-Z0-9_]+: )")
_CODE_FIELD = re.compile(r"^(?P<code>[A-Z][A-Z0-9_]+): (?:field (?P<field>[^:]+): )?(?P<message>.*)$", re.S)


_NO_FILTERS = ImportFilters()  # frozen: one shared default


def filters_from_click(
    chart: str, points: Sequence[dict[str, Any]], base: ImportFilters = _NO_FILTERS
) -> ImportFilters | None:
    """The filters that list the imports behind the clicked ``points`` of ``chart`` (None: no point).

    ``chart`` is ``"status_by_workspace"`` (a bar: workspace and status) or
    ``"failure_heatmap"`` (a cell: workspace and failure code). ``base``
    keeps the dashboard's other filters (entity types, dates).

        >>> filters_from_click("status_by_workspace", [{"x": "ws-us", "customdata": ["FAILED"]}]).statuses
        ('FAILED',)
        >>> filters_from_click("status_by_workspace", []) is None
        True
    """
    workspaces: list[str] = []
    statuses: list[str] = []
    codes: list[str] = []
    for point in points:
        data = point.get("customdata") or []
        if chart == "failure_heatmap" and len(data) >= 2:
            workspaces.append(str(data[0]))
            codes.append(str(data[1]))
            statuses.append("FAILED")
        elif chart == "status_by_workspace" and point.get("x") is not None and data:
            workspaces.append(str(point["x"]))
            statuses.append(str(data[0]))
    if not workspaces:
        return None
    unique = lambda values: tuple(dict.fromkeys(values))  # noqa: E731 - order kept, duplicates gone
    return replace(base, workspaces=unique(workspaces), statuses=unique(statuses),
                   failure_codes=unique(codes))


def rejected_rows_table(rejected: pd.DataFrame) -> pd.DataFrame:
    """One row per error of the service's rejected-rows CSV: line, code, field, value, error, raw.

    ``value`` is the row's value of that field (empty for row-wide errors).

        >>> csv = pd.DataFrame({"line": [7], "error": ["INVALID_BOOL: field active: 'yes' is not a boolean"],
        ...                     "row_type": ["10"], "active": ["yes"], "raw": ["10|C1|yes|"]})
        >>> rejected_rows_table(csv).iloc[0].to_dict()
        {'line': 7, 'code': 'INVALID_BOOL', 'field': 'active', 'value': 'yes', 'error': "'yes' is not a boolean", 'raw': '10|C1|yes|'}
    """
    rows: list[dict[str, Any]] = []
    for record in rejected.to_dict("records"):
        for one in _ONE_ERROR.split(str(record.get("error") or "")):
            match = _CODE_FIELD.match(one)
            code, field, message = (match["code"], match["field"], match["message"]) if match else ("", None, one)
            value = record.get(field) if field else None
            rows.append({
                "line": int(record["line"]) if pd.notna(record.get("line")) else None,
                "code": code,
                "field": field or "",
                "value": "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value),
                "error": message,
                "raw": "" if pd.isna(record.get("raw")) else str(record.get("raw")),
            })
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS)
