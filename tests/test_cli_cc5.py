"""``toolkit validate|preview|convert``: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from toolkit.cli import app

CORPUS = Path(__file__).resolve().parent / "cc5_corpus"


def run(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_validate_ok_file_exits_0() -> None:
    r = run("validate", CORPUS / "valid.cc5txt")
    assert r.exit_code == 0, r.output
    assert "result:   OK" in r.output
    assert "2 data (10), 1 delete (90), 0 rejected" in r.output
    assert "entity customer, workspace ws-eu" in r.output


def test_validate_errors_grouped_by_code_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "rej.csv"
    r = run("validate", CORPUS / "bad_values.cc5txt", "--rejected", out)
    assert r.exit_code == 1
    assert "INVALID_INT (error, row) x2: lines 5, 12" in r.output
    assert f"{CORPUS / 'bad_values.cc5txt'}:5: INVALID_INT field qty: '12a' is not a 64-bit integer" in r.output
    assert "Wrote 8 rejected row(s)" in r.output
    assert len(pd.read_csv(out)) == 8


def test_validate_warnings_only_exit_0() -> None:
    r = run("validate", CORPUS / "duplicate_key.cc5txt")
    assert r.exit_code == 0
    assert "OK (with warnings)" in r.output and "DUPLICATE_KEY (warning, warning) x2" in r.output


def test_validate_json() -> None:
    r = run("validate", CORPUS / "missing_header.cc5txt", "--json")
    assert r.exit_code == 1
    d = json.loads(r.output)
    assert d["importable"] is False and d["counts"] == {"MISSING_HEADER": 1}
    assert d["findings"][0]["line"] == 1


def test_validate_expected_workspace_and_size() -> None:
    assert run("validate", CORPUS / "valid.cc5txt", "-w", "ws-us").exit_code == 1
    r = run("validate", CORPUS / "valid.cc5txt", "--max-bytes", "10")
    assert r.exit_code == 1 and "FILE_TOO_LARGE" in r.output


def test_validate_bad_inputs_are_one_line() -> None:
    for path in (CORPUS / "nope.cc5txt", CORPUS):
        r = subprocess.run([sys.executable, "-m", "toolkit.cli", "validate", str(path)],
                           capture_output=True, text=True)
        if r.returncode == 1 and "No module named" in r.stderr:  # no __main__: use the entry point
            r = subprocess.run([str(Path(sys.executable).parent / "toolkit"), "validate", str(path)],
                               capture_output=True, text=True)
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    for name in ("binary_garbage.cc5txt", "empty.cc5txt", "not_utf8.cc5txt"):
        r = run("validate", CORPUS / name)
        assert r.exit_code == 1 and "Traceback" not in r.output


def test_preview() -> None:
    r = run("preview", CORPUS / "quotes_and_json.cc5txt", "--rows", "1")
    assert r.exit_code == 0, r.output
    assert "keys:     code" in r.output
    assert 'say "hi" | bye' in r.output
    assert "C002" not in r.output
    lines = r.output.splitlines()
    assert any(line.split()[:3] == ["type", "string", "string"] for line in lines)


def test_preview_without_fields_is_one_line_error() -> None:
    r = run("preview", CORPUS / "missing_fields.cc5txt")
    assert r.exit_code == 2


def test_convert(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("code,qty,note\n007,1,a|b\n008,2,\n")
    out = tmp_path / "out.cc5txt"
    r = run("convert", src, "-o", out, "--entity", "customer", "--workspace", "ws-eu", "--bucket", "bk",
            "--keys", "code", "--customer", "ACME", "--type", "code=string", "--reference-id", "r-1")
    assert r.exit_code == 0, r.output
    assert "Wrote 2 row(s)" in r.output
    text = out.read_text().splitlines()
    assert text[0].startswith("00|ACME|cc5|") and text[0].endswith("|r-1")
    assert text[4] == "10|007|1|a#/#b|"
    assert run("validate", out).exit_code == 0


def test_convert_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("code,qty\n1,2\n")
    base = ["convert", src, "-o", tmp_path / "o.cc5txt", "--entity", "e", "--workspace", "w", "--bucket", "b"]
    r = run(*base, "--keys", "missing")
    assert r.exit_code == 2 and "missing" in r.output
    r = run(*base, "--keys", "code", "--type", "qty")
    assert r.exit_code == 2
    r = run(*base, "--keys", "code", "--type", "qty=money")
    assert r.exit_code == 2 and "unknown type" in r.output
