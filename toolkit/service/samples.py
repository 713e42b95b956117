"""Sample cc5 files for tests, benchmarks and demos of the service.

Rows are customers keyed by ``customer_code`` (``C0000001``...), with a
name, a credit (number), an active flag (bool), a date and tags (array).

    >>> import tempfile, pathlib
    >>> path = write_sample_cc5(pathlib.Path(tempfile.mkdtemp()) / "c.cc5txt", rows=2, workspace="ws-eu")
    >>> print(path.read_text())
    00|ACME|cc5|20261122093000|sample
    01|customer|ws-eu|bk-main|CRM|UPSERT
    02|customer_code
    03|customer_code:string|name:string|credit:number|active:bool|since:date|tags:array
    10|C0000000|Customer 0|0.50|true|20240115|vip,eu|
    10|C0000001|Customer 1|1.50|false|20240115|vip,eu|
    99|2|
    <BLANKLINE>
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_sample_cc5", "SAMPLE_FIELDS"]

SAMPLE_FIELDS = ("customer_code:string", "name:string", "credit:number", "active:bool", "since:date",
                 "tags:array")
_CHUNK = 50_000


def write_sample_cc5(
    path: str | Path,
    *,
    rows: int = 10,
    workspace: str = "ws-eu",
    entity: str = "customer",
    start: int = 0,
    bad_rows: int = 0,
    deletes: Iterable[int] = (),
    extra_field: bool = False,
    footer: int | None = None,
    reference: str = "sample",
) -> Path:
    """Write a cc5 file: ``rows`` valid data rows (keys ``start``...), then
    ``bad_rows`` rows with an invalid number (INVALID_NUMBER, keys after the
    valid ones), then a 90 row per key number in ``deletes``. ``footer``
    overrides the 99 count; ``extra_field`` adds a ``region`` field.
    """
    path = Path(path)
    fields = list(SAMPLE_FIELDS) + (["region:string"] if extra_field else [])
    extra = "|EU" if extra_field else ""
    deletes = list(deletes)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(f"00|ACME|cc5|20261122093000|{reference}\n")
        out.write(f"01|{entity}|{workspace}|bk-main|CRM|UPSERT\n")
        out.write("02|customer_code\n")
        out.write("03|" + "|".join(fields) + "\n")
        for first in range(start, start + rows, _CHUNK):
            last = min(first + _CHUNK, start + rows)
            out.write("".join(
                f"10|C{i:07d}|Customer {i}|{i}.50|{'true' if i % 2 == 0 else 'false'}|20240115|vip,eu{extra}|\n"
                for i in range(first, last)))
        for i in range(start + rows, start + rows + bad_rows):
            out.write(f"10|C{i:07d}|Customer {i}|not-a-number|true|20240115|vip|{extra[1:] + '|' if extra else ''}\n")
        for i in deletes:
            out.write(f"90|C{i:07d}\n")
        total = rows + bad_rows + len(deletes) if footer is None else footer
        out.write(f"99|{total}|\n")
    return path

