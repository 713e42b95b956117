"""One problem found in a cc5 file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa

from toolkit.cc5.codes import FINDING_CODES

__all__ = ["Finding", "make_finding", "findings_to_arrow", "MAX_VALUE_CHARS"]

#: Values quoted in findings are cut to this many characters (a 10 MB value stays in the file).
MAX_VALUE_CHARS = 200


@dataclass(frozen=True)
class Finding:
    """A finding: ``code`` from :data:`FINDING_CODES`, where it is and what is wrong.

    ``line`` is 1-based and counts every physical line of the file (header and
    empty lines included); ``None`` for findings about the whole file.
    ``value`` is the raw value as written in the file (escapes not decoded),
    cut to :data:`MAX_VALUE_CHARS` characters.
    """

    code: str
    severity: str  # "error" | "warning"
    level: str  # "file" | "row" | "warning"
    line: int | None
    field: str | None
    value: str | None
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p is not None)
        return f"{where}: {self.code} {self.message}" if where else f"{self.code} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("file", None)
        return d


def make_finding(
    code: str,
    line: int | None,
    message: str,
    *,
    field: str | None = None,
    value: str | None = None,
    file: str | None = None,
) -> Finding:
    info = FINDING_CODES[code]
    if value is not None and len(value) > MAX_VALUE_CHARS:
        value = value[:MAX_VALUE_CHARS]
    return Finding(code, info.severity, info.level, line, field, value, message, file)


def quote_value(value: str, limit: int = 60) -> str:
    """``'value'`` for messages, cut with an ellipsis when long."""
    if len(value) > limit:
        value = value[:limit] + "…"
    return "'" + value + "'"


def findings_to_arrow(findings: Sequence[Any]) -> pa.Table:
    """Findings as one Arrow table (``code, severity, level, line, field,
    value, message``; ``line`` an integer, the rest text), to insert with one
    statement: row by row costs ~3 ms a finding, and a hostile header can
    yield thousands."""

    def text(value: Any) -> str | None:
        return None if value is None else str(getattr(value, "value", value))

    return pa.table({
        name: pa.array([getattr(f, name, None) for f in findings], pa.int64()) if name == "line"
        else pa.array([text(getattr(f, name, None)) for f in findings], pa.string())
        for name in ("code", "severity", "level", "line", "field", "value", "message")
    })
