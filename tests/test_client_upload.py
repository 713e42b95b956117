"""Uploads: streamed from disk in chunks with an explicit Content-Length
(never chunked), the POST form encoded with its fields as received and the
file last, the file reopened for each try, and failures naming their step."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import os
import random
import socket
import threading
from pathlib import Path

import httpx
import pytest

from toolkit.client import ImportClient, RetryPolicy, UploadTarget
from toolkit.client.http import HttpSender
from toolkit.client.upload import (
    CHUNK_SIZE,
    MultipartBody,
    policy_size_limit,
    upload_file,
)
from toolkit.errors import UploadError

FIELDS = {
    "key": "ws-eu/f_1/customers.cc5txt",
    "AWSAccessKeyId": "AKIDEXAMPLE",
    "policy": base64.b64encode(json.dumps({"conditions": [["content-length-range", 1, 10_000_000]]}).encode()).decode(),
    "signature": "c2lnbmF0dXJl",
    "x-amz-meta-note": 'quoted "name" and ünïcode',
}


class StreamingTransport(httpx.BaseTransport):
    """Reads each request body chunk by chunk, like a socket would; can drop a try."""

    def __init__(self, answers=None, drop_after: dict[int, int] | None = None) -> None:
        self.requests: list[dict] = []
        self.answers = answers or []
        self.drop_after = drop_after or {}  # try number -> bytes to read before dropping

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        number = len(self.requests) + 1
        seen = {"headers": request.headers, "chunks": [], "body": b""}
        self.requests.append(seen)
        limit = self.drop_after.get(number)
        for chunk in request.stream:
            seen["chunks"].append(len(chunk))
            seen["body"] += chunk
            if limit is not None and len(seen["body"]) >= limit:
                raise httpx.WriteError("Connection reset by peer")
        answer = self.answers[number - 1] if number <= len(self.answers) else httpx.Response(200)
        return answer


@pytest.fixture()
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "customers.cc5txt"
    path.write_bytes(os.urandom(3 * CHUNK_SIZE + 12345))
    return path


def sender_for(transport: httpx.BaseTransport, sleeps: list[float] | None = None) -> HttpSender:
    sleep = sleeps.append if sleeps is not None else (lambda s: None)
    return HttpSender(httpx.Client(transport=transport), RetryPolicy(sleep=sleep, rng=random.Random(3)))


def parse_form(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """(name, filename, value) of each part, in order, by the standard library's MIME parser."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    assert message.is_multipart()
    parts = []
    for part in message.iter_parts():
        params = dict(part.get_params(header="content-disposition")[1:])
        parts.append((params["name"], params.get("filename"), part.get_payload(decode=True)))
    return parts


# -- PUT ---------------------------------------------------------------------------


def test_put_streams_the_file_in_chunks_with_a_content_length(data_file: Path) -> None:
    transport = StreamingTransport(answers=[httpx.Response(200, headers={"ETag": '"abc"'})])
    receipt = upload_file(sender_for(transport), data_file, UploadTarget("f_1", "http://s3.test/b/k"), progress=False)
    (seen,) = transport.requests
    assert seen["headers"]["Content-Length"] == str(data_file.stat().st_size)
    assert "Transfer-Encoding" not in seen["headers"]
    assert seen["body"] == data_file.read_bytes()
    assert max(seen["chunks"]) <= CHUNK_SIZE and len(seen["chunks"]) == 4  # never the whole file at once
    assert (receipt.file_id, receipt.bytes, receipt.attempts, receipt.etag) == (
        "f_1",
        data_file.stat().st_size,
        1,
        '"abc"',
    )


def test_a_dropped_put_is_retried_with_the_file_reopened(data_file: Path) -> None:
    transport = StreamingTransport(drop_after={1: CHUNK_SIZE + 1})
    sleeps: list[float] = []
    receipt = upload_file(
        sender_for(transport, sleeps), data_file, UploadTarget("f_1", "http://s3.test/b/k"), progress=False
    )
    first, second = transport.requests
    assert len(first["body"]) < data_file.stat().st_size
    assert second["body"] == data_file.read_bytes()  # read again from byte 0
    assert receipt.attempts == 2 and len(sleeps) == 1


