"""Shared fixtures.

- ``live_service`` (session): a running ``toolkit.local_service()`` (uvicorn on
  127.0.0.1, embedded moto S3) with ``.url``, ``.api_key``, ``.s3_endpoint``.
- ``moto_endpoint`` (session): a moto S3 server on 127.0.0.1 for tests that
  need S3 to outlive a service (restarts).
- ``make_service``: build an in-process service on ``moto_endpoint`` with a
  store in ``tmp_path`` and the test keys (no background threads unless
  started); pair it with FastAPI's TestClient.
- ``make_cc5(tmp_path, rows=..., workspace=...)``: write a small valid cc5
  file (import it: ``from conftest import make_cc5``; also a fixture
  ``cc5_factory`` bound to the test's tmp_path).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from toolkit.service.samples import write_sample_cc5

# Keys of in-process test services: one for everything, one per workspace.
TEST_KEYS = {
    "key-all": {"workspaces": ["*"]},
    "key-a": {"workspaces": ["ws-a"]},
    "key-b": {"streams": ["ws-b"]},
}


def make_cc5(tmp_path: Path, rows: int = 10, workspace: str = "ws-eu", *, name: str | None = None,
             **options: Any) -> Path:
    """Write a valid cc5 file of ``rows`` customers for ``workspace`` into ``tmp_path``.

    Options of ``toolkit.service.samples.write_sample_cc5``: entity, start,
    bad_rows (rows rejected with INVALID_NUMBER), deletes (key numbers to
    delete), extra_field, footer (override the 99 count), reference.
    """
    path = tmp_path / (name or f"{workspace}-{rows}-{options.get('start', 0)}.cc5txt")
    return write_sample_cc5(path, rows=rows, workspace=workspace, **options)


@pytest.fixture
def cc5_factory(tmp_path: Path) -> Callable[..., Path]:
    """``make_cc5`` bound to this test's tmp_path."""
    return lambda rows=10, workspace="ws-eu", **options: make_cc5(tmp_path, rows, workspace, **options)


@pytest.fixture(autouse=True)
def _app_work_folders_under_tmp_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An AppTest session never ends, so the app never closes the work folders of its uploads
    (``new_workdir``): in the app tests they go under pytest's temp root, which pytest prunes,
    instead of piling up in the system temp folder."""
    if request.module.__name__.startswith("test_app_"):
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("app-tmp")))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (never 0.0.0.0) and a free port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def live_service() -> Iterator[Any]:
    """A running ``toolkit.local_service()``: real uvicorn and embedded moto on 127.0.0.1."""
    import toolkit

    with toolkit.local_service() as svc:
        yield svc


@pytest.fixture
def make_service(tmp_path: Path, moto_endpoint: str) -> Iterator[Callable[..., Any]]:
    """Factory of in-process services (``toolkit.service.Service``) on the moto
    server; each gets its own store unless ``store`` is given. Closed at teardown."""
    from toolkit.service import Service, load_config

    made: list[Any] = []

    def factory(store: Path | None = None, **settings: Any) -> Any:
        settings.setdefault("api_keys", TEST_KEYS)
        settings.setdefault("s3_access_key_id", "test")
        settings.setdefault("s3_secret_access_key", "test")
        config = load_config(env={}, s3_endpoint=moto_endpoint,
                             store=store or tmp_path / f"store-{len(made)}.duckdb", **settings)
        service = Service(config)
        made.append(service)
        return service

    yield factory
    for service in made:
        service.close()


# -- helpers for service tests (import them: ``from conftest import bearer``) --

def bearer(key: str) -> dict[str, str]:
    """Portal API auth header."""
    return {"Authorization": f"Bearer {key}"}


def u21(key: str) -> dict[str, str]:
    """Imports API auth header."""
    return {"u21-key": key}


def put_file(url: str, path: Path) -> Any:
    """Seed 000's upload: an octet-stream PUT to the signed URL (explicit Content-Length)."""
    import httpx

    return httpx.put(url, content=path.read_bytes(), headers={"Content-Type": "application/octet-stream"},
                     timeout=60)


