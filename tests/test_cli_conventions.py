"""CLI conventions: ``python -m toolkit``, shell completion, ``--json`` on every
command that prints a result, and docs/cli.md in step with ``--help``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from typer.main import get_command
from typer.testing import CliRunner

from toolkit.cli import app

ROOT = Path(__file__).resolve().parent.parent
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
# Commands that run until stopped and print no result.
NO_RESULT = {"serve": "runs the service until Ctrl-C", "worker": "runs import workers until Ctrl-C"}


def _commands() -> dict[str, object]:
    return dict(get_command(app).commands)  # type: ignore[attr-defined]


def _section(name: str) -> str:
    parts = re.split(r"^## toolkit (\S+)\s*$", CLI_DOC, flags=re.M)
    sections = {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}
    return sections[name]


def test_python_dash_m_toolkit_is_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "toolkit", "--help"], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Usage: toolkit " in done.stdout
    for name in _commands():
        assert name in done.stdout


def test_shell_completion_is_available() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"], prog_name="toolkit")
    assert result.exit_code == 0, result.output
    assert "complete" in result.output and "_TOOLKIT_COMPLETE" in result.output
    assert "--install-completion" in CliRunner().invoke(app, ["--help"]).output


def test_every_command_that_prints_a_result_has_json() -> None:
    missing = []
    for name, command in _commands().items():
        options = {opt for param in command.params for opt in param.opts}  # type: ignore[attr-defined]
        if name not in NO_RESULT and "--json" not in options:
            missing.append(name)
    assert not missing, f"commands without --json: {missing}"


def test_docs_name_every_option_of_every_command() -> None:
    """docs/cli.md keeps up with ``--help``: each option a command takes appears in its section."""
    undocumented = []
    for name, command in _commands().items():
        section = _section(name)
        for param in command.params:  # type: ignore[attr-defined]
            names = [opt for opt in [*param.opts, *param.secondary_opts] if opt.startswith("--")]
            if names and not any(re.search(re.escape(opt) + r"\b", section) for opt in names):
                undocumented.append(f"toolkit {name} {names[0]}")
    assert not undocumented, f"docs/cli.md does not mention: {undocumented}"


def test_json_of_convert_and_preview(tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text("customer_code,name\nC1,Ada\nC2,Grace\n", encoding="utf-8")
    out = tmp_path / "customers.cc5txt"
    runner = CliRunner()
    converted = runner.invoke(app, ["convert", str(source), "-o", str(out), "--entity", "customer", "-w", "ws-eu",
                                    "--bucket", "bk", "--keys", "customer_code", "--json"])
    assert converted.exit_code == 0, converted.output
    written = json.loads(converted.output)
    assert (written["rows"], written["keys"]) == (2, ["customer_code"])
    assert [f["code"] for f in written["fields"]] == ["customer_code", "name"]
    shown = runner.invoke(app, ["preview", str(out), "--rows", "1", "--json"])
    assert shown.exit_code == 0, shown.output
    preview = json.loads(shown.output)
    assert (preview["entity_type"], preview["workspace_id"]) == ("customer", "ws-eu")
    assert preview["rows"] == [{"line": 5, "customer_code": "C1", "name": "Ada"}]
