"""``toolkit import-data``: send a file's rows through the portal's Import Data call.

One library call (:meth:`~toolkit.client.ImportClient.import_data`), its
result printed like ``toolkit import``'s. Exit 0 when the import FINISHED,
1 when the file has errors or the import FAILED, 2 on usage, configuration
or connection errors (the imports API has no Import Data call: exit 2).

    $ toolkit import-data customers.cc5txt --json
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from toolkit.cli._exits import EXIT_FAILED
from toolkit.cli.client_commands import ApiOption, KeyOption, UrlOption, _client, _print_json
from toolkit.errors import ConfigError

__all__ = ["register", "import_data_command", "parse_types", "parse_dictionaries"]


def parse_types(text: str | None) -> dict[str, str] | None:
    """``"code:type,code:type"`` -> ``{code: type}``.

    >>> parse_types("customer_code:string, credit:number")
    {'customer_code': 'string', 'credit': 'number'}
    """
    if not text:
        return None
    types: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        code, sep, kind = item.partition(":")
        if not item:
            continue
        if not sep or not code.strip() or not kind.strip():
            raise ConfigError(f"--types: {item!r} is not CODE:TYPE")
        types[code.strip()] = kind.strip()
    return types


def parse_dictionaries(items: list[str] | None) -> dict[str, dict[str, str]] | None:
    """Repeated ``FIELD:FROM=TO`` -> ``{field: {from: to}}``.

    >>> parse_dictionaries(["tier:G=gold", "tier:S=silver"])
    {'tier': {'G': 'gold', 'S': 'silver'}}
    """
    if not items:
        return None
    dictionaries: dict[str, dict[str, str]] = {}
    for item in items:
        field, sep, pair = item.partition(":")
        raw, eq, stored = pair.partition("=")
        if not sep or not eq or not field:
            raise ConfigError(f"--dictionary: {item!r} is not FIELD:FROM=TO")
        dictionaries.setdefault(field, {})[raw] = stored
    return dictionaries


def import_data_command(
    file: Annotated[
        Path,
        typer.Argument(help="A cc5 file, a JSON Import Data body, or a CSV file with --workspace, --entity, "
                       "--keys.", show_default=False),
    ],
    workspace: Annotated[
        Optional[str],
        typer.Option("--workspace", "-w", help="Workspace (CSV: required; cc5/JSON: must be the file's)."),
    ] = None,
    entity: Annotated[Optional[str], typer.Option("--entity", help="Entity type (CSV input).")] = None,
    keys: Annotated[
        Optional[str], typer.Option("--keys", help="Comma-separated primary key fields (CSV input).")
    ] = None,
    types: Annotated[
        Optional[str], typer.Option("--types", help="Field types, e.g. code:string,credit:number (CSV input; "
                                    "default string).")
    ] = None,
    dictionary: Annotated[
        Optional[list[str]],
        typer.Option("--dictionary", help="A value mapping FIELD:FROM=TO applied by the service (repeatable)."),
    ] = None,
    bucket: Annotated[Optional[str], typer.Option("--bucket", help="Bucket id (CSV input).")] = None,
    customer: Annotated[Optional[str], typer.Option("--customer", help="Customer (CSV input).")] = None,
    datasource: Annotated[Optional[str], typer.Option("--datasource", help="Data source (CSV input).")] = None,
    action: Annotated[Optional[str], typer.Option("--action", help="Flow type / action code (CSV input).")] = None,
    instance: Annotated[Optional[str], typer.Option("--instance", help="InstanceId (CSV input).")] = None,
    max_bytes: Annotated[
        Optional[int], typer.Option("--max-bytes", help="Refuse a body larger than this (the service's limit).")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the answer.")] = 600.0,
    output_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    url: UrlOption = None,
    key: KeyOption = None,
    api: ApiOption = None,
) -> None:
    """Import FILE's rows through the portal's Import Data call (POST /appfile/file/import/data).

    Exit code 0 when the import FINISHED, 1 when the file has errors or the
    import FAILED, 2 on configuration or connection errors.
    """
    table: dict[str, Any] = dict(
        entity_type=entity, keys=[k.strip() for k in keys.split(",") if k.strip()] if keys else None,
        types=parse_types(types), bucket_id=bucket, customer=customer, datasource=datasource, action=action,
        instance_id=instance,
    )
    options = {name: value for name, value in table.items() if value is not None}
    dictionaries = parse_dictionaries(dictionary)
    if dictionaries:
        options["dictionaries"] = dictionaries
    with _client(url, key, api) as client:
        result = client.import_data(file, workspace, timeout=timeout, max_bytes=max_bytes, **options)
    if output_json:
        _print_json(result.to_dict())
    else:
        typer.echo(result.summary())
        if result.failure_count:
            typer.echo(f"Rejected rows: toolkit rejected {result.file_id} -o rejected.csv")
    if result.status != "FINISHED":
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Add ``import-data`` to ``app``."""
    app.command("import-data")(import_data_command)
