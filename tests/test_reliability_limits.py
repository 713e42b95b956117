"""Limits: a file over the size limit is refused before any processing.

The suite uses a small configured ``max_file_bytes``; the 300 MB import
(with the service's peak RSS) is ``benchmarks/bench_reliability.py``.

- Over the limit: FAILED ``FILE_TOO_LARGE`` with nothing downloaded, nothing
  planned, no findings, no table, a header-only rejected-rows CSV.
- Exactly at the limit: imported.
- An object that grows past the limit after the size check (replaced between
  HeadObject and GetObject): the download stops at the limit, FILE_TOO_LARGE.
- The JSON form (ImportData) over the limit: 413 before the body is read.
- Before the service: the client refuses to send a file over the pre-signed
  POST's limit; ``validate(max_bytes=...)`` refuses before parsing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient

from conftest import TEST_KEYS, bearer, import_data_body, make_cc5, portal_upload
from reliability_support import FaultProxy
from toolkit.client import ImportClient
from toolkit.errors import UploadError


class Spy:
    """Counts calls of a function and calls it."""

    def __init__(self, target: Any) -> None:
        self.calls = 0
        self.target = target
        functools.update_wrapper(self, target)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.target(*args, **kwargs)


def _service(s3_endpoint: str, store: Path, bucket: str, max_file_bytes: int) -> Any:
    from toolkit.service import Service, load_config

    return Service(load_config(env={}, s3_endpoint=s3_endpoint, store=store, s3_bucket=bucket, api_keys=TEST_KEYS,
                               s3_access_key_id="test", s3_secret_access_key="test", max_file_bytes=max_file_bytes))


@pytest.fixture
def at_limit_file(tmp_path: Path) -> Path:
    return make_cc5(tmp_path, rows=100, workspace="ws-a", name="limit.cc5txt")


@pytest.fixture
def limited(moto_endpoint: str, tmp_path: Path, at_limit_file: Path) -> Iterator[Any]:
    """A service whose limit is exactly the size of ``at_limit_file``, with spies
    on the download and on the engine's planning."""
    import toolkit.cc5

    svc = _service(moto_endpoint, tmp_path / "limits.duckdb", "limits-test", at_limit_file.stat().st_size)
    svc.downloads = svc.storage.download = Spy(svc.storage.download)
    plans = Spy(toolkit.cc5.plan_import)
    svc.plans = plans
    mp = pytest.MonkeyPatch()
    mp.setattr(toolkit.cc5, "plan_import", plans)  # the processor imports it at call time
    yield svc
    mp.undo()
    svc.close()


def _import(client: TestClient, path: Path) -> dict[str, Any]:
    data = portal_upload(client, path, workspace="ws-a", key="key-a")
    answer = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                         headers=bearer("key-a"))
    return answer.json()["Data"]["File"]


def test_a_file_over_the_limit_is_refused_before_any_processing(limited: Any, at_limit_file: Path,
                                                                 tmp_path: Path) -> None:
    over = tmp_path / "over.cc5txt"
    over.write_bytes(at_limit_file.read_bytes() + b"\n")  # one byte too many
    client = TestClient(limited.app)
    file = _import(client, over)
    assert (file["Status"], file["FailureCode"]) == ("FAILED", "FILE_TOO_LARGE")
    assert (file["SuccessfulCount"], file["FailureCount"]) == (0, 0)
    assert str(over.stat().st_size) in file["FailureMessage"]
    assert (limited.downloads.calls, limited.plans.calls) == (0, 0)  # not downloaded, not parsed
    assert limited.store.findings(file["FileId"]) == []
    assert limited.store.read_table("ws-a", "customer") is None
    rejected = client.get(f"/appfile/file/{file['FileId']}/rejected", headers=bearer("key-a"))
    assert rejected.status_code == 200 and rejected.text.strip() == "line,error"


