"""Run the service in-process (notebooks, tests, the app) or as ``toolkit serve``,
with an embedded moto S3 server when no S3 endpoint is configured.
Everything listens on 127.0.0.1 only.

    >>> import toolkit
    >>> with toolkit.local_service() as svc:                          # doctest: +SKIP
    ...     print(svc.url, svc.s3_endpoint)
    http://127.0.0.1:41237 http://127.0.0.1:40111
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from toolkit.errors import ConfigError
from toolkit.service.config import ApiKey, ServiceConfig, load_config
from toolkit.service.runtime import Service

__all__ = ["LocalService", "local_service", "serve", "EmbeddedS3", "ServerThread"]

log = logging.getLogger("toolkit.service")
EMBEDDED_KEY_ID = "toolkit-local"
EMBEDDED_SECRET = "toolkit-local-secret"


def _tcp_socket(family: int) -> socket.socket:
    """A listening-to-be TCP socket. The explicit IPPROTO_TCP matters: asyncio
    sets TCP_NODELAY only on sockets that say so, and without it every
    response waits ~40 ms for a delayed ACK (Nagle)."""
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


class EmbeddedS3:
    """moto's S3 server on 127.0.0.1 and a free port, in a thread."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        # moto logs every request through werkzeug: keep that out of users' consoles.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        """Shut the server down."""
        self._server.stop()


class ServerThread:
    """uvicorn serving ``app`` from a thread on a socket bound before start,
    so the port is known (port 0 picks a free one)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = _tcp_socket(socket.AF_INET)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
        self.host, self.port = self._socket.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="toolkit-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        """The base URL clients use."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        waited = threading.Event()
        for _ in range(int(timeout / 0.02)):
            if self._server.started or not self._thread.is_alive():
                break
            waited.wait(0.02)
        if not self._server.started:
            raise ConfigError(f"The service did not start on {self.url}")

    def stop(self) -> None:
        """Ask uvicorn to exit and wait for it."""
        self._server.should_exit = True
        self._thread.join(15)
        self._socket.close()


@dataclass
class LocalService:
    """A running service: where it is and how to talk to it.

    ``api_key`` is allowed every workspace and stream.
    """

    url: str
    api_key: str
    s3_endpoint: str
    store_path: Path
    bucket: str
    service: Service = field(repr=False)

    def read_table(self, workspace_id: str, entity_type: str) -> Any:
        """The rows imported for ``workspace_id``/``entity_type`` as a pandas DataFrame
        (None if nothing was imported for them yet)."""
        relation = self.service.store.read_table(workspace_id, entity_type)
        return None if relation is None else relation.df()


def prepare_config(config: ServiceConfig) -> tuple[ServiceConfig, EmbeddedS3 | None, str | None]:
    """Start an embedded S3 if none is configured and make sure there is a key.

    Returns the config, the embedded S3 (or None) and the generated key (or None).
    """
    embedded = None
    if not config.s3_endpoint:
        embedded = EmbeddedS3()
        config.s3_endpoint = embedded.endpoint
        config.s3_access_key_id = config.s3_access_key_id or EMBEDDED_KEY_ID
        config.s3_secret_access_key = config.s3_secret_access_key or EMBEDDED_SECRET
    generated = None
    if not config.api_keys:
        generated = "tk_" + secrets.token_urlsafe(24)
        config.api_keys = {generated: ApiKey(generated, frozenset({"*"}), name="local")}
    return config, embedded, generated


@contextmanager
def local_service(
    store: str | Path | None = None,
    *,
    s3_endpoint: str | None = None,
    config: ServiceConfig | None = None,
    clock: Callable[[], float] | None = None,
    **settings: Any,
) -> Iterator[LocalService]:
    """Run the service in this process until the block ends.

    ``store`` None keeps the DuckDB store in a temporary directory; without
    ``s3_endpoint`` an embedded moto S3 server is started. Other keyword
    arguments are ServiceConfig settings (``max_file_bytes``,
    ``url_expiry_seconds``, ``workers``...). A random local API key allowed
    every workspace is added to the configured ones. ``clock`` replaces
    ``time.time`` for the records' times (the demo backdates its history).

    >>> with local_service(max_file_bytes=10_000_000) as svc:     # doctest: +SKIP
    ...     svc.url, svc.api_key
    """
    cfg = config or load_config(env={}, **settings)
    if store is not None:
        cfg.store = Path(store)
    if s3_endpoint is not None:
        cfg.s3_endpoint = s3_endpoint
        cfg.s3_access_key_id = cfg.s3_access_key_id or EMBEDDED_KEY_ID
        cfg.s3_secret_access_key = cfg.s3_secret_access_key or EMBEDDED_SECRET
    cfg.port = 0
    local_key = "tk_" + secrets.token_urlsafe(24)
    cfg.api_keys = {**cfg.api_keys, local_key: ApiKey(local_key, frozenset({"*"}), name="local")}
    cfg, embedded, _ = prepare_config(cfg)
    service = server = None
    try:
        service = Service(cfg) if clock is None else Service(cfg, clock=clock)
        service.start()
        server = ServerThread(service.app, "127.0.0.1", 0)
        server.start()
        yield LocalService(url=server.url, api_key=local_key, s3_endpoint=cfg.s3_endpoint or "",
                           store_path=Path(cfg.store or ""), bucket=cfg.s3_bucket, service=service)
    finally:
        if server is not None:
            server.stop()
        if service is not None:
            service.close()
        if embedded is not None:
            embedded.stop()


def serve(
    config_file: str | Path | None = None,
    *,
    announce: Any = print,
    **overrides: Any,
) -> None:
    """Run the service in the foreground until SIGINT/SIGTERM (``toolkit serve``).

    Settings come from defaults < ``config_file`` < ``TOOLKIT_*`` environment
    < ``overrides``; the store defaults to ``.toolkit/service.duckdb``.
    ``announce`` receives the lines to show once the service is up.

    >>> serve(port=8000, store="service.duckdb")      # doctest: +SKIP
    """
    cfg = load_config(config_file, **overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if cfg.store is None:
        cfg.store = Path(".toolkit") / "service.duckdb"
    from toolkit.service.worker_process import check_shared_deployment

    check_shared_deployment(cfg, "toolkit serve")
    cfg, embedded, generated = prepare_config(cfg)
    service = None
    try:
        service = Service(cfg)
        sock = _tcp_socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET)
        try:
            sock.bind((cfg.host, cfg.port))
        except OSError as exc:
            raise ConfigError(f"Cannot listen on {cfg.host}:{cfg.port}: {exc.strerror}") from None
        sock.listen(2048)  # connections queue from now on, even before uvicorn runs
        host, port = sock.getsockname()[:2]
        service.start()
        announce(f"toolkit service on http://{host}:{port}  (OpenAPI: http://{host}:{port}/openapi.json)")
        store = str(cfg.store)
        if cfg.postgres:
            from toolkit.service.postgres_store import redact_url

            store = redact_url(store) + ("  (API only: imports run in `toolkit worker`)" if cfg.workers == 0 else "")
        announce(f"store: {store}")
        announce(f"S3: {cfg.s3_endpoint} bucket {cfg.s3_bucket}" + (" (embedded, in memory)" if embedded else ""))
        if generated:
            announce(f"API key (all workspaces): {generated}")
        server = uvicorn.Server(uvicorn.Config(service.app, log_level="info", lifespan="off",
                                               timeout_graceful_shutdown=5))
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled: stopping is the normal end
            pass
        sock.close()
        announce("toolkit service stopped")
    finally:
        if service is not None:
            service.close()
        if embedded is not None:
            embedded.stop()
