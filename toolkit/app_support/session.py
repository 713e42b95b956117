"""The app's connection to an import API and its cached loaders.

- ``current_target()``: the configured remote API (secrets, then environment),
  or the embedded local service, started once per process on the app's data
  folder (``embedded_service()``; its demo history fills in the background).
- ``get_client()``: an ``ImportClient`` for that target (one per process).
- ``load_imports()``: the import list the Imports and Dashboard pages show,
  from the API (cached with a short TTL) or from an injected source.
- ``dashboard_for(df, filters)``: the DuckDB aggregates, cached likewise.

Injecting a source: put a DataFrame, or a callable returning one, in
``st.session_state[IMPORTS_SOURCE_KEY]`` before the page runs; the pages
then show that data through the very same code path (used by the dashboard
benchmark and the AppTests with 100,000 synthetic records).

    >>> import streamlit as st                       # doctest: +SKIP
    >>> st.session_state[IMPORTS_SOURCE_KEY] = synthetic_imports(100_000)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from toolkit.app_support.aggregations import DashboardData, ImportFilters, dashboard_data
from toolkit.app_support.records import normalize_imports
from toolkit.app_support.target import ApiTarget, configured_target
from toolkit.errors import ConfigError

__all__ = [
    "IMPORTS_SOURCE_KEY",
    "CACHE_TTL_SECONDS",
    "DEMO_SETTING",
    "current_target",
    "get_client",
    "load_imports",
    "refresh_imports",
    "dashboard_for",
    "embedded_service",
    "data_folder",
    "demo_count",
    "DATA_SETTING",
]

IMPORTS_SOURCE_KEY = "toolkit.imports_source"
#: ``DataFrame.attrs`` key naming one loaded import list (the aggregates' cache key).
FINGERPRINT = "toolkit.fingerprint"
#: How long the import list and the dashboard aggregates are reused.
CACHE_TTL_SECONDS = 15
#: How many demo imports the embedded service gets on first start (0: none).
DEMO_SETTING = "TOOLKIT_APP_DEMO"
DEMO_DEFAULT_COUNT = 300
#: Where the embedded service keeps its store between runs ("-": a temporary one).
DATA_SETTING = "TOOLKIT_APP_DATA"
DEFAULT_DATA_FOLDER = ".toolkit/app"


def _secrets() -> dict[str, Any]:
    try:
        return dict(st.secrets)
    except FileNotFoundError:  # no secrets.toml: fine, the environment may have the settings
        return {}


def current_target() -> ApiTarget:
    """The API this session talks to; starts the embedded service on first use.

    Raises ``ConfigError`` for a half-configured remote API.
    """
    target = configured_target(_secrets(), os.environ)
    if target is not None:
        return target
    service = _embedded_service()
    return ApiTarget(url=service.url, api_key=service.api_key, api="portal", embedded=True)


@st.cache_resource(show_spinner="Starting the embedded import service…")
def _embedded_service() -> Any:
    """The process-wide embedded service on the app's data folder, started once, stopped at exit."""
    import atexit

    from toolkit.app_support.embedded import AppService

    service = AppService.start(data_folder(os.environ), demo_count=demo_count(os.environ))
    atexit.register(service.close)
    return service


def embedded_service() -> Any | None:
    """The running ``AppService`` when the app uses the embedded service (None otherwise)."""
    target = current_target()
    return _embedded_service() if target.embedded else None


def data_folder(environ: Mapping[str, str]) -> Path | None:
    """Where the embedded service keeps its store: ``TOOLKIT_APP_DATA`` or ``.toolkit/app``; "-": nowhere.

        >>> data_folder({}), data_folder({"TOOLKIT_APP_DATA": "-"})
        (PosixPath('.toolkit/app'), None)
    """
    raw = environ.get(DATA_SETTING, "").strip()
    if raw == "-":
        return None
    return Path(raw or DEFAULT_DATA_FOLDER)


@st.cache_resource(show_spinner=False)
def _client(url: str, api_key: str, api: str) -> Any:
    from toolkit.client import ImportClient, RetryPolicy

    # Someone is looking at the page: give up on a dead API after seconds, not a minute.
    return ImportClient(url, api_key, api=api, retry=RetryPolicy(max_attempts=3, backoff_max=2.0))


def get_client() -> Any:
    """An ``ImportClient`` for ``current_target()`` (shared by the sessions)."""
    target = current_target()
    return _client(target.url, target.api_key, target.api)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner="Loading imports…")
def _fetch_imports(url: str, api_key: str, api: str) -> pd.DataFrame:
    df = normalize_imports(_client(url, api_key, api).list_imports())
    df.attrs[FINGERPRINT] = f"{url}@{time.time()}"  # one fetch, one fingerprint
    return df


def load_imports() -> pd.DataFrame:
    """Every import record visible to the key, newest first (see the module doc for injection)."""
    source: pd.DataFrame | Callable[[], pd.DataFrame] | None = st.session_state.get(IMPORTS_SOURCE_KEY)
    if source is not None:
        df = normalize_imports(source() if callable(source) else source)
        df.attrs[FINGERPRINT] = f"injected@{id(source)}:{len(df)}"
        return df
    target = current_target()
    return _fetch_imports(target.url, target.api_key, target.api)


def refresh_imports() -> None:
    """Forget the cached list and aggregates (after an import or a delete)."""
    _fetch_imports.clear()
    _dashboard_cached.clear()


def dashboard_for(df: pd.DataFrame, filters: ImportFilters) -> DashboardData:
    """``dashboard_data`` cached per list and filters for ``CACHE_TTL_SECONDS``.

    The list is known by its fingerprint (set by ``load_imports``), not
    hashed: hashing a million records costs more than aggregating them.
    """
    fingerprint = df.attrs.get(FINGERPRINT) or str(pd.util.hash_pandas_object(df).sum())
    return _dashboard_cached(fingerprint, filters, df)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def _dashboard_cached(fingerprint: str, filters: ImportFilters, _df: pd.DataFrame) -> DashboardData:
    return dashboard_data(_df, filters)


dashboard_for.clear = _dashboard_cached.clear  # type: ignore[attr-defined]


def demo_count(environ: Mapping[str, str]) -> int:
    """The number of demo imports for a first start, from ``TOOLKIT_APP_DEMO``.

        >>> demo_count({}), demo_count({"TOOLKIT_APP_DEMO": "0"}), demo_count({"TOOLKIT_APP_DEMO": "40"})
        (300, 0, 40)
    """
    raw = environ.get(DEMO_SETTING, "").strip()
    if not raw:
        return DEMO_DEFAULT_COUNT
    try:
        return max(0, int(raw))
    except ValueError:
        raise ConfigError(f"{DEMO_SETTING} must be a number of imports (0: no demo), got {raw!r}") from None
