"""Every notebook in notebooks/ runs top to bottom against the embedded service."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert "01_preview_and_validate.ipynb" in names
    assert "02_upload_and_import.ipynb" in names
    assert "03_failure_analysis.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_outputs_are_stripped_in_git(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: outputs not stripped"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A clean environment: no configured API, so the notebook uses the embedded service.
    for var in ("TOOLKIT_API_URL", "TOOLKIT_API_KEY", "TOOLKIT_API"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / path.stem
    work.mkdir()
    shutil.copy(path, work / path.name)
    nb = nbformat.read(work / path.name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(work)}})
    client.execute()
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.get("outputs", []) if out.get("output_type") == "error"
    ]
    assert not errors
    # Keep the executed notebook for a reviewer.
    artifacts = ROOT / "test-artifacts" / "notebooks"
    artifacts.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, artifacts / path.name)
    assert os.path.getsize(artifacts / path.name) > 0


def test_the_notebooks_show_reports_results_and_files_as_html() -> None:
    """Each object with a ``_repr_html_`` is shown on its own at the end of a cell (Jupyter renders it)."""
    last_lines = {
        path.name: [cell.source.strip().splitlines()[-1].split("#")[0].strip()
                    for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code" and cell.source.strip()]
        for path in NOTEBOOKS
    }
    assert {"cc5", "report"} <= set(last_lines["01_preview_and_validate.ipynb"])
    assert "result" in last_lines["02_upload_and_import.ipynb"]
    assert "result" in last_lines["03_failure_analysis.ipynb"]


@pytest.mark.slow
def test_executed_notebooks_hold_the_html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TOOLKIT_API_URL", "TOOLKIT_API_KEY", "TOOLKIT_API"):
        monkeypatch.delenv(var, raising=False)
    path = ROOT / "notebooks" / "01_preview_and_validate.ipynb"
    shutil.copy(path, tmp_path / path.name)
    nb = nbformat.read(tmp_path / path.name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    html = [out["data"]["text/html"] for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if "text/html" in out.get("data", {})]
    assert any("NOT IMPORTABLE" in h or "ROWS REJECTED" in h for h in html)  # the report
    assert any("First 5 rows" in h for h in html)  # the open cc5 file
