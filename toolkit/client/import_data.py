"""The portal's Import Data call (``POST /appfile/file/import/data``): build
its documented body from a cc5 file, a JSON body, a CSV file, a DataFrame or
records, check it against the service's limits, and send it.

The body is the shape of the portal's ``api-import-data.md``, field-name case
as written there (``ImportData``, ``header``, ``metadata``,
``FieldMappings``, ``data``, ``delete``, ``footer``, ``InstanceId``)::

    >>> body = build_import_data([{"code": "C1", "tier": "G"}], workspace="ws-eu", entity_type="customer",
    ...                          keys=["code"], bucket_id="bk", dictionaries={"tier": {"G": "gold"}}, instance_id="r1")
    >>> doc = body["ImportData"]
    >>> doc["header"]["FieldMappings"]["tier"]
    {'code': 'tier', 'name': 'tier', 'type': 'string', 'dictionary': {'G': 'gold'}}
    >>> doc["data"], doc["delete"], doc["footer"]
    ([{'code': 'C1', 'tier': 'G'}], [], {'total': 1})

A cc5 file's 10 rows become ``data`` and its 90 rows ``delete``, values typed
as its 03 row says (numbers, booleans, arrays, objects; dates as
``yyyyMMddHHmmss``). The call answers synchronously with the file record:
a FAILED import is a record (``IsSuccess: false`` on the wire), not an
exception, as for the portal's synchronous import trigger.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.cc5.writer import DEFAULT_ACTION, DEFAULT_CUSTOMER, DEFAULT_DATASOURCE
from toolkit.client.http import AmbiguousRequest
from toolkit.client.portal import _failed_import, _file_of
from toolkit.client.result import ImportRecord, ImportResult
from toolkit.errors import ConfigError, TransportError, ValidationFailed

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from toolkit.client.backend import ApiBackend

__all__ = [
    "IMPORT_DATA_PATH",
    "MAX_FIELD_MAPPINGS",
    "MAX_KEYS",
    "MAX_DICTIONARY_ENTRIES",
    "build_import_data",
    "import_data_from_cc5",
    "check_import_data",
    "send_import_data",
    "require_portal",
]

IMPORT_DATA_PATH = "/appfile/file/import/data"
# The service's model limits (toolkit/service/import_data.py); a test keeps them equal.
MAX_FIELD_MAPPINGS = 500
MAX_KEYS = 50
MAX_DICTIONARY_ENTRIES = 10_000
_DATE_FORMAT = "%Y%m%d%H%M%S"
_TRUE, _FALSE = frozenset({"true", "1", "yes", "y"}), frozenset({"false", "0", "no", "n"})

Records = Iterable[Mapping[str, Any]]


# -- values ----------------------------------------------------------------------------------------
def _json_value(value: Any, field_type: str) -> Any:
    """``value`` as the JSON value of a ``field_type`` field (None for missing or NaN).

    >>> _json_value(datetime(2024, 1, 15), "date"), _json_value("2.50", "number"), _json_value("no", "bool")
    ('20240115000000', 2.5, False)
    """
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):  # numpy scalars
        value = value.item()
    if isinstance(value, (datetime, date)):
        return value.strftime(_DATE_FORMAT) if isinstance(value, datetime) else value.strftime("%Y%m%d")
    if isinstance(value, (list, tuple)):
        return [_json_value(item, "string") for item in value]
    if hasattr(value, "tolist"):  # numpy arrays from a DataFrame's list column
        return [_json_value(item, "string") for item in value.tolist()]
    if not isinstance(value, str):
        return value
    return _typed_text(value, field_type)


def _typed_text(text: str, field_type: str) -> Any:
    """Text from a CSV or a cc5 JSON column typed as its field; left as text when it
    does not parse, so the service rejects that row and says why."""
    if text == "":
        return None
    kind = field_type.lower()
    try:
        if kind == "int":
            return int(text)
        if kind == "number":
            number = float(text)
            return number if math.isfinite(number) else text
        if kind == "bool" and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        if kind == "array":
            return text.split(",")
        if kind in ("object", "list"):
            return json.loads(text)
    except ValueError:
        return text
    return text


def _pandas_type(dtype: Any, sample: Any) -> str:
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "bool"
    if kind in "iu":
        return "int"
    if kind == "f":
        return "number"
    if kind == "M":
        return "date"
    if isinstance(sample, dict):
        return "object"
    if isinstance(sample, (list, tuple)) or hasattr(sample, "tolist"):
        return "array"
    if isinstance(sample, (datetime, date)):
        return "date"
    return "string"


# -- the body --------------------------------------------------------------------------------------
def _body(*, customer: str, entity_type: str, workspace: str, bucket_id: str, datasource: str, action: str,
          create_time: str, keys: Sequence[str], fields: Mapping[str, str], names: Mapping[str, str],
          dictionaries: Mapping[str, Mapping[str, Any]], data: list[dict[str, Any]],
          delete: list[dict[str, Any]], instance_id: str) -> dict[str, Any]:
    unknown = sorted(set(dictionaries) - set(fields))
    if unknown:
        raise ConfigError(f"Dictionary for unknown field(s): {', '.join(unknown)}; the fields are "
                          f"{', '.join(fields)}")
    mappings: dict[str, dict[str, Any]] = {}
    for code, kind in fields.items():
        mapping: dict[str, Any] = {"code": code, "name": names.get(code, code), "type": kind}
        if code in dictionaries:
            mapping["dictionary"] = {str(k): v for k, v in dictionaries[code].items()}
        mappings[code] = mapping
    return {"ImportData": {
        "header": {
            "customer": customer,
            "fileType": "cc5",
            "metadata": {"keys": list(keys), "entityType": entity_type, "workspaceId": workspace,
                         "bucketId": bucket_id, "dataSource": datasource, "fileCreateTime": create_time,
                         "flowType": action},
            "FieldMappings": mappings,
        },
        "data": data,
        "delete": delete,
        "footer": {"total": len(data) + len(delete)},
        "InstanceId": instance_id,
    }}


def import_data_from_cc5(path: str | os.PathLike[str], *, workspace: str | None = None,
                         dictionaries: Mapping[str, Mapping[str, Any]] | None = None,
                         names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Import Data body of a cc5 file, read by the engine: 10 rows -> ``data``,
    90 rows -> ``delete``, the header rows -> ``header``, 00's reference id ->
    ``InstanceId``.

    The file is validated first: a file with errors (file- or row-level) is
    refused with :class:`~toolkit.errors.ValidationFailed` naming the first
    finding, because a value the engine cannot read would otherwise be sent
    as null. ``workspace``, when given, must be the file's (01 row).

        >>> body = import_data_from_cc5("customers.cc5txt")          # doctest: +SKIP
        >>> body["ImportData"]["footer"]                             # doctest: +SKIP
        {'total': 11}
    """
    from toolkit.cc5 import open_cc5

    with open_cc5(path) as cc5:
        report = cc5.validate(expected_workspace=workspace)
        if not report.ok:
            first = report.iter_findings(limit=1)
            where = f": first {first[0]}" if first else ""
            raise ValidationFailed(f"{report.summary()}; Import Data sends only files without "
                                   f"errors (fix them, or use `toolkit import`, which rejects bad rows){where}",
                                   report=report)
        header = cc5.header
        types = {f.code: f.type for f in header.fields}
        columns = [f.code for f in header.fields]
        data = [{code: _json_value(value, types[code]) for code, value in zip(columns, row)}
                for row in cc5.data.fetchall()]
        delete = [{code: _json_value(value, types[code]) for code, value in zip(header.keys, row)}
                  for row in cc5.deletes.fetchall()]
    return _body(customer=header.customer or "", entity_type=header.entity_type or "",
                 workspace=header.workspace_id or "", bucket_id=header.bucket_id or "",
                 datasource=header.datasource or "", action=header.action or "",
                 create_time=header.create_time.strftime(_DATE_FORMAT) if header.create_time else "",
                 keys=header.keys, fields=types, names=names or {}, dictionaries=dictionaries or {},
                 data=data, delete=delete, instance_id=header.reference_id or "")


