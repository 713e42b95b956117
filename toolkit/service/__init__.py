"""The reference import service: the portal API and the imports API over a
DuckDB store and S3 (moto embedded by default).

    >>> import toolkit
    >>> with toolkit.local_service() as svc:              # doctest: +SKIP
    ...     svc.url, svc.api_key, svc.s3_endpoint

``toolkit serve`` runs the same service in the foreground.

Names are imported lazily: importing a submodule (the store, the config)
does not pay for FastAPI, boto3 and moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit._lazy import lazy_getattr

if TYPE_CHECKING:  # pragma: no cover
    from toolkit.service.config import ApiKey, ServiceConfig, load_config
    from toolkit.service.local import LocalService, local_service
    from toolkit.service.runtime import Service

_LAZY = {
    "local_service": "toolkit.service.local",
    "LocalService": "toolkit.service.local",
    "Service": "toolkit.service.runtime",
    "ServiceConfig": "toolkit.service.config",
    "ApiKey": "toolkit.service.config",
    "load_config": "toolkit.service.config",
}

__all__ = ["local_service", "LocalService", "Service", "ServiceConfig", "ApiKey", "load_config"]


# Each name needs the service extra; without it, one line says what to install.
__getattr__ = lazy_getattr(__name__, _LAZY, globals(), extras=dict.fromkeys(_LAZY.values(), "service"))
