"""write_cc5(): a cc5 file from a DataFrame, a DuckDB relation or a CSV/Parquet file.

The rows stream through DuckDB: each row becomes one formatted line in SQL
(escapes encoded) and Arrow batches of lines are written to the file as they
come; no Python list of all rows is built.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from toolkit.cc5.header import DUCKDB_TYPES, FIELD_TYPES, Field, Header
from toolkit.cc5.source import connect
from toolkit.cc5.values import encode_sql, ident, lit
from toolkit.errors import WriteError

__all__ = ["write_cc5", "WriteResult", "infer_cc5_type"]

_BATCH_ROWS = 65536

#: Defaults for the 00/01 codes when the caller has none.
DEFAULT_CUSTOMER = "DEFAULT"
DEFAULT_DATASOURCE = "toolkit"
DEFAULT_ACTION = "UPSERT"


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_cc5` wrote."""

    path: str
    rows: int
    header: Header


def infer_cc5_type(duckdb_type: str) -> str:
    """The cc5 type for a DuckDB column type (how ``write_cc5`` infers types)."""
    t = duckdb_type.upper()
    if t.endswith("]"):
        inner = t[: t.rindex("[")]
        return "list" if inner.startswith(("STRUCT", "MAP", "JSON")) or inner.endswith("]") else "array"
    if t.startswith(("STRUCT", "MAP", "JSON", "UNION")):
        return "object"
    if t in ("BOOLEAN", "BOOL"):
        return "bool"
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"):
        return "int"
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return "number"
    if t == "DATE" or t.startswith("TIMESTAMP"):
        return "date"
    return "string"


