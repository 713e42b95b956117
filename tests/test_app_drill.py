"""From a dashboard click to the matching imports, and the rejected-rows CSV as a table (no Streamlit)."""

from __future__ import annotations

import random

import pandas as pd

from toolkit.app_support.aggregations import ImportFilters, filter_imports
from toolkit.app_support.charts import failure_heatmap, status_by_workspace_chart
from toolkit.app_support.drill import filters_from_click, rejected_rows_table
from toolkit.app_support.synthetic import synthetic_imports
from toolkit.cc5 import validate
from toolkit.demo import make_demo_file


def clicked(fig, trace: int, point: int) -> dict:
    """The point Streamlit reports for a click: the trace's x, y and customdata at ``point``."""
    data = fig.data[trace]
    return {"x": data.x[point], "y": data.y[point], "customdata": list(data.customdata[point]),
            "curve_number": trace, "point_index": point}


def test_a_heatmap_cell_lists_exactly_its_failed_imports():
    records = synthetic_imports(5000, seed=3)
    failed = records[records["status"] == "FAILED"]
    frame = (failed.groupby(["stream_name", "failure_code"]).size().rename("imports").reset_index()
             .rename(columns={"stream_name": "workspace"}))
    fig = failure_heatmap(frame)
    counts = [int(n) for n in fig.data[0].marker.color]
    point = clicked(fig, 0, counts.index(max(counts)))
    base = ImportFilters(entity_types=("customer",))
    filters = filters_from_click("failure_heatmap", [point], base=base)
    assert filters.entity_types == ("customer",)  # the dashboard's other filters stay
    listed = filter_imports(records, filters)
    expected = failed[(failed["stream_name"] == point["x"]) & (failed["failure_code"] == point["y"])
                      & (failed["entity_type"] == "customer")]
    assert set(listed["file_id"]) == set(expected["file_id"]) and len(listed) > 0
    assert set(listed["status"]) == {"FAILED"} and set(listed["failure_code"]) == {point["y"]}


def test_a_status_bar_lists_its_workspace_and_status():
    frame = pd.DataFrame({"workspace": ["ws-eu", "ws-us", "ws-eu"], "status": ["FINISHED", "FINISHED", "FAILED"],
                          "imports": [5, 2, 1]})
    fig = status_by_workspace_chart(frame)
    failed_trace = [t.name for t in fig.data].index("FAILED")
    filters = filters_from_click("status_by_workspace", [clicked(fig, failed_trace, 0)])
    assert (filters.workspaces, filters.statuses, filters.failure_codes) == (("ws-eu",), ("FAILED",), ())


def test_no_point_no_drill():
    assert filters_from_click("failure_heatmap", []) is None
    assert filters_from_click("status_by_workspace", [{"x": "ws-eu"}]) is None  # not a bar of ours


def test_rejected_rows_become_line_code_field_value_error(tmp_path):
    file = make_demo_file(random.Random(3), workspace="ws-eu", entity="customer", defect="bad_values", rows=8)
    path = tmp_path / file.name
    path.write_text(file.data, encoding="utf-8")
    with validate(path, progress=False) as report:
        report.write_rejected(tmp_path / "rejected.csv")
        findings = {(f.line, f.field, f.value) for f in report.iter_findings() if f.level == "row"}
    table = rejected_rows_table(pd.read_csv(tmp_path / "rejected.csv", dtype=str, keep_default_na=False))
    assert len(table) == file.bad_rows
    assert {(int(r.line), r.field, r.value) for r in table.itertuples()} == findings
    assert all(r.raw.startswith("10|") and r.error and r.code for r in table.itertuples())


def test_several_errors_on_one_line_are_one_row_each():
    csv = pd.DataFrame({"line": ["9"], "row_type": ["10"], "a": ["x"], "b": ["y"], "raw": ["10|x|y|"],
                        "error": ["INVALID_INT: field a: 'x' is not an integer; "
                                  "INVALID_DATE: field b: 'y' is not a date (YYYYMMDD)"]})
    table = rejected_rows_table(csv)
    assert table[["line", "code", "field", "value"]].values.tolist() == [
        [9, "INVALID_INT", "a", "x"], [9, "INVALID_DATE", "b", "y"]]
    assert table["error"].tolist() == ["'x' is not an integer", "'y' is not a date (YYYYMMDD)"]
