"""The static checks CI enforces: ``ruff check`` (the rule set in
pyproject.toml) and ``mypy`` (strict on ``toolkit.cc5`` and ``toolkit.client``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> list[str]:
    """The tool from this interpreter's environment (the test extra installs both)."""
    script = Path(sys.executable).with_name(name)
    found = str(script) if script.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return [found]


def test_ruff_check_is_clean() -> None:
    done = subprocess.run([*_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    done = subprocess.run([*_tool("mypy")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
