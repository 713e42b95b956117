"""``toolkit validate|preview|convert``: the cc5 engine on the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from toolkit.cli._exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE

__all__ = ["register", "validate_command", "preview_command", "convert_command", "format_report"]

_SHOWN_PER_CODE = 3


def _header_lines(header: Any) -> list[str]:
    if header is None:
        return ["  header: (none)"]
    created = header.create_time.strftime("%Y-%m-%d %H:%M:%S") if header.create_time else "?"
    keys = ", ".join(header.keys) or "?"
    fields = ", ".join(f"{f.code}:{f.type}" for f in header.fields) or "?"
    return [
        f"  header:   customer {header.customer or '?'}, file type {header.file_type or '?'}, "
        f"created {created}, reference {header.reference_id or '-'}",
        f"  metadata: entity {header.entity_type or '?'}, workspace {header.workspace_id or '?'}, "
        f"bucket {header.bucket_id or '?'}, datasource {header.datasource or '-'}, action {header.action or '-'}",
        f"  keys:     {keys}",
        f"  fields:   {fields}",
    ]


def format_report(report: Any, *, per_code: int = _SHOWN_PER_CODE) -> str:
    """The readable summary ``toolkit validate`` prints."""
    from toolkit.cc5 import FINDING_CODES

    out = [report.path]
    out += _header_lines(report.header)
    out.append(f"  rows:     {report.data_rows} data (10), {report.delete_rows} delete (90), "
               f"{report.rejected_rows} rejected")
    if report.ok:
        verdict = "OK" + (" (with warnings)" if report.warning_count else "")
    elif report.importable:
        verdict = "ERRORS: the rejected rows are skipped, the other rows import"
    else:
        verdict = "NOT IMPORTABLE: file-level errors, nothing would be imported"
    out.append(f"  result:   {verdict}")
    if not report.counts:
        return "\n".join(out)
    out.append("")
    out.append(f"Findings: {report.error_count} error(s), {report.warning_count} warning(s)")
    order = {"file": 0, "row": 1, "warning": 2}
    codes = sorted(report.counts, key=lambda c: (order[FINDING_CODES[c].level], c))
    for code in codes:
        info = FINDING_CODES[code]
        n = report.counts[code]
        lines = report.first_lines(code, 5)
        word = "line" if len(lines) == 1 and n == 1 else "lines"
        where = (f"{word} " + ", ".join(map(str, lines)) + (" ..." if n > len(lines) else "")) if lines else "whole file"
        out.append(f"  {code} ({info.severity}, {info.level}) x{n}: {where}")
        for finding in report.iter_findings(code=code, limit=per_code):
            out.append(f"    {finding}")
        if n > per_code:
            out.append(f"    ... {n - per_code} more")
    return "\n".join(out)


def validate_command(
    file: Annotated[Path, typer.Argument(help="The cc5 file to check.", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    rejected: Annotated[
        Optional[Path], typer.Option("--rejected", help="Write the rejected rows to this CSV.", show_default=False)
    ] = None,
    workspace: Annotated[
        Optional[str], typer.Option("--workspace", "-w", help="Expected workspace (01 row).", show_default=False)
    ] = None,
    max_bytes: Annotated[
        Optional[int], typer.Option("--max-bytes", help="Size limit: a larger file is FILE_TOO_LARGE.")
    ] = None,
    max_findings: Annotated[int, typer.Option("--max-findings", help="Findings listed by --json.")] = 1000,
    progress: Annotated[
        Optional[bool], typer.Option("--progress/--no-progress", help="Progress bar (default: on a terminal).")
    ] = None,
) -> None:
    """Check a cc5 file: header, counts, findings by code; exit 1 when it has errors."""
    from toolkit.cc5 import validate

    report = validate(file, expected_workspace=workspace, max_bytes=max_bytes, progress=progress)
    try:
        if json_output:
            typer.echo(json.dumps(report.to_dict(max_findings=max_findings), indent=2, ensure_ascii=False))
        else:
            typer.echo(format_report(report))
        if rejected is not None:
            n = report.write_rejected(rejected)
            typer.echo(f"Wrote {n} rejected row(s) to {rejected}", err=json_output)
        code = EXIT_OK if report.ok else EXIT_FAILED
    finally:
        report.close()
    raise typer.Exit(code)


def preview_command(
    file: Annotated[Path, typer.Argument(help="The cc5 file to show.", show_default=False)],
    rows: Annotated[int, typer.Option("--rows", "-n", help="How many data rows.")] = 10,
    json_output: Annotated[bool, typer.Option("--json", help="Print the header and rows as JSON.")] = False,
) -> None:
    """Show the header and a typed table of the first data rows."""
    import pandas as pd

    from toolkit.cc5 import open_cc5

    with open_cc5(file, progress=False) as cc5:
        if json_output:
            typer.echo(json.dumps(_preview_dict(cc5, rows), indent=2, ensure_ascii=False, default=str))
            return
        typer.echo(str(file))
        for line in _header_lines(cc5.header):
            typer.echo(line)
        df = cc5.head(rows, lines=True)
        typer.echo("")
        if df.empty:
            typer.echo("(no data rows)")
            return
        types = ["type"] + [f"{f.type}" for f in cc5.header.fields]
        df.columns = ["line", *[f.code for f in cc5.header.fields]]
        with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 40):
            shown = df.astype(object).where(df.notna(), None)
            table = pd.DataFrame([types], columns=df.columns)
            typer.echo(pd.concat([table, shown], ignore_index=True).to_string(index=False))


def _preview_dict(cc5: Any, rows: int) -> dict[str, Any]:
    """``preview --json``: the header and the first rows, one object per row (``line`` plus the fields)."""
    header = cc5.header
    df = cc5.head(rows, lines=True)
    df.columns = ["line", *[f.code for f in header.fields]]
    plain = df.astype(object).where(df.notna(), None)
    return {
        "path": cc5.path,
        "entity_type": header.entity_type,
        "workspace_id": header.workspace_id,
        "bucket_id": header.bucket_id,
        "keys": list(header.keys),
        "fields": [{"code": f.code, "type": f.type} for f in header.fields],
        "rows": plain.to_dict(orient="records"),
    }


def convert_command(
    input: Annotated[Path, typer.Argument(help="A CSV or Parquet file.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The cc5 file to write.", show_default=False)],
    entity: Annotated[str, typer.Option("--entity", help="Entity type (01 row).", show_default=False)],
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="Workspace id (01 row).", show_default=False)],
    bucket: Annotated[str, typer.Option("--bucket", help="Bucket id (01 row).", show_default=False)],
    keys: Annotated[str, typer.Option("--keys", help="Key columns, comma-separated.", show_default=False)],
    customer: Annotated[str, typer.Option("--customer", help="Customer code (00 row).")] = "DEFAULT",
    datasource: Annotated[str, typer.Option("--datasource", help="Datasource code (01 row).")] = "toolkit",
    action: Annotated[str, typer.Option("--action", help="Action code (01 row).")] = "UPSERT",
    reference_id: Annotated[
        Optional[str], typer.Option("--reference-id", help="Reference id (default: random).", show_default=False)
    ] = None,
    type_: Annotated[
        Optional[list[str]], typer.Option("--type", help="field=type, repeatable (default: inferred).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the path, rows, keys and fields as JSON.")] = False,
) -> None:
    """Write a CSV or Parquet file as a cc5 file."""
    from toolkit.cc5 import write_cc5

    types: dict[str, str] = {}
    for item in type_ or []:
        name, sep, t = item.partition("=")
        if not sep or not name.strip() or not t.strip():
            typer.secho(f"Error: --type {item!r}: expected field=type", err=True, fg=typer.colors.RED)
            raise typer.Exit(EXIT_USAGE)
        types[name.strip()] = t.strip().lower()
    # A WriteError (bad input) is a ToolkitError: one line on stderr, exit 2.
    result = write_cc5(
        input, output, entity_type=entity, workspace_id=workspace, bucket_id=bucket,
        keys=[k.strip() for k in keys.split(",") if k.strip()], customer=customer, datasource=datasource,
        action=action, reference_id=reference_id, types=types or None,
    )
    if json_output:
        typer.echo(json.dumps({
            "path": str(result.path), "rows": result.rows, "keys": list(result.header.keys),
            "fields": [{"code": f.code, "type": f.type} for f in result.header.fields],
        }, indent=2))
        return
    fields = ", ".join(f"{f.code}:{f.type}" for f in result.header.fields)
    typer.echo(f"Wrote {result.rows} row(s) to {result.path}")
    typer.echo(f"  keys: {', '.join(result.header.keys)}; fields: {fields}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("validate")(validate_command)
    app.command("preview")(preview_command)
    app.command("convert")(convert_command)
