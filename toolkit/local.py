"""The embedded local service for notebooks, the app and ``toolkit.import_file``.

This module stands above both the client and the service (it needs the
``service`` extra): the client never imports the service, the local service
uses both. ``toolkit.import_file`` and :func:`client_for` are edges that read
the environment: ``TOOLKIT_API_URL``/``TOOLKIT_API_KEY``/``TOOLKIT_API`` when
set, else an embedded reference service shared by the whole process
(started on first use, stopped at exit).

    >>> import toolkit
    >>> result = toolkit.import_file("customers.cc5txt", workspace="ws-eu")   # doctest: +SKIP
    >>> result.summary()                                                       # doctest: +SKIP
    'f_0a1b FINISHED: 10 rows applied, 0 rejected'
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Unpack

import httpx

from toolkit._extras import require_extra
from toolkit.client.api import DEFAULT_TIMEOUT, ImportClient
from toolkit.client.config import ENV_API, ENV_URL
from toolkit.client.http import RetryPolicy
from toolkit.client.options import ImportKeywords, ImportOptions
from toolkit.client.result import ImportResult
from toolkit.progress import ProgressCallback

if TYPE_CHECKING:  # pragma: no cover - typing only
    from toolkit.service.local import LocalService

__all__ = ["import_file", "shared_local_service", "client_for"]

_lock = threading.Lock()
_service: LocalService | None = None


def shared_local_service() -> LocalService:
    """The process-wide embedded service (``toolkit.local_service()``), started once.

    >>> svc = shared_local_service()      # doctest: +SKIP
    >>> svc.url                           # doctest: +SKIP
    'http://127.0.0.1:53412'
    """
    global _service
    with _lock:
        if _service is None:
            require_extra("service", what="The embedded local service")
            from toolkit.service.local import local_service

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
    *,
    env: Mapping[str, str] | None = None,
) -> ImportClient:
    """A client for the given or configured API, or for the embedded service if none is configured.

    ``env`` (default ``os.environ``) supplies what the arguments leave ``None``.

        >>> client_for("http://127.0.0.1:9", "key", env={}).base_url
        'http://127.0.0.1:9'
    """
    env = os.environ if env is None else env
    if base_url or env.get(ENV_URL):
        return ImportClient.from_env(base_url, api_key, api, env=env, http=http, timeout=timeout, retry=retry)
    service = shared_local_service()
    return ImportClient(
        service.url, service.api_key, api or env.get(ENV_API) or None, http=http, timeout=timeout, retry=retry
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
    options: ImportOptions | None = None,
    on_progress: ProgressCallback | None = None,
    **keywords: Unpack[ImportKeywords],
) -> ImportResult:
    """Import one file with the configured API (or the embedded service) and return the result.

    Import options are an :class:`~toolkit.client.ImportOptions` or its
    fields as keywords (``entity_type``, ``keys``, ``bucket_id``, ``force``,
    ``wait``, ``timeout`` (seconds to wait for the import)...), checked
    before anything runs; ``http_timeout`` is the per-request HTTP timeout.
    ``on_progress`` receives :class:`~toolkit.progress.ProgressEvent` s.

        >>> toolkit.import_file("customers.csv", workspace="ws-eu", entity_type="customer",
        ...                     keys=["customer_code"], bucket_id="bk-main")  # doctest: +SKIP
    """
    chosen = ImportOptions.merge(options, workspace=workspace, **keywords)
    with client_for(base_url, api_key, api, http=http, timeout=http_timeout, retry=retry) as client:
        return client.import_file(path, options=chosen, on_progress=on_progress)
