"""Documentation checks: every CLI command has a section with an example."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from toolkit.cli import app

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def _sections() -> dict[str, str]:
    """Map each `## toolkit NAME` heading to the text under it."""
    parts = re.split(r"^## toolkit (\S+)\s*$", CLI_DOC, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_command_has_a_section_with_an_example() -> None:
    commands = sorted(get_command(app).commands)  # type: ignore[attr-defined]
    assert commands, "the CLI registers no command"
    sections = _sections()
    missing = [c for c in commands if c not in sections]
    assert not missing, f"docs/cli.md lacks a section for: {missing}"
    for name in commands:
        blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", sections[name], flags=re.S)
        assert any(f"toolkit {name}" in b for b in blocks), f"no example of 'toolkit {name}'"


def test_no_section_for_a_command_that_does_not_exist() -> None:
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    stale = [name for name in _sections() if name not in commands]
    assert not stale, f"docs/cli.md documents unknown commands: {stale}"


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    for link in re.findall(r"\]\((docs/[^)]+)\)", readme):
        assert (ROOT / link).exists(), f"README links to missing {link}"
