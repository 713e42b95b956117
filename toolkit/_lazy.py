"""Lazy module attributes (PEP 562): heavy modules load on first use.

A name whose module needs an extra says so in one line when the extra is
missing (:class:`~toolkit.errors.MissingExtra`), instead of an ImportError
from deep inside.

    >>> __getattr__ = lazy_getattr("toolkit", {"validate": "toolkit.cc5"}, globals())  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from toolkit._extras import require_extra

__all__ = ["lazy_getattr"]


def lazy_getattr(
    package: str,
    table: Mapping[str, str],
    namespace: dict[str, Any],
    *,
    extras: Mapping[str, str] | None = None,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing ``table[name]`` on first access and
    caching the value in the module's ``namespace``. ``extras`` maps a module
    of ``table`` to the extra it needs."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        extra = (extras or {}).get(module)
        if extra is not None:
            require_extra(extra, what=f"{package}.{name}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
