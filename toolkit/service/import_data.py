"""The portal's Import Data body (``{"ImportData": {...}}``, field names as
the portal's ``api-import-data.md`` writes them) and its faithful
translation to cc5 text, so that one engine validates and applies both forms.

Line numbers of findings refer to the translated file: lines 1-4 are the
00-03 rows, ``data[i]`` is line ``5 + i`` and ``delete[j]`` is line
``5 + len(data) + j`` (data rows come first, then deletes, in list order);
the footer is the last line.

    >>> body = ImportDataRequest.model_validate({"ImportData": {
    ...     "header": {"customer": "ACME", "fileType": "cc5",
    ...                "metadata": {"keys": ["code"], "entityType": "customer", "workspaceId": "ws-eu",
    ...                             "bucketId": "bk", "dataSource": "CRM", "fileCreateTime": "20261122093000",
    ...                             "flowType": "UPSERT"},
    ...                "FieldMappings": {"code": {"code": "code", "type": "string"},
    ...                                  "tier": {"code": "tier", "dictionary": {"G": "gold"}}}},
    ...     "data": [{"code": "C1", "tier": "G"}], "delete": [{"code": "C0"}], "footer": {"total": 2},
    ...     "InstanceId": "r1"}})
    >>> print(to_cc5_text(body.ImportData))
    00|ACME|cc5|20261122093000|r1|
    01|customer|ws-eu|bk|CRM|UPSERT|
    02|code
    03|code:string|tier:string
    10|C1|gold|
    90|C0
    99|2|
    <BLANKLINE>
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from toolkit.service.config import WORKSPACE_PATTERN
from toolkit.service.wire_types import JsonInt

__all__ = ["ImportDataRequest", "ImportDataDoc", "to_cc5_text", "DATA_FIRST_LINE"]

DATA_FIRST_LINE = 5
_ENTITY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
_CODE_PATTERN = r"^[^|:\r\n]{1,200}$"
# A field's name: a data object's property, and the field code by default.
FieldName = Annotated[str, StringConstraints(pattern=_CODE_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ImportMetadata(_Model):
    """The 01 and 02 rows: ``keys`` name the primary-key fields, in order."""

    keys: list[FieldName] = Field(min_length=1, max_length=50)
    entityType: str = Field(pattern=_ENTITY_PATTERN)
    # The X-Param-Override-WorkspaceId / -BucketId headers, when sent, win over these.
    workspaceId: str = Field(pattern=WORKSPACE_PATTERN)
    bucketId: str = Field(default="", max_length=200)
    dataSource: str = Field(default="", max_length=200)
    fileCreateTime: str = Field(default="", max_length=20, examples=["20261122093000"])
    flowType: str = Field(default="", max_length=200, description="the 01 row's action code")


class FieldMapping(_Model):
    """One field of the 03 row. ``code`` (default: the mapping's name) is the
    field code; ``dictionary`` replaces raw values by stored values."""

    code: str | None = Field(default=None, pattern=_CODE_PATTERN, description="no '|', ':' or line break")
    name: str = Field(default="", max_length=200)
    type: str = Field(default="string", pattern=r"^[^|\r\n]{0,20}$")
    dictionary: dict[str, Any] | None = Field(default=None, max_length=10_000)


class ImportHeader(_Model):
    """The 00 row, the metadata and the field mappings (``FieldMappings`` or ``fieldMappings``)."""

    customer: str = Field(max_length=200)
    fileType: str = Field(default="cc5", max_length=20)
    metadata: ImportMetadata
    FieldMappings: dict[FieldName, FieldMapping] = Field(
        min_length=1, max_length=500, validation_alias=AliasChoices("FieldMappings", "fieldMappings"),
        # Names outside the pattern are refused: say so in the schema too.
        json_schema_extra={"additionalProperties": False})


class ImportFooter(_Model):
    """The 99 row: the count of data and delete rows."""

    total: JsonInt = Field(ge=0)


class ImportDataDoc(_Model):
    """A cc5 file as JSON (see docs/api.md). Beyond its shape, the engine
    validates it, like a file (e.g. a footer that miscounts: FOOTER_COUNT_MISMATCH)."""

    header: ImportHeader
    data: list[dict[str, Any]] = Field(default_factory=list)
    delete: list[dict[str, Any]] = Field(default_factory=list)
    footer: ImportFooter
    InstanceId: str = Field(default="", max_length=200)


class ImportDataRequest(_Model):
    """Body of ``POST /appfile/file/import/data``."""

    ImportData: ImportDataDoc


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


def _mapped(value: Any, mapping: FieldMapping) -> Any:
    """``value`` after the mapping's dictionary (looked up by its text form)."""
    if not mapping.dictionary or value is None or isinstance(value, (list, dict)):
        return value
    return mapping.dictionary.get(_cell(value, "string"), value)


def to_cc5_text(doc: ImportDataDoc, *, workspace_id: str | None = None, bucket_id: str | None = None,
                create_time: str = "") -> str:
    """The cc5 file equivalent to ``doc`` (keys first in 03, as the format wants).

    ``workspace_id``/``bucket_id`` override the metadata's (the override
    headers); ``create_time`` stands in for an empty ``fileCreateTime``. A key named in ``metadata.keys`` without a mapping is a string
    field. A data object's properties that are not mapped become extra
    values, so the engine rejects that row with FIELD_COUNT instead of
    silently dropping them.
    """
    header, meta = doc.header, doc.header.metadata
    mappings = dict(header.FieldMappings)
    for key in meta.keys:
        mappings.setdefault(key, FieldMapping())  # its code is its name
    keys = list(dict.fromkeys(meta.keys))
    ordered = keys + [name for name in mappings if name not in keys]
    codes = {name: mappings[name].code or name for name in ordered}
    types = {name: mappings[name].type.strip() or "string" for name in ordered}
    head = [
        # A closing "|" keeps an empty last value (reference id, action code) a value.
        "|".join(["00", *map(_escape, (header.customer, header.fileType, meta.fileCreateTime or create_time,
                                          doc.InstanceId))]) + "|",
        "|".join(["01", *map(_escape, (meta.entityType, workspace_id or meta.workspaceId,
                                       bucket_id or meta.bucketId, meta.dataSource, meta.flowType))]) + "|",
        "|".join(["02", *(codes[k] for k in keys)]),
        "|".join(["03", *(f"{codes[n]}:{types[n]}" for n in ordered)]),
    ]
    lines = head
    for row in doc.data:
        cells = [_cell(_mapped(row.get(n), mappings[n]), types[n].lower()) for n in ordered]
        cells += [_cell(value, "string") for name, value in row.items() if name not in mappings]
        lines.append("|".join(["10", *cells]) + "|")
    for row in doc.delete:
        cells = [_cell(_mapped(row.get(k), mappings[k]), types[k].lower()) for k in keys]
        lines.append("|".join(["90", *cells]))
    lines.append(f"99|{doc.footer.total}|")
    return "\n".join(lines) + "\n"
