"""Upload detection that costs the same with 10 or 1,000 files waiting for
their upload: one bucket listing per poll, no request per file; a status
look-up of a PENDING_UPLOAD file checks its object on demand."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from conftest import bearer


def _count_s3_calls(svc: Any) -> Counter[str]:
    calls: Counter[str] = Counter()
    svc.storage._s3.meta.events.register("before-call.s3", lambda model, **_: calls.update([model.name]))
    return calls


def _pending(svc: Any, n: int, api: str = "imports") -> list[Any]:
    key = svc.imports.authenticate("key-all")
    return [svc.imports.create_upload(key, api=api, workspace_id="ws-w", file_name=f"f{i}.cc5txt")[0]
            for i in range(n)]


def _poll_cost(make_service: Any, waiting: int) -> tuple[Counter[str], list[str]]:
    svc = make_service(s3_bucket=f"watch-{uuid.uuid4().hex[:8]}")
    uploaded = _pending(svc, 2) + _pending(svc, 1, api="portal")
    _pending(svc, waiting)
    for record in uploaded:
        svc.storage.put_bytes(record.object_key, b"x")
    calls = _count_s3_calls(svc)
    assert svc.imports.poll_uploads() == 3
    statuses = [svc.store.get_file(r.file_id).status for r in uploaded]
    assert svc.imports.poll_uploads() == 0  # nothing new: nothing changes
    return calls, statuses


def test_a_poll_costs_the_same_with_10_or_1000_waiting_files(make_service: Any) -> None:
    few, statuses = _poll_cost(make_service, 10)
    many, _ = _poll_cost(make_service, 1000)
    assert statuses == ["QUEUED", "QUEUED", "ADDED"]
    assert few == many == Counter({"ListObjectsV2": 2})  # one listing per poll, no HeadObject


def test_expired_uploads_fail_after_one_last_check(make_service: Any) -> None:
    svc = make_service(s3_bucket=f"watch-{uuid.uuid4().hex[:8]}", url_expiry_seconds=1, upload_grace_seconds=0)
    late, never = _pending(svc, 2)
    svc.storage.put_bytes(late.object_key, b"x")
    svc.imports.clock = lambda: late.expires_at + 3600.0  # long after expiry: outside the listing's horizon
    calls = _count_s3_calls(svc)
    assert svc.imports.poll_uploads() == 2
    assert svc.store.get_file(late.file_id).status == "QUEUED"  # arrived: the import judges its lateness
    failed = svc.store.get_file(never.file_id)
    assert (failed.status, failed.failure_code) == ("FAILED", "URL_EXPIRED")
    assert calls["HeadObject"] == 2


def test_a_status_look_up_sees_the_upload_without_the_watcher(make_service: Any) -> None:
    svc = make_service(s3_bucket=f"watch-{uuid.uuid4().hex[:8]}")
    client = TestClient(svc.app, raise_server_exceptions=False)
    record = _pending(svc, 1, api="portal")[0]

    def status() -> str:
        return client.get(f"/appfile/file/{record.file_id}", headers=bearer("key-all")).json()["Data"]["File"]["Status"]

    assert status() == "PENDING_UPLOAD"
    svc.storage.put_bytes(record.object_key, b"x")
    assert status() == "ADDED"
    assert svc.store.get_file(record.file_id).size == 1


def test_on_demand_checks_of_an_old_pending_file_are_spaced(make_service: Any) -> None:
    svc = make_service(s3_bucket=f"watch-{uuid.uuid4().hex[:8]}")
    record = _pending(svc, 1)[0]
    key = svc.imports.authenticate("key-all")
    svc.imports.clock = lambda: record.date_created + 100.0  # waiting for 100 s: a check per 10 s at most
    calls = _count_s3_calls(svc)
    for _ in range(20):
        assert svc.imports.get(key, record.file_id).status == "PENDING_UPLOAD"
    assert calls == Counter({"HeadObject": 1})
