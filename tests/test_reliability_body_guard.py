"""Request bodies against a real uvicorn server: the key is checked before a
body is read, the size limit holds while a (chunked) body arrives, and a body
that stalls is given up after the read timeout (issue 12, defects 3 and 4)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from conftest import TEST_KEYS

LIMIT = 1_000_000


@pytest.fixture(scope="module")
def server(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import toolkit

    directory = tmp_path_factory.mktemp("guard")
    with toolkit.local_service(directory / "store.duckdb", s3_endpoint=moto_endpoint, s3_bucket="guard-test",
                               api_keys=TEST_KEYS, max_file_bytes=LIMIT, body_read_timeout_seconds=1.0) as svc:
        yield svc


def _connect(server: Any) -> socket.socket:
    url = urlsplit(server.url)
    # A server that waits for the rest of a body never answers: the read times out and the test fails.
    return socket.create_connection((url.hostname, url.port), timeout=15)


def _head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of the answer (reads until the server closes)."""
    data = b""
    while True:
        try:
            part = sock.recv(65536)
        except ConnectionResetError:
            break
        if not part:
            break
        data += part
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), None)
            if length is not None and len(body) >= length:
                break
    head, _, body = data.partition(b"\r\n\r\n")
    assert head, "no answer"
    return int(head.split()[1]), json.loads(body or b"{}")


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_a_chunked_body_without_a_key_is_refused_before_it_is_read(server: Any) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("/appfile/file/import/data", {"Transfer-Encoding": "chunked"}))
        sock.sendall(_chunk(b"{" + b" " * 1000))  # and never the rest
        status, body = _answer(sock)
    assert status == 401 and body["ResponseStatus"]["ErrorCode"] == "UNAUTHORIZED"


def test_a_chunked_body_over_the_limit_is_refused_while_it_arrives(server: Any) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("/v1/imports/list", {"Transfer-Encoding": "chunked", "u21-key": "key-all"}))
        sent = 0
        try:
            while sent <= LIMIT + 65536:  # past the limit, and no closing chunk
                sock.sendall(_chunk(b" " * 65536))
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        status, body = _answer(sock)
    assert status == 413 and body["error"]["code"] == "PAYLOAD_TOO_LARGE", body


def test_a_stalled_body_times_out(server: Any) -> None:
    with _connect(server) as sock:
        sock.sendall(_head("/appfile/file/list", {"Content-Length": str(LIMIT - 1), "x-api-key": "key-all"}))
        sock.sendall(b'{"Of')  # 5 bytes of a large declared body, then nothing
        sock.sendall(b"f")
        status, body = _answer(sock)
        # The server closes the connection after its answer.
        assert sock.recv(1) == b""
    assert status == 408 and body["ResponseStatus"]["ErrorCode"] == "REQUEST_TIMEOUT"


def test_bodies_within_limits_still_work(server: Any) -> None:
    import httpx

    chunks = (part for part in [b'{"Offset": 0, ', b'"Limit": 5}'])
    answer = httpx.post(f"{server.url}/appfile/file/list", content=chunks, headers={"x-api-key": "key-all",
                        "Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200 and answer.json()["Data"]["Limit"] == 5