def test_put_retries_on_503_and_then_succeeds(data_file: Path) -> None:
    transport = StreamingTransport(answers=[httpx.Response(503, headers={"Retry-After": "2"}), httpx.Response(200)])
    sleeps: list[float] = []
    receipt = upload_file(
        sender_for(transport, sleeps), data_file, UploadTarget("f_1", "http://s3.test/b/k"), progress=False
    )
    assert receipt.attempts == 2 and sleeps == [2.0]
    assert transport.requests[1]["body"] == data_file.read_bytes()


def test_an_upload_that_never_gets_through_names_the_transfer_step(data_file: Path) -> None:
    transport = StreamingTransport(drop_after={n: 10 for n in range(1, 10)})
    with pytest.raises(UploadError) as caught:
        upload_file(sender_for(transport), data_file, UploadTarget("f_1", "http://s3.test/b/k"), progress=False)
    assert caught.value.step == "transfer"
    assert "connection dropped while sending" in str(caught.value) and "gave up after 5 attempts" in str(caught.value)


def test_a_missing_file_names_the_read_step(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match=r"Cannot read .*missing.cc5txt: No such file") as caught:
        upload_file(
            sender_for(StreamingTransport()),
            tmp_path / "missing.cc5txt",
            UploadTarget("f_1", "http://s3.test/b/k"),
            progress=False,
        )
    assert caught.value.step == "read"


def test_a_file_that_shrinks_while_sent_is_reported(data_file: Path) -> None:
    class Shrinking(StreamingTransport):
        def handle_request(self, request):
            data_file.write_bytes(b"short")
            return super().handle_request(request)

    with pytest.raises(UploadError, match="changed") as caught:
        upload_file(sender_for(Shrinking()), data_file, UploadTarget("f_1", "http://s3.test/b/k"), progress=False)
    assert caught.value.step == "read"


# -- POST ----------------------------------------------------------------------------


def test_post_sends_the_fields_as_received_then_the_file_last(data_file: Path) -> None:
    transport = StreamingTransport(answers=[httpx.Response(204)])
    target = UploadTarget("f_1", "http://s3.test/bucket", method="POST", fields=FIELDS)
    receipt = upload_file(sender_for(transport), data_file, target, progress=False)
    (seen,) = transport.requests
    assert "Transfer-Encoding" not in seen["headers"]
    assert int(seen["headers"]["Content-Length"]) == len(seen["body"])
    assert max(seen["chunks"]) <= CHUNK_SIZE
    parts = parse_form(seen["headers"]["Content-Type"], seen["body"])
    assert [name for name, _, _ in parts] == [*FIELDS, "file"]
    assert {name: value.decode() for name, _, value in parts[:-1]} == FIELDS
    assert parts[-1][1] == "customers.cc5txt" and parts[-1][2] == data_file.read_bytes()
    assert receipt.status_code == 204


def test_a_dropped_post_is_resent_whole(data_file: Path) -> None:
    transport = StreamingTransport(drop_after={1: 2 * CHUNK_SIZE})
    target = UploadTarget("f_1", "http://s3.test/bucket", method="POST", fields=FIELDS)
    assert upload_file(sender_for(transport), data_file, target, progress=False).attempts == 2
    parts = parse_form(transport.requests[1]["headers"]["Content-Type"], transport.requests[1]["body"])
    assert parts[-1][2] == data_file.read_bytes()


def test_multipart_length_is_exact_for_odd_names_and_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / 'we"ird na\\me.txt'
    empty.write_bytes(b"")
    transport = StreamingTransport(answers=[httpx.Response(204)])
    upload_file(
        sender_for(transport),
        empty,
        UploadTarget("f", "http://s3.test/b", method="POST", fields={"a": ""}),
        progress=False,
    )
    (seen,) = transport.requests
    assert int(seen["headers"]["Content-Length"]) == len(seen["body"])
    parts = parse_form(seen["headers"]["Content-Type"], seen["body"])
    assert parts[0] == ("a", None, b"") and parts[1][2] == b""
    body = MultipartBody({"k": "v"}, "x", size=5, boundary="B")
    assert body.content_length == len(body.head) + 5 + len(body.tail)


