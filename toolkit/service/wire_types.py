"""JSON-exact field types for request models: numbers must be JSON numbers
(not strings or booleans), so the server accepts exactly what its OpenAPI
schema describes.

    >>> from pydantic import TypeAdapter
    >>> TypeAdapter(JsonInt).validate_python(5.0)
    5
    >>> TypeAdapter(JsonInt).validate_python(True)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for function-before[_json_number(), int]
      Value error, must be a JSON number [type=value_error, input_value=True, input_type=bool]
    ...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from toolkit.service.records import STATUSES

__all__ = ["JsonInt", "JsonNumber", "Status"]


def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON number")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_number)]
JsonNumber = Annotated[float, BeforeValidator(_json_number)]
Status = Literal[STATUSES]  # type: ignore[valid-type]
