"""Optional parts of the toolkit and the extra that installs each.

The core install (``pip install toolkit``) is the cc5 engine and the client.
Code that needs an extra checks for it first, so a missing one is one line
naming what to install, not an ``ImportError`` traceback:

    >>> require_extra("core", what="Validating")   # the core is always there
    >>> EXTRAS["service"][:2]
    ('fastapi', 'uvicorn')
"""

from __future__ import annotations

import importlib.util

from toolkit.errors import MissingExtra

__all__ = ["EXTRAS", "require_extra", "missing_modules", "extra_for_module"]

#: The modules each extra brings (import names, not distribution names).
EXTRAS: dict[str, tuple[str, ...]] = {
    "core": ("duckdb", "pyarrow", "numpy", "pandas", "httpx", "tqdm", "typer"),
    "service": ("fastapi", "uvicorn", "boto3", "moto"),
    "app": ("streamlit", "plotly"),
    "postgres": ("psycopg", "psycopg_pool"),
}


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here.

    >>> missing_modules("core")
    []
    """
    missing = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package is broken or blocked
            found = False
        if not found:
            missing.append(module)
    return missing


def extra_for_module(name: str) -> str | None:
    """The optional extra that brings module ``name`` (None: the core, or not the toolkit's).

    >>> extra_for_module("moto.server"), extra_for_module("pandas")
    ('service', None)
    """
    top = name.split(".")[0]
    return next((extra for extra, modules in EXTRAS.items() if extra != "core" and top in modules), None)


def require_extra(extra: str, *, what: str) -> None:
    """Raise :class:`~toolkit.errors.MissingExtra` when ``extra`` is not installed.

    ``what`` names the feature, as the user asked for it (``"toolkit serve"``).
    """
    missing = missing_modules(extra)
    if missing:
        raise MissingExtra(
            f"{what} needs the {extra} extra (missing {', '.join(missing)}): pip install 'toolkit[{extra}]'",
            extra=extra,
        )
