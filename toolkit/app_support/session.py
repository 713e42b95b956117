"""The app's connection to an import API and its cached loaders.

- ``current_target()``: the configured remote API (secrets, then environment),
  or the embedded local service, started once per process.
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
import threading
from collections.abc import Callable, Mapping
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
    "ensure_demo_data",
    "demo_count",
]

IMPORTS_SOURCE_KEY = "toolkit.imports_source"
#: How long the import list and the dashboard aggregates are reused.
CACHE_TTL_SECONDS = 15
#: How many demo imports the embedded service gets on first start (0: none).
DEMO_SETTING = "TOOLKIT_APP_DEMO"
DEMO_DEFAULT_COUNT = 300


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
    """The process-wide local service (the client's), started on first use, stopped at exit."""
    from toolkit.local import shared_local_service

    return shared_local_service()


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
    return normalize_imports(_client(url, api_key, api).list_imports())


def load_imports() -> pd.DataFrame:
    """Every import record visible to the key, newest first (see the module doc for injection)."""
    source: pd.DataFrame | Callable[[], pd.DataFrame] | None = st.session_state.get(IMPORTS_SOURCE_KEY)
    if source is not None:
        return normalize_imports(source() if callable(source) else source)
    target = current_target()
    return _fetch_imports(target.url, target.api_key, target.api)


def refresh_imports() -> None:
    """Forget the cached list and aggregates (after an import or a delete)."""
    _fetch_imports.clear()
    dashboard_for.clear()


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def dashboard_for(df: pd.DataFrame, filters: ImportFilters) -> DashboardData:
    """``dashboard_data`` cached per data and filters for ``CACHE_TTL_SECONDS``."""
    return dashboard_data(df, filters)


_demo_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _demo_state() -> dict[str, bool]:
    return {"checked": False}


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


def ensure_demo_data(target: ApiTarget) -> None:
    """On the embedded service's first start with an empty store, run the demo.

    Runs once per process; the other sessions wait for it. Progress shows
    in the session that runs it. ``TOOLKIT_APP_DEMO`` sets how many imports
    (default 300; 0 turns it off).
    """
    count = demo_count(os.environ)
    if not target.embedded or count == 0:
        return
    state = _demo_state()
    with _demo_lock:
        if state["checked"]:
            return
        from toolkit.demo import run_demo, store_is_empty

        client = _client(target.url, target.api_key, target.api)
        if store_is_empty(client):
            with st.status("First start: filling the embedded service with demo imports…") as box:
                bar = st.progress(0.0)
                summary = run_demo(
                    client, count, progress=False,
                    on_progress=lambda done, total: bar.progress(done / total, f"{done}/{total} imports"),
                )
                box.update(label=f"Demo data ready: {summary.describe()}", state="complete", expanded=False)
            refresh_imports()
        state["checked"] = True
