"""Parser fuzzing: random bytes and mutated valid cc5 files fed to
``toolkit.cc5.validate`` and to the service's import. Only findings come
out, never an unexpected exception, and the two agree.

For ``validate`` every input must give a report whose findings all come from
the catalogue (code, severity and level as catalogued, lines within the
file), whose summary and dict render, and whose rejected-rows CSV parses.
For the import (the service's own path: record, object in S3, trigger) every
input must end FINISHED exactly when ``validate`` calls the file importable,
with the same counts, and otherwise FAILED with the report's first
file-level code; never INTERNAL_ERROR, never an exception.

``RELIABILITY_PARSER_EXAMPLES`` (default 60) sets hypothesis' max_examples
of the validate tests; the import test gets a third. The module prints how
many inputs were tried (run with ``-s``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TEST_KEYS
from reliability_support import Tally
from toolkit.cc5 import FINDING_CODES, validate

EXAMPLES = int(os.environ.get("RELIABILITY_PARSER_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
IMPORT_FUZZ = settings(FUZZ, max_examples=max(1, EXAMPLES // 3))
INPUTS = Tally()
WORKSPACE_MARK = b"ws-fuzz"

# Valid files exercising every type, escapes, deletes, reserved rows and a two-field key.
TEMPLATES = [
    b"00|ACME|cc5|20261122093000|ref-1\n"
    b"01|customer|ws-fuzz|bk-main|CRM|UPSERT\n"
    b"02|customer_code\n"
    b"03|customer_code:string|name:string|credit:number|active:bool|since:date|tags:array|profile:object"
    b"|items:list|age:int\n"
    b'10|C001|Ada#/#Lovelace|1500.50|true|20240115|vip,eu|{"tier":"gold"}|[1,2]|36|\n'
    b"10|C002|Line one#Enter#line two||0|20250301120000||{}|[]||\n"
    b"90|C000\n"
    b'10|C003|Bob|-3|FALSE|20240229|a|{"a":{"b":1}}|["x"]|-9223372036854775808|\n'
    b"99|4|\n",
    b"\xef\xbb\xbf00|ACME|cc5|20261122093000|ref-2\r\n"
    b"01|order|ws-fuzz|bk-main|ERP|UPSERT\r\n"
    b"02|region|order_no\r\n"
    b"03|region|order_no : int|total: number|note\r\n"
    b"05|reserved\r\n"
    b"10|eu|1|10.5|first|\r\n"
    b"10|eu|2|11|second\r\n"
    b"90|eu|1\r\n"
    b"10|us|1|12.25|#Enter#|\r\n"
    b"99|4|\r\n",
]
TOKENS = [b"|", b"\n", b"\r\n", b":", b"#/#", b"#Enter#", b"10", b"90", b"99", b"00", b"01", b"02", b"03",
          b"true", b"[", b"{", b'"', b",", b"ws-fuzz", b"C001", b"string", b"int", b"date", b"4"]
ODD_BYTES = [b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\r", b"\x01", b"\x1a", b"|" * 50, b"9" * 30,
             "é€😀".encode(), b"\x85", b" " * 10]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@st.composite
def mutated_files(draw: Any) -> bytes:
    """A template with one to four mutations: lines deleted, duplicated, swapped or
    replaced, bytes inserted, flipped or truncated, tokens replaced."""
    data = draw(st.sampled_from(TEMPLATES))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "replace_line", "insert", "flip",
                                     "truncate", "token", "odd"]))
        lines = _lines(data)
        if kind in ("delete", "duplicate", "swap", "replace_line") and lines:
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "delete":
                del lines[i]
            elif kind == "duplicate":
                lines.insert(i, lines[i])
            elif kind == "swap":
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines[i] = draw(st.sampled_from([b"10", b"90", b"99", b"03", b"1x"])) + b"|" + b"|".join(
                    draw(st.lists(st.binary(max_size=12), max_size=12)))
            data = b"\n".join(lines)
        elif kind == "insert":
            pos = draw(st.integers(0, len(data)))
            data = data[:pos] + draw(st.binary(min_size=1, max_size=20)) + data[pos:]
        elif kind == "flip" and data:
            pos = draw(st.integers(0, len(data) - 1))
            data = data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1:]
        elif kind == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif kind == "token":
            old, new = draw(st.sampled_from(TOKENS)), draw(st.sampled_from(TOKENS + [b""]))
            if old in data:
                nth = draw(st.integers(0, data.count(old) - 1))
                pos = -1
                for _ in range(nth + 1):
                    pos = data.index(old, pos + 1)
                data = data[:pos] + new + data[pos + len(old):]
        else:
            pos = draw(st.integers(0, len(data)))
            data = data[:pos] + draw(st.sampled_from(ODD_BYTES)) + data[pos:]
    return data


inputs = st.one_of(st.binary(max_size=3000), mutated_files(), st.sampled_from(TEMPLATES))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("parser-fuzz")
    print(f"\nparser fuzz inputs: {INPUTS.total} in all; "
          + ", ".join(f"{k}: {v}" for k, v in sorted(INPUTS.counts.items())))


def _write(workdir: Path, data: bytes) -> Path:
    path = workdir / f"{uuid.uuid4().hex}.cc5txt"
    path.write_bytes(data)
    return path


def check_report(report: Any, data: bytes, workdir: Path) -> None:
    """The report is made of catalogued findings and renders in every form."""
    # A missing header row is reported at the line where it should be (up to 4),
    # a missing footer after the last line.
    last_line = max(data.count(b"\n") + 2, 5)
    assert set(report.counts) <= set(FINDING_CODES), report.counts
    for finding in report.iter_findings(limit=2000):
        info = FINDING_CODES[finding.code]
        assert (finding.severity, finding.level) == (info.severity, info.level), finding
        assert finding.line is None or 1 <= finding.line <= last_line, (finding, last_line)
        assert finding.message and "\n" not in finding.message, finding
    assert report.importable == (not any(FINDING_CODES[c].level == "file" for c in report.counts))
    assert min(report.data_rows, report.delete_rows, report.rejected_rows) >= 0
    assert "\n" not in report.summary()
    json.dumps(report.to_dict(max_findings=100))
    rejected = workdir / f"{uuid.uuid4().hex}-rejected.csv"
    written = report.write_rejected(rejected)
    rows = list(csv.reader(io.StringIO(rejected.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["line", "error", "row_type"] and rows[0][-1] == "raw", rows[0]
    assert len(rows) - 1 == written
    rejected.unlink()


def test_the_templates_are_valid(workdir: Path) -> None:
    for template in TEMPLATES:
        with validate(_write(workdir, template), expected_workspace="ws-fuzz") as report:
            assert report.ok, report.to_dict()


@pytest.fixture(scope="module")
def connection() -> Iterator[Any]:
    """One DuckDB connection reused by many validations (each drops its temp tables)."""
    from toolkit.cc5.source import connect

    con = connect()
    yield con
    con.close()


@FUZZ
@given(data=st.binary(max_size=3000))
def test_validate_on_random_bytes_reports_findings_only(workdir: Path, connection: Any, data: bytes) -> None:
    INPUTS.add("validate: random bytes")
    path = _write(workdir, data)
    with validate(path, expected_workspace="ws-fuzz", max_bytes=10_000, con=connection) as report:
        check_report(report, data, workdir)
        assert data.strip() or "EMPTY_FILE" in report.counts or not report.importable
    path.unlink()


@FUZZ
@given(data=mutated_files())
def test_validate_on_mutated_files_reports_findings_only(workdir: Path, data: bytes) -> None:
    INPUTS.add("validate: mutated files")
    path = _write(workdir, data)
    with validate(path, expected_workspace="ws-fuzz", max_bytes=10_000) as report:
        check_report(report, data, workdir)
    path.unlink()


@pytest.fixture(scope="module")
def service(moto_endpoint: str, workdir: Path) -> Iterator[Any]:
    """An in-process service (no threads: the import runs in the test's thread)."""
    from toolkit.service import Service, load_config

    svc = Service(load_config(env={}, s3_endpoint=moto_endpoint, store=workdir / "store.duckdb",
                              s3_bucket="parser-fuzz", api_keys=TEST_KEYS, s3_access_key_id="test",
                              s3_secret_access_key="test"))
    yield svc
    svc.close()


@IMPORT_FUZZ
@given(data=inputs)
def test_the_import_ends_as_validate_predicts(service: Any, workdir: Path, data: bytes) -> None:
    INPUTS.add("import")
    imports = service.imports
    key = imports.authenticate("key-all")
    # A fresh workspace per input: no table from an earlier input can clash with this one.
    workspace = f"ws-{uuid.uuid4().hex[:12]}"
    data = data.replace(WORKSPACE_MARK, workspace.encode())
    record, _ = imports.create_upload(key, api="portal", workspace_id=workspace, file_name="fuzz.cc5txt",
                                      bucket_id="bk-main", entity_type="customer")
    service.storage.put_bytes(record.object_key, data)
    final = imports.trigger(key, record.file_id, wait=True)

    path = _write(workdir, data)
    with validate(path, expected_workspace=workspace, max_bytes=service.config.max_file_bytes) as report:
        assert final.status in ("FINISHED", "FAILED"), final
        assert final.failure_code != "INTERNAL_ERROR", final.failure_message
        if report.importable:
            assert final.status == "FINISHED", (final.failure_code, final.failure_message)
            assert (final.successful_count, final.failure_count) == (report.accepted_rows, report.rejected_rows)
        else:
            assert final.status == "FAILED"
            # A 0-byte object is refused before the engine reads it (docs/troubleshooting.md).
            expected = "EMPTY_UPLOAD" if not data else report.file_errors[0].code
            assert final.failure_code == expected
            assert final.successful_count == 0
    path.unlink()
    csv_text = b"".join(imports.rejected_rows(key, record.file_id)).decode("utf-8")
    assert csv_text.startswith("line,error")
    table = service.store.read_table(workspace, final.entity_type) if final.status == "FINISHED" else None
    if table is not None:
        assert len(table.df()) <= final.successful_count