def build_import_data(
    source: "str | os.PathLike[str] | pd.DataFrame | Records",
    *,
    workspace: str | None = None,
    entity_type: str | None = None,
    keys: Sequence[str] | None = None,
    types: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    dictionaries: Mapping[str, Mapping[str, Any]] | None = None,
    delete: Records | None = None,
    bucket_id: str = "",
    customer: str = DEFAULT_CUSTOMER,
    datasource: str = DEFAULT_DATASOURCE,
    action: str = DEFAULT_ACTION,
    instance_id: str = "",
) -> dict[str, Any]:
    """The documented Import Data body (``{"ImportData": {...}}``) for ``source``.

    ``source`` is a cc5 file (see :func:`import_data_from_cc5`; the other
    metadata come from its header), a ``.json`` file holding a body (sent as
    written), a ``.csv`` file, a DataFrame or records (dicts); for the last
    three ``workspace``, ``entity_type``, ``keys`` and ``bucket_id`` (the 01
    row needs it) are required, ``types``
    maps field codes to cc5 types (default: from the DataFrame's dtypes,
    else ``string``) and ``delete`` lists the primary keys to delete.
    ``dictionaries`` maps a field code to its value mapping (raw -> stored),
    applied by the service; ``names`` gives fields a display name.
    ``customer``, ``datasource`` and ``action`` default as for
    :func:`~toolkit.cc5.write_cc5` (the 00 and 01 rows need them).

        >>> build_import_data([{"id": 1}], workspace="ws", entity_type="e", keys=["id"], bucket_id="bk",
        ...                   types={"id": "int"})["ImportData"]["header"]["FieldMappings"]
        {'id': {'code': 'id', 'name': 'id', 'type': 'int'}}
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        suffix = path.suffix.lower()
        if suffix != ".csv":
            table_only: dict[str, Any] = {
                "entity_type": entity_type, "keys": keys, "types": types, "delete": delete, "bucket_id": bucket_id,
                "instance_id": instance_id, "customer": customer != DEFAULT_CUSTOMER,
                "datasource": datasource != DEFAULT_DATASOURCE, "action": action != DEFAULT_ACTION}
            if suffix == ".json":
                table_only.update(names=names, dictionaries=dictionaries)
            given = [name for name, value in table_only.items() if value]
            if given:
                origin = "the body as written" if suffix == ".json" else "the file's header rows"
                raise ConfigError(f"{path}: {', '.join(given)} apply to table input (CSV, DataFrame, records); "
                                  f"this input's come from {origin}")
        if suffix == ".json":
            body = _read_json_body(path)
            written = ((body["ImportData"].get("header") or {}).get("metadata") or {}).get("workspaceId")
            if workspace and workspace != written:
                raise ConfigError(f"{path}: the body's workspaceId is {written!r}, not {workspace!r}")
            return body
        if suffix != ".csv":
            return import_data_from_cc5(path, workspace=workspace, dictionaries=dictionaries, names=names)
        source = _read_csv(path)
    required = (("workspace", workspace), ("entity_type", entity_type), ("keys", keys), ("bucket_id", bucket_id))
    missing = [name for name, value in required if not value]
    if missing or not workspace or not entity_type or not keys:  # (the last three for the type checker)
        raise ConfigError(f"Import Data from a table needs {', '.join(missing)}")
    rows, fields = _rows_and_types(source, types or {})
    for key in keys:
        fields.setdefault(key, "string")
    data = [{code: _json_value(row.get(code), fields[code]) for code in fields} for row in rows]
    deletes = [{key: _json_value(row.get(key), fields[key]) for key in keys} for row in (delete or [])]
    return _body(customer=customer, entity_type=entity_type, workspace=workspace, bucket_id=bucket_id,
                 datasource=datasource, action=action, create_time="", keys=keys, fields=fields,
                 names=names or {}, dictionaries=dictionaries or {}, data=data, delete=deletes,
                 instance_id=instance_id)


def _read_json_body(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(body, dict) or not isinstance(body.get("ImportData"), dict):
        raise ConfigError(f"{path}: an Import Data body is an object with an \"ImportData\" object")
    return body


def _read_csv(path: Path) -> "pd.DataFrame":
    import pandas as pd

    try:
        # All text: the given types decide, not pandas' guesses (leading zeros stay).
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"Cannot read {path} as CSV: {exc}") from None


def _rows_and_types(source: Any, types: Mapping[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    if hasattr(source, "to_dict") and hasattr(source, "dtypes"):
        rows = source.to_dict(orient="records")
        inferred = {str(col): types.get(str(col)) or _pandas_type(source[col].dtype,
                                                                   source[col].iloc[0] if len(source) else None)
                    for col in source.columns}
        return [{str(k): v for k, v in row.items()} for row in rows], inferred
    rows = [dict(row) for row in source]
    fields: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            fields.setdefault(str(name), types.get(str(name)) or _pandas_type(None, value))
    for name, kind in types.items():
        fields.setdefault(name, kind)
    return rows, fields


# -- limits ----------------------------------------------------------------------------------------
def check_import_data(body: Mapping[str, Any], *, max_bytes: int | None = None) -> int:
    """Check ``body`` against the service's documented limits before sending; returns its JSON size.

    At most 500 ``FieldMappings``, 1-50 ``keys``, 10 000 ``dictionary``
    entries per field and, when ``max_bytes`` is given (the service's ``max_file_bytes``), a body no
    larger. The service has no row-count limit of its own: its size limit
    is what bounds the rows. What the engine checks (a footer that
    miscounts, values) is left to the service: that import ends FAILED or
    rejects the rows, as a file would. Raises :class:`~toolkit.errors.ConfigError`.

        >>> check_import_data({"ImportData": {"header": {"metadata": {"keys": ["k"]}, "FieldMappings": {}},
        ...     "data": [], "delete": [], "footer": {"total": 0}}}, max_bytes=10)
        Traceback (most recent call last):
        toolkit.errors.ConfigError: The Import Data body has 115 bytes; the service's limit is 10 bytes: send the rows in smaller batches
    """
    doc = body.get("ImportData") if isinstance(body, Mapping) else None
    if not isinstance(doc, Mapping):
        raise ConfigError("An Import Data body is an object with an \"ImportData\" object")
    header = doc.get("header") or {}
    mappings = header.get("FieldMappings", header.get("fieldMappings")) or {}
    keys = (header.get("metadata") or {}).get("keys") or []
    if len(mappings) > MAX_FIELD_MAPPINGS:
        raise ConfigError(f"The Import Data body has {len(mappings)} FieldMappings; the service accepts "
                          f"at most {MAX_FIELD_MAPPINGS}")
    if not 1 <= len(keys) <= MAX_KEYS:
        raise ConfigError(f"The Import Data body has {len(keys)} keys; the service wants 1 to {MAX_KEYS}")
    for code, mapping in mappings.items():
        entries = len((mapping or {}).get("dictionary") or {})
        if entries > MAX_DICTIONARY_ENTRIES:
            raise ConfigError(f"Field {code}: its dictionary has {entries} entries; the service accepts "
                              f"at most {MAX_DICTIONARY_ENTRIES}")
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if max_bytes is not None and size > max_bytes:
        raise ConfigError(f"The Import Data body has {size} bytes; the service's limit is {max_bytes} bytes: "
                          "send the rows in smaller batches")
    return size


# -- sending ---------------------------------------------------------------------------------------
def require_portal(api: str) -> None:
    """Raise :class:`~toolkit.errors.ConfigError` unless ``api`` is the portal API.

        >>> require_portal("imports")
        Traceback (most recent call last):
        toolkit.errors.ConfigError: Import Data (POST /appfile/file/import/data) is a portal API feature; the imports API has no such call: use api='portal' (--api portal), or import the file with import_file (`toolkit import`)
    """
    if api != "portal":
        raise ConfigError("Import Data (POST /appfile/file/import/data) is a portal API feature; the imports API "
                          "has no such call: use api='portal' (--api portal), or import the file with import_file "
                          "(`toolkit import`)")


def send_import_data(backend: "ApiBackend", body: Mapping[str, Any], *, timeout: float | None = None,
                     max_bytes: int | None = None, path: str | None = None,
                     validate_seconds: float | None = None) -> ImportResult:
    """POST ``body`` to the portal's Import Data endpoint and return the ended import.

    Portal API only. Sent once (never re-sent: the answer of a lost request
    cannot be looked up, there is no file id yet). A FAILED import is a
    result with status FAILED and its failure code.

        >>> send_import_data(client.backend, body).status             # doctest: +SKIP
        'FINISHED'
    """
    require_portal(backend.name)
    size = check_import_data(body, max_bytes=max_bytes)
    what = "Import Data"
    build = backend.build("POST", IMPORT_DATA_PATH, json=body, timeout=timeout)
    started = time.perf_counter()
    try:
        response = backend.sender.send(build, what=what, idempotent=False)
    except AmbiguousRequest as ambiguous:
        if ambiguous.response is not None:
            backend.parse(ambiguous.response, what=what)
        raise TransportError(f"{ambiguous.error}; the rows may have been imported: look for the file with "
                             "`toolkit list` before sending them again") from None
    record: ImportRecord | None = _failed_import(response)
    if record is None:
        record = _file_of(backend.parse(response, what=what), what=what)
    elapsed = time.perf_counter() - started
    return ImportResult(record=record, api=backend.name, path=path, bytes_uploaded=size,
                        validate_seconds=validate_seconds, wait_seconds=elapsed,
                        total_seconds=elapsed + (validate_seconds or 0.0))
