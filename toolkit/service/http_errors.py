"""One error body shape per API, for every error path: library errors,
request validation, unknown routes and methods, and anything unexpected
(INTERNAL_ERROR, never a traceback).

The imports API owns the paths under ``/v1/``; everything else answers in
the portal's envelope.

    >>> api_of("/v1/imports/list"), api_of("/appfile/file/path")
    ('imports', 'portal')
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from toolkit.errors import ApiError
from toolkit.service import imports_models, portal_models

__all__ = ["install_error_handlers", "error_response", "api_of", "presented_key"]

log = logging.getLogger("toolkit.service")

_CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
          409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 500: "INTERNAL_ERROR"}


def api_of(path: str) -> str:
    """Which API's error shape a path answers with."""
    return "imports" if path.startswith("/v1/") or path == "/v1" else "portal"


def error_response(path: str, status: int, code: str, message: str,
                   errors: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """The error answer in the shape of the API that owns ``path``.

    ``errors`` items are ``{"field", "code", "message"}``.
    """
    errors = errors or []
    if api_of(path) == "imports":
        body = imports_models.error_body(code, message, errors)
    else:
        body = portal_models.error_body(code, message, [
            {"ErrorCode": e["code"], "FieldName": e["field"], "Message": e["message"]} for e in errors])
        if status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header"):
            where = loc[0]
            loc = loc[1:]
        else:
            where = "body"
        kind = str(error.get("type", "invalid"))
        message = str(error.get("msg", "invalid value"))
        if kind == "json_invalid":  # loc holds the character position, not a field
            message = f"the body is not valid JSON ({message} at character {'.'.join(loc) or 0})"
            loc = []
        out.append({"field": ".".join(loc) or where, "code": kind.upper(), "message": message})
    return out


def _unauthorized(request: Request) -> JSONResponse | None:
    """The 401 answer when the request has no valid key, else None.

    FastAPI parses and validates the body before the key dependency runs; a
    caller without a valid key must learn that, not how to shape a body.
    """
    try:
        request.app.state.service.authenticate(_presented_key(request))
    except ApiError as auth_error:
        return error_response(request.url.path, 401, "UNAUTHORIZED", auth_error.message)
    return None


def _presented_key(request: Request) -> str | None:
    return presented_key(request.url.path, request.headers)


def presented_key(path: str, headers: Mapping[str, str]) -> str | None:
    """The API key a request to ``path`` carries in its API's header
    (imports: ``u21-key``; portal: ``x-api-key``, else ``Authorization: Bearer``).

    >>> presented_key("/appfile/file/list", {"x-api-key": "k"}), presented_key("/v1/imports/list", {"x-api-key": "k"})
    ('k', None)
    """
    if api_of(path) == "imports":
        return headers.get("u21-key") or None
    if headers.get("x-api-key"):
        return headers["x-api-key"]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"}) if hasattr(route, "matches") else (None, None)
        if match is not None and match.name != "NONE" and getattr(route, "methods", None):
            methods.update(route.methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that keep every error in its API's shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        status = exc.status_code or 500
        code = exc.error_code or _CODES.get(status, "INTERNAL_ERROR")
        return error_response(request.url.path, status, code, exc.message, list(exc.errors))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        unauthorized = _unauthorized(request)
        if unauthorized is not None:
            return unauthorized
        errors = _field_errors(exc)
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return error_response(request.url.path, 400, "VALIDATION_ERROR",
                              f"Invalid request: {first['field']}: {first['message']}{more}", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        if status == 400:  # a body FastAPI could not even parse (not UTF-8...)
            unauthorized = _unauthorized(request)
            if unauthorized is not None:
                return unauthorized
        code = _CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "VALIDATION_ERROR")
        message = {404: f"No such endpoint: {request.url.path}",
                   405: f"Method {request.method} is not allowed on {request.url.path}"}.get(
            status, str(exc.detail))
        headers: dict[str, Any] | None = getattr(exc, "headers", None)
        if status == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return error_response(request.url.path, status, code, message, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(request.url.path, 500, "INTERNAL_ERROR",
                              "Internal error; the service log has the details")
