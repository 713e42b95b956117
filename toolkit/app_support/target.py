"""Which import API the app talks to: a configured remote one, or the embedded service.

Configuration is read from Streamlit secrets first, then the environment:

- ``TOOLKIT_API_URL``: base URL of the API; when absent the app starts the
  embedded local service (once per process) and talks to it.
- ``TOOLKIT_API_KEY``: the key for that API (required with a URL).
- ``TOOLKIT_API``: ``portal`` (default) or ``imports``.

This module is plain Python (no Streamlit) so the rules are unit-tested.

    >>> configured_target({}, {}) is None          # nothing configured: embedded
    True
    >>> configured_target({}, {"TOOLKIT_API_URL": "https://api.example.com",
    ...                        "TOOLKIT_API_KEY": "k1"}).label
    'https://api.example.com (portal API)'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.client.config import ENV_API, ENV_KEY, ENV_URL, ClientConfig

__all__ = ["ApiTarget", "configured_target"]


@dataclass(frozen=True)
class ApiTarget:
    """An API base URL with its key and flavour; ``embedded`` for the local service.

        >>> ApiTarget("http://127.0.0.1:8765", "k", embedded=True).label
        'embedded local service at http://127.0.0.1:8765 (portal API)'
    """

    url: str
    api_key: str = field(repr=False)
    api: str = "portal"
    embedded: bool = False

    @property
    def label(self) -> str:
        """One line for the sidebar: where the app sends files."""
        where = f"embedded local service at {self.url}" if self.embedded else self.url
        return f"{where} ({self.api} API)"


def configured_target(secrets: Mapping[str, Any], environ: Mapping[str, str]) -> ApiTarget | None:
    """The remote API configured in ``secrets`` or ``environ``; None means "use the embedded service".

    A secret wins over the environment variable of the same name. The checks
    are the client's (``ClientConfig.resolve``): a URL without a key, a bad
    URL or an unknown API raise ``ConfigError`` naming the setting.

        >>> configured_target({"TOOLKIT_API_URL": "https://api.example.com"}, {})
        Traceback (most recent call last):
        ...
        toolkit.errors.ConfigError: No API key configured for https://api.example.com: pass api_key or set TOOLKIT_API_KEY
    """
    settings = {
        name: str(value).strip()
        for name in (ENV_URL, ENV_KEY, ENV_API)
        if (value := secrets.get(name) or environ.get(name))
    }
    if not settings.get(ENV_URL):
        return None
    config = ClientConfig.resolve(env=settings)
    return ApiTarget(url=config.base_url, api_key=config.api_key, api=config.api)
