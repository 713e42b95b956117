"""Conservative regular expressions for the common shapes of cc5 values (quick path only).

:func:`toolkit.cc5.values.valid_sql` is the definition of a valid value; it
costs several SQL functions per value (a regular expression, a cast, a
``strptime``...). The quick path first matches the typed values of a row,
joined by ``|``, against ONE regular expression built from these patterns
and only runs ``valid_sql`` on the rows that do not match. Every pattern is
*conservative*: a value it accepts is always accepted by ``valid_sql`` (so
the quick path never accepts a bad value), while some valid values are left
to ``valid_sql`` (19-digit integers, exponents, dates before year 1000...).

>>> import re
>>> bool(re.fullmatch(fast_pattern("date"), "20240229")), bool(re.fullmatch(fast_pattern("date"), "20230229"))
(True, False)
"""

from __future__ import annotations

__all__ = ["fast_pattern", "line_pattern", "FAST_TYPES"]

#: up to 18 digits always fits a signed 64-bit integer
_INT = r"[+-]?[0-9]{1,18}"
#: no exponent and at most 15+15 digits: always a finite double
_NUMBER = r"[+-]?(?:[0-9]{1,15}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})"
_BOOL = r"[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01]"
# years 1000-9999; days 01-28 of any month, 29-30 except February, 31 of the long months
_MMDD = (r"(?:0[1-9]|1[0-2])(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])(?:29|30)"
         r"|(?:0[13578]|1[02])31")
# 29 February of leap years: divisible by 4, centuries only when divisible by 400
_LEAP = r"[1-9][0-9](?:0[48]|[2468][048]|[13579][26])|(?:1[26]|[2468][048]|[3579][26])00"
_HMS = r"(?:[01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]"
_DATE = rf"(?:[1-9][0-9]{{3}}(?:{_MMDD})|(?:{_LEAP})0229)(?:{_HMS})?"
# values never hold '|' (the separator), so [^,|] is "any character but a comma"
_ARRAY = r"[^,|]+(?:,[^,|]+)*"

# JSON (object/list): the common shallow shapes only -- strings without '#' (an escape would
# need decoding), control characters or surrogate \\u escapes; numbers without exponent;
# values nested two levels at most. Anything else is left to json_valid.
_JSTR = (r'"(?:[^"\\#|\x00-\x1f]|\\["\\/bfnrt]'
         r'|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*"')
_JNUM = r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?"
_JSCALAR = rf"(?:{_JSTR}|{_JNUM}|true|false|null)"


def _jarray(v: str) -> str:
    return rf"\[ *(?:{v} *(?:, *{v} *)*)?\]"


def _jobject(v: str) -> str:
    return rf"\{{ *(?:{_JSTR} *: *{v} *(?:, *{_JSTR} *: *{v} *)*)?\}}"


_JVALUE = rf"(?:{_JSCALAR}|{_jarray(_JSCALAR)}|{_jobject(_JSCALAR)})"

_PATTERNS = {"int": _INT, "number": _NUMBER, "bool": _BOOL, "date": _DATE, "array": _ARRAY,
             "object": _jobject(_JVALUE), "list": _jarray(_JVALUE)}

#: the field types with a pattern (string accepts anything)
FAST_TYPES = frozenset(_PATTERNS)


def fast_pattern(ftype: str) -> str:
    """The conservative RE2/Python pattern of a non-empty valid ``ftype`` value.

    >>> fast_pattern("bool")
    '[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[01]'
    """
    return _PATTERNS[ftype]


def line_pattern(types: list[str], key_indexes: list[int]) -> str:
    r"""The conservative pattern of a whole 10 row: ``10|`` then one value per field, ``|`` at the end optional.

    String fields (and unknown types) accept anything but ``|``; key fields
    must not be empty; the other types follow :func:`fast_pattern`.

    >>> line_pattern(["string", "int"], [0]) == r"10\|[^|]+\|(?:[+-]?[0-9]{1,18})?\|?"
    True
    """
    parts = []
    for i, ftype in enumerate(types):
        key = i in key_indexes
        if ftype in FAST_TYPES:
            parts.append(f"(?:{fast_pattern(ftype)})" if key else f"(?:{fast_pattern(ftype)})?")
        else:
            parts.append("[^|]+" if key else "[^|]*")
    return r"10\|" + r"\|".join(parts) + r"\|?"
