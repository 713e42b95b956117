"""The FastAPI application: both APIs, their error shapes, OpenAPI at /openapi.json.

    >>> app = create_app(import_service)     # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1")   # doctest: +SKIP
"""

from __future__ import annotations


from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from toolkit.service import imports_api, portal_api
from toolkit.service.core import ImportService
from toolkit.service.http_errors import error_response, install_error_handlers

__all__ = ["create_app"]


def create_app(service: ImportService) -> FastAPI:
    """The ASGI app serving ``service`` (whose threads its owner starts and stops)."""
    app = FastAPI(
        title="toolkit reference import service",
        version="0.1.0",
        description="The portal API (Authorization: Bearer <key>) and the imports API (u21-key: <key>) "
                    "for cc5 sync files; see docs/api.md.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=service.config.max_file_bytes)
    app.include_router(portal_api.router)
    app.include_router(imports_api.router)
    return app


class BodyLimit:
    """Refuse a request whose declared body is larger than a file may be
    (JSON bodies, ImportData, are read whole).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (what
    ``@app.middleware("http")`` builds) costs a task group and two streams
    per request, measured at a quarter of a status look-up's CPU.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = next((v for k, v in scope["headers"] if k == b"content-length"), b"")
            if declared.isdigit() and int(declared) > self.limit:
                answer = error_response(scope["path"], 413, "PAYLOAD_TOO_LARGE",
                                        f"The request body has {declared.decode()} bytes; the limit is {self.limit}")
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)
