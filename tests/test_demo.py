"""Demo data: generated files carry real defects, and `toolkit demo` runs them through the real service."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pytest
from typer.testing import CliRunner

from toolkit.cc5 import validate
from toolkit.cli import app as cli
from toolkit.client import ImportClient
from toolkit.demo import (
    DEFECTS,
    ENTITIES,
    FILE_DEFECTS,
    ROW_DEFECTS,
    WORKSPACES,
    make_demo_file,
    plan_demo,
    run_demo,
)


def test_plan_is_a_deterministic_mix():
    now = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.timezone.utc)
    plan = plan_demo(300, seed=4, now=now)
    assert [p.file.data for p in plan] == [p.file.data for p in plan_demo(300, seed=4, now=now)]
    assert plan[0].file.data.startswith("00|DEMO|cc5|20261122093000|demo-00000\n")
    assert {p.file.workspace for p in plan} == set(WORKSPACES)
    assert {p.file.entity for p in plan} == set(ENTITIES)
    defects = Counter(p.file.defect for p in plan)
    assert 150 < defects["clean"] < 280 and len(defects) >= 10
    assert sum(not p.upload for p in plan) >= 1 and sum(p.delete_after for p in plan) >= 1
    drift = [i for i, p in enumerate(plan) if p.file.defect == "schema_drift"]
    assert drift == list(range(300 - len(drift), 300))  # last: the tables exist by then
    # The struggling workspace fails more often than the healthy one.
    def defect_rate(ws):
        files = [p.file for p in plan if p.file.workspace == ws]
        return sum(f.defect != "clean" for f in files) / len(files)
    assert defect_rate("ws-latam") > defect_rate("ws-eu")


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_generated_defect_is_what_the_validator_finds(defect, tmp_path):
    file = make_demo_file(random.Random(9), workspace="ws-eu", entity="customer", defect=defect, rows=6)
    path = tmp_path / file.name
    path.write_text(file.data, encoding="utf-8")
    with validate(path, expected_workspace="ws-eu", progress=False) as report:
        if defect == "clean":
            assert report.ok and not report.counts
        elif defect == "warnings":
            assert report.ok and set(report.counts) == {"RESERVED_FIELD_NAME", "DUPLICATE_KEY"}
        elif defect in ROW_DEFECTS:
            assert report.importable and not report.ok
            assert report.rejected_rows == file.bad_rows > 0
        elif defect == "schema_drift":
            assert report.ok  # only the service, which knows the table, can refuse it
        else:
            assert not report.importable
            assert FILE_DEFECTS[defect] in {f.code for f in report.file_errors}
    assert file.expect == ("FAILED" if defect in FILE_DEFECTS else "FINISHED")


def test_run_demo_goes_through_the_real_service(live_service):
    seen: list[tuple[int, int]] = []
    with ImportClient(live_service.url, live_service.api_key) as client:
        summary = run_demo(client, 24, seed=2, workers=6, progress=False,
                           on_progress=lambda done, total: seen.append((done, total)))
        records = {r.file_id: r for r in client.list_records() if r.file_id in set(summary.file_ids)}
    assert summary.imports == 24 and len(set(summary.file_ids)) == 24 == len(records)
    assert [done for done, _ in seen] == list(range(1, 25)) and {t for _, t in seen} == {24}
    # The outcomes are the service's: they match what the API says now.
    assert Counter(r.status for r in records.values()) == summary.statuses
    assert {"FINISHED", "FAILED"} <= set(summary.statuses)
    assert set(summary.statuses) <= {"FINISHED", "FAILED", "DELETED"}
    assert Counter(r.failure_code for r in records.values() if r.failure_code) == summary.failure_codes
    assert "SCHEMA_MISMATCH" in summary.failure_codes
    assert any(r.failure_count > 0 for r in records.values() if r.status == "FINISHED")


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_cli_demo_against_a_url(live_service, api):
    result = CliRunner().invoke(cli, ["demo", "--url", live_service.url, "--key", live_service.api_key,
                                      "--api", api, "--count", "10", "--workers", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]  # (stderr has the progress bar)
    assert first.startswith("10 imports (") and first.endswith(f"on {live_service.url}")


def test_cli_demo_embedded_without_serving():
    result = CliRunner().invoke(cli, ["demo", "--count", "6", "--workers", "3", "--no-serve"],
                                env={"TOOLKIT_API_URL": ""})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("6 imports (") and " on http://127.0.0.1:" in result.stdout


def test_cli_demo_with_a_wrong_key_is_one_line_and_exit_2(live_service):
    result = CliRunner().invoke(cli, ["demo", "--url", live_service.url, "--key", "wrong", "--count", "3"])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("Error: ") and "Traceback" not in result.output


def test_a_demo_clock_backdates_the_records_and_uploads_still_count_as_on_time(tmp_path):
    from toolkit.demo import DemoClock
    from toolkit.service import local_service

    clock = DemoClock()
    with local_service(clock=clock) as svc, ImportClient(svc.url, svc.api_key) as client:
        summary = run_demo(client, 30, seed=5, workers=4, progress=False, clock=clock, days=20)
        listed = client.list_imports()
        assert abs(clock() - dt.datetime.now(dt.timezone.utc).timestamp()) < 2  # reset afterwards
    created = listed["date_created"]
    now = dt.datetime.now(dt.timezone.utc)
    assert created.min() < now - dt.timedelta(days=10) and created.max() <= now
    assert created.dt.date.nunique() >= 6
    # S3 stamps uploads with the wall clock; the service compares them on its own clock.
    assert "URL_EXPIRED" not in summary.failure_codes
    assert set(summary.statuses) <= {"FINISHED", "FAILED", "DELETED"} and summary.imports == 30


def test_a_backdated_plan_spreads_over_the_days_with_quiet_spans():
    now = dt.datetime(2026, 11, 22, 9, 30, tzinfo=dt.timezone.utc)
    plan = plan_demo(300, seed=4, now=now, days=30)
    days = {int(p.days_ago) for p in plan if p.file.defect != "schema_drift"}
    assert 20 <= len(days) < 30 and max(days) == 29  # a month, with gaps
    assert plan[0].days_ago >= plan[100].days_ago  # oldest first
    assert plan[0].file.data.splitlines()[0].split("|")[3] == (
        now - dt.timedelta(days=plan[0].days_ago)).strftime("%Y%m%d%H%M%S")


def test_cli_demo_embedded_backdates_over_the_days_asked(monkeypatch):
    import toolkit.demo as demo

    seen = {}
    real = demo.run_demo

    def spy(client, count, **kwargs):
        summary = real(client, count, **kwargs)
        with_dates = client.list_imports()["date_created"]
        seen["span"] = with_dates.max() - with_dates.min()
        return summary

    monkeypatch.setattr(demo, "run_demo", spy)
    result = CliRunner().invoke(cli, ["demo", "--count", "12", "--workers", "3", "--no-serve", "--days", "10"],
                                env={"TOOLKIT_API_URL": ""})
    assert result.exit_code == 0, result.output
    assert dt.timedelta(days=3) < seen["span"] < dt.timedelta(days=10)
