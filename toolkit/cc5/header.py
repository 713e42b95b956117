"""The header of a cc5 file (rows 00-03) and the scan of the file's head."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from pathlib import Path
from typing import Any

from toolkit.cc5.findings import Finding, make_finding, quote_value
from toolkit.errors import Cc5Error

__all__ = [
    "FIELD_TYPES",
    "DUCKDB_TYPES",
    "Field",
    "Header",
    "HeadScan",
    "read_header",
    "scan_head",
    "decode_escapes",
    "encode_escapes",
    "check_path",
    "MAX_FIELDS",
    "MAX_KEY_FIELDS",
    "MAX_HEADER_LINE_BYTES",
]

#: Header limits: beyond them the file is refused with one HEADER_TOO_LARGE finding (docs/engine.md).
MAX_FIELDS = 2000
MAX_KEY_FIELDS = 64
MAX_HEADER_LINE_BYTES = 1 << 20
#: How much of the start of the file decides NOT_TEXT, and the share of bad bytes that does.
TEXT_SAMPLE_BYTES = 4096
NOT_TEXT_SHARE = 0.10
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")

#: cc5 field type -> the DuckDB type of its typed column.
DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "TIMESTAMP",
    "array": "VARCHAR[]",
    "list": "JSON",
    "object": "JSON",
}
FIELD_TYPES: tuple[str, ...] = tuple(DUCKDB_TYPES)

HEADER_ROWS = ("00", "01", "02", "03")
RESERVED_ROWS = ("04", "05", "06", "07", "08", "09")
BOM = b"\xef\xbb\xbf"

# How far the head scan reads: it stops at the first 10/90/99 row.
_HEAD_MAX_LINES = 1000
_HEAD_MAX_BYTES = 64 << 20
_HEAD_LINE_KEEP = 4 << 20  # a head line longer than this is cut (only its start matters)
_CREATE_TIME = re.compile(r"[0-9]{14}")


def decode_escapes(value: str) -> str:
    """``#/#`` -> ``|`` and ``#Enter#`` -> ``\\r\\n`` (the portal's line break).

    >>> decode_escapes("a#/#b#Enter#c")
    'a|b\\r\\nc'
    """
    return value.replace("#/#", "|").replace("#Enter#", "\r\n")


def encode_escapes(value: str) -> str:
    """Line breaks (``\\r\\n``, ``\\r``, ``\\n``) -> ``#Enter#``; ``|`` -> ``#/#``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\n", "#Enter#").replace("|", "#/#")


@dataclass(frozen=True)
class Field:
    """A field of the 03 row: its code, cc5 type and the DuckDB type of its column.

    A field whose type is unknown keeps the type as written and is read as VARCHAR.
    """

    code: str
    type: str
    duckdb_type: str

    @property
    def known_type(self) -> bool:
        return self.type in DUCKDB_TYPES


@dataclass(frozen=True)
class Header:
    """Rows 00-03 as typed values; ``None`` / empty where the file lacks them."""

    customer: str | None = None
    file_type: str | None = None
    create_time: datetime | None = None
    reference_id: str | None = None
    entity_type: str | None = None
    workspace_id: str | None = None
    bucket_id: str | None = None
    datasource: str | None = None
    action: str | None = None
    keys: tuple[str, ...] = ()
    fields: tuple[Field, ...] = ()
    #: the line numbers of rows 00, 01, 02, 03 (None when missing)
    lines: tuple[int | None, int | None, int | None, int | None] = (None, None, None, None)
    #: the problems found in the header (also in the validation report)
    findings: tuple[Finding, ...] = dc_field(default=(), compare=False, repr=False)

    @property
    def field_codes(self) -> list[str]:
        return [f.code for f in self.fields]

    def field(self, code: str) -> Field:
        for f in self.fields:
            if f.code == code:
                return f
        raise KeyError(code)

    @property
    def key_fields(self) -> list[Field]:
        by_code = {f.code: f for f in self.fields}
        return [by_code[k] for k in self.keys if k in by_code]

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer": self.customer,
            "file_type": self.file_type,
            "create_time": self.create_time.isoformat() if self.create_time else None,
            "reference_id": self.reference_id,
            "entity_type": self.entity_type,
            "workspace_id": self.workspace_id,
            "bucket_id": self.bucket_id,
            "datasource": self.datasource,
            "action": self.action,
            "keys": list(self.keys),
            "fields": [{"code": f.code, "type": f.type, "duckdb_type": f.duckdb_type} for f in self.fields],
        }


