"""Uploads streamed to disk (``toolkit.app_support.upload_spool``) on a real `streamlit run serve_app.py`.

A websocket session is opened as the browser does (XSRF cookie from the
health route, a rerun request, the session id from ``new_session``); the
uploads are then sent to Streamlit's upload URL as the browser sends them.
The server's temporary folder is the test's, so the spooled files are seen.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from toolkit.app_support.upload_spool import MULTIPART_OVERHEAD_BYTES, UploadSpool, spooled_file
from toolkit.app_support.uploads import upload_path

from app_helpers import run_app

LIMIT_MB = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`streamlit run serve_app.py` with a 2 MB upload limit and a short disconnected-session TTL."""
    folder = tmp_path_factory.mktemp("spool-server")
    temp = folder / "tmp"
    temp.mkdir()
    # What app processes stopped by a signal leave: the next start deletes those of ended processes only.
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    for pid in (ended.pid, os.getpid()):
        (temp / f"toolkit-app-uploads-{pid}" / "session").mkdir(parents=True)
        (temp / f"toolkit-app-uploads-{pid}" / "session" / "file").write_bytes(b"left behind")
    env = {"TOOLKIT_API_URL": "", "TOOLKIT_APP_DATA": "-", "TOOLKIT_APP_DEMO": "0", "TMPDIR": str(temp)}
    with run_app(env, folder / "streamlit.log",
                 options=("--server.maxUploadSize", str(LIMIT_MB), "--server.disconnectedSessionTTL", "1")) as app:
        yield app.url, temp / f"toolkit-app-uploads-{app.process.pid}"


