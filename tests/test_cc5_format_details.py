"""Header limits, non-text files and the format details of issue 12 (docs/cc5-format.md, docs/engine.md)."""

from __future__ import annotations

import codecs
import time
from pathlib import Path

import pytest

from toolkit.cc5 import Cc5Error, open_cc5, plan_import, validate
from toolkit.cc5.header import MAX_FIELDS, MAX_HEADER_LINE_BYTES, MAX_KEY_FIELDS
from toolkit.cc5.source import connect

HEAD = "00|ACME|cc5|20261122093000|ref-1\n01|customer|ws-eu|bk-main|CRM|UPSERT\n"
HEADER = HEAD + "02|code\n03|code:string|qty:int\n"


def write(tmp_path: Path, text: str | bytes, name: str = "f.cc5txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def codes(path: Path) -> list[tuple[str, int | None]]:
    with validate(path) as report:
        return [(f.code, f.line) for f in report.findings]


# ------------------------------------------------------------------ limits
def _wide(n_fields: int, n_keys: int) -> str:
    fields = [f"f{i}" for i in range(n_fields)]
    row = "10|" + "|".join("v" for _ in fields) + "|"
    return (HEAD + "02|" + "|".join(fields[:n_keys]) + "\n03|" + "|".join(fields) + "\n"
            + row + "\n" + row.replace("10|v", "10|w", 1) + "\n99|2|\n")


def test_header_at_the_limits_is_checked(tmp_path: Path) -> None:
    path = write(tmp_path, _wide(MAX_FIELDS, MAX_KEY_FIELDS))
    started = time.process_time()
    assert codes(path) == []
    print(f"{MAX_FIELDS} fields, {MAX_KEY_FIELDS} keys: {time.process_time() - started:.2f} s CPU")


@pytest.mark.parametrize("n_fields, n_keys, line", [(MAX_FIELDS + 1, 1, 4), (MAX_KEY_FIELDS + 1, MAX_KEY_FIELDS + 1, 3),
                                                    (10_000, 10_000, 4)])
def test_header_beyond_the_limits_is_one_finding(tmp_path: Path, n_fields: int, n_keys: int, line: int) -> None:
    path = write(tmp_path, _wide(n_fields, n_keys))
    assert codes(path) == [("HEADER_TOO_LARGE", line)]
    with pytest.raises(Cc5Error, match="more than"):
        open_cc5(path)
    con = connect()
    with plan_import(path, con) as plan:
        assert not plan.report.importable and plan.successful_count == 0


def test_header_line_longer_than_the_limit(tmp_path: Path) -> None:
    long_code = "x" * (MAX_HEADER_LINE_BYTES + 1)
    path = write(tmp_path, HEAD + "02|code\n03|code|" + long_code + "\n10|a|b|\n99|1|\n")
    assert codes(path) == [("HEADER_TOO_LARGE", 4)]


# ---------------------------------------------------------------- not text
def test_utf16_file_is_not_text(tmp_path: Path) -> None:
    text = HEADER + "10|C1|1|\n99|1|\n"
    for name, data in {"le": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
                       "be": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
                       "nobom": text.encode("utf-16-le")}.items():
        assert codes(write(tmp_path, data, f"{name}.cc5txt")) == [("NOT_TEXT", None)], name


def test_image_is_not_text(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 20
    assert codes(write(tmp_path, png, "img.cc5txt")) == [("NOT_TEXT", None)]


def test_a_few_bad_bytes_stay_line_findings(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER.encode() + b"10|C1|1|\n10|C\xff2|2|\n10|C\x003|3|\n99|3|\n")
    assert codes(path) == [("NOT_UTF8", 6), ("NOT_UTF8", 7)]


# ----------------------------------------------------- rows 04-09 placement
def test_reserved_rows_before_the_first_data_row_are_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "04|x\n09|y\n10|C1|1|\n99|1|\n")
    assert codes(path) == [("RESERVED_ROW", 5), ("RESERVED_ROW", 6)]


def test_reserved_rows_after_a_data_row_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "10|C1|1|\n05|x\n90|C1\n09|y\n99|2|\n")
    with validate(path) as report:
        assert [(f.code, f.line) for f in report.findings] == [
            ("MISPLACED_ROW", 6), ("DUPLICATE_KEY", 7), ("MISPLACED_ROW", 8)]
        assert report.rejected_rows == 2 and report.importable and not report.ok
        assert "after the first data row" in report.iter_findings(code="MISPLACED_ROW")[0].message
        out = path.with_suffix(".csv")
        assert report.write_rejected(out) == 2
        assert "05|x" in out.read_text() and "09|y" in out.read_text()


# ------------------------------------------------------------ empty action
def test_an_empty_action_code_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "00|ACME|cc5|20261122093000|ref-1\n01|customer|ws|bk|CRM|\n02|code\n"
                           "03|code:string|qty:int\n10|C1|1|\n99|1|\n")
    with validate(path) as report:
        assert report.findings == [] and report.header.action is None and report.header.datasource == "CRM"
    bad = write(tmp_path, "00|ACME|cc5|20261122093000|ref-1\n01|customer|ws|bk|\n02|code\n"
                          "03|code:string|qty:int\n10|C1|1|\n99|1|\n", "three.cc5txt")
    assert codes(bad) == [("BAD_HEADER", 2)]


# ------------------------------------------------------------ #Enter# = CRLF
def test_enter_decodes_to_crlf_everywhere(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "02|code\n03|code:string|note:string|tags:array\n"
                                  "10|C#Enter#1|a#Enter#b|x#Enter#y,z|\n90|C#Enter#1\n99|2|\n")
    with open_cc5(path) as f:
        assert f.data.fetchall() == [("C\r\n1", "a\r\nb", ["x\r\ny", "z"])]
        assert f.deletes.fetchall() == [("C\r\n1",)]
    con = connect()
    with plan_import(path, con) as plan:
        assert plan.touched.fetchall() == [("C\r\n1",)] and plan.deletes.fetchall() == [("C\r\n1",)]
