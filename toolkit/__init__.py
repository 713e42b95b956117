"""toolkit: preview, validate, write and import cc5 sync files.

    >>> import toolkit
    >>> report = toolkit.validate("customers.cc5txt")        # doctest: +SKIP
    >>> report.ok, report.counts                               # doctest: +SKIP
    (True, {})
    >>> with toolkit.local_service() as svc:                   # doctest: +SKIP
    ...     result = toolkit.import_file("customers.cc5txt", workspace="ws-eu",
    ...                                  base_url=svc.url, api_key=svc.api_key)

Names are imported lazily so that ``import toolkit`` (and the CLI) stay fast.
"""

from __future__ import annotations

from toolkit._lazy import lazy_getattr
from toolkit.errors import (
    ApiError,
    AuthenticationError,
    Cc5Error,
    ConfigError,
    ConflictError,
    ImportFailed,
    ImportTimeout,
    NotFoundError,
    ToolkitError,
    TransportError,
    UploadError,
    ValidationFailed,
)

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # cc5 engine
    "read_header": "toolkit.cc5",
    "open_cc5": "toolkit.cc5",
    "validate": "toolkit.cc5",
    "write_cc5": "toolkit.cc5",
    "Header": "toolkit.cc5",
    "Cc5File": "toolkit.cc5",
    "ValidationReport": "toolkit.cc5",
    "Finding": "toolkit.cc5",
    # reference service
    "local_service": "toolkit.service",
    "LocalService": "toolkit.service",
    # client
    "ImportClient": "toolkit.client",
    "ImportResult": "toolkit.client",
    "import_file": "toolkit.client",
}

__all__ = [
    *_LAZY,
    "ToolkitError",
    "Cc5Error",
    "ConfigError",
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


__getattr__ = lazy_getattr(__name__, _LAZY, globals())