@asynccontextmanager
async def browser_session(url: str) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    """(client with the XSRF cookie, the token, a live session id), as Streamlit's frontend gets them."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        assert (await client.get("/_stcore/health")).status_code == 200
        xsrf = client.cookies["_streamlit_xsrf"]
        async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream",
                                      subprotocols=["streamlit", xsrf],
                                      additional_headers={"Cookie": f"_streamlit_xsrf={xsrf}", "Origin": url},
                                      max_size=None) as ws:
            rerun = BackMsg()
            rerun.rerun_script.query_string = ""
            await ws.send(rerun.SerializeToString())
            while True:
                message = ForwardMsg()
                message.ParseFromString(await asyncio.wait_for(ws.recv(), 30))
                if message.WhichOneof("type") == "new_session":
                    break
            yield client, xsrf, message.new_session.initialize.session_id


def multipart(name: str, data: bytes, boundary: str = "spooltest") -> tuple[bytes, dict[str, str]]:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def files_in(spool: Path) -> list[Path]:
    return sorted(p for p in spool.rglob("*") if p.is_file()) if spool.exists() else []


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_an_upload_lands_on_disk_byte_identical_and_delete_removes_it(server) -> None:
    url, spool = server
    assert {p.name for p in spool.parent.iterdir()} == {f"toolkit-app-uploads-{os.getpid()}", spool.name}
    data = os.urandom(1_500_000) + b"\r\n--spooltest-not-the-end\r\n" + os.urandom(1000)

    async def scenario() -> None:
        async with browser_session(url) as (client, xsrf, session_id):
            file_id = str(uuid.uuid4())
            body, headers = multipart("Customers März.cc5txt", data)
            put = await client.put(f"/_stcore/upload_file/{session_id}/{file_id}", content=body,
                                   headers={**headers, "X-Xsrftoken": xsrf})
            assert put.status_code == 204, put.text
            assert put.headers["access-control-allow-methods"] == "PUT, OPTIONS, DELETE"
            landed = spooled_file(file_id, spool)
            assert landed == spool / session_id / file_id
            assert landed.read_bytes() == data
            assert files_in(spool) == [landed]  # no partial file left over
            gone = await client.delete(f"/_stcore/upload_file/{session_id}/{file_id}", headers={"X-Xsrftoken": xsrf})
            assert gone.status_code == 204
            assert not landed.exists() and spooled_file(file_id, spool) is None

    run(scenario())


def test_the_size_limit_by_content_length_and_while_a_chunked_body_arrives(server) -> None:
    url, spool = server
    too_big = os.urandom(LIMIT_MB * 1024 * 1024 + 1)

    async def chunks(body: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start:start + 256 * 1024]

    async def scenario() -> None:
        async with browser_session(url) as (client, xsrf, session_id):
            def route() -> str:
                return f"/_stcore/upload_file/{session_id}/{uuid.uuid4()}"

            body, headers = multipart("big.cc5txt", too_big)
            headers["X-Xsrftoken"] = xsrf
            declared = await client.put(route(), content=body, headers=headers)
            assert declared.status_code == 413
            # No Content-Length: the file part is cut at the limit (one byte over) as it arrives...
            chunked = await client.put(route(), content=chunks(body), headers=headers)
            assert chunked.status_code == 413
            assert "content-length" not in chunked.request.headers
            # ... and so is a body whose plain form fields pass the limit plus the framing allowance.
            field = (b"--spooltest\r\nContent-Disposition: form-data; name=\"padding\"\r\n\r\n"
                     + b"p" * (LIMIT_MB * 1024 * 1024 + MULTIPART_OVERHEAD_BYTES) + b"\r\n")
            small, _ = multipart("small.cc5txt", b"00|x\n")
            padded = await client.put(route(), content=chunks(field + small), headers=headers)
            assert padded.status_code == 413
            assert files_in(spool / session_id) == []
            fits, _ = multipart("fits.cc5txt", too_big[:-1])
            ok = await client.put(route(), content=chunks(fits), headers=headers)
            assert ok.status_code == 204
            assert [p.stat().st_size for p in files_in(spool / session_id)] == [len(too_big) - 1]

    run(scenario())


def test_xsrf_session_and_body_are_checked_and_leave_no_file(server) -> None:
    url, spool = server

    async def scenario() -> None:
        async with browser_session(url) as (client, xsrf, session_id):
            body, headers = multipart("a.cc5txt", b"00|x\n")
            route = f"/_stcore/upload_file/{session_id}/{uuid.uuid4()}"
            assert (await client.put(route, content=body, headers=headers)).status_code == 403
            forged = {**headers, "X-Xsrftoken": "2|00000000|" + "ab" * 16 + "|1796049108"}
            assert (await client.put(route, content=body, headers=forged)).status_code == 403
            signed = {**headers, "X-Xsrftoken": xsrf}
            unknown = await client.put(f"/_stcore/upload_file/{uuid.uuid4()}/{uuid.uuid4()}", content=body,
                                       headers=signed)
            assert unknown.status_code == 400
            assert (await client.put(route, content=b"not multipart", headers={"X-Xsrftoken": xsrf,
                                                                              "Content-Type": "text/plain"})
                    ).status_code == 400
            two = body[: -len(b"--spooltest--\r\n")] + body  # two file parts
            assert (await client.put(route, content=two, headers=signed)).status_code == 400
            truncated = body[:-20]
            assert (await client.put(route, content=truncated, headers=signed)).status_code == 400
            assert files_in(spool / session_id) == []

    run(scenario())


def test_an_aborted_upload_and_an_ended_session_leave_nothing(server) -> None:
    url, spool = server

    async def scenario() -> str:
        async with browser_session(url) as (client, xsrf, session_id):
            body, headers = multipart("kept.cc5txt", b"10|a\n" * 1000)
            kept_id = str(uuid.uuid4())
            kept = await client.put(f"/_stcore/upload_file/{session_id}/{kept_id}", content=body,
                                    headers={**headers, "X-Xsrftoken": xsrf})
            assert kept.status_code == 204
            # Half a body, then the connection drops (a closed tab, a lost network).
            body, headers = multipart("aborted.cc5txt", os.urandom(1_000_000))
            host, port = url.removeprefix("http://").split(":")
            request = (f"PUT /_stcore/upload_file/{session_id}/{uuid.uuid4()} HTTP/1.1\r\nHost: {host}\r\n"
                       f"Content-Type: {headers['Content-Type']}\r\nContent-Length: {len(body)}\r\n"
                       f"X-Xsrftoken: {xsrf}\r\nCookie: _streamlit_xsrf={xsrf}\r\n\r\n").encode()
            with socket.create_connection((host, int(port))) as raw:
                raw.sendall(request + body[: len(body) // 2])
                deadline = time.monotonic() + 10
                while not any(p.name.endswith(".part") for p in files_in(spool / session_id)):
                    assert time.monotonic() < deadline, "the partial upload never started"
                    await asyncio.sleep(0.05)
            assert len(files_in(spool / session_id)) == 2
            await _wait_for(lambda: [p.name for p in files_in(spool / session_id)] == [kept_id],
                            "the aborted upload's partial file stayed")
            return session_id

    closed = run(scenario())
    assert (spool / closed).is_dir()  # its tab may come back within the TTL: the files are kept

    async def next_upload() -> None:
        await asyncio.sleep(2)  # past the disconnected-session TTL (1 s): Streamlit has dropped the session
        async with browser_session(url) as (client, xsrf, session_id):
            body, headers = multipart("next.cc5txt", b"00|x\n")
            put = await client.put(f"/_stcore/upload_file/{session_id}/{uuid.uuid4()}", content=body,
                                   headers={**headers, "X-Xsrftoken": xsrf})
            assert put.status_code == 204
            assert not (spool / closed).exists(), "the dropped session's files stayed"
            assert len(files_in(spool / session_id)) == 1

    run(next_upload())


async def _wait_for(condition: Any, message: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.1)


def test_upload_path_links_the_spooled_file_or_writes_the_widgets_bytes(tmp_path) -> None:
    spool = tmp_path / "spool"
    (spool / "session-1").mkdir(parents=True)
    spooled = spool / "session-1" / "file-1"
    spooled.write_bytes(b"00|spooled\n")
    streamed = UploadedFile(UploadedFileRec("file-1", "../a.cc5txt", "text/plain", b""), None)
    work = tmp_path / "work"
    work.mkdir()
    linked = upload_path(streamed, work, spool=spool)
    assert linked == work / "a.cc5txt" and linked.read_bytes() == b"00|spooled\n"
    assert linked.stat().st_ino == spooled.stat().st_ino  # the same file: no copy of its bytes
    spooled.unlink()  # the user removes it from the widget: the prepared file keeps its own name
    assert linked.read_bytes() == b"00|spooled\n"

    held = UploadedFile(UploadedFileRec("file-2", "b.csv", "text/csv", b"x,y\n1,2\n"), None)
    written = upload_path(held, work, spool=spool)
    assert written == work / "b.csv" and written.read_bytes() == b"x,y\n1,2\n"


def _streamlit_stand_in() -> Any:
    """A Starlette app in Streamlit's place that says it answered."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    def streamlit_route(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"streamlit's own {request.method}")

    return Starlette(routes=[Route("/_stcore/upload_file/{session}/{file}", streamlit_route, methods=["PUT"])])


