"""Big files are planned in a planner process (``plan_process_min_bytes``):
the results, failures and findings are the same as when planned in the
service process, a planner that dies fails only its file, and stopping the
service ends the planner and leaves the file for the next start."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import bearer, make_cc5, portal_upload

IN_PROCESS = 10**12  # no test file is this big: every file is planned in the service
PLANNER = 0  # every file goes to the planner process


def _import(client: TestClient, path: Path, workspace: str = "ws-eu") -> dict[str, Any]:
    data = portal_upload(client, path, workspace=workspace)
    answer = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                         headers=bearer("key-all"))
    assert answer.status_code == 200, answer.text
    return answer.json()["Data"]["File"]


def _planner_pids(svc: Any) -> list[int]:
    planners = list(svc.processor._idle_planners) + list(svc.processor._busy_planners)
    return [p._process.pid for p in planners if p._process is not None and p._process.poll() is None]


def _wait_for_busy_planner(svc: Any, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not (svc.processor._busy_planners and _planner_pids(svc)):
        assert time.time() < deadline, "no planner process started"
        time.sleep(0.005)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a killed child stays a zombie until reaped; that is not alive
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


@pytest.mark.parametrize("threshold", [IN_PROCESS, PLANNER], ids=["in-process", "planner"])
def test_both_ways_give_the_same_data_counts_findings_and_rejected_rows(make_service: Any, tmp_path: Path,
                                                                       threshold: int) -> None:
    svc = make_service(plan_process_min_bytes=threshold)
    client = TestClient(svc.app)
    first = _import(client, make_cc5(tmp_path, rows=40, bad_rows=3, name="first.cc5txt"))
    second = _import(client, make_cc5(tmp_path, rows=10, start=35, deletes=[0, 1, 2], name="second.cc5txt"))
    assert (first["Status"], first["SuccessfulCount"], first["FailureCount"]) == ("FINISHED", 40, 3)
    assert (second["Status"], second["SuccessfulCount"], second["FailureCount"]) == ("FINISHED", 13, 0)
    table = svc.store.read_table("ws-eu", "customer").df().sort_values("customer_code")
    assert len(table) == 42 and table["customer_code"].is_unique  # 40 + 5 new - 3 deleted
    assert "C0000000" not in set(table["customer_code"])
    assert str(table["credit"].dtype) == "float64" and table["since"].notna().all()
    findings = svc.store.findings(first["FileId"])
    assert [f["code"] for f in findings] == ["INVALID_NUMBER"] * 3 and all(f["line"] for f in findings)
    rejected = client.get(f"/appfile/file/{first['FileId']}/rejected", headers=bearer("key-all"))
    assert rejected.status_code == 200 and len(rejected.text.strip().splitlines()) == 4
    assert bool(_planner_pids(svc)) == (threshold == PLANNER)


def test_a_store_given_as_a_relative_path_works_with_the_planner(make_service: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the planner must not resolve the work directory against its own
    svc = make_service(store=Path("relative.duckdb"), plan_process_min_bytes=PLANNER)
    file = _import(TestClient(svc.app), make_cc5(tmp_path, rows=5))
    assert (file["Status"], file["SuccessfulCount"]) == ("FINISHED", 5)


def test_a_file_level_error_found_by_the_planner_fails_the_file_and_applies_nothing(make_service: Any,
                                                                                    tmp_path: Path) -> None:
    svc = make_service(plan_process_min_bytes=PLANNER)
    client = TestClient(svc.app)
    file = _import(client, make_cc5(tmp_path, rows=5, workspace="ws-us"), workspace="ws-eu")
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "WORKSPACE_MISMATCH")
    assert "line 2" in file["FailureMessage"] and file["FailureCount"] == 5
    assert [f["code"] for f in svc.store.findings(file["FileId"])] == ["WORKSPACE_MISMATCH"]
    assert svc.store.read_table("ws-eu", "customer") is None


def test_a_schema_mismatch_after_planning_elsewhere_applies_nothing(make_service: Any, tmp_path: Path) -> None:
    svc = make_service(plan_process_min_bytes=PLANNER)
    client = TestClient(svc.app)
    assert _import(client, make_cc5(tmp_path, rows=5, name="a.cc5txt"))["Status"] == "FINISHED"
    wider = make_cc5(tmp_path, rows=5, start=100, name="b.cc5txt")
    text = wider.read_text().replace("02|customer_code\n", "02|customer_code|name\n")
    wider.write_text(text)
    file = _import(client, wider)
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "SCHEMA_MISMATCH")
    assert len(svc.store.read_table("ws-eu", "customer").df()) == 5


def test_a_planner_that_died_while_idle_is_replaced(make_service: Any, tmp_path: Path) -> None:
    svc = make_service(plan_process_min_bytes=PLANNER)
    client = TestClient(svc.app)
    assert _import(client, make_cc5(tmp_path, rows=5, name="warm.cc5txt"))["Status"] == "FINISHED"
    [pid] = _planner_pids(svc)
    os.kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.01)
    file = _import(client, make_cc5(tmp_path, rows=5, start=5, name="next.cc5txt"))
    assert (file["Status"], file["SuccessfulCount"]) == ("FINISHED", 5)
    assert _planner_pids(svc) and _planner_pids(svc) != [pid]


def test_a_planner_killed_mid_job_fails_only_its_file_and_the_next_import_works(make_service: Any,
                                                                                tmp_path: Path) -> None:
    svc = make_service(plan_process_min_bytes=PLANNER)
    client = TestClient(svc.app)
    big = make_cc5(tmp_path, rows=300_000, name="big.cc5txt")
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(_import(client, big)))
    worker.start()
    _wait_for_busy_planner(svc)
    time.sleep(0.2)  # the job is in the planner's hands
    [pid] = _planner_pids(svc)
    os.kill(pid, signal.SIGKILL)  # e.g. the kernel's OOM killer
    worker.join(120)
    assert (result["Status"], result["FailureCode"]) == ("FAILED", "INTERNAL_ERROR")
    assert "planning" in result["FailureMessage"]
    assert svc.store.read_table("ws-eu", "customer") is None
    again = _import(client, make_cc5(tmp_path, rows=5, name="again.cc5txt"))
    assert (again["Status"], again["SuccessfulCount"]) == ("FINISHED", 5)
    assert _planner_pids(svc) and _planner_pids(svc) != [pid]  # a new planner


@pytest.mark.slow
def test_stopping_during_planning_ends_the_planner_and_the_next_start_finishes_the_file(
        make_service: Any, tmp_path: Path) -> None:
    store = tmp_path / "stop.duckdb"
    first = make_service(store=store, plan_process_min_bytes=PLANNER, workers=1)
    first.start()
    client = TestClient(first.app)
    data = portal_upload(client, make_cc5(tmp_path, rows=400_000, name="big.cc5txt"))
    client.post("/appdata/import/file/async", json={"FileType": "cc5", "FileId": data["FileId"]},
                headers=bearer("key-all"))
    _wait_for_busy_planner(first)
    pids = _planner_pids(first)
    first.close(timeout=0.2)  # do not wait for the import to end
    assert not any(_alive(pid) for pid in pids)
    assert first.store._closed

    second = make_service(store=store, plan_process_min_bytes=PLANNER, workers=1)
    assert second.store.get_file(data["FileId"]).status == "PROCESSING"
    second.start()
    deadline = time.time() + 300
    while second.store.get_file(data["FileId"]).status not in ("FINISHED", "FAILED") and time.time() < deadline:
        time.sleep(0.1)
    record = second.store.get_file(data["FileId"])
    assert (record.status, record.successful_count, record.attempts) == ("FINISHED", 400_000, 2)
    assert len(second.store.read_table("ws-eu", "customer").df()) == 400_000
