"""The FastAPI application: both APIs, their error shapes, OpenAPI at /openapi.json.

    >>> app = create_app(import_service)     # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

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
    limit = service.config.max_file_bytes

    @app.middleware("http")
    async def _limit_body(request: Request, call_next: Any) -> Any:
        # JSON bodies (ImportData) are read whole: refuse one larger than a file may be.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return error_response(request.url.path, 413, "PAYLOAD_TOO_LARGE",
                                  f"The request body has {declared} bytes; the limit is {limit}")
        return await call_next(request)

    app.include_router(portal_api.router)
    app.include_router(imports_api.router)
    return app
