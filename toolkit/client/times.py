"""Time values on the wire: the portal's ISO strings, the imports API's UNIX
seconds, and the user's "7d"-style filters, all as timezone-aware UTC.

    >>> parse_api_time("2026-11-22T10:30:00.123Z")
    datetime.datetime(2026, 11, 22, 10, 30, 0, 123000, tzinfo=datetime.timezone.utc)
    >>> parse_api_time(0)
    datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

__all__ = ["parse_api_time", "to_unix_seconds", "parse_since"]

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_api_time(value: object) -> datetime | None:
    """Read a time the API sent (ISO-8601 string or UNIX seconds) as UTC.

    ``None`` and ``""`` mean "not known yet". A naive ISO string is taken as UTC.
    Raises ``ValueError`` for anything else.

        >>> parse_api_time(None) is None
        True
        >>> parse_api_time(1795343400.5).isoformat()
        '2026-11-22T10:30:00.500000+00:00'
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        try:
            return datetime.fromtimestamp(float(text), tz=timezone.utc)
        except ValueError:
            pass
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    raise ValueError(f"not a time: {value!r}")


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """Turn ``"7d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"90s"`` or an ISO date into a UTC time.

    >>> parse_since("1d", now=datetime(2026, 11, 22, tzinfo=timezone.utc)).isoformat()
    '2026-11-21T00:00:00+00:00'
    >>> parse_since("2026-11-01").isoformat()
    '2026-11-01T00:00:00+00:00'
    """
    match = _SINCE.match(text)
    if match:
        amount, unit = float(match.group(1)), match.group(2).lower()
        base = now or datetime.now(timezone.utc)
        return base - timedelta(seconds=amount * _UNIT_SECONDS[unit])
    try:
        parsed = parse_api_time(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValueError(
            f"cannot read {text!r} as a time: use a duration such as 7d, 12h, 30m or an ISO date such as 2026-11-01"
        )
    return parsed


def to_unix_seconds(value: datetime | date | timedelta | float | int | str | None) -> float | None:
    """A list filter value as UNIX seconds.

    Accepts a datetime (naive = UTC), a date, a ``timedelta`` (that long ago),
    UNIX seconds, or a string understood by :func:`parse_since`.

        >>> to_unix_seconds(datetime(2026, 11, 22, tzinfo=timezone.utc))
        1795305600.0
        >>> to_unix_seconds(None) is None
        True
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, timedelta):
        return (datetime.now(timezone.utc) - value).timestamp()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, str):
        return parse_since(value).timestamp()
    raise ValueError(f"not a time: {value!r}")
