"""``toolkit import|status|list|rejected|delete`` against the reference service
on 127.0.0.1: output, exit codes (0 success, 1 failed import, 2 usage or
connection), one-line errors."""

from __future__ import annotations

import csv
import io
import json
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import make_cc5
from typer.testing import CliRunner

from toolkit.cli import app


@pytest.fixture()
def env(live_service: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("TOOLKIT_API", raising=False)
    return {"TOOLKIT_API_URL": live_service.url, "TOOLKIT_API_KEY": live_service.api_key}


def run(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def workspace() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"


def imported(tmp_path: Path, env: dict[str, str], *extra: str, rows: int = 5, **options: Any) -> tuple[str, str]:
    """Import a sample file through the CLI; returns (workspace, file id)."""
    ws = workspace()
    path = make_cc5(tmp_path, rows=rows, workspace=ws, **options)
    result = run(["import", path, "--workspace", ws, "--no-progress", "--json", *extra], env)
    data = json.loads(result.stdout)
    return ws, data["file_id"]


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_import_prints_the_outcome_and_exits_0(tmp_path: Path, env: dict[str, str], api: str) -> None:
    ws = workspace()
    path = make_cc5(tmp_path, rows=6, workspace=ws, bad_rows=1)
    result = run(["import", path, "-w", ws, "--api", api, "--no-progress"], env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("FINISHED: 6 rows applied, 1 rejected")
    assert lines[1].startswith("time: validate ") and "upload" in lines[1] and "processing" in lines[1]
    file_id = lines[0].split()[0]
    assert lines[2] == f"Rejected rows: toolkit rejected {file_id} -o rejected.csv"


def test_import_json_output(tmp_path: Path, env: dict[str, str]) -> None:
    ws = workspace()
    result = run(["import", make_cc5(tmp_path, rows=3, workspace=ws), "-w", ws, "--no-progress", "--json"], env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["status"], data["successful_count"], data["stream_name"]) == ("FINISHED", 3, ws)
    assert data["date_created"].endswith("Z") and data["upload_seconds"] > 0


def test_import_async_returns_after_the_trigger(tmp_path: Path, env: dict[str, str]) -> None:
    ws = workspace()
    result = run(["import", make_cc5(tmp_path, rows=3, workspace=ws), "-w", ws, "--async", "--no-progress"], env)
    assert result.exit_code == 0, result.output
    file_id = result.stdout.split()[0]
    assert file_id.startswith("f_")
    assert "FINISHED" in result.stdout or f"Check it with: toolkit status {file_id}" in result.stdout


def test_a_file_with_file_level_errors_exits_1_without_upload(tmp_path: Path, env: dict[str, str]) -> None:
    ws = workspace()
    path = make_cc5(tmp_path, rows=3, workspace=ws, footer=7)
    result = run(["import", path, "-w", ws, "--no-progress"], env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Not uploaded: ") and "FOOTER_COUNT_MISMATCH" in result.stderr
    assert "--force" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert run(["list", "-w", ws], env).stdout.strip() == "No files."

    forced = run(["import", path, "-w", ws, "--no-progress", "--force"], env)
    assert forced.exit_code == 1
    assert "FAILED with FOOTER_COUNT_MISMATCH" in forced.stderr


def test_status_shows_the_record(tmp_path: Path, env: dict[str, str]) -> None:
    ws, file_id = imported(tmp_path, env, rows=4)
    result = run(["status", file_id], env)
    assert result.exit_code == 0, result.output
    fields = dict(line.split(None, 1) for line in result.stdout.splitlines() if len(line.split(None, 1)) == 2)
    assert fields["file_id"] == file_id and fields["status"] == "FINISHED"
    assert fields["successful_count"] == "4" and fields["stream_name"] == ws
    as_json = json.loads(run(["status", file_id, "--json", "--api", "imports"], env).stdout)
    assert as_json["file_id"] == file_id and as_json["status"] == "FINISHED"


def test_status_of_a_failed_import_exits_1(tmp_path: Path, env: dict[str, str]) -> None:
    ws = workspace()
    path = make_cc5(tmp_path, rows=2, workspace=ws, footer=5)
    run(["import", path, "-w", ws, "--no-progress", "--force", "--async"], env)
    file_id = json.loads(run(["list", "-w", ws, "--format", "json"], env).stdout)[0]["file_id"]
    for _ in range(100):
        result = run(["status", file_id, "--json"], env)
        if json.loads(result.stdout)["status"] == "FAILED":
            break
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failure_code"] == "FOOTER_COUNT_MISMATCH"


def test_list_in_every_format(tmp_path: Path, env: dict[str, str]) -> None:
    ws, file_id = imported(tmp_path, env)
    table = run(["list", "--workspace", ws], env)
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0].split()[:3] == ["file_id", "status", "stream_name"]
    assert file_id in table.stdout and table.stdout.strip().endswith("1 file(s)")

    rows = list(csv.DictReader(io.StringIO(run(["list", "-w", ws, "--format", "csv"], env).stdout)))
    assert [r["file_id"] for r in rows] == [file_id] and rows[0]["status"] == "FINISHED"

    records = json.loads(run(["list", "-w", ws, "-f", "json", "--since", "1h", "--status", "FINISHED"], env).stdout)
    assert [r["file_id"] for r in records] == [file_id] and records[0]["failure_code"] is None
    assert json.loads(run(["list", "-w", ws, "-f", "json", "--status", "FAILED"], env).stdout) == []


def test_list_rejects_a_bad_format_or_since(env: dict[str, str]) -> None:
    bad_format = run(["list", "--format", "xml"], env)
    assert bad_format.exit_code == 2 and "table, csv or json" in bad_format.output
    bad_since = run(["list", "--since", "yesterday-ish"], env)
    assert bad_since.exit_code == 2 and "Bad time filter" in bad_since.stderr


def test_rejected_to_a_file_and_to_stdout(tmp_path: Path, env: dict[str, str]) -> None:
    ws, file_id = imported(tmp_path, env, rows=3, bad_rows=2)
    out = tmp_path / "rejected.csv"
    result = run(["rejected", file_id, "-o", out], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Wrote 2 rejected row(s) of {file_id} to {out}"
    rows = list(csv.DictReader(out.open()))
    assert [r["line"] for r in rows] == ["8", "9"] and "INVALID_NUMBER" in rows[0]["error"]
    printed = run(["rejected", file_id], env)
    assert printed.exit_code == 0 and printed.stdout == out.read_text()


def test_delete(tmp_path: Path, env: dict[str, str]) -> None:
    _, file_id = imported(tmp_path, env)
    result = run(["delete", file_id], env)
    assert (result.exit_code, result.stdout.strip()) == (0, f"{file_id} DELETED")


def test_unknown_file_and_wrong_key_exit_2_with_one_line(env: dict[str, str]) -> None:
    missing = run(["status", "f_nope"], env)
    assert missing.exit_code == 2
    assert missing.stderr.startswith("Error: Getting file f_nope failed:") and "HTTP 404 NOT_FOUND" in missing.stderr
    wrong = run(["list", "--key", "wrong"], env)
    assert wrong.exit_code == 2 and "HTTP 401 UNAUTHORIZED" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1 and "Traceback" not in wrong.output


def test_no_url_configured_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TOOLKIT_API_URL", raising=False)
    for command in (
        ["status", "f_1"],
        ["list"],
        ["delete", "f_1"],
        ["rejected", "f_1"],
        ["import", make_cc5(tmp_path), "-w", "ws-eu"],
    ):
        result = run(command)
        assert result.exit_code == 2
        assert "No API URL configured" in result.stderr and "toolkit serve" in result.stderr


def test_an_unreachable_api_exits_2(env: dict[str, str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(["status", "f_1", "--url", f"http://127.0.0.1:{port}"], env)
    assert result.exit_code == 2
    assert "could not connect" in result.stderr and "Traceback" not in result.output


def test_a_bad_api_name_exits_2(env: dict[str, str]) -> None:
    result = run(["list", "--api", "soap"], env)
    assert result.exit_code == 2 and "'portal' or 'imports'" in result.stderr
