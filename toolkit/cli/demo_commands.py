"""``toolkit demo``: fill an import service with a realistic history of imports."""

from __future__ import annotations

import json
import threading
from typing import Annotated, Any, Optional

import typer

from toolkit._extras import require_extra

__all__ = ["register", "demo"]


def demo(
    count: Annotated[int, typer.Option(min=1, max=5000, help="How many imports to run")] = 300,
    url: Annotated[Optional[str], typer.Option(
        help="API base URL (default TOOLKIT_API_URL); without one, an embedded service is started")] = None,
    key: Annotated[Optional[str], typer.Option(help="API key (default TOOLKIT_API_KEY)")] = None,
    api: Annotated[Optional[str], typer.Option(help="portal or imports (default TOOLKIT_API or portal)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=32, help="Imports running at once")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the generated files (same seed, same files)")] = 7,
    serve: Annotated[bool, typer.Option(
        help="Embedded service only: keep serving after the demo until Ctrl-C")] = True,
    output_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    days: Annotated[int, typer.Option(min=0, max=365, help=(
        "Embedded service only: spread the history over the last DAYS days through the service's clock "
        "(0: now)"))] = 30,
) -> None:
    """Run generated good and defective cc5 files through the real service.

    Every import goes through the API: request an upload, upload, trigger
    asynchronously, wait. Statuses, counts and failure codes are the service's.
    """
    import os

    from toolkit.client import ImportClient
    from toolkit.client.config import ENV_URL
    from toolkit.demo import demo_service, run_demo

    if url or os.environ.get(ENV_URL):
        with ImportClient.from_env(url, key, api) as client:
            summary = run_demo(client, count, seed=seed, workers=workers)
        _report(summary, client.base_url, output_json)
        return
    require_extra("service", what="toolkit demo without --url (the embedded service)")
    with demo_service(count, seed=seed, workers=workers, days=days) as (service, summary):
        _report(summary, service.url, output_json)
        if serve:  # with --json, stdout holds only the JSON
            typer.echo("Serving the demo data until Ctrl-C. Point the app or the CLI at it:", err=output_json)
            typer.echo(f"  export TOOLKIT_API_URL={service.url} TOOLKIT_API_KEY={service.api_key}", err=output_json)
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                typer.echo("Stopped.")


def _report(summary: Any, where: str, output_json: bool = False) -> None:
    if output_json:
        typer.echo(json.dumps({"imports": summary.imports, "statuses": dict(summary.statuses),
                               "failure_codes": dict(summary.failure_codes), "seconds": summary.seconds,
                               "url": where}, indent=2))
        return
    typer.echo(f"{summary.describe()} in {summary.seconds:.1f} s on {where}")
    if summary.failure_codes:
        codes = ", ".join(f"{code} {n}" for code, n in summary.failure_codes.most_common())
        typer.echo(f"Failure codes: {codes}")


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)
