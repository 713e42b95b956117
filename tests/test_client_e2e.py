"""The client end to end against the reference service on 127.0.0.1 (real
uvicorn, moto S3), for both APIs: imports that finish, rejected rows,
local refusal, uploads dropped mid-body by a proxy and retried, expired
and oversized uploads, the embedded service of ``toolkit.import_file``."""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import httpx
import pandas as pd
import pytest
from conftest import make_cc5

import toolkit
from toolkit.client import ImportClient, RetryPolicy
from toolkit.local import shared_local_service
from toolkit.errors import (
    AuthenticationError,
    ImportFailed,
    NotFoundError,
    TransportError,
    UploadError,
    ValidationFailed,
)

APIS = ["portal", "imports"]


def unique_workspace() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"


def client_for(svc: Any, api: str, **kwargs: Any) -> ImportClient:
    kwargs.setdefault("retry", RetryPolicy(backoff_base=0.05, backoff_max=0.5))
    return ImportClient(svc.url, svc.api_key, api=api, **kwargs)


# -- a proxy that drops the first connections mid-body ------------------------------------


class DroppingProxy:
    """A TCP proxy on 127.0.0.1: the first ``drop`` connections are reset after
    ``after_bytes`` bytes of request; later ones are piped to the upstream."""

    def __init__(self, upstream: str, *, drop: int = 1, after_bytes: int = 256 * 1024) -> None:
        url = httpx.URL(upstream)
        self.upstream = (url.host, url.port)
        self.drop, self.after_bytes = drop, after_bytes
        self.connections = 0
        self.dropped_after: list[int] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            handler = self._drop if self.connections <= self.drop else self._pipe
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    def _drop(self, conn: socket.socket) -> None:
        received = 0
        while received < self.after_bytes:
            data = conn.recv(65536)
            if not data:
                break
            received += len(data)
        self.dropped_after.append(received)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a RST
        conn.close()

    def _pipe(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream)

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(1 << 20):
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                for s in (source, sink):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, conn), daemon=True).start()
        pump(conn, upstream)

    def close(self) -> None:
        self._stop = True
        self.server.close()


class ViaProxy(httpx.HTTPTransport):
    """Sends requests for ``endpoint`` to the proxy's port instead (the rest untouched)."""

    def __init__(self, endpoint: str, proxy_port: int) -> None:
        super().__init__()
        self.endpoint = httpx.URL(endpoint)
        self.proxy_port = proxy_port

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if (request.url.host, request.url.port) == (self.endpoint.host, self.endpoint.port):
            request.url = request.url.copy_with(port=self.proxy_port)
        return super().handle_request(request)


@pytest.fixture()
def dropping_proxy(live_service: Any) -> Iterator[DroppingProxy]:
    proxy = DroppingProxy(live_service.s3_endpoint)
    yield proxy
    proxy.close()


# -- imports that work ------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_import_file_finishes_with_counts_and_timings(live_service: Any, tmp_path: Path, api: str) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=25, workspace=workspace, bad_rows=2)
    with client_for(live_service, api) as client:
        result = client.import_file(path, workspace, progress=False)
        assert (result.status, result.successful_count, result.failure_count) == ("FINISHED", 25, 2)
        assert result.failure_code is None and result.ok and result.api == api
        assert result.bytes_uploaded == path.stat().st_size
        assert result.validate_seconds > 0 and result.upload_seconds > 0 and result.wait_seconds >= 0
        assert result.date_created <= result.process_start_time <= result.process_end_time
        assert result.validation["rejected_rows"] == 2
        assert "2 rejected" in result.summary()

        record = client.status(result.file_id)
        assert record.to_dict() == result.record.to_dict()
        assert record.workspace == workspace and record.entity_type == "customer"

        rejected = client.rejected_rows(result.file_id)
        assert rejected["line"].tolist() == [30, 31]
        assert rejected["error"].str.contains("INVALID_NUMBER").all()
        assert client.save_rejected(result.file_id, tmp_path / "rejected.csv") == 2

        listed = client.list_imports(workspaces=workspace)
        assert listed["file_id"].tolist() == [result.file_id]
        assert listed.loc[0, "successful_count"] == 25

        assert client.delete(result.file_id).status == "DELETED"
        assert client.status(result.file_id).status == "DELETED"
    assert live_service.read_table(workspace, "customer") is not None


