"""``toolkit.import_file``: one call, against the configured API or, when no
``TOOLKIT_API_URL`` is set, an embedded reference service shared by the
whole process (started on first use, stopped at exit).

    >>> import toolkit
    >>> result = toolkit.import_file("customers.cc5txt", workspace="ws-eu")   # doctest: +SKIP
    >>> result.summary()                                                       # doctest: +SKIP
    'f_0a1b FINISHED: 10 rows applied, 0 rejected'
"""

from __future__ import annotations

import atexit
import os
import threading
from typing import Any

import httpx

from toolkit.client.api import DEFAULT_TIMEOUT, ImportClient
from toolkit.client.config import ENV_API, ENV_URL
from toolkit.client.http import RetryPolicy
from toolkit.client.result import ImportResult

__all__ = ["import_file", "shared_local_service", "client_for"]

_lock = threading.Lock()
_service: Any = None


def shared_local_service() -> Any:
    """The process-wide embedded service (``toolkit.local_service()``), started once.

    >>> svc = shared_local_service()      # doctest: +SKIP
    >>> svc.url                           # doctest: +SKIP
    'http://127.0.0.1:53412'
    """
    global _service
    with _lock:
        if _service is None:
            from toolkit.service import local_service

            manager = local_service()
            service = manager.__enter__()
            atexit.register(manager.__exit__, None, None, None)
            _service = service
        return _service


def client_for(
    base_url: str | None = None,
    api_key: str | None = None,
    api: str | None = None,
    http: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
) -> ImportClient:
    """A client for the given or configured API, or for the embedded service if none is configured."""
    if base_url or os.environ.get(ENV_URL):
        return ImportClient(base_url, api_key, api, http=http, timeout=timeout, retry=retry)
    service = shared_local_service()
    return ImportClient(
        service.url, service.api_key, api or os.environ.get(ENV_API) or None, http=http, timeout=timeout, retry=retry
    )


def import_file(
    path: Any,
    workspace: str | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    api: str | None = None,
    http: httpx.Client | None = None,
    http_timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> ImportResult:
    """Import one file with the configured API (or the embedded service) and return the result.

    ``options`` are those of :meth:`ImportClient.import_file` (``entity_type``,
    ``keys``, ``bucket_id``, ``force``, ``wait``, ``timeout`` (seconds to wait for
    the import)...); ``http_timeout`` is the per-request HTTP timeout.

        >>> toolkit.import_file("customers.csv", workspace="ws-eu", entity_type="customer",
        ...                     keys=["customer_code"], bucket_id="bk-main")  # doctest: +SKIP
    """
    with client_for(base_url, api_key, api, http=http, timeout=http_timeout, retry=retry) as client:
        return client.import_file(path, workspace, **options)