def test_a_file_exactly_at_the_limit_is_imported(limited: Any, at_limit_file: Path) -> None:
    file = _import(TestClient(limited.app), at_limit_file)
    assert (file["Status"], file["SuccessfulCount"]) == ("FINISHED", 100)
    assert (limited.downloads.calls, limited.plans.calls) == (1, 1)


def test_import_data_over_the_limit_is_refused_before_it_is_read(limited: Any, moto_endpoint: str) -> None:
    body = import_data_body([{"customer_code": f"C{n:05d}", "name": "x" * 40} for n in range(400)],
                            workspace="ws-a", fields={"customer_code": "string", "name": "string"},
                            instance="too-big-json")
    answer = TestClient(limited.app).post("/appfile/file/import/data", json=body, headers=bearer("key-a"))
    assert answer.status_code == 413, answer.text
    assert answer.json()["ResponseStatus"]["ErrorCode"] == "PAYLOAD_TOO_LARGE"
    assert limited.store.count_files() == 0 and limited.plans.calls == 0
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket="limits-test").get("Contents", [])]
    assert not [k for k in stored if "too-big-json" in k]


def test_an_object_growing_past_the_limit_during_the_download_is_cut_off(moto_endpoint: str, tmp_path: Path,
                                                                          at_limit_file: Path) -> None:
    proxy = FaultProxy.for_url(moto_endpoint)
    svc = _service(proxy.url, tmp_path / "grow.duckdb", "limits-grow", at_limit_file.stat().st_size)
    try:
        client = TestClient(svc.app)
        data = portal_upload(client, at_limit_file, workspace="ws-a", key="key-a")
        key = f"ws-a/{data['FileId']}/{at_limit_file.name}"
        s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="test",
                          aws_secret_access_key="test")
        bigger = make_cc5(tmp_path, rows=5_000, workspace="ws-a", name="bigger.cc5txt").read_bytes()
        # After the service's size check (HeadObject) and before its download reaches S3,
        # the object is replaced by a bigger one.
        proxy.on("GET", data["FileId"], when="seen",
                 callback=lambda: s3.put_object(Bucket="limits-grow", Key=key, Body=bigger))
        file = client.post("/appfile/file/import", json={"FileType": "cc5", "FileId": data["FileId"]},
                           headers=bearer("key-a")).json()["Data"]["File"]
        assert proxy.count("GET", path_contains=data["FileId"]) == 1  # the download did start
        assert (file["Status"], file["FailureCode"]) == ("FAILED", "FILE_TOO_LARGE"), file
        assert "larger than the limit" in file["FailureMessage"]  # caught while downloading, not by the size check
        assert svc.store.read_table("ws-a", "customer") is None
    finally:
        svc.close()
        proxy.close()


def test_the_client_refuses_a_file_over_the_upload_limit_before_sending(moto_endpoint: str, tmp_path: Path) -> None:
    import toolkit

    proxy = FaultProxy.for_url(moto_endpoint)
    path = make_cc5(tmp_path, rows=200, workspace="ws-a")
    try:
        with toolkit.local_service(tmp_path / "client.duckdb", s3_endpoint=proxy.url, s3_bucket="limits-client",
                                   max_file_bytes=1_000) as svc, \
                ImportClient(svc.url, svc.api_key, api="imports") as client:
            target = client.request_upload(path, workspace="ws-a")
            with pytest.raises(UploadError) as info:
                client.upload(path, target, progress=False)
        assert info.value.step == "check" and "1000" in str(info.value)
        assert proxy.count("POST") == 0  # not a byte went to storage
    finally:
        proxy.close()


def test_validate_refuses_a_file_over_max_bytes_before_parsing(at_limit_file: Path) -> None:
    from toolkit.cc5 import validate

    with validate(at_limit_file, max_bytes=at_limit_file.stat().st_size - 1) as report:
        assert report.counts == {"FILE_TOO_LARGE": 1}
        assert (report.data_rows, report.delete_rows, report.importable) == (0, 0, False)
