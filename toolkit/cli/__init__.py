"""The ``toolkit`` command line: each command parses its arguments, makes one
library call and formats the result; library errors become one-line messages.

Exit codes: 0 success, 1 the file has errors or the import failed,
2 usage, configuration or connection error, 3 an unexpected internal error.
Commands that print a result take ``--json``; ``toolkit --install-completion``
installs shell completion; ``python -m toolkit`` is the same command.

This is an edge: it reads the environment (``TOOLKIT_*``) and passes plain
values to the library.

    $ toolkit validate customers.cc5txt --json
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from toolkit._extras import extra_for_module
from toolkit.cli._exits import EXIT_FAILED, EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, exit_code_for
from toolkit.errors import ToolkitError

__all__ = ["app", "main", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERNAL", "exit_code_for"]


class _ErrorHandlingGroup(TyperGroup):
    """Turns library exceptions into one-line messages, never tracebacks."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context
        try:
            return super().invoke(ctx)
        # typer >= 0.29 vendors click (click itself is not installed): its
        # Exit, Abort and usage errors (ClickException) are typer's own classes.
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except ToolkitError as exc:
            typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(exit_code_for(exc)) from None
        except KeyboardInterrupt:
            typer.secho("Interrupted.", err=True)
            raise typer.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence for users
            missing = (exc.name or "") if isinstance(exc, ModuleNotFoundError) else ""
            extra = extra_for_module(missing) if missing else None
            if extra is not None:  # a command whose extra is missing (or half installed)
                command = f"toolkit {ctx.invoked_subcommand}" if ctx.invoked_subcommand else "toolkit"
                typer.secho(f"Error: {command} needs the {extra} extra (missing {missing}): "
                            f"pip install 'toolkit[{extra}]'", err=True, fg=typer.colors.RED)
                raise typer.Exit(EXIT_USAGE) from None
            if os.environ.get("TOOLKIT_DEBUG"):
                traceback.print_exc()
            typer.secho(
                f"Internal error: {type(exc).__name__}: {exc} (set TOOLKIT_DEBUG=1 for details)",
                err=True,
                fg=typer.colors.RED,
            )
            raise typer.Exit(EXIT_INTERNAL) from None


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    help="Preview, validate, convert and import cc5 sync files.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)

# Each feature registers its commands from its own module.
from toolkit.cli import cc5_commands, client_commands, service_commands, demo_commands  # noqa: E402
from toolkit.cli import import_data_commands  # noqa: E402

for _module in (cc5_commands, service_commands, client_commands, import_data_commands, demo_commands):
    _module.register(app)


def main() -> None:
    """Console-script entry point (also ``python -m toolkit``)."""
    sys.exit(app(prog_name="toolkit"))