@pytest.mark.parametrize("api", APIS)
def test_the_steps_one_by_one(live_service: Any, tmp_path: Path, api: str) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=5, workspace=workspace)
    with client_for(live_service, api) as client:
        target = client.request_upload(path.name, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        assert target.method == ("PUT" if api == "portal" else "POST")
        assert client.status(target.file_id).status == "PENDING_UPLOAD"
        receipt = client.upload(path, target, progress=False)
        assert receipt.bytes == path.stat().st_size and receipt.attempts == 1
        started = client.start_import(target)
        assert started.status in ("ADDED", "PENDING_UPLOAD", "QUEUED", "PROCESSING", "FINISHED")
        final = client.wait(target.file_id, timeout=60)
        assert (final.status, final.successful_count) == ("FINISHED", 5)


def test_portal_sync_trigger_answers_with_the_end(live_service: Any, tmp_path: Path) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=5, workspace=workspace)
    with client_for(live_service, "portal") as client:
        target = client.request_upload(path.name, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        client.upload(path, target, progress=False)
        record = client.start_import(target, wait=True, timeout=60)
        assert (record.status, record.successful_count) == ("FINISHED", 5)
        # a second trigger is a conflict on an import that already started: accepted, not re-run
        again = client.start_import(target)
        assert again.status == "FINISHED" and again.successful_count == 5


def test_both_apis_see_the_same_files(live_service: Any, tmp_path: Path) -> None:
    workspace = unique_workspace()
    with client_for(live_service, "imports") as imports, client_for(live_service, "portal") as portal:
        result = imports.import_file(make_cc5(tmp_path, rows=3, workspace=workspace), workspace, progress=False)
        via_portal, via_imports = portal.status(result.file_id).to_dict(), imports.status(result.file_id).to_dict()
        times = ("date_created", "process_start_time", "process_end_time")
        # The portal's ISO strings truncate to milliseconds, the imports API's seconds round: 1 ms apart at most.
        for name in times:
            assert abs(via_portal.pop(name) - via_imports.pop(name)) <= timedelta(milliseconds=1)
        assert via_portal == via_imports
        listed_portal = portal.list_imports(workspaces=workspace).drop(columns=list(times))
        listed_imports = imports.list_imports(workspaces=workspace).drop(columns=list(times))
        pd.testing.assert_frame_equal(listed_portal, listed_imports)


@pytest.mark.parametrize("api", APIS)
def test_list_filters_and_pages(live_service: Any, tmp_path: Path, api: str) -> None:
    workspace = unique_workspace()
    with client_for(live_service, api) as client:
        ids = [
            client.import_file(
                make_cc5(tmp_path, rows=2, workspace=workspace, start=i * 10, name=f"f{i}.cc5txt"),
                workspace,
                progress=False,
            ).file_id
            for i in range(3)
        ]
        frame = client.list_imports(workspaces=[workspace], page_size=2)
        assert sorted(frame["file_id"]) == sorted(ids) and frame["file_id"].is_unique
        assert client.list_imports(workspaces=workspace, statuses="FAILED").empty
        assert len(client.list_imports(workspaces=workspace, created_after="1h", statuses=["FINISHED"])) == 3
        assert client.list_imports(workspaces=workspace, created_before="2020-01-01").empty


# -- refusals and failures ---------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_a_file_with_file_level_errors_is_refused_before_upload(live_service: Any, tmp_path: Path, api: str) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=4, workspace=workspace, footer=9)
    with client_for(live_service, api) as client:
        with pytest.raises(ValidationFailed) as caught:
            client.import_file(path, workspace, progress=False)
        assert "FOOTER_COUNT_MISMATCH" in str(caught.value) and f"{path}:" in str(caught.value)
        assert caught.value.report.file_errors[0].code == "FOOTER_COUNT_MISMATCH"
        assert client.list_imports(workspaces=workspace).empty  # nothing was uploaded

        with pytest.raises(ImportFailed) as failed:
            client.import_file(path, workspace, force=True, progress=False)
        # The imports API's failure_code is one of its four documented values; the precise code stays.
        expected = "FOOTER_COUNT_MISMATCH" if api == "portal" else "unparseable_file"
        assert failed.value.failure_code == expected
        assert failed.value.record.failure_detail == "FOOTER_COUNT_MISMATCH"
        assert failed.value.record.status == "FAILED"
        assert "FOOTER_COUNT_MISMATCH" in str(failed.value)


def test_a_workspace_mismatch_is_refused_locally(live_service: Any, tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=2, workspace="ws-eu")
    with client_for(live_service, "imports") as client:
        with pytest.raises(ValidationFailed, match=r":2: WORKSPACE_MISMATCH"):
            client.import_file(path, unique_workspace(), progress=False)


def test_a_wrong_key_and_an_unknown_file(live_service: Any) -> None:
    for api in APIS:
        with ImportClient(live_service.url, "not-a-key", api=api) as client:
            with pytest.raises(AuthenticationError) as caught:
                client.status("f_x")
            assert caught.value.status_code == 401 and caught.value.error_code == "UNAUTHORIZED"
        with client_for(live_service, api) as client:
            with pytest.raises(NotFoundError, match="HTTP 404 NOT_FOUND"):
                client.status("f_does_not_exist")


def test_an_unreachable_api_is_a_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    with ImportClient(f"http://127.0.0.1:{port}", "k", retry=RetryPolicy(max_attempts=2, backoff_base=0.01)) as client:
        with pytest.raises(TransportError, match="could not connect.*gave up after 2 attempts"):
            client.status("f_1")


# -- dropped connections --------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_an_upload_dropped_mid_body_succeeds_on_retry(
    live_service: Any, dropping_proxy: DroppingProxy, tmp_path: Path, api: str
) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=20_000, workspace=workspace)
    assert path.stat().st_size > 4 * dropping_proxy.after_bytes
    http = httpx.Client(transport=ViaProxy(live_service.s3_endpoint, dropping_proxy.port))
    with client_for(live_service, api, http=http) as client:
        result = client.import_file(path, workspace, progress=False)
    http.close()
    assert (result.status, result.successful_count) == ("FINISHED", 20_000)
    assert dropping_proxy.connections >= 2
    assert dropping_proxy.dropped_after[0] >= dropping_proxy.after_bytes  # dropped mid-body, not before it


