"""Where the client finds its API: arguments first, then a settings mapping.

The library reads no environment itself: the edges (the CLI, the app,
``ImportClient.from_env``, ``toolkit.import_file``) pass the process
environment (or the app's secrets) as ``env``. Its names: ``TOOLKIT_API_URL`` (base URL),
``TOOLKIT_API_KEY`` (the key) and ``TOOLKIT_API`` (``portal`` or
``imports``, default ``portal``).

    >>> config = ClientConfig.resolve(env={"TOOLKIT_API_URL": "http://127.0.0.1:8000/",
    ...                                    "TOOLKIT_API_KEY": "k", "TOOLKIT_API": "imports"})
    >>> config.base_url, config.api
    ('http://127.0.0.1:8000', 'imports')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from toolkit.errors import ConfigError

__all__ = ["ClientConfig", "API_NAMES", "ENV_URL", "ENV_KEY", "ENV_API", "SERVE_HINT"]

API_NAMES = ("portal", "imports")
ENV_URL = "TOOLKIT_API_URL"
ENV_KEY = "TOOLKIT_API_KEY"
ENV_API = "TOOLKIT_API"
SERVE_HINT = "start a local service with `toolkit serve`, which prints the URL and key to use"


@dataclass(frozen=True)
class ClientConfig:
    """A resolved, checked client configuration."""

    base_url: str
    api_key: str
    api: str = "portal"

    @classmethod
    def resolve(
        cls,
        base_url: str | None = None,
        api_key: str | None = None,
        api: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> "ClientConfig":
        """Fill what the arguments leave ``None`` from ``env`` (default: nothing).

        Raises :class:`~toolkit.errors.ConfigError` naming the missing or bad setting.

            >>> ClientConfig.resolve("http://127.0.0.1:9", "k").api
            'portal'
        """
        env = {} if env is None else env
        url = base_url or env.get(ENV_URL) or None
        key = api_key or env.get(ENV_KEY) or None
        name = (api or env.get(ENV_API) or "portal").strip().lower()
        if not url:
            raise ConfigError(f"No API URL configured: pass base_url or set {ENV_URL} ({SERVE_HINT})")
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"The API URL must start with http:// or https://, not {url!r}")
        if not key:
            raise ConfigError(f"No API key configured for {url}: pass api_key or set {ENV_KEY}")
        if name not in API_NAMES:
            raise ConfigError(f"The API must be 'portal' or 'imports', not {name!r} (from {ENV_API} or api=)")
        return cls(base_url=url, api_key=key, api=name)
