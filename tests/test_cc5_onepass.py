"""The one pass: a row's findings are exactly those of its values (checked one by one), and
files with duplicate keys, delete rows, blank lines and CRLF stay on the same pass."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.cc5 import open_cc5, plan_import, validate

HEADER = (
    "00|ACME|cc5|20261122093000|ref-1\n01|customer|ws-eu|bk-main|CRM|UPSERT\n02|code\n"
    "03|code:string|credit:number|qty:int|active:bool|since:date|tags:array|profile:object|hist:list|note\n"
)
POOLS = {
    "code": ["C1", "C2", "", "a b", "é", "C#/#1", "x" * 30],
    "credit": ["", "1", "1.5", ".5", "5.", ".", "-2", "+3.25", "1e5", "1,5", "abc", "1.2.3", "--1", "+",
               "1" * 30, "1" * 400, "0x1F", " 1", "1_000", "nan", "inf", "١"],
    "qty": ["", "0", "-7", "+12", "123456789012345678", "1234567890123456789", "9223372036854775807",
            "9223372036854775808", "-9223372036854775808", "12a", "1.0", " 3", "1_0", "+", "-", "٣"],
    "active": ["", "true", "TRUE", "False", "fAlSe", "0", "1", "yes", "t", "2", "tru", "true ", "\x10"],
    "since": ["", "20240115", "20240229", "20230229", "20241301", "20240100", "20240431", "00000101",
              "00010101", "99991231", "20240115235959", "20240115240000", "20240115235960", "2024011", "2024-01-15",
              "2024011512000", "１２３４５６７８", "19000229", "20000229"],
    "tags": ["", "a", "a,b", ",a", "a,", "a,,b", ",", "a, b", "x#/#y,z"],
    "profile": ["", "{}", '{"a":1}', '{"a":', "[1]", " {}", "{} ", '{"a":"x#/#y"}', '{"a":"#Enter#"}', "{x}",
                '{"a":1}{', "null", "{\"é\":\"\"}"],
    "hist": ["", "[]", "[1,2]", "[", "{}", " []", "[1,", '["a|b"]', '["#/#"]', "[[]]"],
    "note": ["", "plain", 'q"uote', "#Enter#", "#/#"],
}
FIELDS = list(POOLS)

# a value holding "|" is two values: it is checked alone, not composed into random rows
row_st = st.fixed_dictionaries({k: st.sampled_from([x for x in v if "|" not in x]) for k, v in POOLS.items()})
def _findings(path: Path):
    with validate(path) as report:
        return ([(f.code, f.line, f.field, f.value, f.message) for f in report.findings],
                report.data_rows, report.delete_rows, report.rejected_rows)


def test_every_pool_value_alone(tmp_path: Path) -> None:
    base = {k: v[1] for k, v in POOLS.items()}
    lines = []
    for field, values in POOLS.items():
        for value in values:
            lines.append("10|" + "|".join({**base, field: value}.values()) + "|")
    path = tmp_path / "all.cc5txt"
    path.write_text(HEADER + "\n".join(lines) + f"\n99|{len(lines)}|\n", encoding="utf-8")
    on = _findings(path)
    bad = {(f[2], f[3]) for f in on[0]}
    assert ("qty", "1234567890123456789") not in bad and ("qty", "9223372036854775808") in bad
    assert ("since", "20240229") not in bad and ("since", "20230229") in bad
    assert ("since", "00000101") in bad and ("since", "00010101") not in bad
    assert ("credit", "1" * 200) in bad and ("credit", "1e5") not in bad  # values are cut to 200 chars
    assert ("profile", " {}") not in bad and ("profile", '{"a":"x#/#y"}') not in bad


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory) -> dict[tuple[str, str], set[str]]:
    """(field, value) -> the row-level codes a row gets when only that value varies."""
    base = {k: v[1] for k, v in POOLS.items()}
    cases, lines = [], []
    for field, values in POOLS.items():
        for value in values:
            cases.append((field, value))
            lines.append("10|" + "|".join({**base, field: value}.values()) + "|")
    path = tmp_path_factory.mktemp("v") / "alone.cc5txt"
    path.write_text(HEADER + "\n".join(lines) + f"\n99|{len(lines)}|\n", encoding="utf-8")
    found: dict[int, set[str]] = {}
    for code, line, *_ in _findings(path)[0]:
        if code != "DUPLICATE_KEY":
            found.setdefault(line, set()).add(code)
    return {case: found.get(i + 5, set()) for i, case in enumerate(cases)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(row_st, st.booleans()), min_size=1, max_size=40))
def test_a_rows_findings_are_those_of_its_values(tmp_path_factory, verdicts, rows) -> None:
    path = tmp_path_factory.mktemp("fc") / "f.cc5txt"
    lines = ["10|" + "|".join(r[f] for f in FIELDS) + ("|" if trailing else "") for r, trailing in rows]
    path.write_text(HEADER + "\n".join(lines) + f"\n99|{len(lines)}|\n", encoding="utf-8")
    got: dict[int, set[str]] = {}
    for code, line, *_ in _findings(path)[0]:
        if code != "DUPLICATE_KEY":
            got.setdefault(line, set()).add(code)
    for i, (r, _t) in enumerate(rows):
        expected = set().union(*(verdicts[(f, v)] for f, v in r.items()))
        assert got.get(i + 5, set()) == expected, lines[i]



@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_st, min_size=1, max_size=30))
def test_the_import_applies_what_open_cc5_reads(tmp_path_factory, rows) -> None:
    """Per key, the plan's row is the typed values open_cc5 reads from its last accepted row
    (escapes decoded; arrays, whose list the apply builds, included)."""
    path = tmp_path_factory.mktemp("pl") / "p.cc5txt"
    lines = ["10|" + "|".join(r[f] for f in FIELDS) + "|" for r in rows]
    path.write_text(HEADER + "\n".join(lines) + f"\n99|{len(lines)}|\n", encoding="utf-8")
    with validate(path) as report:
        rejected = {f.line for f in report.findings if f.level == "row"}
    with open_cc5(path) as opened:
        typed = opened.data.fetchall()
    expected = {}
    for i, row in enumerate(typed):  # line i + 5; the last accepted row of a key wins
        if i + 5 not in rejected:
            expected[row[0]] = row
    with plan_import(path, duckdb.connect()) as plan:
        applied = plan.upserts.fetchall()
    assert sorted(applied, key=repr) == sorted(expected.values(), key=repr)


def _clean(tmp_path: Path, rows: list[str], footer: int | None = None, name: str = "q.cc5txt") -> Path:
    path = tmp_path / name
    n = len(rows) if footer is None else footer
    path.write_text(HEADER + "".join(r + "\n" for r in rows) + f"99|{n}|\n", encoding="utf-8")
    return path


def test_files_with_findings_stay_on_the_one_pass(tmp_path: Path) -> None:
    good = [f"10|C{i}|1.5|{i}|true|20240115|a,b|{{}}|[]|n|" for i in range(50)]
    with validate(_clean(tmp_path, good)) as report:
        assert report.ok and report.data_rows == 50
    cases = {
        "dup": (good + [good[0]], [("DUPLICATE_KEY", 55)]),
        "bad": (good + ["10|X|1.5|x|true|20240115|a|{}|[]|n|"], [("INVALID_INT", 55)]),
        "delete": (good + ["90|C1"], [("DUPLICATE_KEY", 55)]),
        "blank": (good[:10] + [""] + good[10:], [("UNKNOWN_ROW_TYPE", 15), ("FOOTER_COUNT_MISMATCH", 56)]),
        "no_trailing": (good + ["10|Y|1.5|1|true|20240115|a|{}|[]|n"], []),
        "json": (good + ['10|Z|1.5|1|true|20240115|a|{"a":|[]|n|'], [("INVALID_OBJECT", 55)]),
    }
    for name, (rows, expected) in cases.items():
        path = _clean(tmp_path, rows, name=f"{name}.cc5txt")
        got = _findings(path)
        assert [(code, line) for code, line, *_ in got[0]] == expected, name
    wrong_footer = _clean(tmp_path, good, footer=7, name="footer.cc5txt")
    assert _findings(wrong_footer)[0][0][0] == "FOOTER_COUNT_MISMATCH"
    crlf = tmp_path / "crlf.cc5txt"
    crlf.write_bytes(_clean(tmp_path, good).read_bytes().replace(b"\n", b"\r\n"))
    with validate(crlf) as report:
        assert report.ok and report.data_rows == 50


def test_duplicate_keys_are_located_on_every_repeat(tmp_path: Path) -> None:
    rows = [f"10|C{i}|1|{i}|true|20240115|a|{{}}|[]|n|" for i in range(30)]
    dup = _clean(tmp_path, rows + [rows[3], rows[3], "90|C7"], name="dup.cc5txt")
    findings = _findings(dup)[0]
    assert [(c, line, v) for c, line, _f, v, _m in findings] == [
        ("DUPLICATE_KEY", 35, "C3"), ("DUPLICATE_KEY", 36, "C3"), ("DUPLICATE_KEY", 37, "C7")]
