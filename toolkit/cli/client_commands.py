"""CLI commands (filled in by the feature that owns them)."""

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
