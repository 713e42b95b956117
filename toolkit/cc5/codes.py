"""The finding-code catalogue: every code a validation can report.

Each code has a severity (``error`` or ``warning``) and a level:

* ``file``: a file-level error. The file cannot be imported; nothing is applied.
* ``row``: a row-level error. That row is rejected (counted in ``rejected_rows`` /
  ``failure_count``); the other rows are applied.
* ``warning``: shown, but the row or file is applied as is.

``docs/cc5-format.md`` documents the same catalogue; a test keeps both in sync.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CodeInfo", "FINDING_CODES", "FILE", "ROW", "WARNING", "severity_of", "level_of"]

FILE = "file"
ROW = "row"
WARNING = "warning"


@dataclass(frozen=True)
class CodeInfo:
    code: str
    severity: str  # "error" | "warning"
    level: str  # "file" | "row" | "warning"
    meaning: str


def _c(code: str, level: str, meaning: str) -> CodeInfo:
    return CodeInfo(code, "warning" if level == WARNING else "error", level, meaning)


_CATALOGUE = [
    # file-level errors: nothing is applied
    _c("EMPTY_FILE", FILE, "The file is empty (no bytes, or only blank lines / a byte-order mark)."),
    _c("NOT_TEXT", FILE, "The file is not text (binary, UTF-16, an image): a UTF-16/32 byte-order mark, or "
       "NUL bytes, invalid UTF-8 or control characters in more than a tenth of its first 4 KB. Nothing else is reported."),
    _c("HEADER_TOO_LARGE", FILE, "The header is beyond the engine's limits: more than 2,000 fields, more than 64 "
       "key fields, or a header line longer than 1 MB. No row is checked."),
    _c("NOT_UTF8", FILE, "The line holds bytes that are not UTF-8, or a NUL byte (binary data)."),
    _c("MISSING_HEADER", FILE, "There is no 00 header row."),
    _c("BAD_HEADER", FILE, "A header row (00-03) is malformed, out of place, or repeated: wrong number of "
       "values, file type not cc5, create time not a valid yyyyMMddHHmmss, empty customer, empty or "
       "repeated key code, empty field code."),
    _c("MISSING_METADATA", FILE, "There is no 01 metadata row, or its entity type, workspace id or bucket id is empty."),
    _c("MISSING_KEYS", FILE, "There is no 02 row, or it names no key field."),
    _c("MISSING_FIELDS", FILE, "There is no 03 row, or it defines no field."),
    _c("UNKNOWN_TYPE", FILE, "A field in 03 has a type that is not string, int, number, bool, date, array, list or object."),
    _c("DUPLICATE_FIELD", FILE, "A field code appears twice in 03 (compared without case)."),
    _c("KEY_NOT_IN_FIELDS", FILE, "A key named in 02 is not a field of 03."),
    _c("MISSING_FOOTER", FILE, "There is no 99 footer row."),
    _c("FOOTER_COUNT_MISMATCH", FILE, "The 99 row's count is not a number or differs from the number of 10 and 90 rows."),
    _c("CONTENT_AFTER_FOOTER", FILE, "Non-blank lines follow the 99 footer row."),
    _c("FILE_TOO_LARGE", FILE, "The file is larger than the allowed size (checked before parsing)."),
    _c("WORKSPACE_MISMATCH", FILE, "The 01 row names another workspace than the one the upload is for."),
    # row-level errors: the row is rejected, the rest applies
    _c("UNKNOWN_ROW_TYPE", ROW, "The line does not start with a known row type (10, 90, 99, 00-09); empty lines included."),
    _c("FIELD_COUNT", ROW, "A 10 row does not have one value per field, or a 90 row one value per key "
       "(one trailing | is allowed)."),
    _c("MISPLACED_ROW", ROW, "A reserved 04-09 row after the first 10/90 row (they belong between 03 and the "
       "first data row)."),
    _c("EMPTY_KEY", ROW, "A key value of a 10 or 90 row is empty."),
    _c("INVALID_INT", ROW, "Not a signed 64-bit integer (digits with an optional sign)."),
    _c("INVALID_NUMBER", ROW, "Not a finite decimal number (digits, optional sign, point and exponent)."),
    _c("INVALID_BOOL", ROW, "Not true/false (any case) or 1/0."),
    _c("INVALID_DATE", ROW, "Not a real calendar date as yyyyMMdd or yyyyMMddHHmmss."),
    _c("INVALID_ARRAY", ROW, "A comma-separated array with an empty element (leading, trailing or double comma)."),
    _c("INVALID_OBJECT", ROW, "Not a JSON object."),
    _c("INVALID_LIST", ROW, "Not a JSON array."),
    # warnings: applied, but shown
    _c("DUPLICATE_KEY", WARNING, "The same key is on several accepted rows; they apply in file order, the last one wins."),
    _c("RESERVED_FIELD_NAME", WARNING, "A field code ends in _id, a suffix reserved for the platform."),
    _c("RESERVED_ROW", WARNING, "A reserved 04-09 row: accepted and ignored."),
    _c("KEYS_NOT_FIRST", WARNING, "The key fields are not the first fields of 03 in 02's order (the file is still read by field code)."),
]

FINDING_CODES: dict[str, CodeInfo] = {c.code: c for c in _CATALOGUE}


def severity_of(code: str) -> str:
    return FINDING_CODES[code].severity


def level_of(code: str) -> str:
    return FINDING_CODES[code].level
