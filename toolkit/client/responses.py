"""Reading answers: the portal envelope, the imports API's error body and
S3's XML errors, turned into data or into the toolkit's exceptions.

    >>> import httpx
    >>> response = httpx.Response(404, json={"error": {"code": "NOT_FOUND",
    ...     "message": "File f_1 not found", "details": []}})
    >>> try:
    ...     imports_json(response, what="Getting file f_1")
    ... except NotFoundError as exc:
    ...     print(exc, "|", exc.status_code, exc.error_code)
    Getting file f_1 failed: File f_1 not found (HTTP 404 NOT_FOUND) | 404 NOT_FOUND
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import Any

import httpx

from toolkit.errors import ApiError, AuthenticationError, ConflictError, NotFoundError

__all__ = ["portal_data", "imports_json", "raise_api_error", "s3_error_message", "error_class"]

_BY_STATUS: dict[int, type[ApiError]] = {401: AuthenticationError, 404: NotFoundError, 409: ConflictError}
_BY_CODE: dict[str, type[ApiError]] = {
    "UNAUTHORIZED": AuthenticationError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
}


def error_class(status_code: int | None, error_code: str | None) -> type[ApiError]:
    """The exception class for an HTTP status and API error code.

    >>> error_class(404, None).__name__, error_class(200, "CONFLICT").__name__, error_class(500, "X").__name__
    ('NotFoundError', 'ConflictError', 'ApiError')
    """
    return _BY_STATUS.get(status_code or 0) or _BY_CODE.get((error_code or "").upper()) or ApiError


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _snippet(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200] + ("..." if len(text) > 200 else "")


def _error_details(errors: list[Any]) -> str:
    parts = []
    for item in errors:
        if isinstance(item, dict):
            name = item.get("FieldName") or item.get("field") or item.get("loc") or ""
            message = item.get("Message") or item.get("message") or item.get("ErrorCode") or ""
            if isinstance(name, list):
                name = ".".join(str(p) for p in name)
            parts.append(f"{name}: {message}" if name else str(message))
        else:
            parts.append(str(item))
    return "; ".join(p for p in parts if p)


def raise_api_error(
    response: httpx.Response,
    *,
    what: str,
    message: str | None,
    error_code: str | None,
    errors: list[Any] | None = None,
) -> None:
    """Raise the :class:`ApiError` subclass for ``response`` with a one-line message."""
    errors = errors or []
    text = message or (f"the server answered {_snippet(response)!r}" if response.text.strip() else "no details")
    details = _error_details(errors)
    if details and details not in text:
        text = f"{text.rstrip('.')}: {details}"
    tag = f"HTTP {response.status_code}" + (f" {error_code}" if error_code else "")
    cls = error_class(response.status_code, error_code)
    raise cls(
        f"{what} failed: {text} ({tag})",
        status_code=response.status_code,
        error_code=error_code,
        errors=errors,
        response=response,
    )


def portal_data(response: httpx.Response, *, what: str) -> Any:
    """The ``Data`` of a portal envelope, or the matching :class:`ApiError`.

    >>> ok = httpx.Response(200, json={"IsSuccess": True, "ResponseStatus": {}, "Data": {"FileId": "f_1"}})
    >>> portal_data(ok, what="x")
    {'FileId': 'f_1'}
    """
    body = _json(response)
    envelope = isinstance(body, dict) and "IsSuccess" in body
    if envelope and body.get("IsSuccess") is True and response.is_success:
        return body.get("Data")
    if not envelope:
        if response.is_success:
            raise ApiError(
                f"{what} failed: the server answered HTTP {response.status_code} without the portal "
                f"envelope: {_snippet(response)!r}",
                status_code=response.status_code,
                response=response,
            )
        raise_api_error(response, what=what, message=None, error_code=None)
    status = body.get("ResponseStatus") or {}
    raise_api_error(
        response,
        what=what,
        message=status.get("Message") or None,
        error_code=status.get("ErrorCode") or None,
        errors=status.get("Errors") or [],
    )


def imports_json(response: httpx.Response, *, what: str) -> Any:
    """The JSON answer of the imports API, or the matching :class:`ApiError`.

    >>> imports_json(httpx.Response(200, json={"file_id": "f_1"}), what="x")
    {'file_id': 'f_1'}
    """
    body = _json(response)
    if response.is_success:
        if body is None:
            raise ApiError(
                f"{what} failed: the server answered HTTP {response.status_code} with a body that is "
                f"not JSON: {_snippet(response)!r}",
                status_code=response.status_code,
                response=response,
            )
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        raise_api_error(
            response,
            what=what,
            message=error.get("message") or None,
            error_code=error.get("code") or None,
            errors=error.get("details") or [],
        )
    raise_api_error(response, what=what, message=None, error_code=None)


def _xml_fields(text: str) -> dict[str, str]:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return {}
    return {child.tag.split("}")[-1]: (child.text or "").strip() for child in root}


def s3_error_message(response: httpx.Response) -> str:
    """A readable sentence for an S3 error answer (its XML ``Code`` and ``Message``).

    >>> xml = ("<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds "
    ...        "the maximum allowed size</Message><ProposedSize>400</ProposedSize>"
    ...        "<MaxSizeAllowed>300</MaxSizeAllowed></Error>")
    >>> s3_error_message(httpx.Response(400, text=xml))
    'the file is too large for this upload: 400 bytes, the limit is 300 bytes (S3 EntityTooLarge, HTTP 400)'
    """
    fields = _xml_fields(response.text) if response.text.strip().startswith("<") else {}
    code, message = fields.get("Code", ""), fields.get("Message", "")
    tag = f"(S3 {code}, HTTP {response.status_code})" if code else f"(HTTP {response.status_code})"
    if code == "AccessDenied" and "expired" in message.lower():
        expires = fields.get("Expires")
        when = f" at {expires}" if expires else ""
        return f"the upload URL expired{when}; request a new upload URL and try again {tag}"
    if code == "EntityTooLarge":
        size, limit = fields.get("ProposedSize"), fields.get("MaxSizeAllowed")
        numbers = f": {size} bytes, the limit is {limit} bytes" if size and limit else ""
        return f"the file is too large for this upload{numbers} {tag}"
    if code == "EntityTooSmall":
        return f"the file is smaller than this upload allows {tag}"
    if code in ("SignatureDoesNotMatch", "InvalidAccessKeyId"):
        return f"storage rejected the upload URL's signature; request a new upload URL {tag}"
    if code == "AccessDenied" and "policy" in message.lower():
        return f"the upload does not satisfy the upload policy: {message} {tag}"
    if code == "NoSuchBucket":
        return f"the storage bucket of the upload URL does not exist {tag}"
    if code or message:
        return f"storage refused the upload: {message or code} {tag}"
    snippet = " ".join(response.text.split())[:200]
    return f"storage refused the upload: {snippet or 'no details'} {tag}"