def curl_post_form(url: str, fields: dict[str, str], path: Path) -> int:
    """Seed 003's upload, with curl itself: the form fields as received, then ``file``;
    returns the HTTP status."""
    import shutil
    import subprocess

    if shutil.which("curl") is None:  # pragma: no cover - the same form through httpx
        import httpx

        return httpx.post(url, data=fields, files={"file": (path.name, path.read_bytes())}, timeout=60).status_code
    command = ["curl", "--silent", "--show-error", "--output", "/dev/null", "--write-out", "%{http_code}",
               "--request", "POST", "--url", url, "--header", "content-type: multipart/form-data"]
    for name, value in fields.items():
        command += ["--form-string", f"{name}={value}"]
    command += ["--form", f"file=@{path}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout)


def portal_upload(client: Any, path: Path, workspace: str = "ws-eu", key: str = "key-all",
                  **body: Any) -> dict[str, Any]:
    """Ask for a file path (portal) and PUT the file; returns the call's ``Data``."""
    request = {"WorkspaceId": workspace, "BucketId": "bk-main", "EntityType": "customer",
               "FileName": path.name, **body}
    answer = client.post("/appfile/file/path", json=request, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    data = answer.json()["Data"]
    assert put_file(data["Url"], path).status_code == 200
    return data


def imports_upload(client: Any, path: Path, stream: str = "ws-eu", key: str = "key-all") -> str:
    """Create a pre-signed POST (imports API) and upload with curl; returns the file id."""
    answer = client.post("/v1/imports/pre-signed-url/create", json={"stream_name": stream, "file_name": path.name},
                         headers=u21(key))
    assert answer.status_code == 200, answer.text
    created = answer.json()
    assert curl_post_form(created["url"], created["fields"], path) == 204
    return created["file_id"]


# -- PostgreSQL (the scale-out store) -------------------------------------------

@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A throwaway PostgreSQL server on 127.0.0.1 (see tests/pg_server.py) for
    the session; tests skip only where PostgreSQL is not installed (CI installs it)."""
    from pg_server import PostgresServer, find_pg_bin

    if find_pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); .ci/run installs it")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[postgres]'")
    server = PostgresServer.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """The URL of a new, empty database on ``postgres_server``."""
    return postgres_server.new_database()


def import_data_body(rows: list[dict[str, Any]], deletes: list[dict[str, Any]] | None = None, *,
                     total: int | None = None, workspace: str = "ws-eu", entity: str = "customer",
                     fields: dict[str, str] | None = None, keys: tuple[str, ...] = ("customer_code",),
                     instance: str = "json-1", **mappings: dict[str, Any]) -> dict[str, Any]:
    """A portal Import Data body (``{"ImportData": ...}``, the documented shape).

    ``fields`` maps field code -> type (default: customer_code, name, credit,
    tags); ``mappings`` adds extra keys to one field's mapping (e.g.
    ``name={"dictionary": {...}}``).
    """
    deletes = deletes or []
    fields = fields or {"customer_code": "string", "name": "string", "credit": "number", "tags": "array"}
    metadata = {"keys": list(keys), "entityType": entity, "bucketId": "bk-main", "dataSource": "CRM",
                "fileCreateTime": "20261122093000", "flowType": "UPSERT", "workspaceId": workspace}
    return {"ImportData": {
        "header": {"customer": "ACME", "fileType": "cc5", "metadata": metadata,
                   "FieldMappings": {code: {"code": code, "name": code, "type": kind, **mappings.get(code, {})}
                                     for code, kind in fields.items()}},
        "data": rows, "delete": deletes,
        "footer": {"total": len(rows) + len(deletes) if total is None else total},
        "InstanceId": instance,
    }}
