"""The toolkit's exceptions: one tree under ``ToolkitError``.

Every error carries the context a user needs to act on it (the file, the
line, the field, the HTTP response, the import record), and ``str(error)``
is a one-line message fit for the CLI and the app.

    ToolkitError
    ├── Cc5Error                 a cc5 file cannot be read at all (file, line, field)
    ├── WriteError               write_cc5 cannot write the data (column, row); also a ValueError
    ├── ConfigError              missing or invalid configuration
    │   └── MissingExtra         an optional part is not installed (extra); also an ImportError
    ├── ValidationFailed         local validation found file-level errors (report)
    ├── ApiError                 the API answered with an error (status_code, error_code, response)
    │   ├── AuthenticationError  401: no key or a wrong key
    │   ├── NotFoundError        404: no such file, or not visible to this key
    │   └── ConflictError        409: the request conflicts with the file's state
    ├── TransportError           no usable answer: connection refused, dropped, timed out
    ├── UploadError              the upload to storage failed (step, response)
    ├── ImportFailed             the import ended FAILED (record, failure_code)
    ├── ImportTimeout            waiting for the import gave up (file_id, last status)
    │
    │   raised inside the service (they live next to the code that raises them):
    ├── StorageError             toolkit.service.storage: S3 failed (unreachable, denied, odd answer)
    │   └── ObjectTooLarge       the object grew past the size limit while downloaded
    ├── SchemaMismatch           toolkit.service.store: keys or a field type disagree with the table
    └── StateChanged             toolkit.service.store: the record left the state an operation expected

Internal control flow, never raised to a caller of the library (so not under
``ToolkitError``): ``toolkit.client.http.AmbiguousRequest`` (a trigger's
answer was lost; the client asks for the status), ``toolkit.client.upload._FileChanged``,
``toolkit.service.processing.Interrupted`` and ``toolkit.service.processing._Failure``
(turned into a FAILED import), and ``toolkit.service.body_guard._BodyRefused`` (a BaseException that abandons an
oversized request body; the guard answers 413 itself), and the app's upload middleware's
``toolkit.app_support.upload_spool._Refused`` (an upload it answers with a 4xx itself) and
``toolkit.app_support.upload_spool._Aborted`` (the browser went away mid-upload).
``tests/test_surface.py`` checks this list against the package's classes.

Example:

    >>> try:
    ...     raise NotFoundError("File f-1 not found", status_code=404, error_code="NOT_FOUND")
    ... except ToolkitError as exc:
    ...     print(exc)
    File f-1 not found
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - typing only
    import httpx

__all__ = [
    "ToolkitError",
    "Cc5Error",
    "WriteError",
    "ConfigError",
    "MissingExtra",
    "ValidationFailed",
    "ApiError",
    "AuthenticationError",
    "NotFoundError",
    "ConflictError",
    "TransportError",
    "UploadError",
    "ImportFailed",
    "ImportTimeout",
]


class ToolkitError(Exception):
    """Base of every error the toolkit raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Cc5Error(ToolkitError):
    """A cc5 file cannot be read at all (missing, unreadable, not a file).

    Problems *inside* a readable file are findings of a validation report,
    not exceptions.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = ":".join(str(p) for p in (file, line) if p is not None)
        if field:
            where = f"{where} field {field}" if where else f"field {field}"
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.line = line
        self.field = field


class WriteError(ToolkitError, ValueError):
    """``write_cc5`` cannot write the data: a bad argument, or a value the format cannot hold.

    ``column`` and ``row`` (1-based, in the input's order) say where, when a value is the cause.

        >>> str(WriteError("an array element is empty", column="tags", row=3))
        'column tags, row 3: an array element is empty'
    """

    def __init__(self, message: str, *, column: str | None = None, row: int | None = None) -> None:
        where = ", ".join(p for p in (f"column {column}" if column else None,
                                      f"row {row}" if row is not None else None) if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.column = column
        self.row = row


class ConfigError(ToolkitError):
    """Configuration is missing or invalid (API URL, key, store path...)."""


class MissingExtra(ConfigError, ImportError):
    """An optional part of the toolkit is not installed; ``extra`` names the
    extra that brings it (``pip install 'toolkit[service]'``).

    It is also an ``ImportError``, so code that guards an optional import
    with ``except ImportError`` keeps working.

        >>> str(MissingExtra("toolkit serve needs the service extra", extra="service"))
        'toolkit serve needs the service extra'
    """

    def __init__(self, message: str, *, extra: str) -> None:
        ConfigError.__init__(self, message)
        self.msg = message  # ImportError's message attribute
        self.extra = extra


class ValidationFailed(ToolkitError):
    """Local validation found file-level errors; nothing was uploaded.

    ``report`` is the full validation report.
    """

    def __init__(self, message: str, *, report: Any) -> None:
        super().__init__(message)
        self.report = report


class ApiError(ToolkitError):
    """The API answered with an error status or an unsuccessful envelope."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        errors: list[Any] | None = None,
        response: "httpx.Response | None" = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error_code = error_code
        self.errors = errors or []
        self.response = response


class AuthenticationError(ApiError):
    """401: the API key is missing or wrong."""


class NotFoundError(ApiError):
    """404: the file does not exist or is not visible to this key."""


class ConflictError(ApiError):
    """409: the request conflicts with the file's state (already imported...)."""


class TransportError(ToolkitError):
    """No usable answer from a server after the allowed retries."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class UploadError(ToolkitError):
    """Uploading the file to storage failed; ``step`` says which step."""

    def __init__(
        self,
        message: str,
        *,
        step: str,
        status_code: int | None = None,
        response: "httpx.Response | None" = None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.status_code = status_code
        self.response = response


class ImportFailed(ToolkitError):
    """The import ended FAILED (or DELETED); ``record`` is the final file record,
    ``result`` the whole ``ImportResult`` (timings) when ``import_file`` raised it."""

    def __init__(self, message: str, *, record: Any, failure_code: str | None = None, result: Any = None) -> None:
        super().__init__(message)
        self.record = record
        self.failure_code = failure_code
        self.result = result


class ImportTimeout(ToolkitError):
    """Waiting for the import to end gave up; the import may still finish."""

    def __init__(self, message: str, *, file_id: str, status: str | None = None) -> None:
        super().__init__(message)
        self.file_id = file_id
        self.status = status