def test_without_streamlits_upload_objects_every_request_goes_to_streamlit(monkeypatch, tmp_path, caplog) -> None:
    from starlette.testclient import TestClient

    import toolkit.app_support.upload_spool as upload_spool

    inner = _streamlit_stand_in()
    # Another Streamlit version, without the module the XSRF check comes from.
    monkeypatch.setitem(sys.modules, "streamlit.web.server.starlette.starlette_app_utils", None)
    with caplog.at_level("WARNING", logger=upload_spool.__name__):
        middleware = UploadSpool(inner, folder=tmp_path / "spool")
    assert caplog.text.count("Uploads go through Streamlit's own route") == 1
    with TestClient(middleware) as client:
        assert client.put("/_stcore/upload_file/s/f", content=b"x").text == "streamlit's own PUT"
    assert not (tmp_path / "spool").exists()


def test_an_upload_folder_someone_else_could_read_is_refused(tmp_path, caplog) -> None:
    from starlette.testclient import TestClient

    import toolkit.app_support.upload_spool as upload_spool

    shared = tmp_path / "toolkit-app-uploads-1"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # as if made first by another user of the machine, with its predictable name
    with caplog.at_level("WARNING", logger=upload_spool.__name__):
        middleware = UploadSpool(_streamlit_stand_in(), folder=shared)
    assert "is not a private folder" in caplog.text
    with TestClient(middleware) as client:
        assert client.put("/_stcore/upload_file/s/f", content=b"x").text == "streamlit's own PUT"
    private = tmp_path / "private"
    UploadSpool(_streamlit_stand_in(), folder=private)
    assert private.stat().st_mode & 0o777 == 0o700