@dataclass
class HeadScan:
    """What the head scan learnt: the header, its findings and how to read the rest."""

    header: Header
    findings: list[Finding]
    header_lines: list[int]  # the lines consumed as header rows (00-03)
    empty: bool  # the file has no non-blank line
    crlf: bool  # a \r was seen in the head
    size: int
    #: the line of the first 10, 90 or 99 row, when the head scan reached one
    first_body_line: int | None = None
    #: the header was refused (NOT_TEXT, HEADER_TOO_LARGE): no row is read
    refused: bool = False

    @property
    def stop(self) -> bool:
        """True when the body of the file is not read: empty, not text, or a refused header."""
        return self.empty or self.refused


def check_path(path: str | os.PathLike[str]) -> Path:
    """The path as a Path; :class:`Cc5Error` when it is missing or not a readable file."""
    p = Path(path)
    if not p.exists():
        raise Cc5Error("no such file", file=str(path))
    if p.is_dir():
        raise Cc5Error("is a directory, not a cc5 file", file=str(path))
    if not os.access(p, os.R_OK):
        raise Cc5Error("permission denied", file=str(path))
    return p


def _split_values(text: str) -> list[str]:
    """The values after the row type; one trailing ``|`` is dropped."""
    parts = text.split("|")[1:]
    if parts and parts[-1] == "":
        parts.pop()
    return parts


def _read_head_lines(path: Path) -> tuple[list[tuple[int, str, bool, bool, int]], bool]:
    """The first lines of the file, up to and including the first 10/90/99 row.

    Returns ``([(line number, text, had_cr, utf8_ok, length in bytes), ...], reached_eof)``.
    """
    lines: list[tuple[int, str, bool, bool, int]] = []
    consumed = 0
    with open(path, "rb") as fh:
        number = 0
        while number < _HEAD_MAX_LINES and consumed < _HEAD_MAX_BYTES:
            raw = fh.readline(_HEAD_LINE_KEEP)
            if not raw:
                return lines, True
            consumed += len(raw)
            length = len(raw)
            if not raw.endswith(b"\n"):
                # longer than we keep: skip to the end of this physical line
                while consumed < _HEAD_MAX_BYTES:
                    more = fh.readline(_HEAD_LINE_KEEP)
                    consumed += len(more)
                    length += len(more)
                    if not more or more.endswith(b"\n"):
                        break
            number += 1
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM) :]
            raw = raw.rstrip(b"\n")
            had_cr = b"\r" in raw
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                text = raw.decode("utf-8")
                ok = b"\x00" not in raw
            except UnicodeDecodeError:
                text = raw.decode("utf-8", errors="replace")
                ok = False
            lines.append((number, text, had_cr, ok, length))
            if text.split("|", 1)[0] in ("10", "90", "99"):
                return lines, False
        return lines, fh.read(1) == b""