def test_an_upload_that_keeps_dropping_fails_naming_the_step(live_service: Any, tmp_path: Path) -> None:
    proxy = DroppingProxy(live_service.s3_endpoint, drop=100, after_bytes=1024)
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=2_000, workspace=workspace)
    http = httpx.Client(transport=ViaProxy(live_service.s3_endpoint, proxy.port))
    try:
        with client_for(
            live_service, "portal", http=http, retry=RetryPolicy(max_attempts=3, backoff_base=0.01)
        ) as client:
            with pytest.raises(UploadError) as caught:
                client.import_file(path, workspace, progress=False)
            assert caught.value.step == "transfer"
            assert "gave up after 3 attempts" in str(caught.value)
            # the pending record was cleaned up: nothing dangles
            assert set(client.list_imports(workspaces=workspace)["status"]) <= {"DELETED"}
    finally:
        http.close()
        proxy.close()
    assert proxy.connections == 3


# -- expired and oversized uploads -------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_lived_urls() -> Iterator[Any]:
    with toolkit.local_service(url_expiry_seconds=1, upload_grace_seconds=0) as svc:
        yield svc


@pytest.fixture(scope="module")
def small_files_only() -> Iterator[Any]:
    with toolkit.local_service(max_file_bytes=2_000) as svc:
        yield svc


