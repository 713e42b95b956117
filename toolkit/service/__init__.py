"""The reference import service: the portal API and the imports API over a
DuckDB store and S3 (moto embedded by default).

    >>> import toolkit
    >>> with toolkit.local_service() as svc:              # doctest: +SKIP
    ...     svc.url, svc.api_key, svc.s3_endpoint

``toolkit serve`` runs the same service in the foreground.
"""

from __future__ import annotations

from toolkit.service.config import ApiKey, ServiceConfig, load_config
from toolkit.service.local import LocalService, local_service
from toolkit.service.runtime import Service

__all__ = ["local_service", "LocalService", "Service", "ServiceConfig", "ApiKey", "load_config"]