def scan_head(path: str | os.PathLike[str], *, file_label: str | None = None) -> HeadScan:
    """Read the head of the file (up to the first 10/90/99 row) and parse rows 00-03."""
    p = check_path(path)
    label = file_label if file_label is not None else str(path)
    try:
        size = p.stat().st_size
        head, at_eof = _read_head_lines(p)
    except OSError as exc:
        raise Cc5Error(f"cannot read: {exc.strerror or exc}", file=str(path)) from None

    findings: list[Finding] = []

    def add(code: str, line: int | None, message: str, **kw: Any) -> None:
        findings.append(make_finding(code, line, message, file=label, **kw))

    crlf = any(had_cr for _, _, had_cr, _, _ in head)
    if not _looks_like_text(p):
        add("NOT_TEXT", None, "the file is not text (binary data, UTF-16 or an image?): a cc5 file is UTF-8 text")
        return HeadScan(Header(findings=tuple(findings)), findings, [], False, crlf, size, refused=True)
    if at_eof and all(text.strip() == "" and ok for _, text, _, ok, _ in head):
        # blank lines only (or nothing at all, or only a BOM)
        add("EMPTY_FILE", None, "the file is empty" if size == 0 else "the file has only blank lines")
        return HeadScan(Header(findings=tuple(findings)), findings, [], True, crlf, size)

    # the head: lines up to (not including) the first 10/90/99 row
    rows: dict[str, tuple[int, str]] = {}
    order: list[tuple[int, str]] = []
    first_body_line = None
    too_long: list[int] = []
    for number, text, _had_cr, ok, length in head:
        rt = text.split("|", 1)[0]
        if rt in ("10", "90", "99"):
            first_body_line = number
            break
        if rt in HEADER_ROWS and rt not in rows:
            rows[rt] = (number, text)
            order.append((number, rt))
            if length > MAX_HEADER_LINE_BYTES:
                too_long.append(number)
            if not ok:
                add("NOT_UTF8", number, "the line holds bytes that are not UTF-8, or a NUL byte")

    # position: header rows come first, in order 00, 01, 02, 03
    highest = ""
    previous_line = 0
    for number, rt in order:
        if rt < highest:
            add("BAD_HEADER", number, f"row {rt} is out of order: it must come before row {highest}", value=rt)
        elif number != previous_line + 1:
            add("BAD_HEADER", number,
                f"row {rt} is on line {number}: header rows must be the first lines of the file", value=rt)
        highest = max(highest, rt)
        previous_line = number

    values: dict[str, Any] = {}
    keys: list[str] = []
    fields: list[Field] = []

    # 00 header
    if "00" not in rows:
        add("MISSING_HEADER", 1, "there is no 00 header row (customer, file type, create time, reference id)")
    else:
        n, text = rows["00"]
        v = [decode_escapes(x) for x in _split_values(text)]
        if len(v) not in (3, 4):
            add("BAD_HEADER", n, f"row 00 needs 4 values (customer, file type, create time, reference id), found {len(v)}")
        v += [""] * (4 - len(v))
        customer, file_type, create_raw, reference = v[:4]
        values["customer"] = customer or None
        values["file_type"] = file_type or None
        values["reference_id"] = reference or None
        if not customer:
            add("BAD_HEADER", n, "row 00: the customer code is empty")
        if file_type.lower() != "cc5":
            add("BAD_HEADER", n, f"row 00: file type {quote_value(file_type)} is not cc5", value=file_type)
        if create_raw:
            ct = None
            if _CREATE_TIME.fullmatch(create_raw):
                try:
                    ct = datetime.strptime(create_raw, "%Y%m%d%H%M%S")
                except ValueError:
                    ct = None
            if ct is None:
                add("BAD_HEADER", n, f"row 00: create time {quote_value(create_raw)} is not a valid yyyyMMddHHmmss",
                    value=create_raw)
            values["create_time"] = ct
        elif len(_split_values(text)) >= 3:
            add("BAD_HEADER", n, "row 00: the create time is empty")

    # 01 metadata
    if "01" not in rows:
        add("MISSING_METADATA", 2, "there is no 01 metadata row (entity type, workspace, bucket, datasource, action)")
    else:
        n, text = rows["01"]
        v = [decode_escapes(x) for x in _split_values(text)]
        if len(v) not in (4, 5):  # an empty action code after the trailing | reads as 4 values
            add("BAD_HEADER", n,
                f"row 01 needs 5 values (entity type, workspace id, bucket id, datasource, action), found {len(v)}")
        v += [""] * (5 - len(v))
        names = ("entity_type", "workspace_id", "bucket_id", "datasource", "action")
        for name, value in zip(names, v[:5]):
            values[name] = value or None
        missing = [name for name, value in zip(names[:3], v[:3]) if not value]
        if missing:
            add("MISSING_METADATA", n, "row 01: empty " + ", ".join(m.replace("_", " ") for m in missing),
                field=missing[0])

    # 02 keys
    if "02" not in rows:
        add("MISSING_KEYS", 3, "there is no 02 row naming the key fields")
    else:
        n, text = rows["02"]
        v = [x.strip() for x in _split_values(text)]
        if not any(v):
            add("MISSING_KEYS", n, "row 02 names no key field")
        else:
            seen: set[str] = set()
            for k in v:
                if not k:
                    add("BAD_HEADER", n, "row 02: empty key code")
                elif k.lower() in seen:
                    add("BAD_HEADER", n, f"row 02: key {k} is named twice", field=k)
                else:
                    seen.add(k.lower())
                    keys.append(k)

    # 03 fields
    if "03" not in rows:
        add("MISSING_FIELDS", 4, "there is no 03 row defining the fields")
    else:
        n, text = rows["03"]
        v = _split_values(text)
        if not any(x.strip() for x in v):
            add("MISSING_FIELDS", n, "row 03 defines no field")
        else:
            seen_fields: set[str] = set()
            for position, spec in enumerate(v, start=1):
                code, sep, ftype = spec.partition(":")
                code = code.strip()
                ftype = ftype.strip().lower() if sep else "string"
                if not code:
                    # kept (as _<position>) so that the values of the rows stay in place
                    add("BAD_HEADER", n, f"row 03: empty field code in {quote_value(spec)} (field {position})",
                        value=spec)
                    code = f"_{position}"
                if ftype not in DUCKDB_TYPES:
                    add("UNKNOWN_TYPE", n,
                        f"field {code}: unknown type {quote_value(ftype)} (expected one of {', '.join(FIELD_TYPES)})",
                        field=code, value=ftype)
                if code.lower() in seen_fields:
                    # kept under a new name so that the values of the rows stay in place
                    add("DUPLICATE_FIELD", n, f"field {code} is defined twice (field {position})", field=code)
                    code = f"{code}_{position}"
                seen_fields.add(code.lower())
                if code.lower().endswith("_id"):
                    add("RESERVED_FIELD_NAME", n, f"field {code}: codes ending in _id are reserved for the platform",
                        field=code)
                fields.append(Field(code, ftype, DUCKDB_TYPES.get(ftype, "VARCHAR")))

    if keys and fields:
        codes = [f.code for f in fields]
        code_set = set(codes)
        missing_keys = [k for k in keys if k not in code_set]
        for k in missing_keys:
            add("KEY_NOT_IN_FIELDS", rows["02"][0], f"key {k} is not a field of row 03", field=k)
        if not missing_keys and codes[: len(keys)] != keys:
            add("KEYS_NOT_FIRST", rows["03"][0],
                f"the key fields ({', '.join(keys)}) should be the first fields of row 03, in row 02's order")

    limit = _limit_message(too_long, len(fields), len(keys),
                           rows.get("03", (None,))[0], rows.get("02", (None,))[0])
    if limit is not None:
        # one finding, no row checks: a header this wide is refused before any SQL is built for it
        findings = [make_finding("HEADER_TOO_LARGE", limit[0], limit[1], file=label)]
        keys, fields = [], []

    header = Header(
        **values,
        keys=tuple(keys),
        fields=tuple(fields),
        lines=tuple(rows[rt][0] if rt in rows else None for rt in HEADER_ROWS),  # type: ignore[arg-type]
        findings=tuple(findings),
    )
    header_lines = sorted(rows[rt][0] for rt in rows)
    return HeadScan(header, findings, header_lines, False, crlf, size, first_body_line, refused=limit is not None)


