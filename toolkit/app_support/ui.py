"""Small Streamlit building blocks shared by the pages: errors, badges, filters.

    >>> with show_errors("Loading imports"):        # doctest: +SKIP
    ...     df = load_imports()
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from toolkit.app_support.aggregations import ImportFilters, filter_options
from toolkit.app_support.records import STATUS_COLORS, STATUSES
from toolkit.errors import ToolkitError

__all__ = ["show_errors", "error_message", "status_badge", "filter_controls", "format_seconds"]


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
    cols = st.columns(4)
    workspaces = cols[0].multiselect(
        "Workspace / stream", options["workspaces"], key=f"{key}.workspaces", placeholder="All"
    )
    chosen_statuses = cols[1].multiselect("Status", statuses, key=f"{key}.statuses", placeholder="All")
    entity_types = cols[2].multiselect(
        "Entity type", options["entity_types"], key=f"{key}.entity_types", placeholder="All"
    )
    created_from, created_to = _date_range(cols[3], df, key=f"{key}.dates")
    return ImportFilters(
        workspaces=tuple(workspaces),
        statuses=tuple(chosen_statuses),
        entity_types=tuple(entity_types),
        created_from=created_from,
        created_to=created_to,
    )


def _date_range(container, df: pd.DataFrame, *, key: str) -> tuple[dt.date | None, dt.date | None]:
    created = df["date_created"].dropna() if "date_created" in df else pd.Series([], dtype=object)
    today = dt.datetime.now(dt.timezone.utc).date()
    low = created.min().date() if len(created) else today
    high = max(created.max().date(), today) if len(created) else today
    value = container.date_input(
        "Created (UTC)", value=(low, high), min_value=low, max_value=high, key=key
    )
    # While the user is picking, the widget holds a single date: no upper bound yet.
    if isinstance(value, (tuple, list)):
        start = value[0] if len(value) > 0 else None
        end = value[1] if len(value) > 1 else None
        return start, end
    return value, None
