"""validate(): the report API, options and edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from toolkit.cc5 import FINDING_CODES, Cc5Error, Finding, validate
from toolkit.errors import Cc5Error as TopCc5Error

CORPUS = Path(__file__).resolve().parent / "cc5_corpus"
HEADER = (
    "00|ACME|cc5|20261122093000|ref-1\n01|customer|ws-eu|bk-main|CRM|UPSERT\n02|code\n"
    "03|code:string|credit:number|qty:int\n"
)


def write(tmp_path: Path, body: str, name: str = "f.cc5txt") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_missing_file_and_directory_raise_cc5error(tmp_path: Path) -> None:
    with pytest.raises(Cc5Error, match="no such file"):
        validate(tmp_path / "nope.cc5txt")
    with pytest.raises(TopCc5Error, match="directory"):
        validate(tmp_path)


def test_finding_str_and_dict(tmp_path: Path) -> None:
    path = write(tmp_path, "10|C1|1.5|abc|\n99|1|\n", "customers.cc5txt")
    with validate(path) as report:
        (f,) = report.findings
        assert isinstance(f, Finding)
        assert str(f) == f"{path}:5: INVALID_INT field qty: 'abc' is not a 64-bit integer"
        assert f.to_dict() == {"code": "INVALID_INT", "severity": "error", "level": "row", "line": 5,
                               "field": "qty", "value": "abc",
                               "message": "field qty: 'abc' is not a 64-bit integer"}
        with pytest.raises(AttributeError):
            f.code = "X"  # frozen


def test_report_summaries(tmp_path: Path) -> None:
    body = "10|C1|1.5|x|\n10|C2|y|2|\n10|C3|1|3|\n90|C9\n10|C3|2|4|\n99|5|\n"
    with validate(write(tmp_path, body)) as report:
        assert (report.data_rows, report.delete_rows, report.rejected_rows) == (4, 1, 2)
        assert report.counts == {"INVALID_INT": 1, "INVALID_NUMBER": 1, "DUPLICATE_KEY": 1}
        assert report.importable and not report.ok
        assert report.first_lines("INVALID_INT") == [5]
        assert report.first_lines("DUPLICATE_KEY") == [9]
        assert [f.code for f in report.file_errors] == []
        df = report.to_pandas()
        assert list(df.columns) == ["code", "severity", "level", "line", "field", "value", "message"]
        assert list(df["line"]) == [5, 6, 9]
        d = report.to_dict()
        json.dumps(d)
        assert d["ok"] is False and d["importable"] is True and d["rejected_rows"] == 2
        assert d["header"]["workspace_id"] == "ws-eu"
        assert len(d["findings"]) == 3 and d["findings_truncated"] is False
        assert report.to_dict(max_findings=1)["findings_truncated"] is True
        assert "ERRORS" in report.summary() and "\n" not in report.summary()


def test_write_rejected(tmp_path: Path) -> None:
    body = "10|C1|1.5|x|\n10|C#/#2|1|2|\n10||1|3|\n90|\nzz\n99|4|\n"
    with validate(write(tmp_path, body)) as report:
        out = tmp_path / "rejected.csv"
        assert report.write_rejected(out) == 4
        df = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert list(df.columns) == ["line", "error", "row_type", "code", "credit", "qty", "raw"]
        assert list(df["line"]) == ["5", "7", "8", "9"]
        assert df.loc[0, "error"] == "INVALID_INT: field qty: 'x' is not a 64-bit integer"
        assert df.loc[0, "qty"] == "x" and df.loc[0, "raw"] == "10|C1|1.5|x|"
        assert df.loc[2, "row_type"] == "90"
        assert df.loc[3, "error"].startswith("UNKNOWN_ROW_TYPE")


def test_write_rejected_none(tmp_path: Path) -> None:
    with validate(CORPUS / "valid.cc5txt") as report:
        out = tmp_path / "r.csv"
        assert report.write_rejected(out) == 0
        assert out.read_text().splitlines()[0].startswith("line,error")


def test_expected_workspace(tmp_path: Path) -> None:
    path = write(tmp_path, "10|C1|1|1|\n99|1|\n")
    with validate(path, expected_workspace="ws-eu") as report:
        assert report.ok
    with validate(path, expected_workspace="ws-us") as report:
        assert [(f.code, f.line, f.value) for f in report.findings] == [("WORKSPACE_MISMATCH", 2, "ws-eu")]
        assert not report.importable


def test_max_bytes_checked_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "garbage.cc5txt"
    path.write_bytes(b"\xff" * 1000)
    with validate(path, max_bytes=100) as report:
        assert [(f.code, f.line) for f in report.findings] == [("FILE_TOO_LARGE", None)]
        assert report.header is None and not report.importable
        assert report.write_rejected(tmp_path / "r.csv") == 0


def test_keys_not_first_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "k.cc5txt"
    path.write_text("00|A|cc5|20260101000000|r\n01|e|w|b|d|a\n02|code\n03|name|code\n10|n|C1|\n99|1|\n")
    with validate(path) as report:
        assert [(f.code, f.severity) for f in report.findings] == [("KEYS_NOT_FIRST", "warning")]
        assert report.ok


def test_composite_keys_and_typed_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "c.cc5txt"
    path.write_text("00|A|cc5|20260101000000|r\n01|e|w|b|d|a\n02|a|b\n03|a:int|b:string|v\n"
                    "10|1|x|v1|\n10|01|x|v2|\n10|1|y|v3|\n90|+1|x\n99|4|\n")
    with validate(path) as report:
        dups = [(f.line, f.field, f.value) for f in report.findings]
        assert dups == [(6, "a,b", "1|x"), (8, "a,b", "1|x")]


def test_header_rows_after_data_and_misplaced(tmp_path: Path) -> None:
    body = "10|C1|1|1|\n01|again|ws|b|d|a\n99|1|\n"
    with validate(write(tmp_path, body)) as report:
        assert [(f.code, f.line) for f in report.findings] == [("BAD_HEADER", 6)]


def test_lines_count_every_physical_line(tmp_path: Path) -> None:
    # empty lines, CRLF and a lone CR: line numbers stay physical
    path = tmp_path / "mixed.cc5txt"
    data = (HEADER + "10|C1|1|1|\r\n\r\n10|C2|a\rb|2|\n10|C3|1|z|\n99|3|\n").encode()
    path.write_bytes(data)
    with validate(path) as report:
        assert [(f.code, f.line) for f in report.findings] == [
            ("UNKNOWN_ROW_TYPE", 6), ("INVALID_NUMBER", 7), ("INVALID_INT", 8)]


def test_findings_of_a_file_with_many_bad_rows_stay_in_duckdb(tmp_path: Path) -> None:
    rows = "".join(f"10|C{i}|x|y|\n" for i in range(20000))
    with validate(write(tmp_path, rows + "99|20000|\n")) as report:
        assert report.counts == {"INVALID_INT": 20000, "INVALID_NUMBER": 20000}
        assert len(report.iter_findings(limit=10)) == 10
        assert report.rejected_rows == 20000
        assert len(report.to_dict()["findings"]) == 1000


def test_catalogue_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "cc5-format.md").read_text(encoding="utf-8")
    for code in FINDING_CODES:
        assert f"`{code}`" in doc, code
    assert set(FINDING_CODES) >= {
        "EMPTY_FILE", "NOT_UTF8", "MISSING_HEADER", "BAD_HEADER", "MISSING_METADATA", "MISSING_KEYS",
        "MISSING_FIELDS", "UNKNOWN_TYPE", "DUPLICATE_FIELD", "KEY_NOT_IN_FIELDS", "MISSING_FOOTER",
        "FOOTER_COUNT_MISMATCH", "CONTENT_AFTER_FOOTER", "FILE_TOO_LARGE", "WORKSPACE_MISMATCH",
        "UNKNOWN_ROW_TYPE", "FIELD_COUNT", "EMPTY_KEY", "INVALID_INT", "INVALID_NUMBER", "INVALID_BOOL",
        "INVALID_DATE", "INVALID_ARRAY", "INVALID_OBJECT", "INVALID_LIST", "DUPLICATE_KEY",
        "RESERVED_FIELD_NAME", "RESERVED_ROW"}


def test_toolkit_reexports() -> None:
    import toolkit
    import toolkit.cc5 as cc5

    for name in ("read_header", "open_cc5", "validate", "write_cc5", "Header", "Cc5File", "ValidationReport",
                 "Finding"):
        assert getattr(toolkit, name) is getattr(cc5, name)
    for name in cc5.__all__:
        assert hasattr(cc5, name)


def test_progress_callback_gets_bytes_and_rows(tmp_path: Path) -> None:
    from toolkit.progress import ProgressEvent

    rows = "".join(f"10|C{i}|1.5|{i}|\n" for i in range(2000))
    path = write(tmp_path, rows + "99|2000|\n")
    events: list[ProgressEvent] = []
    with validate(path, progress=events.append) as report:
        assert report.ok and report.data_rows == 2000
    assert events and all(e.stage == "validate" and e.unit == "B" for e in events)
    size = path.stat().st_size
    assert events[-1].done == events[-1].total == size and events[-1].fraction == 1.0
    assert events[-1].rows == 2005  # every line of the file
    assert [e.done for e in events] == sorted(e.done for e in events)


def test_progress_false_and_none_print_nothing_for_a_quick_file(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "10|C1|1.5|1|\n99|1|\n")
    for progress in (False, None):
        with validate(path, progress=progress) as report:
            assert report.ok
    assert capsys.readouterr().err == ""  # None: a bar only after one second


def test_progress_true_draws_a_bar(tmp_path: Path, capsys) -> None:
    path = write(tmp_path, "".join(f"10|C{i}|1.5|{i}|\n" for i in range(500)) + "99|500|\n")
    with validate(path, progress=True) as report:
        assert report.ok
    assert "validate f.cc5txt" in capsys.readouterr().err


def test_a_callback_that_raises_stops_the_pass(tmp_path: Path) -> None:
    path = write(tmp_path, "".join(f"10|C{i}|1.5|{i}|\n" for i in range(20000)) + "99|20000|\n")

    def stop(event) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        validate(path, progress=stop)
    with validate(path, progress=False) as report:  # nothing left behind that breaks the next run
        assert report.ok
