"""toolkit: preview, validate, write and import cc5 sync files.

    >>> import toolkit
    >>> report = toolkit.validate("customers.cc5txt")        # doctest: +SKIP
    >>> report.ok, report.counts                               # doctest: +SKIP
    (True, {})
    >>> with toolkit.local_service() as svc:                   # doctest: +SKIP
    ...     result = toolkit.import_file("customers.cc5txt", workspace="ws-eu",
    ...                                  base_url=svc.url, api_key=svc.api_key)

Names are imported lazily so that ``import toolkit`` (and the CLI) stay fast.
The core install is the engine and the client; ``local_service`` and
``import_file`` without a configured API need the ``service`` extra
(``pip install 'toolkit[service]'``) and say so when it is missing.
"""

from __future__ import annotations

from toolkit._lazy import lazy_getattr
from toolkit.errors import (
    ApiError,
    AuthenticationError,
    Cc5Error,
    ConfigError,
    ConflictError,
    MissingExtra,
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
    # client
    "ImportClient": "toolkit.client",
    "ImportOptions": "toolkit.client",
    "ImportResult": "toolkit.client",
    # the embedded local service and the one-call import (above client and service)
    "local_service": "toolkit.service.local",
    "LocalService": "toolkit.service.local",
    "import_file": "toolkit.local",
    # progress events
    "ProgressEvent": "toolkit.progress",
}
_EXTRAS = {"toolkit.service.local": "service"}

__all__ = [
    *_LAZY,
    "ToolkitError",
    "Cc5Error",
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


__getattr__ = lazy_getattr(__name__, _LAZY, globals(), extras=_EXTRAS)
