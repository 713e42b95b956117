"""``toolkit import|status|list|rejected|delete``: the import client on the command line.

Each command builds an :class:`~toolkit.client.ImportClient` from ``--url``,
``--key`` and ``--api`` (falling back to ``TOOLKIT_API_URL``,
``TOOLKIT_API_KEY`` and ``TOOLKIT_API``), makes one library call and prints
the result. A FAILED import exits 1; configuration and connection errors exit 2.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from toolkit.cli._exits import EXIT_FAILED
from toolkit.errors import ConfigError

__all__ = ["register", "import_command", "status_command", "list_command", "rejected_command", "delete_command"]

_NO_URL = (
    "No API URL configured: set TOOLKIT_API_URL or pass --url (and the key with TOOLKIT_API_KEY or --key). "
    "The embedded service only lives inside one Python process, so for the CLI run `toolkit serve` "
    "in another terminal and use the URL and key it prints."
)

UrlOption = Annotated[
    Optional[str], typer.Option("--url", envvar="TOOLKIT_API_URL", show_envvar=True, help="Base URL of the import API.")
]
KeyOption = Annotated[
    Optional[str],
    typer.Option("--key", envvar="TOOLKIT_API_KEY", show_envvar=True, help="API key.", show_default=False),
]
ApiOption = Annotated[
    Optional[str],
    typer.Option(
        "--api", envvar="TOOLKIT_API", show_envvar=True, help="Which API: portal or imports (default portal)."
    ),
]
FileIdArgument = Annotated[str, typer.Argument(help="The file id (f_...).", show_default=False)]


def _client(url: str | None, key: str | None, api: str | None) -> Any:
    from toolkit.client import ImportClient

    if not url:  # typer already looked at TOOLKIT_API_URL
        raise ConfigError(_NO_URL)
    return ImportClient(url, key, api)


def _when(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, default=_jsonable, indent=2))


def _print_record(record: Any) -> None:
    rows = [(name, _when(value)) for name, value in record.to_dict().items()]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        typer.echo(f"{name.ljust(width)}  {value}")


def import_command(
    file: Annotated[
        Path,
        typer.Argument(help="A cc5 file, or a CSV/Parquet file with --entity, --keys, --bucket.", show_default=False),
    ],
    workspace: Annotated[
        str,
        typer.Option(
            "--workspace", "-w", help="Workspace to import into (the file's 01 row must name it).", show_default=False
        ),
    ],
    entity: Annotated[
        Optional[str], typer.Option("--entity", help="Entity type (CSV/Parquet input; cc5: from the 01 row).")
    ] = None,
    keys: Annotated[
        Optional[str], typer.Option("--keys", help="Comma-separated primary key fields (CSV/Parquet input).")
    ] = None,
    bucket: Annotated[
        Optional[str], typer.Option("--bucket", help="Bucket id (CSV/Parquet input; cc5: from the 01 row).")
    ] = None,
    customer: Annotated[
        Optional[str], typer.Option("--customer", help="Customer code for the 00 row (CSV/Parquet input).")
    ] = None,
    datasource: Annotated[
        Optional[str], typer.Option("--datasource", help="Datasource code (CSV/Parquet input).")
    ] = None,
    action: Annotated[Optional[str], typer.Option("--action", help="Action code (CSV/Parquet input).")] = None,
    async_: Annotated[
        bool, typer.Option("--async", help="Return once the import is triggered; check it with `toolkit status`.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Upload even if local validation finds file-level errors.")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the import to end.")] = 600.0,
    output_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars on stderr.")] = True,
    url: UrlOption = None,
    key: KeyOption = None,
    api: ApiOption = None,
) -> None:
    """Validate FILE, upload it, trigger the import and wait for its end.

    Exit code 0 when the import FINISHED (rows may have been rejected: see
    `toolkit rejected`), 1 when the file has file-level errors or the import
    FAILED, 2 on configuration or connection errors.
    """
    with _client(url, key, api) as client:
        result = client.import_file(
            file,
            workspace,
            entity_type=entity,
            bucket_id=bucket,
            keys=[k.strip() for k in keys.split(",") if k.strip()] if keys else None,
            customer=customer,
            datasource=datasource,
            action=action,
            force=force,
            wait=not async_,
            timeout=timeout,
            progress=progress,
        )
    if output_json:
        _print_json(result.to_dict())
        return
    typer.echo(result.summary())
    timings = [
        ("validate", result.validate_seconds),
        ("convert", result.convert_seconds),
        ("upload", result.upload_seconds),
        ("wait", result.wait_seconds),
    ]
    typer.echo(
        "time: "
        + ", ".join(f"{name} {secs:.2f} s" for name, secs in timings if secs is not None)
        + (f"; processing {result.processing_seconds:.2f} s" if result.processing_seconds is not None else "")
    )
    if async_ and not result.record.is_terminal:
        typer.echo(f"Check it with: toolkit status {result.file_id}")
    if result.failure_count:
        typer.echo(f"Rejected rows: toolkit rejected {result.file_id} -o rejected.csv")


def status_command(
    file_id: FileIdArgument,
    output_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    api: ApiOption = None,
) -> None:
    """Show a file's import record. Exits 1 when the import FAILED."""
    with _client(url, key, api) as client:
        record = client.status(file_id)
    if output_json:
        _print_json(record.to_dict())
    else:
        _print_record(record)
    if record.status == "FAILED":
        raise typer.Exit(EXIT_FAILED)