@pytest.mark.parametrize("api", APIS)
def test_an_upload_after_the_url_expired_fails_clearly(short_lived_urls: Any, tmp_path: Path, api: str) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=3, workspace=workspace)
    with client_for(short_lived_urls, api) as client:
        target = client.request_upload(path.name, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        time.sleep(2.5)  # let the 1-second URL expire (moto does not enforce it; the service does)
        client.upload(path, target, progress=False)
        client.start_import(target)
        record = client.wait(target.file_id, timeout=60)
    assert (record.status, record.failure_detail) == ("FAILED", "URL_EXPIRED")
    assert record.failure_code == ("URL_EXPIRED" if api == "portal" else "unknown")


def test_import_failed_for_an_expired_url_says_what_to_do(short_lived_urls: Any, tmp_path: Path) -> None:
    from toolkit.client.result import describe_failure

    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=3, workspace=workspace)
    with client_for(short_lived_urls, "portal") as client:
        target = client.request_upload(path.name, workspace=workspace, entity_type="customer", bucket_id="bk-main")
        time.sleep(2.5)
        client.upload(path, target, progress=False)
        record = client.start_import(target, wait=True, timeout=60)
    message = describe_failure(record)
    assert "FAILED with URL_EXPIRED" in message and "request a new upload" in message


def test_an_oversized_post_upload_is_refused_before_sending(small_files_only: Any, tmp_path: Path) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=100, workspace=workspace)
    size = path.stat().st_size
    with client_for(small_files_only, "imports") as client:
        with pytest.raises(UploadError) as caught:
            client.import_file(path, workspace, progress=False)
    assert caught.value.step == "check"
    assert f"the file is {size} bytes and the upload URL accepts at most 2000 bytes" in str(caught.value)


def test_an_oversized_put_upload_fails_the_import_clearly(small_files_only: Any, tmp_path: Path) -> None:
    workspace = unique_workspace()
    path = make_cc5(tmp_path, rows=100, workspace=workspace)
    with client_for(small_files_only, "portal") as client:
        with pytest.raises(ImportFailed) as caught:
            client.import_file(path, workspace, progress=False)
    assert caught.value.failure_code == "FILE_TOO_LARGE"
    assert "FAILED with FILE_TOO_LARGE: the uploaded file is over the service's size limit" in str(caught.value)


# -- toolkit.import_file and its embedded service ------------------------------------------------


def test_toolkit_import_file_with_a_configured_api(live_service: Any, tmp_path: Path, monkeypatch) -> None:
    workspace = unique_workspace()
    monkeypatch.setenv("TOOLKIT_API_URL", live_service.url)
    monkeypatch.setenv("TOOLKIT_API_KEY", live_service.api_key)
    monkeypatch.setenv("TOOLKIT_API", "imports")
    result = toolkit.import_file(make_cc5(tmp_path, rows=4, workspace=workspace), workspace, progress=False)
    assert (result.status, result.successful_count, result.api) == ("FINISHED", 4, "imports")


def test_toolkit_import_file_without_configuration_uses_the_embedded_service(tmp_path: Path, monkeypatch) -> None:
    for name in ("TOOLKIT_API_URL", "TOOLKIT_API_KEY", "TOOLKIT_API"):
        monkeypatch.delenv(name, raising=False)
    workspace = unique_workspace()
    first = toolkit.import_file(
        make_cc5(tmp_path, rows=3, workspace=workspace, name="a.cc5txt"), workspace, progress=False
    )
    second = toolkit.import_file(
        make_cc5(tmp_path, rows=3, workspace=workspace, start=3, name="b.cc5txt"),
        workspace,
        progress=False,
        api="imports",
    )
    assert (first.status, second.status) == ("FINISHED", "FINISHED")
    service = shared_local_service()
    assert shared_local_service() is service  # one service for the whole process
    assert len(service.read_table(workspace, "customer")) == 6


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tabular_input_is_written_as_cc5_first(live_service: Any, tmp_path: Path, suffix: str) -> None:
    workspace = unique_workspace()
    frame = pd.DataFrame(
        {"customer_code": ["C1", "C2", "C3"], "name": ["Ada", "Grace", "Edsger"], "credit": [1.5, 2.0, 3.25]}
    )
    path = tmp_path / f"customers{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    with client_for(live_service, "portal") as client:
        result = client.import_file(
            path, workspace, entity_type="customer", keys=["customer_code"], bucket_id="bk-main", progress=False
        )
    assert (result.status, result.successful_count) == ("FINISHED", 3)
    assert result.convert_seconds is not None and result.record.file_name == "customers.cc5txt"
    table = live_service.read_table(workspace, "customer")
    assert sorted(table["customer_code"]) == ["C1", "C2", "C3"]
