"""The value rules of cc5, stated once: validity, shape, typed cast and escapes (DuckDB SQL).

Every expression takes the raw value ``v`` as it stands between two ``|``
(escapes not decoded). The same expressions serve validation, preview,
``open_cc5`` and the import plan, so what a user previews is what the import does.

Per type, :func:`valid_sql` is the one definition of a valid non-empty value
and :func:`typed_sql` its typed value.

>>> valid_sql("bool", "v")
"(lower(v) IN ('true', 'false', '1', '0'))"
"""

from __future__ import annotations

__all__ = [
    "ident",
    "lit",
    "decode_sql",
    "encode_sql",
    "cast_sql",
    "valid_sql",
    "typed_sql",
    "INVALID_CODE",
    "INVALID_WHAT",
]

#: field type -> the row-level code of a value that is not of that type
INVALID_CODE: dict[str, str] = {
    "int": "INVALID_INT",
    "number": "INVALID_NUMBER",
    "bool": "INVALID_BOOL",
    "date": "INVALID_DATE",
    "array": "INVALID_ARRAY",
    "object": "INVALID_OBJECT",
    "list": "INVALID_LIST",
}

#: code -> the end of its message ("field x: 'v' is not ...")
INVALID_WHAT: dict[str, str] = {
    "INVALID_INT": "is not a 64-bit integer",
    "INVALID_NUMBER": "is not a number",
    "INVALID_BOOL": "is not a boolean (true, false, 1 or 0)",
    "INVALID_DATE": "is not a date (yyyyMMdd or yyyyMMddHHmmss)",
    "INVALID_ARRAY": "is not a comma-separated array (empty element)",
    "INVALID_OBJECT": "is not a JSON object",
    "INVALID_LIST": "is not a JSON array (list)",
}

_INT_RE = r"[+-]?[0-9]+"
_NUMBER_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


#: what ``#Enter#`` stands for: the portal's line break, CR LF
ENTER_SQL = "chr(13) || chr(10)"


def decode_sql(v: str) -> str:
    """``#/#`` -> ``|``, ``#Enter#`` -> ``\\r\\n`` (most values have no ``#``: skip both scans)."""
    return f"(CASE WHEN contains({v}, '#') THEN replace(replace({v}, '#/#', '|'), '#Enter#', {ENTER_SQL}) ELSE {v} END)"


def encode_sql(v: str) -> str:
    """Any line break -> ``#Enter#`` (``\\r\\n`` and a lone ``\\r`` count as one), ``|`` -> ``#/#``."""
    return (
        f"replace(replace(replace(replace({v}, chr(13) || chr(10), chr(10)), chr(13), chr(10)), "
        f"chr(10), '#Enter#'), '|', '#/#')"
    )


def _date_sql(v: str) -> str:
    return (
        f"CASE length({v}) WHEN 8 THEN try_strptime({v}, '%Y%m%d') "
        f"WHEN 14 THEN try_strptime({v}, '%Y%m%d%H%M%S') END"
    )


def cast_sql(ftype: str, v: str) -> str | None:
    """The cast of the non-empty raw value ``v`` that both its validity test and its typed value use.

    NULL when the value does not cast. ``None`` for types whose test does not
    cast (bool, array, string): a caller may compute the cast once, keep it
    in a column and hand that to :func:`valid_sql` (``cast=``), so the
    import plan's typed value costs no second cast.

    >>> cast_sql("int", "v")
    'TRY_CAST(v AS BIGINT)'
    """
    if ftype == "int":
        return f"TRY_CAST({v} AS BIGINT)"
    if ftype == "number":
        return f"TRY_CAST({v} AS DOUBLE)"
    if ftype == "date":
        return _date_sql(v)
    if ftype in ("object", "list"):
        # TRY_CAST to JSON succeeds exactly where json_valid is true (checked on 20,000 strings)
        return f"TRY_CAST({decode_sql(v)} AS JSON)"
    return None


def valid_sql(ftype: str, v: str, cast: str | None = None) -> str | None:
    """A boolean SQL expression: is the non-empty raw value ``v`` valid for ``ftype``?

    ``cast``: an expression already holding :func:`cast_sql` of ``v`` (else it
    is computed here). ``None`` for types that accept any value (string and
    unknown types).
    """
    c = cast if cast is not None else cast_sql(ftype, v)  # None only for bool, array and string
    if ftype == "int":
        return f"(regexp_full_match({v}, '{_INT_RE}') AND {c} IS NOT NULL)"
    if ftype == "number":
        return f"(regexp_full_match({v}, '{_NUMBER_RE}') AND isfinite({c}))"
    if ftype == "bool":
        return f"(lower({v}) IN ('true', 'false', '1', '0'))"
    if ftype == "date":
        return (
            f"(strlen({v}) IN (8, 14) AND regexp_full_match({v}, '[0-9]+') AND NOT starts_with({v}, '0000') "
            f"AND {c} IS NOT NULL)"
        )
    if ftype == "array":
        return f"NOT ({v} LIKE ',%' OR {v} LIKE '%,' OR contains({v}, ',,'))"  # LIKE: cheaper than starts/ends_with here
    if ftype in ("object", "list"):
        want, opener = ("OBJECT", "{") if ftype == "object" else ("ARRAY", "[")
        if cast is None:  # json_valid alone is a little cheaper than the cast when no typed value is wanted
            d = decode_sql(v)
            return (f"(CASE WHEN starts_with({v}, '{opener}') THEN json_valid({d}) "
                    f"WHEN json_valid({d}) THEN json_type({d}) = '{want}' ELSE false END)")
        # one JSON parse (the cast); a value starting with the opener is valid iff it parses
        return (
            f"(CASE WHEN {c} IS NULL THEN false WHEN starts_with({v}, '{opener}') THEN true "
            f"ELSE json_type({c}) = '{want}' END)"
        )
    return None


def typed_sql(ftype: str, v: str, *, checked: bool = False) -> str:
    """The typed value of raw ``v``: NULL when empty (or, unless ``checked``, invalid).

    ``checked=True`` skips the validity test for values already known valid.
    """
    shared = cast_sql(ftype, v)
    if shared is not None:
        cast = shared
    elif ftype == "bool":
        cast = f"(lower({v}) IN ('true', '1'))"
    elif ftype == "array":
        cast = (f"CASE WHEN contains({v}, '#') THEN list_transform(string_split({v}, ','), lambda x: "
                f"replace(replace(x, '#/#', '|'), '#Enter#', {ENTER_SQL})) ELSE string_split({v}, ',') END")
    else:  # string and unknown types
        return f"NULLIF({decode_sql(v)}, '')"
    check = valid_sql(ftype, v)
    if checked or check is None:
        return f"CASE WHEN {v} <> '' THEN {cast} END"
    return f"CASE WHEN {v} <> '' AND {check} THEN {cast} END"
