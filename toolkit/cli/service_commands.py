"""``toolkit serve`` (the reference import service in the foreground) and
``toolkit worker`` (imports only, for a deployment on PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["register", "serve", "worker"]

_STORE_HELP = ("DuckDB store file (default .toolkit/service.duckdb), or a PostgreSQL URL "
               "postgresql://user@host:port/db shared by API instances and workers")


def serve(
    host: Annotated[Optional[str], typer.Option(help="Interface to listen on (default 127.0.0.1)")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (0: any free port) (default 8000)")] = None,
    store: Annotated[Optional[str], typer.Option(help=_STORE_HELP)] = None,
    s3_endpoint: Annotated[Optional[str], typer.Option(
        help="S3 endpoint URL; without it an embedded S3 (moto) runs on 127.0.0.1")] = None,
    bucket: Annotated[Optional[str], typer.Option(help="S3 bucket (default toolkit-imports)")] = None,
    config: Annotated[Optional[Path], typer.Option(
        help="TOML or JSON config file (settings and an api_keys table)")] = None,
    max_file_bytes: Annotated[Optional[int], typer.Option(help="Largest accepted file (default 300000000)")] = None,
    url_expiry: Annotated[Optional[int], typer.Option(help="Upload URL lifetime in seconds (default 900)")] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="Import threads (default 2); 0 with a PostgreSQL store: answer the APIs only")] = None,
) -> None:
    """Run the import service (portal and imports APIs) until Ctrl-C.

    Keys come from TOOLKIT_API_KEYS or the config file; without any, a key
    allowed every workspace is generated and printed.
    """
    from toolkit._extras import require_extra

    require_extra("service", what="toolkit serve")
    from toolkit.service.local import serve as run_service

    run_service(config, announce=typer.echo, host=host, port=port, store=store, s3_endpoint=s3_endpoint,
                s3_bucket=bucket, max_file_bytes=max_file_bytes, url_expiry_seconds=url_expiry,
                workers=workers)


def worker(
    store: Annotated[Optional[str], typer.Option(help="PostgreSQL URL postgresql://user@host:port/db")] = None,
    s3_endpoint: Annotated[Optional[str], typer.Option(help="S3 endpoint URL (shared by every process)")] = None,
    bucket: Annotated[Optional[str], typer.Option(help="S3 bucket (default toolkit-imports)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML or JSON config file (as for serve)")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Import threads of this process (default 2)")] = None,
    max_file_bytes: Annotated[Optional[int], typer.Option(help="Largest accepted file (default 300000000)")] = None,
) -> None:
    """Import QUEUED files from a PostgreSQL store until Ctrl-C or SIGTERM
    (no HTTP): run any number of them next to `toolkit serve --workers 0`."""
    from toolkit._extras import require_extra

    require_extra("service", what="toolkit worker")
    require_extra("postgres", what="toolkit worker")
    from toolkit.service.worker_process import run_worker

    run_worker(config, announce=typer.echo, store=store, s3_endpoint=s3_endpoint, s3_bucket=bucket,
               workers=workers, max_file_bytes=max_file_bytes)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``worker`` to ``app``."""
    app.command("serve")(serve)
    app.command("worker")(worker)