_TABLE_COLUMNS = [
    "file_id",
    "status",
    "stream_name",
    "entity_type",
    "file_name",
    "successful_count",
    "failure_count",
    "failure_code",
    "date_created",
]


def list_command(
    status: Annotated[
        Optional[list[str]], typer.Option("--status", "-s", help="Only these statuses (repeatable).")
    ] = None,
    workspace: Annotated[
        Optional[list[str]], typer.Option("--workspace", "-w", help="Only these workspaces (repeatable).")
    ] = None,
    since: Annotated[
        Optional[str], typer.Option("--since", help="Created within (7d, 12h, 30m) or after an ISO date.")
    ] = None,
    until: Annotated[
        Optional[str], typer.Option("--until", help="Created before (a duration ago or an ISO date).")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    output_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    api: ApiOption = None,
) -> None:
    """List import files, newest first (every page is fetched)."""
    if output_json:
        output_format = "json"
    if output_format not in ("table", "csv", "json"):
        raise typer.BadParameter("must be table, csv or json", param_hint="--format")
    with _client(url, key, api) as client:
        frame = client.list_imports(statuses=status, workspaces=workspace, created_after=since, created_before=until)
    if output_format == "csv":
        frame.to_csv(sys.stdout, index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
        return
    plain = frame.astype(object).where(frame.notna(), None)  # pd.NA / NaT -> None
    if output_format == "json":
        _print_json(plain.to_dict(orient="records"))
    elif frame.empty:
        typer.echo("No files.")
    else:
        typer.echo(plain[_TABLE_COLUMNS].map(_when).to_string(index=False))
        typer.echo(f"{len(frame)} file(s)")


def rejected_command(
    file_id: FileIdArgument,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="CSV file to write (default: stdout).")
    ] = None,
    output_json: Annotated[
        bool, typer.Option("--json", help="With --output: print the file id, path and row count as JSON.")
    ] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    api: ApiOption = None,
) -> None:
    """Save a file's rejected rows (line, error, then the row's values) as CSV."""
    with _client(url, key, api) as client:
        if output is None:
            client.save_rejected(file_id, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        rows = client.save_rejected(file_id, output)
    if output_json:
        _print_json({"file_id": file_id, "output": str(output), "rows": rows})
    else:
        typer.echo(f"Wrote {rows} rejected row(s) of {file_id} to {output}")


def delete_command(
    file_id: FileIdArgument,
    output_json: Annotated[bool, typer.Option("--json", help="Print the final record as JSON.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    api: ApiOption = None,
) -> None:
    """Delete a file: its upload and imported file are removed (rows already applied stay)."""
    with _client(url, key, api) as client:
        record = client.delete(file_id)
    if output_json:
        _print_json(record.to_dict())
    else:
        typer.echo(f"{record.file_id} {record.status}")


def register(app: typer.Typer) -> None:
    """Add ``import``, ``status``, ``list``, ``rejected`` and ``delete`` to ``app``."""
    app.command("import")(import_command)
    app.command("status")(status_command)
    app.command("list")(list_command)
    app.command("rejected")(rejected_command)
    app.command("delete")(delete_command)
