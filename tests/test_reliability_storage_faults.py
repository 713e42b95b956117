"""Storage faults: S3 unreachable, answering 500, resetting or cutting
connections, during the upload and during the import.

The service's S3 endpoint is a fault-injecting proxy in front of moto
(``FaultProxy``), so the service, its signed URLs and the client all go
through it. What must hold: the client retries and then reports the failing
step; the service either retries (the upload watcher waits for S3 to come
back) or marks the file FAILED with ``STORAGE_ERROR``; no file is left
PROCESSING (or QUEUED) and nothing is half-applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from conftest import TEST_KEYS, make_cc5
from reliability_support import FaultProxy, wait_for
from toolkit.client import ImportClient, RetryPolicy
from toolkit.errors import ImportFailed, UploadError

FAST_RETRY = RetryPolicy(backoff_base=0.01, backoff_max=0.05)
ENDED = ("FINISHED", "FAILED", "DELETED")


@pytest.fixture(scope="module")
def proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy.for_url(moto_endpoint)
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def svc(proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import toolkit

    store = tmp_path_factory.mktemp("faults") / "store.duckdb"
    with toolkit.local_service(store, s3_endpoint=proxy.url, s3_bucket="fault-test", api_keys=TEST_KEYS,
                               workers=1, watch_interval_seconds=0.1) as service:
        yield service


@pytest.fixture(autouse=True)
def healed(proxy: FaultProxy, svc: Any) -> Iterator[None]:
    """Every test starts and ends with a healthy S3; at the end no file may be in flight."""
    proxy.heal()
    yield
    proxy.heal()
    store = svc.service.store
    wait_for(lambda: not store.files_with_status("PROCESSING") and not store.files_with_status("QUEUED"),
             timeout=60, what="no file left PROCESSING or QUEUED")


def _client(svc: Any, api: str = "portal") -> ImportClient:
    return ImportClient(svc.url, "key-all", api=api, retry=FAST_RETRY)


def _moto(moto_endpoint: str) -> Any:
    """Direct S3 access to moto, around the proxy, to check what really is stored."""
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def _table_rows(svc: Any, workspace: str) -> int | None:
    relation = svc.service.store.read_table(workspace, "customer")
    return None if relation is None else len(relation.df())


# -- during the upload -----------------------------------------------------------------
@pytest.mark.parametrize("api", ["portal", "imports"])
def test_the_client_retries_an_upload_through_storage_errors(svc: Any, proxy: FaultProxy, tmp_path: Path,
                                                             api: str) -> None:
    workspace = f"ws-retry-{api}"
    path = make_cc5(tmp_path, rows=50, workspace=workspace)
    with _client(svc, api) as client:
        target = client.request_upload(path, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        method = "PUT" if api == "portal" else "POST"
        before = proxy.count(method, action="error")
        proxy.fail("error", method=method, times=2)
        receipt = client.upload(path, target, progress=False)
        record = client.start_import(target, wait=True, timeout=120)
    assert receipt.attempts == 3 and receipt.status_code in (200, 204)
    assert proxy.count(method, action="error") - before == 2
    assert (record.status, record.successful_count) == ("FINISHED", 50)
    assert _table_rows(svc, workspace) == 50


def test_the_client_reports_unreachable_storage_and_leaves_nothing_pending(svc: Any, proxy: FaultProxy,
                                                                          tmp_path: Path) -> None:
    workspace = "ws-s3-down"
    path = make_cc5(tmp_path, rows=20, workspace=workspace)
    proxy.down()
    with _client(svc) as client:
        with pytest.raises(UploadError) as info:
            client.import_file(path, workspace=workspace, progress=False)
        records = client.list_records(workspaces=[workspace])
    assert info.value.step == "transfer"
    assert "could not connect" in str(info.value) and "5 attempts" in str(info.value)
    assert len(str(info.value).splitlines()) == 1
    # The failed upload's record was deleted by the client: nothing dangles as PENDING_UPLOAD.
    assert [r.status for r in records] == ["DELETED"]


def test_the_client_reports_storage_answering_500(svc: Any, proxy: FaultProxy, tmp_path: Path) -> None:
    workspace = "ws-s3-500"
    path = make_cc5(tmp_path, rows=20, workspace=workspace)
    with _client(svc) as client:
        target = client.request_upload(path, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        proxy.fail("error", method="PUT", path_contains=target.file_id)
        with pytest.raises(UploadError) as info:
            client.upload(path, target, progress=False)
    assert info.value.step == "storage" and info.value.status_code == 500
    assert proxy.count("PUT", action="error", path_contains=target.file_id) == FAST_RETRY.max_attempts
    assert "InternalError" in str(info.value) or "internal error" in str(info.value).lower()


# -- during the import -------------------------------------------------------------------
# (fault, method, path fragment): HEAD is the service's first S3 call of an
# import, GET the download.
IMPORT_FAULTS = [
    pytest.param("error", "HEAD", id="head-500"),
    pytest.param("reset", "HEAD", id="head-reset"),
    pytest.param("error", "GET", id="get-500"),
    pytest.param("cut", "GET", id="get-cut-midway"),
]


@pytest.mark.parametrize(("fault", "method"), IMPORT_FAULTS)
def test_a_storage_fault_during_the_import_fails_the_file_with_storage_error(
        svc: Any, proxy: FaultProxy, tmp_path: Path, fault: str, method: str) -> None:
    workspace = f"ws-import-{fault}-{method.lower()}"
    path = make_cc5(tmp_path, rows=30_000, workspace=workspace)  # ~1.7 MB: a cut lands mid-body
    proxy.fail(fault, method=method, path_contains=workspace, cut_after=64 * 1024)
    with _client(svc) as client:
        with pytest.raises(ImportFailed) as info:
            client.import_file(path, workspace=workspace, progress=False, timeout=120)
        record = client.status(info.value.record.file_id)
    assert proxy.count(method, action=fault, path_contains=workspace) >= 1
    assert (record.status, record.failure_code) == ("FAILED", "STORAGE_ERROR")
    assert record.raw.get("FailureMessage"), "the failure says what happened"
    assert "STORAGE_ERROR" in str(info.value)
    assert _table_rows(svc, workspace) is None  # nothing applied


def test_s3_down_during_an_async_import_fails_the_file_not_stuck(svc: Any, proxy: FaultProxy,
                                                                tmp_path: Path) -> None:
    workspace = "ws-async-down"
    path = make_cc5(tmp_path, rows=100, workspace=workspace)
    with _client(svc) as client:
        target = client.request_upload(path, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        client.upload(path, target, progress=False)
        proxy.down()
        client.start_import(target)  # QUEUED; the worker meets a dead S3
        record = client.wait(target.file_id, timeout=120)
    assert (record.status, record.failure_code) == ("FAILED", "STORAGE_ERROR")
    assert _table_rows(svc, workspace) is None


def test_storing_the_rejected_rows_fails_then_nothing_is_applied(svc: Any, proxy: FaultProxy,
                                                                 tmp_path: Path) -> None:
    workspace = "ws-rejected-put"
    path = make_cc5(tmp_path, rows=40, workspace=workspace, bad_rows=3)
    proxy.fail("error", method="PUT", path_contains="_rejected")
    with _client(svc) as client:
        with pytest.raises(ImportFailed) as info:
            client.import_file(path, workspace=workspace, progress=False, timeout=120)
    assert info.value.failure_code == "STORAGE_ERROR"
    assert proxy.count("PUT", action="error", path_contains="_rejected") >= 1
    assert _table_rows(svc, workspace) is None


def test_the_upload_watcher_waits_for_s3_to_come_back(svc: Any, proxy: FaultProxy, tmp_path: Path) -> None:
    """Imports API: the upload lands, then S3 fails; the file stays PENDING_UPLOAD
    (neither the watcher's listing nor the status look-up's check can see it)
    and is imported once S3 answers again."""
    workspace = "ws-watcher"
    path = make_cc5(tmp_path, rows=25, workspace=workspace)
    with _client(svc, "imports") as client:
        target = client.request_upload(path, workspace=workspace)
        proxy.fail("error", method="GET", path_contains="list-type=2")
        proxy.fail("error", method="HEAD", path_contains=target.file_id)
        client.upload(path, target, progress=False)
        wait_for(lambda: proxy.count("GET", action="error", path_contains="list-type=2") >= 2, timeout=60,
                 what="the watcher to meet the failing S3")
        assert client.status(target.file_id).status == "PENDING_UPLOAD"
        proxy.heal()
        record = client.wait(target.file_id, timeout=120)
    assert (record.status, record.successful_count) == ("FINISHED", 25)


def test_delete_with_s3_down_answers_500_and_a_retry_completes_it(svc: Any, proxy: FaultProxy, tmp_path: Path,
                                                                  moto_endpoint: str) -> None:
    workspace = "ws-delete"
    path = make_cc5(tmp_path, rows=5, workspace=workspace)
    with _client(svc) as client:
        result = client.import_file(path, workspace=workspace, progress=False)
    key = f"{workspace}/{result.file_id}/{path.name}"
    s3 = _moto(moto_endpoint)
    s3.head_object(Bucket="fault-test", Key=key)
    headers = {"Authorization": "Bearer key-all"}
    proxy.down()
    answer = httpx.delete(f"{svc.url}/appfile/file/{result.file_id}", headers=headers, timeout=60)
    assert answer.status_code == 500
    body = answer.json()
    assert body["IsSuccess"] is False and body["ResponseStatus"]["ErrorCode"] == "INTERNAL_ERROR"
    assert body["ResponseStatus"]["StackTrace"] == ""
    assert "repeat" in body["ResponseStatus"]["Message"]
    proxy.heal()
    again = httpx.delete(f"{svc.url}/appfile/file/{result.file_id}", headers=headers, timeout=60)
    assert again.status_code == 200 and again.json()["Data"]["File"]["Status"] == "DELETED"
    with pytest.raises(Exception) as gone:
        s3.head_object(Bucket="fault-test", Key=key)
    assert "404" in str(gone.value)
