"""Small Streamlit building blocks shared by the pages: errors, badges, filters.

    >>> with show_errors("Loading imports"):        # doctest: +SKIP
    ...     df = load_imports()
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st

from toolkit.app_support.aggregations import ImportFilters, filter_options
from toolkit.app_support.records import STATUS_COLORS, STATUSES
from toolkit.errors import ToolkitError

__all__ = ["show_errors", "error_message", "status_badge", "filter_controls", "set_filters", "format_seconds",
           "compact_number", "AUTO_REFRESH_SECONDS", "auto_refresh_toggle", "selection_key",
           "page_link"]


def error_message(exc: BaseException, action: str | None = None) -> str:
    """The one line a user sees for ``exc`` (never a traceback).

        >>> error_message(ValueError("boom"), "Loading imports")
        'Loading imports failed: unexpected ValueError: boom'
    """
    if isinstance(exc, ToolkitError):  # messages written for users
        text = str(exc)
    else:
        text = f"unexpected {type(exc).__name__}: {exc}"
    return f"{action} failed: {text}" if action else text


@contextmanager
def show_errors(action: str | None = None) -> Iterator[None]:
    """Show any error raised in the block with ``st.error`` and carry on.

    The rest of the block is skipped; the page goes on after it. Streamlit's
    own rerun/stop signals are ``BaseException`` and pass through.

        >>> with show_errors("Deleting f_1"):      # doctest: +SKIP
        ...     client.delete("f_1")
    """
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - every error becomes a message, the app keeps working
        st.error(error_message(exc, action), icon=":material/error:")


def status_badge(status: str | None) -> None:
    """A coloured badge for an import status."""
    label = status or "UNKNOWN"
    st.badge(label, color=STATUS_COLORS.get(label, "gray"))  # type: ignore[arg-type]


def format_seconds(seconds: float | None) -> str:
    """Seconds for a metric: ``"—"`` when unknown.

        >>> format_seconds(0.4), format_seconds(75.0), format_seconds(None)
        ('0.40 s', '1 min 15 s', '—')
    """
    if seconds is None or pd.isna(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def filter_controls(df: pd.DataFrame, *, key: str) -> ImportFilters:
    """Workspace, status, entity type and date-range filters over ``df``.

    Options come from the data; the date range defaults to the data's span.
    ``key`` keeps two pages' widgets apart.
    """
    options = filter_options(df)
    statuses = [s for s in STATUSES if s in options["statuses"]] + [
        s for s in options["statuses"] if s not in STATUSES
    ]
    cols = st.columns([1, 1, 1, 1, 1.4])  # the date range needs room for two dates
    workspaces = cols[0].multiselect(
        "Workspace / stream", _with_chosen(options["workspaces"], f"{key}.workspaces"),
        key=f"{key}.workspaces", placeholder="All"
    )
    chosen_statuses = cols[1].multiselect("Status", _with_chosen(statuses, f"{key}.statuses"),
                                          key=f"{key}.statuses", placeholder="All")
    entity_types = cols[2].multiselect(
        "Entity type", _with_chosen(options["entity_types"], f"{key}.entity_types"),
        key=f"{key}.entity_types", placeholder="All"
    )
    failure_codes = cols[3].multiselect(
        "Failure code", _with_chosen(options["failure_codes"], f"{key}.failure_codes"),
        key=f"{key}.failure_codes", placeholder="All"
    )
    created_from, created_to = _date_range(cols[4], df, key=f"{key}.dates")
    return ImportFilters(
        workspaces=tuple(workspaces),
        statuses=tuple(chosen_statuses),
        entity_types=tuple(entity_types),
        failure_codes=tuple(failure_codes),
        created_from=created_from,
        created_to=created_to,
    )


#: How often an auto-refreshing page asks the API again.
AUTO_REFRESH_SECONDS = 10


def auto_refresh_toggle(container: Any, *, key: str) -> bool:
    """A toggle for a page's auto-refresh (``st.fragment(run_every=...)``); True when on."""
    return bool(container.toggle(f"Auto-refresh every {AUTO_REFRESH_SECONDS} s", key=key,
                                 help="Ask the API for the list again while this page is open."))


def selection_key(prefix: str, filters: ImportFilters) -> str:
    """A widget key that changes with ``filters`` (a new table, so no stale row selection).

        >>> selection_key("t", ImportFilters()) == selection_key("t", ImportFilters())
        True
        >>> selection_key("t", ImportFilters()) == selection_key("t", ImportFilters(statuses=("FAILED",)))
        False
    """
    digest = hashlib.sha1(repr(filters).encode()).hexdigest()[:10]
    return f"{prefix}.{digest}"


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """``st.page_link`` to another page of the app (nothing when a page runs on its own, as in AppTest)."""
    from streamlit.errors import StreamlitAPIException

    try:
        st.page_link(page, label=label, icon=icon)
    except StreamlitAPIException:  # no st.navigation in this run: the page is not reachable by link
        pass


def set_filters(filters: ImportFilters, *, key: str) -> None:
    """Put ``filters`` into the widgets of ``filter_controls(key=key)`` (before they are drawn)."""
    st.session_state[f"{key}.workspaces"] = list(filters.workspaces)
    st.session_state[f"{key}.statuses"] = list(filters.statuses)
    st.session_state[f"{key}.entity_types"] = list(filters.entity_types)
    st.session_state[f"{key}.failure_codes"] = list(filters.failure_codes)
    if filters.created_from is not None and filters.created_to is not None:
        st.session_state[f"{key}.dates"] = (filters.created_from, filters.created_to)


def _with_chosen(options: list[str], key: str) -> list[str]:
    """The options plus any chosen value the data no longer has (a drill-down, a refresh)."""
    chosen = [v for v in st.session_state.get(key) or [] if v not in options]
    return options + chosen


def compact_number(n: int) -> str:
    """A count short enough for a metric tile: exact below 100,000, then k / M.

        >>> compact_number(12_345), compact_number(1_234_567), compact_number(250_000)
        ('12,345', '1.23M', '250k')
    """
    if abs(n) < 100_000:
        return f"{n:,}"
    if abs(n) < 1_000_000:
        return f"{n / 1000:.0f}k"
    return f"{n / 1_000_000:.3g}M"


def _date_range(container, df: pd.DataFrame, *, key: str) -> tuple[dt.date | None, dt.date | None]:
    created = df["date_created"].dropna() if "date_created" in df else pd.Series([], dtype=object)
    today = dt.datetime.now(dt.timezone.utc).date()
    low = pd.Timestamp(created.min()).date() if len(created) else today
    high = max(pd.Timestamp(created.max()).date(), today) if len(created) else today
    preset = st.session_state.get(key)
    if isinstance(preset, (tuple, list)) and preset and not all(low <= d <= high for d in preset):
        del st.session_state[key]  # a range from other data (a drill-down, a refresh): the full span
    # A value set through the session state (a drill-down) must not meet a default too.
    default = {} if key in st.session_state else {"value": (low, high)}
    value = container.date_input("Created (UTC)", min_value=low, max_value=high, key=key, **default)
    # While the user is picking, the widget holds a single date: no upper bound yet.
    if isinstance(value, (tuple, list)):
        start = value[0] if len(value) > 0 else None
        end = value[1] if len(value) > 1 else None
        return start, end
    return value, None
