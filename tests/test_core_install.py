"""The core install (``pip install .``, no extras) into a fresh venv: it
validates a file and imports it into a service run from the test's own
environment, and ``toolkit serve`` names the extra it lacks."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
import venv
from pathlib import Path
from typing import Any

import pytest
from conftest import make_cc5

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only ``pip install <a copy of the project>``."""
    base = tmp_path_factory.mktemp("core")
    source = base / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # A copy, so the build's build/ and egg-info never land in the checkout.
    shutil.copytree(ROOT / "toolkit", source / "toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(source)], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return env_dir


def _run(env_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env_dir / "bin" / "toolkit"), *args], capture_output=True, text=True, timeout=300,
                          env={"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(env_dir)})


def test_the_core_brings_no_service_or_app_packages(core_venv: Path) -> None:
    code = ("import importlib.util as u; print([m for m in ('fastapi', 'uvicorn', 'boto3', 'moto', 'streamlit',"
            " 'plotly') if u.find_spec(m)])")
    done = subprocess.run([str(core_venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_core_validates_and_imports_a_file(core_venv: Path, live_service: Any, tmp_path: Path) -> None:
    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    path = make_cc5(tmp_path, rows=5, workspace=workspace)
    checked = _run(core_venv, "validate", str(path), "--json")
    assert checked.returncode == 0, checked.stderr
    imported = _run(core_venv, "import", str(path), "-w", workspace, "--url", live_service.url,
                    "--key", live_service.api_key, "--json", "--no-progress")
    assert imported.returncode == 0, imported.stderr
    assert '"status": "FINISHED"' in imported.stdout and '"successful_count": 5' in imported.stdout
    assert len(live_service.read_table(workspace, "customer")) == 5


def test_serve_names_the_missing_extra(core_venv: Path) -> None:
    done = _run(core_venv, "serve")
    assert done.returncode == 2
    assert done.stderr.strip() == ("Error: toolkit serve needs the service extra (missing fastapi, uvicorn, boto3, "
                                   "moto): pip install 'toolkit[service]'")
    assert sys.executable not in done.stderr  # it ran the venv's toolkit, not this one
