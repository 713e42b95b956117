"""Configuration of the reference import service: defaults, a config file,
environment variables and explicit overrides, in rising priority.

    >>> cfg = load_config(env={"TOOLKIT_API_KEYS": '{"k1": {"workspaces": ["ws-a"]}}'})
    >>> cfg.api_keys["k1"].allows("ws-a"), cfg.api_keys["k1"].allows("ws-b")
    (True, False)
    >>> cfg.max_file_bytes
    300000000

Environment variables (all optional): ``TOOLKIT_STORE``, ``TOOLKIT_HOST``,
``TOOLKIT_PORT``, ``TOOLKIT_S3_ENDPOINT``, ``TOOLKIT_S3_PUBLIC_ENDPOINT``,
``TOOLKIT_S3_REGION``, ``TOOLKIT_S3_BUCKET``, ``TOOLKIT_S3_ACCESS_KEY_ID``,
``TOOLKIT_S3_SECRET_ACCESS_KEY``, ``TOOLKIT_MAX_FILE_BYTES``,
``TOOLKIT_URL_EXPIRY_SECONDS``, ``TOOLKIT_UPLOAD_GRACE_SECONDS``,
``TOOLKIT_WORKERS``, ``TOOLKIT_S3_POST_SIGNATURE``,
``TOOLKIT_BODY_READ_TIMEOUT_SECONDS``, ``TOOLKIT_MAX_ATTEMPTS``, ``TOOLKIT_API_KEYS`` (JSON) and ``TOOLKIT_SERVICE_CONFIG``
(path of a TOML or JSON config file using the same names in lower case
without the prefix, plus an ``[api_keys]`` table).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError

__all__ = [
    "ApiKey",
    "ServiceConfig",
    "load_config",
    "parse_api_keys",
    "WORKSPACE_PATTERN",
    "WORKSPACE_RE",
    "DEFAULT_MAX_FILE_BYTES",
]

DEFAULT_MAX_FILE_BYTES = 300_000_000
# Workspace ids end up in S3 keys and table names: keep them to a safe alphabet.
WORKSPACE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
WORKSPACE_RE = re.compile(WORKSPACE_PATTERN)
_ALL = "*"


@dataclass(frozen=True)
class ApiKey:
    """One API key and the workspaces (= imports-API streams) it may use.

    >>> ApiKey("k", frozenset({"*"})).allows("anything")
    True
    """

    key: str
    workspaces: frozenset[str]
    name: str = ""

    @property
    def all_workspaces(self) -> bool:
        """True when the key may use every workspace (``"*"``)."""
        return _ALL in self.workspaces

    def allows(self, workspace: str | None) -> bool:
        """Whether this key may see files of ``workspace``."""
        return self.all_workspaces or (workspace is not None and workspace in self.workspaces)

    def visible(self, requested: Iterable[str] | None) -> list[str] | None:
        """The workspaces a listing may show: ``None`` means no restriction.

        >>> ApiKey("k", frozenset({"a", "b"})).visible(["b", "c"])
        ['b']
        """
        if requested is None:
            return None if self.all_workspaces else sorted(self.workspaces)
        wanted = list(dict.fromkeys(requested))
        return wanted if self.all_workspaces else [w for w in wanted if w in self.workspaces]


@dataclass
class ServiceConfig:
    """Everything the service needs to run; see the module docstring for names.

    ``store`` None means a DuckDB file in a fresh temporary directory;
    ``s3_endpoint`` None means an embedded moto S3 server on 127.0.0.1.
    """

    store: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    s3_endpoint: str | None = None
    s3_public_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_bucket: str = "toolkit-imports"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # The portal's data-sync-file-upload page: a signed URL is valid for 15 minutes.
    url_expiry_seconds: int = 900
    # An upload that started before expiry may finish after it; and clocks drift.
    upload_grace_seconds: float = 300.0
    workers: int = 2
    watch_interval_seconds: float = 0.5
    max_findings_per_file: int = 10_000
    # Pre-signed POST form of the imports API: "s3" gives the documented fields
    # (AWSAccessKeyId, key, policy, signature); "s3v4" gives SigV4's.
    s3_post_signature: str = "s3"
    # Seconds a request body may take between two received parts (slow clients).
    body_read_timeout_seconds: float = 30.0
    # Imports of a file that crashed or exhausted the service: after this many
    # started attempts it ends FAILED with TOO_MANY_ATTEMPTS.
    max_attempts: int = 3
    api_keys: dict[str, ApiKey] = field(default_factory=dict)

    def validate(self) -> "ServiceConfig":
        """Check value ranges; raises ConfigError naming the setting."""
        checks = [
            ("port", 0 <= self.port <= 65535, "must be between 0 and 65535"),
            ("max_file_bytes", self.max_file_bytes > 0, "must be positive"),
            ("url_expiry_seconds", 1 <= self.url_expiry_seconds <= 7 * 24 * 3600,
             "must be between 1 and 604800 (S3's limit)"),
            ("upload_grace_seconds", self.upload_grace_seconds >= 0, "must not be negative"),
            ("workers", 1 <= self.workers <= 16, "must be between 1 and 16"),
            ("watch_interval_seconds", self.watch_interval_seconds > 0, "must be positive"),
            ("max_findings_per_file", self.max_findings_per_file >= 0, "must not be negative"),
            ("s3_post_signature", self.s3_post_signature in ("s3", "s3v4"), "must be s3 or s3v4"),
            ("body_read_timeout_seconds", self.body_read_timeout_seconds > 0, "must be positive"),
            ("max_attempts", 1 <= self.max_attempts <= 100, "must be between 1 and 100"),
            ("s3_bucket", bool(re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", self.s3_bucket)),
             "is not a valid S3 bucket name"),
        ]
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(f"Service setting {name}={getattr(self, name)!r} {problem}")
        return self


def parse_api_keys(value: Any, *, source: str = "api_keys") -> dict[str, ApiKey]:
    """Parse ``{"key": {"workspaces": [...], "streams": [...]}}`` (JSON text or a mapping).

    A key's scope is the union of ``workspaces`` and ``streams`` (a stream is a
    workspace); ``"*"`` allows all. A bare list is accepted as the workspaces.

    >>> sorted(parse_api_keys('{"k": ["ws-a", "ws-b"]}')["k"].workspaces)
    ['ws-a', 'ws-b']
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: expected an object mapping each key to its workspaces")
    keys: dict[str, ApiKey] = {}
    for key, spec in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{source}: an API key must be a non-empty string")
        if isinstance(spec, (list, tuple)):
            spec = {"workspaces": list(spec)}
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{source}: key {key[:4]}…: expected {{\"workspaces\": [...]}}")
        scope: set[str] = set()
        for part in ("workspaces", "streams"):
            items = spec.get(part, [])
            if isinstance(items, str):
                items = [items]
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                raise ConfigError(f"{source}: key {key[:4]}…: {part} must be a list of strings")
            for item in items:
                if item != _ALL and not WORKSPACE_RE.match(item):
                    raise ConfigError(f"{source}: key {key[:4]}…: {part} entry {item!r} is not a valid workspace id")
            scope.update(items)
        if not scope:
            raise ConfigError(f"{source}: key {key[:4]}… allows no workspace")
        keys[key] = ApiKey(key=key, workspaces=frozenset(scope), name=str(spec.get("name", "")))
    return keys


_FIELDS = {f.name: f for f in dataclasses.fields(ServiceConfig)}
_CASTS: dict[str, type] = {"port": int, "max_file_bytes": int, "url_expiry_seconds": int,
                           "upload_grace_seconds": float, "workers": int,
                           "watch_interval_seconds": float, "max_findings_per_file": int,
                           "body_read_timeout_seconds": float,
                           "max_attempts": int}


def _coerce(name: str, value: Any, source: str) -> Any:
    if name == "api_keys":
        return parse_api_keys(value, source=source)
    if value is None:
        return None
    if name == "store":
        return Path(value).expanduser()
    cast = _CASTS.get(name)
    if cast is not None:
        try:
            return cast(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {name} must be a number, got {value!r}") from None
    return str(value)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read service config {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
    return data


def load_config(
    config_file: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> ServiceConfig:
    """Build a ServiceConfig: defaults < config file < environment < overrides.

    ``overrides`` whose value is None are ignored (handy for CLI options).

    >>> load_config(env={}, port=9000, store=None).port
    9000
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    file_path = config_file or env.get("TOOLKIT_SERVICE_CONFIG")
    if file_path:
        path = Path(file_path).expanduser()
        for name, value in _read_file(path).items():
            values[name] = _coerce(name, value, str(path))
    for name in _FIELDS:
        raw = env.get(f"TOOLKIT_{name.upper()}")
        if raw not in (None, ""):
            values[name] = _coerce(name, raw, f"TOOLKIT_{name.upper()}")
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise ConfigError(f"Unknown service setting {name!r}")
        if value is not None:
            values[name] = value if name == "api_keys" and isinstance(value, dict) and all(
                isinstance(v, ApiKey) for v in value.values()) else _coerce(name, value, name)
    return ServiceConfig(**values).validate()
