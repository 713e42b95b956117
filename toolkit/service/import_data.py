"""The JSON form of a cc5 file (``ImportData``) and its faithful translation
to cc5 text, so that one engine validates and applies both forms.

Line numbers of findings refer to the translated file: lines 1-4 are the
00-03 rows, ``data[i]`` is line ``5 + i`` and ``delete[j]`` is line
``5 + len(data) + j`` (data rows come first, then deletes, in list order);
the footer is the last line.

    >>> doc = ImportData.model_validate({
    ...     "header": {"CustomerCode": "ACME", "FileType": "cc5", "CreateTime": "20261122093000", "ReferenceId": "r1"},
    ...     "metadata": {"EntityType": "customer", "WorkspaceId": "ws-eu", "BucketId": "bk", "DatasourceCode": "CRM", "ActionCode": "UPSERT"},
    ...     "FieldMappings": [{"FieldCode": "code", "IsKey": True}, {"FieldCode": "note", "Type": "string"}],
    ...     "data": [{"code": "C1", "note": "a|b"}], "delete": [{"code": "C0"}], "footer": {"total": 2}})
    >>> print(to_cc5_text(doc))
    00|ACME|cc5|20261122093000|r1
    01|customer|ws-eu|bk|CRM|UPSERT
    02|code
    03|code:string|note:string
    10|C1|a#/#b|
    90|C0
    99|2|
    <BLANKLINE>
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from toolkit.service.config import WORKSPACE_PATTERN
from toolkit.service.wire_types import JsonInt

__all__ = ["ImportData", "to_cc5_text", "DATA_FIRST_LINE"]

DATA_FIRST_LINE = 5
_ENTITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ImportHeader(_Model):
    """The 00 row."""

    CustomerCode: str = Field(max_length=200)
    FileType: str = Field(default="cc5", max_length=20)
    CreateTime: str = Field(max_length=20, examples=["20261122093000"])
    ReferenceId: str = Field(default="", max_length=200)


class ImportMetadata(_Model):
    """The 01 row."""

    EntityType: str = Field(pattern=_ENTITY_PATTERN)
    WorkspaceId: str = Field(pattern=WORKSPACE_PATTERN)
    BucketId: str = Field(default="", max_length=200)
    DatasourceCode: str = Field(default="", max_length=200)
    ActionCode: str = Field(default="", max_length=200)


class FieldMapping(_Model):
    """One field of the 03 row; ``IsKey`` fields make the 02 row, in order."""

    FieldCode: str = Field(pattern=r"^[^|:\r\n]{1,200}$", description="no '|', ':' or line break")
    Type: str = Field(default="string", pattern=r"^[^|\r\n]{0,20}$")
    IsKey: StrictBool = False


class ImportFooter(_Model):
    """The 99 row: the count of data and delete rows."""

    total: JsonInt = Field(ge=0)


class ImportData(_Model):
    """A cc5 file as JSON (see docs/api.md). Beyond its shape, the engine
    validates it, like a file (e.g. no key field: MISSING_KEYS)."""

    header: ImportHeader
    metadata: ImportMetadata
    FieldMappings: list[FieldMapping] = Field(min_length=1, max_length=500)
    data: list[dict[str, Any]] = Field(default_factory=list)
    delete: list[dict[str, Any]] = Field(default_factory=list)
    footer: ImportFooter


def _escape(text: str) -> str:
    return (text.replace("|", "#/#").replace("\r\n", "#Enter#")
            .replace("\n", "#Enter#").replace("\r", "#Enter#"))


def _cell(value: Any, field_type: str) -> str:
    """One JSON value as cc5 text for a field of ``field_type``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, list) and field_type == "array":
        return ",".join(_cell(item, "string") for item in value)
    return _escape(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _header_cell(value: str) -> str:
    return _escape(value)


def to_cc5_text(doc: ImportData) -> str:
    """The cc5 file equivalent to ``doc`` (keys first in 03, as the format wants).

    A data object's properties that are not mapped become extra values, so the
    engine rejects that row with FIELD_COUNT instead of silently dropping them.
    """
    keys = [m for m in doc.FieldMappings if m.IsKey]
    ordered = keys + [m for m in doc.FieldMappings if not m.IsKey]
    mapped = {m.FieldCode for m in ordered}
    h, m = doc.header, doc.metadata
    lines = [
        # A closing "|" keeps an empty last value (ReferenceId, ActionCode) a value.
        "|".join(["00", *(_header_cell(v) for v in (h.CustomerCode, h.FileType, h.CreateTime, h.ReferenceId))]) + "|",
        "|".join(["01", *(_header_cell(v) for v in (m.EntityType, m.WorkspaceId, m.BucketId,
                                                   m.DatasourceCode, m.ActionCode))]) + "|",
        "|".join(["02", *(k.FieldCode for k in keys)]),
        "|".join(["03", *(f"{f.FieldCode}:{f.Type.strip() or 'string'}" for f in ordered)]),
    ]
    for row in doc.data:
        cells = [_cell(row.get(f.FieldCode), f.Type.strip().lower()) for f in ordered]
        cells += [_cell(value, "string") for name, value in row.items() if name not in mapped]
        lines.append("|".join(["10", *cells]) + "|")
    for row in doc.delete:
        cells = [_cell(row.get(k.FieldCode), k.Type.strip().lower()) for k in keys]
        lines.append("|".join(["90", *cells]))
    lines.append(f"99|{doc.footer.total}|")
    return "\n".join(lines) + "\n"