def test_a_file_over_the_policy_limit_is_refused_before_sending(tmp_path: Path) -> None:
    path = tmp_path / "big.cc5txt"
    path.write_bytes(b"x" * 101)
    policy = base64.b64encode(
        json.dumps(
            {"expiration": "2026-11-22T11:00:00Z", "conditions": [{"bucket": "b"}, ["content-length-range", 0, 100]]}
        ).encode()
    )
    transport = StreamingTransport()
    target = UploadTarget("f_1", "http://s3.test/b", method="POST", fields={"key": "k", "policy": policy.decode()})
    with pytest.raises(
        UploadError, match="the file is 101 bytes and the upload URL accepts at most 100 bytes"
    ) as caught:
        upload_file(sender_for(transport), path, target, progress=False)
    assert caught.value.step == "check" and transport.requests == []
    assert policy_size_limit({"policy": "not base64 json"}) is None


def test_storage_errors_name_the_storage_step(data_file: Path) -> None:
    xml = "<Error><Code>EntityTooLarge</Code><Message>too big</Message></Error>"
    transport = StreamingTransport(answers=[httpx.Response(400, text=xml)])
    target = UploadTarget("f_1", "http://s3.test/b", method="POST", fields=FIELDS)
    with pytest.raises(UploadError, match=r"too large for this upload \(S3 EntityTooLarge, HTTP 400\)") as caught:
        upload_file(sender_for(transport), data_file, target, progress=False)
    assert caught.value.step == "storage" and caught.value.response.status_code == 400


def test_progress_bar_counts_every_byte(data_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import toolkit.client.upload as upload_module

    bars = []
    real_tqdm = upload_module.tqdm

    def recording_tqdm(*args, **kwargs):
        bar = real_tqdm(*args, **kwargs)
        bars.append(bar)
        return bar

    monkeypatch.setattr(upload_module, "tqdm", recording_tqdm)
    transport = StreamingTransport(drop_after={1: CHUNK_SIZE})
    upload_file(sender_for(transport), data_file, UploadTarget("f_1", "http://s3.test/b/k"), progress=True)
    (bar,) = bars
    assert bar.total == data_file.stat().st_size and bar.n == bar.total  # reset for the retry, then complete
    assert bar.unit == "B"


# -- on a real socket ------------------------------------------------------------------


def test_on_the_wire_the_body_has_a_content_length_and_no_chunking(data_file: Path) -> None:
    """A loopback server reading raw bytes sees exactly Content-Length bytes after the head."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    seen: dict = {}

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
            length = int(headers["content-length"])
            while len(body) < length:
                body += conn.recv(1 << 20)
            seen.update(request_line=lines[0], headers=headers, body=body)
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nETag: "e"\r\n\r\n')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with ImportClient("http://127.0.0.1:1", "k") as client:
        receipt = client.upload(
            data_file, UploadTarget("f_1", f"http://127.0.0.1:{port}/bucket/key?X-Amz-Signature=s"), progress=False
        )
    thread.join(10)
    server.close()
    assert seen["request_line"] == "PUT /bucket/key?X-Amz-Signature=s HTTP/1.1"
    assert "transfer-encoding" not in seen["headers"]
    assert "authorization" not in seen["headers"] and "u21-key" not in seen["headers"]  # no API key to storage
    assert seen["body"] == data_file.read_bytes()
    assert receipt.etag == '"e"'


def test_on_progress_follows_each_try_to_the_total(data_file: Path) -> None:
    transport = StreamingTransport(drop_after={1: CHUNK_SIZE})
    calls: list[tuple[int, int]] = []
    with ImportClient(
        "http://127.0.0.1:1", "k", http=httpx.Client(transport=transport), retry=RetryPolicy(sleep=lambda s: None)
    ) as client:
        client.upload(
            data_file,
            UploadTarget("f_1", "http://s3.test/b/k"),
            progress=False,
            on_progress=lambda sent, total: calls.append((sent, total)),
        )
    size = data_file.stat().st_size
    assert all(total == size for _, total in calls)
    restart = next(i for i in range(1, len(calls)) if calls[i][0] <= calls[i - 1][0])  # the retry starts again
    assert calls[restart][0] <= CHUNK_SIZE and calls[-1] == (size, size)
