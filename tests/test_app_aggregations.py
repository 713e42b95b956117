"""The dashboard's DuckDB aggregations and the import-list shape they rely on."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from toolkit.app_support.aggregations import (
    ImportFilters,
    dashboard_data,
    filter_imports,
    filter_options,
    time_bucket_for,
)
from toolkit.app_support.charts import (
    failure_heatmap,
    imports_over_time_chart,
    processing_time_chart,
    rows_over_time_chart,
    status_by_workspace_chart,
)
from toolkit.app_support.records import IMPORT_COLUMNS, normalize_imports
from toolkit.app_support.synthetic import synthetic_imports

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def record(file_id, workspace, status, *, day=0, seconds=None, ok=0, rejected=0, code=None,
           entity="customer"):
    created = T0 + dt.timedelta(days=day, minutes=int(file_id[1:]))  # distinct, ordered by id
    start = created + dt.timedelta(seconds=1) if seconds is not None else None
    end = start + dt.timedelta(seconds=seconds) if seconds is not None else None
    return {
        "file_id": file_id, "file_name": f"{file_id}.cc5txt", "file_type": "cc5",
        "stream_name": workspace, "entity_type": entity, "date_created": created,
        "process_start_time": start, "process_end_time": end, "successful_count": ok,
        "failure_count": rejected, "status": status, "failure_code": code,
    }


@pytest.fixture
def imports() -> pd.DataFrame:
    return pd.DataFrame([
        record("f1", "ws-eu", "FINISHED", day=0, seconds=2, ok=10, rejected=1),
        record("f2", "ws-eu", "FAILED", day=0, seconds=4, code="BAD_HEADER"),
        record("f3", "ws-eu", "FAILED", day=1, seconds=6, code="BAD_HEADER", entity="account"),
        record("f4", "ws-us", "FINISHED", day=1, seconds=8, ok=5, entity="account"),
        record("f5", "ws-us", "FAILED", day=2, seconds=10, code="WORKSPACE_MISMATCH"),
        record("f6", "ws-us", "QUEUED", day=2),
    ])


def test_kpis_count_statuses_rows_and_failure_rate(imports):
    kpis = dashboard_data(imports).kpis
    assert (kpis.imports, kpis.finished, kpis.failed, kpis.in_flight) == (6, 2, 3, 1)
    assert kpis.failure_rate == pytest.approx(3 / 5)
    assert (kpis.rows_succeeded, kpis.rows_rejected) == (15, 1)
    assert kpis.median_processing_s == pytest.approx(6.0)


def test_status_and_failure_code_breakdowns_per_workspace(imports):
    data = dashboard_data(imports)
    by_status = {(r.workspace, r.status): r.imports for r in data.status_by_workspace.itertuples()}
    assert by_status == {("ws-eu", "FAILED"): 2, ("ws-eu", "FINISHED"): 1,
                         ("ws-us", "FAILED"): 1, ("ws-us", "FINISHED"): 1, ("ws-us", "QUEUED"): 1}
    codes = {(r.workspace, r.failure_code): r.imports for r in data.failures_by_workspace.itertuples()}
    assert codes == {("ws-eu", "BAD_HEADER"): 2, ("ws-us", "WORKSPACE_MISMATCH"): 1}


def test_over_time_buckets_by_day_with_failure_rate(imports):
    data = dashboard_data(imports)
    assert data.bucket == "day"
    over = data.over_time
    assert list(over["imports"]) == [2, 2, 2]
    assert list(over["period"].dt.day) == [20, 21, 22]
    assert str(over["period"].dt.tz) == "UTC"
    assert list(over["failure_rate"]) == pytest.approx([0.5, 0.5, 1.0])
    rows = data.rows_over_time
    # Failed files count too (their rows are not applied): day 22 has only a FAILED one.
    assert list(rows["rows_succeeded"]) == [10, 5, 0] and list(rows["rows_rejected"]) == [1, 0, 0]


def test_periods_without_imports_are_gaps_not_lines(imports):
    quiet = imports.copy()
    quiet.loc[quiet["file_id"].isin(["f3", "f4"]), "date_created"] += dt.timedelta(days=4)  # day 25
    quiet.loc[quiet["file_id"].isin(["f3", "f4"]), "process_end_time"] += dt.timedelta(days=4)
    data = dashboard_data(quiet)
    over = data.over_time
    assert list(over["period"].dt.day) == [20, 21, 22, 23, 24, 25]  # every day, the quiet ones too
    assert list(over["imports"]) == [2, 0, 2, 0, 0, 2]
    assert over["failure_rate"].isna().tolist() == [False, True, False, True, True, False]
    fig = imports_over_time_chart(over, data.bucket)
    line = next(t for t in fig.data if t.type == "scatter")
    assert not line.connectgaps  # plotly leaves the null days empty
    assert len(data.rows_over_time) == 6


def test_failed_files_rows_are_counted_as_not_applied():
    failed = pd.DataFrame([record("f1", "ws-eu", "FAILED", seconds=1, rejected=2000, code="FOOTER_COUNT_MISMATCH"),
                           record("f2", "ws-eu", "FINISHED", seconds=1, ok=8, rejected=2)])
    kpis = dashboard_data(failed).kpis
    assert (kpis.rows_rejected, kpis.rows_of_failed_files, kpis.rows_not_applied) == (2, 2000, 2002)
    rows = dashboard_data(failed, ImportFilters(statuses=("FAILED",))).rows_over_time
    assert rows["rows_of_failed_files"].sum() == 2000  # a FAILED-only selection is not an empty chart


def test_processing_histogram_holds_every_ended_import(imports):
    hist = dashboard_data(imports).processing_histogram
    assert hist["imports"].sum() == 5
    assert hist["seconds_from"].min() == pytest.approx(2.0)
    assert set(hist["status"]) == {"FINISHED", "FAILED"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ImportFilters(), ["f6", "f5", "f4", "f3", "f2", "f1"]),
        (ImportFilters(workspaces=("ws-us",)), ["f6", "f5", "f4"]),
        (ImportFilters(statuses=("FAILED",)), ["f5", "f3", "f2"]),
        (ImportFilters(entity_types=("account",)), ["f4", "f3"]),
        (ImportFilters(created_from=dt.date(2026, 11, 21), created_to=dt.date(2026, 11, 21)), ["f4", "f3"]),
        (ImportFilters(workspaces=("ws-eu",), statuses=("FINISHED",)), ["f1"]),
    ],
)
def test_filters_narrow_the_list_newest_first(imports, filters, expected):
    assert list(filter_imports(imports, filters)["file_id"]) == expected


def test_filters_apply_to_every_aggregate(imports):
    data = dashboard_data(imports, ImportFilters(workspaces=("ws-eu",)))
    assert data.kpis.imports == 3
    assert set(data.status_by_workspace["workspace"]) == {"ws-eu"}
    assert data.processing_histogram["imports"].sum() == 3


def test_empty_list_gives_empty_aggregates_and_drawable_charts():
    data = dashboard_data(pd.DataFrame())
    assert data.kpis.imports == 0 and data.kpis.failure_rate is None
    assert data.over_time.empty and data.processing_histogram.empty
    for fig in (status_by_workspace_chart(data.status_by_workspace),
                failure_heatmap(data.failures_by_workspace),
                imports_over_time_chart(data.over_time, data.bucket),
                rows_over_time_chart(data.rows_over_time, data.bucket),
                processing_time_chart(data.processing_histogram)):
        fig.to_json()


def test_normalize_accepts_client_frames_and_api_values():
    client_like = pd.DataFrame({
        "file_id": pd.array(["f1"], dtype="string"),
        "size": pd.array([12], dtype="Int64"),
        "date_created": pd.to_datetime(["2026-11-22T10:30:00.123Z"], utc=True).astype("datetime64[ns, UTC]"),
        "process_start_time": [1795343400.5],
        "process_end_time": ["2026-11-22T10:31:00Z"],
        "successful_count": ["7"],
    })
    out = normalize_imports(client_like)
    assert list(out.columns) == [*IMPORT_COLUMNS, "size"]
    assert str(out["date_created"].dtype) == "datetime64[us, UTC]"
    assert out.loc[0, "process_start_time"] == pd.Timestamp("2026-11-22T10:30:00.5Z")
    assert out.loc[0, "successful_count"] == 7 and pd.isna(out.loc[0, "failure_count"])


def test_time_bucket_follows_the_span():
    assert time_bucket_for(dt.timedelta(days=10)) == "day"
    assert time_bucket_for(dt.timedelta(hours=5)) == "hour"
    assert time_bucket_for(dt.timedelta(minutes=30)) == "minute"
    assert time_bucket_for(dt.timedelta(seconds=40)) == "second"


def test_filter_options(imports):
    options = filter_options(imports)
    assert options["workspaces"] == ["ws-eu", "ws-us"]
    assert options["entity_types"] == ["account", "customer"]


def test_synthetic_records_have_the_list_shape():
    df = synthetic_imports(2000, seed=3)
    assert list(df.columns) == list(IMPORT_COLUMNS)
    data = dashboard_data(df)
    assert data.kpis.imports == 2000
    assert data.kpis.finished + data.kpis.failed + data.kpis.in_flight == 2000
