"""Streaming a file to storage through a pre-signed PUT URL or POST form.

The body is read from disk in chunks with an explicit ``Content-Length``
(never the whole file in memory, never chunked encoding, which S3 rejects).
The POST form is encoded here, fields exactly as received and the file
last, with its length computed up front. Each retry reopens the file.

    >>> body = MultipartBody({"key": "ws/f_1/a.cc5txt"}, "a.cc5txt", size=3, boundary="b")
    >>> body.content_length == len(body.head) + 3 + len(body.tail)
    True
    >>> body.head.decode().splitlines()[:2]
    ['--b', 'Content-Disposition: form-data; name="key"']
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Generator, Mapping

import httpx
from tqdm.auto import tqdm

from toolkit.client.http import AmbiguousRequest, HttpSender, describe_exception
from toolkit.client.responses import s3_error_message
from toolkit.errors import TransportError, UploadError

__all__ = ["UploadTarget", "UploadReceipt", "MultipartBody", "upload_file", "policy_size_limit", "CHUNK_SIZE"]

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class UploadTarget:
    """Where and how to upload one file, as ``request_upload`` got it.

    ``method`` is ``"PUT"`` (portal: a signed URL) or ``"POST"`` (imports: a
    pre-signed form whose ``fields`` go first, exactly as received).
    """

    file_id: str
    url: str
    method: str = "PUT"
    fields: Mapping[str, str] = field(default_factory=dict)
    file_path: str | None = None
    action_id: str | None = None
    expires_at: datetime | None = None
    record: object | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class UploadReceipt:
    """What an upload did: bytes sent, seconds taken, tries, storage's answer."""

    file_id: str
    bytes: int
    seconds: float
    attempts: int
    status_code: int
    etag: str | None = None


class _FileChanged(Exception):
    """The file got shorter while it was being sent."""


def _quote(value: str) -> str:
    # Same escaping as browsers and httpx for form-data parameter values.
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


class MultipartBody:
    """A ``multipart/form-data`` body: text fields, then the file, streamed.

    ``head`` (all fields plus the file part's headers) and ``tail`` (the
    closing boundary) are small; the file is streamed between them.
    """

    def __init__(self, fields: Mapping[str, str], file_name: str, *, size: int, boundary: str | None = None) -> None:
        self.boundary = boundary or secrets.token_hex(16)
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(str(name))}"\r\n\r\n'.encode()
                + str(value).encode("utf-8")
                + b"\r\n"
            )
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{_quote(file_name)}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        self.head = b"".join(parts)
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.size = size
        self.content_length = len(self.head) + size + len(self.tail)
        self.content_type = f"multipart/form-data; boundary={self.boundary}"


def policy_size_limit(fields: Mapping[str, str]) -> int | None:
    """The maximum size a pre-signed POST's policy allows (``content-length-range``), if any.

    >>> policy = base64.b64encode(json.dumps({"conditions": [["content-length-range", 0, 300]]}).encode())
    >>> policy_size_limit({"policy": policy.decode()})
    300
    >>> policy_size_limit({}) is None
    True
    """
    encoded = fields.get("policy") or fields.get("Policy")
    if not encoded:
        return None
    try:
        policy = json.loads(base64.b64decode(encoded))
        for condition in policy.get("conditions", []):
            if isinstance(condition, list) and condition and str(condition[0]).lower() == "content-length-range":
                return int(condition[2])
    except (ValueError, TypeError, AttributeError, IndexError):
        return None
    return None


def _chunks(path: Path, size: int, chunk_size: int, sent: Callable[[int], None]) -> Generator[bytes, None, None]:
    with open(path, "rb") as handle:
        remaining = size
        while remaining > 0:
            data = handle.read(min(chunk_size, remaining))
            if not data:
                raise _FileChanged()
            remaining -= len(data)
            sent(len(data))
            yield data


def _framed(head: bytes, body: Generator[bytes, None, None], tail: bytes) -> Generator[bytes, None, None]:
    yield head
    yield from body
    yield tail


def upload_file(
    sender: HttpSender,
    path: str | os.PathLike[str],
    target: UploadTarget,
    *,
    progress: bool = True,
    chunk_size: int = CHUNK_SIZE,
    file_name: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> UploadReceipt:
    """Upload ``path`` to ``target`` with retries; raise :class:`UploadError` naming the failed step.

    ``on_progress(sent, total)`` is called after each chunk read for sending
    (bytes of this try; a retry starts again from 0), e.g. for a GUI bar.

    Steps: ``read`` (the local file), ``check`` (the file breaks the upload
    policy's size limit), ``transfer`` (no answer after the retries),
    ``storage`` (storage answered with an error).
    """
    path = Path(path)
    name = file_name or path.name
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise IsADirectoryError(f"{path} is not a file")
    except OSError as exc:
        raise UploadError(f"Cannot read {path}: {exc.strerror or exc}", step="read") from exc
    method = target.method.upper()
    if method == "POST":
        limit = policy_size_limit(target.fields)
        if limit is not None and size > limit:
            raise UploadError(
                f"Upload of {name} refused: the file is {size} bytes and the upload URL accepts at most {limit} bytes",
                step="check",
            )
    bar = tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"Uploading {name}",
        disable=not progress,
        leave=False,
        mininterval=0.25,
        delay=0.5,  # no flash for uploads that end at once
    )
    attempts = 0
    current: list[Generator[bytes, None, None]] = []

    def build() -> httpx.Request:
        nonlocal attempts
        attempts += 1
        for old in current:
            old.close()  # closes the previous try's file handle now, not at garbage collection
        current.clear()
        if attempts > 1:  # a retry starts from 0; resetting on the first try would defeat `delay`
            bar.reset(total=size)
        sent_so_far = 0

        def sent(n: int) -> None:
            nonlocal sent_so_far
            bar.update(n)
            sent_so_far += n
            if on_progress is not None:
                on_progress(sent_so_far, size)

        chunks = _chunks(path, size, chunk_size, sent)
        if method == "POST":
            form = MultipartBody(target.fields, name, size=size)
            content: Generator[bytes, None, None] = _framed(form.head, chunks, form.tail)
            headers = {"Content-Type": form.content_type, "Content-Length": str(form.content_length)}
        else:
            content = chunks
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        current.append(content)
        return sender.http.build_request(method, target.url, content=content, headers=headers)

    started = time.perf_counter()
    try:
        response = sender.send(build, what=f"Uploading {name}")
    except _FileChanged:
        raise UploadError(
            f"Upload of {name} failed: {path} changed (got shorter) while it was sent", step="read"
        ) from None
    except OSError as exc:
        raise UploadError(f"Upload of {name} failed: cannot read {path}: {exc.strerror or exc}", step="read") from exc
    except (TransportError, AmbiguousRequest) as exc:
        raise UploadError(f"Upload of {name} to storage failed: {exc}", step="transfer") from exc
    except httpx.HTTPError as exc:  # pragma: no cover - the sender wraps these; a last guard
        raise UploadError(f"Upload of {name} failed: {describe_exception(exc)}", step="transfer") from exc
    finally:
        for old in current:
            old.close()
        bar.close()
    seconds = time.perf_counter() - started
    if not response.is_success:
        raise UploadError(
            f"Upload of {name} failed: {s3_error_message(response)}",
            step="storage",
            status_code=response.status_code,
            response=response,
        )
    return UploadReceipt(
        file_id=target.file_id,
        bytes=size,
        seconds=seconds,
        attempts=attempts,
        status_code=response.status_code,
        etag=response.headers.get("ETag"),
    )