def _limit_message(too_long: list[int], n_fields: int, n_keys: int, fields_line: int | None,
                   keys_line: int | None) -> tuple[int | None, str] | None:
    """(line, message) of the first header limit exceeded, or None."""
    if too_long:
        return too_long[0], f"a header line longer than {MAX_HEADER_LINE_BYTES} bytes"
    if n_fields > MAX_FIELDS:
        return fields_line, f"row 03 defines {n_fields} fields, more than the {MAX_FIELDS} allowed"
    if n_keys > MAX_KEY_FIELDS:
        return keys_line, f"row 02 names {n_keys} key fields, more than the {MAX_KEY_FIELDS} allowed"
    return None


def _looks_like_text(path: Path) -> bool:
    """False for a file that is clearly not UTF-8 text (see :data:`TEXT_SAMPLE_BYTES`).

    A UTF-16/32 byte-order mark, or NUL bytes, invalid UTF-8 sequences and
    control characters (other than tab, CR, LF) in more than a tenth of the
    first 4 KB. A few odd bytes in a text file stay ``NOT_UTF8`` findings on their lines.
    """
    with open(path, "rb") as fh:
        sample = fh.read(TEXT_SAMPLE_BYTES)
    if not sample:
        return True
    if sample.startswith(_WIDE_BOMS):
        return False
    text = sample.decode("utf-8", errors="replace")
    if len(sample) == TEXT_SAMPLE_BYTES and text.endswith("\ufffd"):
        text = text.rstrip("\ufffd")  # a character cut by the sample's end
    bad = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n"))
    return bad <= NOT_TEXT_SHARE * max(1, len(text))


def read_header(path: str | os.PathLike[str]) -> Header:
    """Rows 00-03 of a cc5 file as a :class:`Header`.

    Problems in the header do not raise: the attributes are ``None`` (or empty)
    where the file lacks a value, and ``header.findings`` lists what is wrong.
    A missing or unreadable file raises :class:`~toolkit.errors.Cc5Error`.
    """
    return scan_head(path).header
