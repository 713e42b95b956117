"""Fixtures and helpers of the app tests (test_app_*.py, test_browser.py, test_demo.py).

Import the fixtures into a test module to use them:
``from app_helpers import app_api, imported, unused_port  # noqa: F401``.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import streamlit as st

from toolkit.client import ImportClient
from toolkit.demo import make_demo_file

ROOT = Path(__file__).resolve().parent.parent


def inotify_watches(pid: int) -> int:
    """How many inotify watches process ``pid`` holds (0 when it uses none)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == "anon_inode:inotify":
                count += sum(1 for line in Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text().splitlines()
                             if line.startswith("inotify"))
        except OSError:
            continue  # closed meanwhile
    return count


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unused_port() -> int:
    return free_port()


#: What `make run` starts: the app with uploads streamed to disk.
APP_ENTRY = "serve_app.py"


@dataclass
class AppServer:
    url: str
    started: float  # time.monotonic() when `streamlit run` was started
    process: subprocess.Popen[bytes]


@contextmanager
def run_app(env: dict[str, str], log: Path, *, entry: str = APP_ENTRY, options: tuple[str, ...] = ()
            ) -> Iterator[AppServer]:
    """`streamlit run <entry>` on a free port of 127.0.0.1 with ``env`` added; yields it once healthy."""
    port = free_port()
    started = time.monotonic()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", entry, "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
             *options],
            cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"streamlit exited; see {log}"
                try:
                    if httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok":
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "streamlit did not come up within 60 s"
                time.sleep(0.3)
            yield AppServer(url, started, process)
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.fixture
def app_api(live_service: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point the app at the live service (environment) with empty Streamlit caches."""
    monkeypatch.setenv("TOOLKIT_API_URL", live_service.url)
    monkeypatch.setenv("TOOLKIT_API_KEY", live_service.api_key)
    monkeypatch.delenv("TOOLKIT_API", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield live_service
    st.cache_data.clear()
    st.cache_resource.clear()


@dataclass
class Imported:
    """Three real imports in a workspace of their own: clean, rows rejected, FAILED."""

    workspace: str
    clean: Any
    with_rejects: Any
    failed: Any
    rows_applied: int
    rows_rejected: int


def import_text(client: ImportClient, folder: Path, name: str, text: str, *, workspace: str,
                entity: str) -> Any:
    """Request, upload, trigger and wait: one real import; returns the final record."""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    target = client.request_upload(name, workspace=workspace, entity_type=entity, bucket_id="bk-main")
    client.upload(path, target, progress=False)
    client.start_import(target)
    return client.wait(target.file_id, timeout=60)


@pytest.fixture(scope="module")
def imported(live_service: Any, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    folder = tmp_path_factory.mktemp("imports")
    workspace = f"ws-app-{secrets.token_hex(3)}"
    rng = random.Random(11)
    files = {
        kind: make_demo_file(rng, workspace=workspace, entity="customer", defect=kind, rows=rows, serial=i)
        for i, (kind, rows) in enumerate((("clean", 5), ("bad_values", 6), ("footer_count", 4)))
    }
    with ImportClient(live_service.url, live_service.api_key) as client:
        records = {kind: import_text(client, folder, f.name, f.data, workspace=workspace, entity="customer")
                   for kind, f in files.items()}
    assert [r.status for r in records.values()] == ["FINISHED", "FINISHED", "FAILED"], records
    bad = files["bad_values"].bad_rows
    return Imported(workspace, records["clean"], records["bad_values"], records["footer_count"],
                    rows_applied=5 + 6 - bad, rows_rejected=bad)
