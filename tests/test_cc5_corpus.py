"""Each defective sample file in tests/cc5_corpus/ gives its exact findings (code and line), no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.cc5 import FINDING_CODES, validate

CORPUS = Path(__file__).resolve().parent / "cc5_corpus"

# file -> the exact (code, line) findings, in report order; None lines are file-wide
EXPECTED: dict[str, list[tuple[str, int | None]]] = {
    "valid.cc5txt": [],
    "empty.cc5txt": [("EMPTY_FILE", None)],
    "blank_lines.cc5txt": [("EMPTY_FILE", None)],
    "bom_only.cc5txt": [("EMPTY_FILE", None)],
    "nul_byte.cc5txt": [("NOT_UTF8", 6)],
    "not_utf8.cc5txt": [("NOT_UTF8", 5)],
    "bom_crlf.cc5txt": [],
    "lone_cr.cc5txt": [("INVALID_INT", 6)],
    "missing_header.cc5txt": [("MISSING_HEADER", 1)],
    "header_out_of_order.cc5txt": [("BAD_HEADER", 3)],
    "missing_keys.cc5txt": [("MISSING_KEYS", 3)],
    "missing_fields.cc5txt": [("MISSING_FIELDS", 4)],
    "missing_metadata.cc5txt": [("MISSING_METADATA", 2)],
    "bad_create_time.cc5txt": [("BAD_HEADER", 1)],
    "bad_file_type.cc5txt": [("BAD_HEADER", 1)],
    "truncated_last_line.cc5txt": [("MISSING_FOOTER", 7), ("FIELD_COUNT", 7)],
    "footer_missing.cc5txt": [("MISSING_FOOTER", 6)],
    "footer_wrong.cc5txt": [("FOOTER_COUNT_MISMATCH", 7)],
    "footer_not_number.cc5txt": [("FOOTER_COUNT_MISMATCH", 6)],
    "content_after_footer.cc5txt": [("CONTENT_AFTER_FOOTER", 7)],
    "quotes_and_json.cc5txt": [],
    "unknown_type.cc5txt": [("UNKNOWN_TYPE", 4)],
    "duplicate_field.cc5txt": [("DUPLICATE_FIELD", 4)],
    "key_not_in_fields.cc5txt": [("KEY_NOT_IN_FIELDS", 3)],
    "reserved_field_name.cc5txt": [("RESERVED_FIELD_NAME", 4)],
    "reserved_row.cc5txt": [("RESERVED_ROW", 5)],
    "bad_values.cc5txt": [
        ("INVALID_INT", 5), ("INVALID_NUMBER", 6), ("INVALID_BOOL", 7), ("INVALID_DATE", 8),
        ("INVALID_ARRAY", 9), ("INVALID_OBJECT", 10), ("INVALID_LIST", 11), ("INVALID_INT", 12),
    ],
    "field_count.cc5txt": [("FIELD_COUNT", 5), ("FIELD_COUNT", 6), ("FIELD_COUNT", 7)],
    "empty_key.cc5txt": [("EMPTY_KEY", 5), ("EMPTY_KEY", 6)],
    "unknown_row_type.cc5txt": [("UNKNOWN_ROW_TYPE", 6), ("UNKNOWN_ROW_TYPE", 7)],
    "duplicate_key.cc5txt": [("DUPLICATE_KEY", 7), ("DUPLICATE_KEY", 8)],
    "binary_garbage.cc5txt": [("NOT_TEXT", None)],
}


def test_every_corpus_file_has_expectations() -> None:
    files = {p.name for p in CORPUS.glob("*.cc5txt")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    with validate(CORPUS / name) as report:
        got = [(f.code, f.line) for f in report.findings]
        assert got == EXPECTED[name], [str(f) for f in report.findings]
        assert report.ok == (not any(FINDING_CODES[c].severity == "error" for c, _ in EXPECTED[name]))
        for f in report.findings:
            assert f.severity == FINDING_CODES[f.code].severity
            assert f.level == FINDING_CODES[f.code].level
            assert f.message and "Traceback" not in f.message


def test_binary_garbage_is_one_not_text_finding() -> None:
    with validate(CORPUS / "binary_garbage.cc5txt") as report:
        assert report.counts == {"NOT_TEXT": 1}
        assert report.rejected_rows == 0 and report.header is None
        assert not report.importable


def test_values_and_fields_of_findings() -> None:
    with validate(CORPUS / "bad_values.cc5txt") as report:
        by_line = {f.line: f for f in report.findings}
        assert (by_line[5].field, by_line[5].value) == ("qty", "12a")
        assert (by_line[7].field, by_line[7].value) == ("active", "yes")
        assert (by_line[10].field, by_line[10].value) == ("profile", "[1]")
        assert report.importable and not report.ok
        assert report.rejected_rows == 8 and report.data_rows == 8


def test_truncated_and_crlf_counts() -> None:
    with validate(CORPUS / "truncated_last_line.cc5txt") as report:
        assert report.data_rows == 3 and report.rejected_rows == 1
    with validate(CORPUS / "bom_crlf.cc5txt") as report:
        assert report.ok and report.data_rows == 2
        assert report.header is not None and report.header.customer == "ACME"


def test_ten_megabyte_single_line(tmp_path: Path) -> None:
    text = (CORPUS / "valid.cc5txt").read_text()
    lines = text.splitlines()
    big = "10|BIG|" + "x" * (10 * 1024 * 1024) + "|1.5|1|true|20240115|a|{}|[]|"
    lines.insert(6, big)
    lines[-1] = "99|4|"
    path = tmp_path / "long.cc5txt"
    path.write_text("\n".join(lines) + "\n")
    with validate(path) as report:
        assert report.ok, [str(f) for f in report.findings]
        assert report.data_rows == 3
    lines[6] = big.replace("|1|true|", "|x|true|")
    path.write_text("\n".join(lines) + "\n")
    with validate(path) as report:
        assert [(f.code, f.line, f.value) for f in report.findings] == [("INVALID_INT", 7, "x")]


def test_line_longer_than_the_fast_reader_limit(tmp_path: Path) -> None:
    from toolkit.cc5 import open_cc5
    MAX_LINE_SIZE = 32 << 20  # longer than any buffer of a CSV reader

    text = (CORPUS / "valid.cc5txt").read_text().splitlines()
    text.insert(5, "10|HUGE|" + "y" * (MAX_LINE_SIZE + 10) + "|1|1|true|20240115|a|{}|[]|")
    text[-1] = "99|4|"
    path = tmp_path / "huge.cc5txt"
    path.write_text("\n".join(text) + "\n")
    with validate(path) as report:
        assert report.ok
    with open_cc5(path) as f:
        df = f.to_pandas(lines=True)
        assert list(df["_line"]) == [5, 6, 7]
        assert len(df.loc[1, "name"]) == MAX_LINE_SIZE + 10
