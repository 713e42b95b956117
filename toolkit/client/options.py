"""The options of an import, as one typed, checked object.

A misspelt or mistyped option fails at once, before any file is read:

    >>> options = ImportOptions(workspace="ws-eu", force=True)
    >>> options.force, options.wait
    (True, True)
    >>> ImportOptions.merge(None, workspace="ws-eu", forse=True)
    Traceback (most recent call last):
    ...
    toolkit.errors.ConfigError: Unknown import option 'forse' (did you mean 'force'?)

``ImportClient.import_file``, ``toolkit.import_file`` and
:func:`~toolkit.client.pipeline.run_import` take an ``ImportOptions`` or its
fields as keywords (typed for checkers by :class:`ImportKeywords`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

from toolkit.errors import ConfigError

__all__ = ["ImportOptions", "ImportKeywords", "UPLOAD_OPTION_NAMES"]

#: Options sent with the upload request (portal API only).
UPLOAD_OPTION_NAMES = ("folder", "category", "tags", "metadata", "action_id", "description")

_TEXT = ("workspace", "entity_type", "bucket_id", "customer", "datasource", "action", "reference_id",
         "file_name", "folder", "category", "action_id", "description")
_FLAGS = ("force", "wait", "progress", "raise_on_failure")


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    """How to import one file.

    Target: ``workspace`` (default: the file's 01 row, which must match it).
    Converting CSV/Parquet/a DataFrame to cc5 (for a cc5 file they come from
    its 01 row): ``entity_type``, ``keys``, ``bucket_id``, ``customer``,
    ``datasource``, ``action``, ``reference_id``, ``types``, ``file_name``.
    Behaviour: ``force`` uploads despite file-level errors; ``wait=False``
    returns once the import is triggered; ``timeout`` is the seconds to wait
    for its end; ``progress`` shows tqdm bars (when no progress callback is
    given); ``raise_on_failure`` raises :class:`~toolkit.errors.ImportFailed`
    on a FAILED or DELETED end. Portal API only: ``folder``, ``category``,
    ``tags``, ``metadata``, ``action_id``, ``description``.

        >>> ImportOptions(workspace="ws-eu", keys="code").upload_fields()
        {}
        >>> ImportOptions(timeout=0)
        Traceback (most recent call last):
        ...
        toolkit.errors.ConfigError: Import option timeout must be a number of seconds > 0, not 0
    """

    workspace: str | None = None
    entity_type: str | None = None
    keys: Sequence[str] | str | None = None
    bucket_id: str | None = None
    customer: str | None = None
    datasource: str | None = None
    action: str | None = None
    reference_id: str | None = None
    types: Mapping[str, str] | None = None
    file_name: str | None = None
    force: bool = False
    wait: bool = True
    timeout: float = 600.0
    progress: bool = True
    raise_on_failure: bool = True
    folder: str | None = None
    category: str | None = None
    tags: Sequence[str] | None = None
    metadata: Mapping[str, Any] | None = None
    action_id: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        for name in _TEXT:
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"Import option {name} must be text, not {type(value).__name__} {value!r}")
        for name in _FLAGS:
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise ConfigError(f"Import option {name} must be True or False, not {value!r}")
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ConfigError(f"Import option timeout must be a number of seconds > 0, not {timeout!r}")
        keys = self.keys
        if keys is not None and not isinstance(keys, str) and (
            not isinstance(keys, Sequence) or not all(isinstance(k, str) for k in keys)
        ):
            raise ConfigError(f"Import option keys must be a column name or a list of them, not {keys!r}")
        if self.types is not None and not isinstance(self.types, Mapping):
            raise ConfigError(f"Import option types must map field names to types, not {self.types!r}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every option's name.

        >>> ImportOptions.names()[:3]
        ('workspace', 'entity_type', 'keys')
        """
        return tuple(f.name for f in fields(cls))

    @classmethod
    def merge(cls, options: ImportOptions | None = None, **keywords: Any) -> ImportOptions:
        """``options`` (or the defaults) with ``keywords`` applied; ``None`` keywords change nothing.

        Raises :class:`~toolkit.errors.ConfigError` naming an unknown option.

            >>> ImportOptions.merge(ImportOptions(force=True), workspace="ws-eu").force
            True
        """
        known = cls.names()
        for name in keywords:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known options: {', '.join(known)}"
                raise ConfigError(f"Unknown import option {name!r}{hint}")
        changes = {name: value for name, value in keywords.items() if value is not None}
        return replace(options, **changes) if options is not None else cls(**changes)

    def upload_fields(self) -> dict[str, Any]:
        """The portal's upload-request options that are set."""
        return {name: getattr(self, name) for name in UPLOAD_OPTION_NAMES if getattr(self, name) is not None}

    def convert_fields(self) -> dict[str, Any]:
        """The ``write_cc5`` settings beyond the entity metadata, those that are set."""
        names = ("customer", "datasource", "action", "reference_id", "types")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class ImportKeywords(TypedDict, total=False):
    """:class:`ImportOptions`' fields as keyword arguments, for type checkers
    (``**options: Unpack[ImportKeywords]``); ``workspace`` is a parameter of its own."""

    entity_type: str | None
    keys: Sequence[str] | str | None
    bucket_id: str | None
    customer: str | None
    datasource: str | None
    action: str | None
    reference_id: str | None
    types: Mapping[str, str] | None
    file_name: str | None
    force: bool
    wait: bool
    timeout: float
    progress: bool
    raise_on_failure: bool
    folder: str | None
    category: str | None
    tags: Sequence[str] | None
    metadata: Mapping[str, Any] | None
    action_id: str | None
    description: str | None
