"""``BodyGuard``: an ASGI middleware that checks a request before its body is
read (the key), and while it is read (size limit, time between parts).

    >>> app.add_middleware(BodyGuard, service=service, limit=300_000_000,
    ...                    read_timeout=30.0)                       # doctest: +SKIP
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolkit.errors import ApiError
from toolkit.service.core import ImportService
from toolkit.service.http_errors import error_response, presented_key

__all__ = ["BodyGuard"]


class _BodyRefused(BaseException):
    """Raised from ``receive`` to abandon a request body. A BaseException, so
    that no handler between here and the app (FastAPI turns body-reading
    errors into 400) catches it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


_API_PREFIXES = ("/appfile/", "/appdata/", "/v1/")


class BodyGuard:
    """Guards request bodies before the app reads them:

    - a request with a body to an API path and no valid key gets 401 before
      one byte of the body is read;
    - a body larger than ``limit`` gets 413: at once when Content-Length says
      so, else (chunked bodies) as soon as that many bytes have arrived;
    - a body whose next part does not arrive within ``read_timeout`` seconds
      gets 408 (slow or stalled clients do not hold a connection open).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (what
    ``@app.middleware("http")`` builds) costs a task group and two streams
    per request, measured at a quarter of a status look-up's CPU.
    """

    def __init__(self, app: ASGIApp, service: ImportService, *, limit: int, read_timeout: float) -> None:
        self.app = app
        self.service = service
        self.limit = limit
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = scope["path"]
        declared = headers.get("content-length", "")
        has_body = (declared.isdigit() and int(declared) > 0) or "chunked" in headers.get("transfer-encoding", "")
        if not has_body:
            await self.app(scope, receive, send)
            return
        if path.startswith(_API_PREFIXES):
            try:
                self.service.authenticate(presented_key(path, headers))
            except ApiError as exc:
                await error_response(path, 401, "UNAUTHORIZED", exc.message,
                                     headers={"Connection": "close"})(scope, receive, send)
                return
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(path, 413, "PAYLOAD_TOO_LARGE",
                                 f"The request body has {declared} bytes; the limit is {self.limit}",
                                 headers={"Connection": "close"})(scope, receive, send)
            return
        received = 0
        body_done = False
        started = False

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # after the body: disconnect notices, no time limit
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                raise _BodyRefused(408, "REQUEST_TIMEOUT", f"The request body did not arrive within "
                                   f"{self.read_timeout:g} s of its previous part") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > self.limit:
                    raise _BodyRefused(413, "PAYLOAD_TOO_LARGE",
                                       f"The request body is larger than the limit of {self.limit} bytes")
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except _BodyRefused as refused:
            if started:  # too late for an error answer: drop the connection
                raise RuntimeError(refused.message) from None
            await error_response(path, refused.status, refused.code, refused.message,
                                 headers={"Connection": "close"})(scope, receive, send)