def _check_text(name: str, value: str | None, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise WriteError(f"{name} must not be empty")
        return ""
    value = str(value)
    if any(c in value for c in "|\r\n"):
        raise WriteError(f"{name} {value!r} must not contain '|' or a line break")
    return value


#: how a SQL error names its place: parsed back by _write_error
_LOCATED = "cc5-write column "
_LOCATED_RE = re.compile(r"cc5-write column (.*?), row (\d+): (.*)")


def _located(code: str, message: str) -> str:
    """SQL text of an error message naming the column and the row (``_cc5_row``)."""
    return f"{lit(_LOCATED + code + ', row ')} || _cc5_row || {lit(': ' + message)}"


def _write_error(text: str) -> WriteError:
    """The WriteError of a DuckDB error raised by the writer's SQL (column and row parsed back)."""
    for line in text.splitlines():
        m = _LOCATED_RE.search(line)
        if m:
            return WriteError(m.group(3), column=m.group(1), row=int(m.group(2)))
    return WriteError(text.splitlines()[0] if text else "cannot write the data")


def _value_sql(col: str, cc5_type: str, src_type: str, code: str) -> str:
    """SQL turning one source column into its cc5 text (escapes encoded); NULL stays NULL."""
    t = src_type.upper()
    c = ident(col)
    if t == "VARCHAR" or t == "JSON" and cc5_type in ("object", "list", "string"):
        return encode_sql(f"CAST({c} AS VARCHAR)")
    if cc5_type == "string":
        return encode_sql(f"CAST({c} AS VARCHAR)")
    if cc5_type == "int":
        return f"CAST(CAST({c} AS HUGEINT) AS VARCHAR)" if t not in ("BOOLEAN",) else f"CAST(CAST({c} AS INTEGER) AS VARCHAR)"
    if cc5_type == "number":
        if t in ("FLOAT", "DOUBLE", "REAL"):
            return (f"CASE WHEN isnan({c}) THEN NULL WHEN isinf({c}) THEN "
                    f"error({_located(code, 'infinite numbers cannot be written to a cc5 file')}) "
                    f"ELSE CAST(CAST({c} AS DOUBLE) AS VARCHAR) END")
        return f"CAST({c} AS VARCHAR)"
    if cc5_type == "bool":
        return f"CASE CAST({c} AS BOOLEAN) WHEN true THEN 'true' WHEN false THEN 'false' END"
    if cc5_type == "date":
        if t == "DATE":
            return f"strftime({c}, '%Y%m%d')"
        return f"strftime(CAST({c} AS TIMESTAMP), '%Y%m%d%H%M%S')"
    if cc5_type == "array":
        if t.endswith("]"):
            elem = encode_sql("CAST(x AS VARCHAR)")
            bad = _located(code, "an array element is empty, null or contains a comma (arrays are comma-separated)")
            return (f"CASE WHEN {c} IS NULL OR len({c}) = 0 THEN NULL "
                    f"WHEN list_bool_or(list_transform({c}, lambda x: x IS NULL OR CAST(x AS VARCHAR) = '' "
                    f"OR contains(CAST(x AS VARCHAR), ','))) THEN error({bad}) "
                    f"ELSE array_to_string(list_transform({c}, lambda x: {elem}), ',') END")
        return encode_sql(f"CAST({c} AS VARCHAR)")
    if cc5_type in ("object", "list"):
        return encode_sql(f"CAST(to_json({c}) AS VARCHAR)")
    return encode_sql(f"CAST({c} AS VARCHAR)")


def _prepare_frame(df: pd.DataFrame, types: Mapping[str, str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """Object columns holding dicts or lists become text (JSON, or comma-joined for arrays)."""
    inferred: dict[str, str] = {}
    out = {}
    for col in df.columns:
        s = df[col]
        if s.dtype == object:
            sample = next((v for v in s if v is not None and not (isinstance(v, float) and np.isnan(v))), None)
            kind = types.get(col)
            if isinstance(sample, dict) or kind in ("object", "list") and isinstance(sample, (dict, list, tuple, np.ndarray)):
                kind = kind or "object"
                out[col] = s.map(lambda v: None if _is_null(v) else json.dumps(_plain(v), ensure_ascii=False, default=str))
                inferred[col] = kind
                continue
            if isinstance(sample, (list, tuple, np.ndarray)):
                nested = any(isinstance(e, (dict, list, tuple)) for e in sample)
                kind = kind or ("list" if nested else "array")
                if kind == "list":
                    out[col] = s.map(lambda v: None if _is_null(v) else json.dumps(_plain(v), ensure_ascii=False, default=str))
                else:
                    out[col] = pd.Series([None if _is_null(v) else _join_array(v, col, row)
                                          for row, v in enumerate(s, start=1)], index=s.index, dtype=object)
                inferred[col] = kind
                continue
        out[col] = s
    return pd.DataFrame(out, index=df.index), inferred


def _is_null(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    return False


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _join_array(v: Any, col: str, row: int) -> str | None:
    items = [str(e) for e in _plain(v)]
    if not items:
        return None
    for e in items:
        if e == "" or "," in e:
            raise WriteError(f"array element {e!r} is empty or contains a comma (arrays are comma-separated)",
                             column=col, row=row)
    return ",".join(items)


def write_cc5(
    data: pd.DataFrame | duckdb.DuckDBPyRelation | str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    entity_type: str,
    workspace_id: str,
    bucket_id: str,
    keys: Sequence[str] | str,
    customer: str = DEFAULT_CUSTOMER,
    datasource: str = DEFAULT_DATASOURCE,
    action: str = DEFAULT_ACTION,
    reference_id: str | None = None,
    types: Mapping[str, str] | None = None,
    create_time: datetime | None = None,
) -> WriteResult:
    """Write ``data`` as a cc5 file at ``path``; returns the path, row count and header.

    ``data``: a pandas DataFrame, a DuckDB relation, or the path of a CSV or
    Parquet file. ``keys``: the key columns (first in 03, in this order).
    ``types``: cc5 types by column; the others are inferred (integers -> int,
    floats and decimals -> number, booleans -> bool, dates and timestamps ->
    date, lists of scalars -> array, dicts/structs and nested lists -> object
    or list, the rest -> string). Every value is written with escapes encoded
    (a line break of any kind -> ``#Enter#``, ``|`` -> ``#/#``); NULL and NaN are
    written empty. ``customer``, ``datasource`` and ``action`` default to
    ``DEFAULT``, ``toolkit`` and ``UPSERT``. ``reference_id`` defaults to a new random id;
    ``create_time`` to now (UTC). The file is written to a temporary name and
    renamed, so ``path`` is never left half-written. Raises :class:`~toolkit.errors.WriteError` (a ``ValueError``) for
    bad arguments (missing key, empty key value, unknown type...).
    """
    types = dict(types or {})
    for col, t in types.items():
        if t not in DUCKDB_TYPES:
            raise WriteError(f"unknown type {t!r} for {col} (expected one of {', '.join(FIELD_TYPES)})")
    key_list = [k.strip() for k in keys.split(",")] if isinstance(keys, str) else [str(k) for k in keys]
    if not key_list or any(not k for k in key_list):
        raise WriteError("keys must name at least one column")
    if len(set(key_list)) != len(key_list):
        raise WriteError("keys must not repeat a column")
    header_values = {
        "customer": _check_text("customer", customer),
        "entity_type": _check_text("entity_type", entity_type),
        "workspace_id": _check_text("workspace_id", workspace_id),
        "bucket_id": _check_text("bucket_id", bucket_id),
        "datasource": _check_text("datasource", datasource, required=False),
        "action": _check_text("action", action, required=False),
    }
    reference = _check_text("reference_id", reference_id) if reference_id else uuid.uuid4().hex
    created = create_time or datetime.now(timezone.utc)
    created_text = created.strftime("%Y%m%d%H%M%S")

    con = connect()
    try:
        rel, inferred = _relation(con, data, types)
        columns = list(rel.columns)
        src_types = [str(t) for t in rel.types]
        missing = [k for k in key_list if k not in columns]
        if missing:
            raise WriteError(f"key column(s) not in the data: {', '.join(missing)} (columns: {', '.join(columns)})")
        unknown = [c for c in types if c not in columns]
        if unknown:
            raise WriteError(f"types given for unknown column(s): {', '.join(unknown)}")
        order = key_list + [c for c in columns if c not in key_list]
        src_type = dict(zip(columns, src_types))
        fields: list[Field] = []
        for col in order:
            name = str(col)
            if not name or any(ch in name for ch in "|:\r\n"):
                raise WriteError(f"column name {name!r} cannot be a field code (empty, or holds | : or a line break)")
            t = types.get(col) or inferred.get(col) or infer_cc5_type(src_type[col])
            fields.append(Field(name, t, DUCKDB_TYPES[t]))
        if len({f.code.lower() for f in fields}) != len(fields):
            raise WriteError("column names must be unique without case (cc5 field codes are compared without case)")

        parts = ["'10|'"]
        for f in fields:
            parts.append(f"coalesce({_value_sql(f.code, f.type, src_type[f.code], f.code)}, '')")
            parts.append("'|'")
        line_sql = "concat(" + ", ".join(parts) + ", chr(10))"
        key_checks = " OR ".join(f"{ident(k)} IS NULL" for k in key_list)
        empty_key = _located(", ".join(key_list), "a key value is null or empty: every row needs its key values")
        key_strs = " OR ".join(f"CAST({ident(k)} AS VARCHAR) = ''" for k in key_list)
        select = (f"SELECT CASE WHEN {key_checks} OR {key_strs} THEN error({empty_key}) "
                  f"ELSE {line_sql} END AS line FROM (SELECT *, row_number() OVER () AS _cc5_row FROM cc5_src)")
        body = rel.query("cc5_src", select)
        assert body is not None  # a SELECT always gives a relation (the stubs allow None)

        header = Header(
            customer=header_values["customer"], file_type="cc5",
            create_time=datetime.strptime(created_text, "%Y%m%d%H%M%S"), reference_id=reference,
            entity_type=header_values["entity_type"], workspace_id=header_values["workspace_id"],
            bucket_id=header_values["bucket_id"], datasource=header_values["datasource"] or None,
            action=header_values["action"] or None, keys=tuple(key_list), fields=tuple(fields),
            lines=(1, 2, 3, 4),
        )
        head_text = "\n".join([
            f"00|{header_values['customer']}|cc5|{created_text}|{reference}",
            "01|" + "|".join(header_values[k] for k in ("entity_type", "workspace_id", "bucket_id", "datasource", "action")),
            "02|" + "|".join(key_list),
            "03|" + "|".join(f"{f.code}:{f.type}" for f in fields),
        ]) + "\n"

        out = Path(path)
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
        rows = 0
        try:
            with open(tmp, "wb") as fh:
                fh.write(head_text.encode("utf-8"))
                reader = body.to_arrow_reader(_BATCH_ROWS)
                for batch in reader:
                    col = batch.column(0)
                    if col.null_count:
                        raise WriteError("internal: a formatted line is null")
                    rows += len(col)
                    _write_string_array(fh, col)
                fh.write(f"99|{rows}|\n".encode("ascii"))
            os.replace(tmp, out)
        except duckdb.Error as exc:
            raise _write_error(str(exc)) from None
        finally:
            if tmp.exists():
                tmp.unlink()
        return WriteResult(str(out), rows, header)
    finally:
        con.close()


def _write_string_array(fh: BinaryIO, col: pa.Array) -> None:
    """Write the bytes of a string array without a Python object per value."""
    if isinstance(col, pa.ChunkedArray):
        for chunk in col.chunks:
            _write_string_array(fh, chunk)
        return
    if pa.types.is_string_view(col.type) or pa.types.is_binary_view(col.type):
        col = col.cast(pa.large_string())
    bufs = col.buffers()
    offsets_buf, data_buf = bufs[1], bufs[2]
    width = np.int64 if pa.types.is_large_string(col.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[col.offset: col.offset + len(col) + 1]
    if len(offsets) and data_buf is not None:
        fh.write(memoryview(data_buf)[int(offsets[0]): int(offsets[-1])])


def _relation(con: duckdb.DuckDBPyConnection, data: Any,
              types: Mapping[str, str]) -> tuple[duckdb.DuckDBPyRelation, dict[str, str]]:
    """The input as a relation, plus types already decided while preparing it."""
    if isinstance(data, pd.DataFrame):
        frame, inferred = _prepare_frame(data, types)
        frame.columns = [str(c) for c in frame.columns]
        for col in frame.columns:
            s = frame[col]
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                frame[col] = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return con.from_df(frame), inferred
    if isinstance(data, duckdb.DuckDBPyRelation):
        return data, {}
    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if not p.exists():
            raise WriteError(f"no such input file: {data}")
        suffix = p.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return con.sql(f"SELECT * FROM read_parquet({lit(str(p))})"), {}
        if suffix in (".csv", ".txt", ".tsv") or suffix == "":
            overrides = {c: "VARCHAR" for c, t in types.items()
                         if t in ("string", "array", "object", "list")}
            opt = ""
            if overrides:
                opt = ", types={" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in overrides) + "}"
            return con.sql(f"SELECT * FROM read_csv({lit(str(p))}, header=true{opt})"), {}
        raise WriteError(f"cannot read {data}: expected a .csv or .parquet file")
    raise TypeError(f"data must be a pandas DataFrame, a DuckDB relation or a CSV/Parquet path, not {type(data).__name__}")
