"""The FastAPI application: both APIs, their error shapes, OpenAPI at /openapi.json.

    >>> app = create_app(import_service)     # doctest: +SKIP
    >>> uvicorn.run(app, host="127.0.0.1")   # doctest: +SKIP
"""

from __future__ import annotations

from fastapi import FastAPI

from toolkit.service import imports_api, portal_api
from toolkit.service.body_guard import BodyGuard
from toolkit.service.core import ImportService
from toolkit.service.http_errors import install_error_handlers

__all__ = ["create_app"]


def create_app(service: ImportService) -> FastAPI:
    """The ASGI app serving ``service`` (whose threads its owner starts and stops)."""
    app = FastAPI(
        title="toolkit reference import service",
        version="0.1.0",
        description="The portal API (x-api-key: <key>, or Authorization: Bearer <key>) and the imports API "
                    "(u21-key: <key>) "
                    "for cc5 sync files; see docs/api.md.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(BodyGuard, service=service, limit=service.config.max_file_bytes,
                       read_timeout=service.config.body_read_timeout_seconds)
    app.include_router(portal_api.router)
    app.include_router(imports_api.router)
    return app
