"""The quick path's shortcuts (toolkit.cc5.lexical) never accept a bad value."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import duckdb
import pytest

from toolkit.cc5 import validate
from toolkit.cc5.lexical import FAST_TYPES, fast_pattern, line_pattern
from toolkit.cc5.values import valid_sql

ALPHABET = {
    "int": "0123456789+-. e_x",
    "number": "0123456789+-.eE _xni",
    "bool": "tTrRuUeEfFaAlLsS01 ",
    "date": "0123456789 -",
    "array": "ab,, #",
}


def _candidates(ftype: str) -> list[str]:
    rnd = random.Random(ftype)
    out: set[str] = set()
    if ftype in ALPHABET:
        for _ in range(4000):
            out.add("".join(rnd.choice(ALPHABET[ftype]) for _ in range(rnd.randint(1, 16))))
    if ftype == "date":
        for year in (999, 1000, 1600, 1700, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 9999):
            for month in range(0, 14):
                for day in (0, 1, 28, 29, 30, 31, 32):
                    out |= {f"{year:04d}{month:02d}{day:02d}", f"{year:04d}{month:02d}{day:02d}235959",
                            f"{year:04d}{month:02d}{day:02d}240000", f"{year:04d}{month:02d}{day:02d}235960"}
    if ftype == "int":
        out |= {"9" * k for k in range(1, 22)} | {"-" + "9" * k for k in range(1, 22)}
    if ftype == "bool":
        out |= {"true", "TRUE", "fAlSe", "0", "1", "yes", "t", "true "}
    if ftype in ("object", "list"):
        def value(depth: int):
            r = rnd.random()
            if depth and r < 0.25:
                return [value(depth - 1) for _ in range(rnd.randint(0, 3))]
            if depth and r < 0.5:
                return {rnd.choice(["a", "é", "x y", 'q"', "\\", "\x01", "😀"]): value(depth - 1)
                        for _ in range(rnd.randint(0, 3))}
            return rnd.choice([1, -2, 0.5, 1e20, 1.5e-7, 10**20, "s", "tab\t", "nl\n", True, None, "", "#/#", "😀"])

        for _ in range(3000):
            text = json.dumps(value(3), ensure_ascii=rnd.random() < 0.5,
                              separators=rnd.choice([(",", ":"), (", ", ": ")]))
            if rnd.random() < 0.4:  # break it somewhere
                i = rnd.randint(0, len(text))
                text = text[:i] + rnd.choice(["", " ", ",", "]", "}", '"', "\\", "e", "\t", "\\ud800"]) + text[i + 1:]
            out.add(text)
    return sorted(v for v in out if "|" not in v)


@pytest.mark.parametrize("ftype", sorted(FAST_TYPES))
def test_patterns_accept_only_valid_values(ftype: str) -> None:
    con = duckdb.connect()
    values = _candidates(ftype)
    con.execute("CREATE TABLE v AS SELECT unnest(?) AS v", [values])
    rows = con.execute(
        f"SELECT v, {valid_sql(ftype, 'v')}, regexp_full_match(v, ?) FROM v", [fast_pattern(ftype)]
    ).fetchall()
    lenient = [v for v, ok, fast in rows if fast and not ok]
    assert lenient == []
    assert any(fast for _v, _ok, fast in rows)  # the shortcut is used at all
    python = {v: bool(re.fullmatch(fast_pattern(ftype), v)) for v in values}
    assert all(python[v] == bool(fast) for v, _ok, fast in rows)  # RE2 and Python agree


def test_line_pattern_accepts_only_valid_rows() -> None:
    types = ["string", "number", "int", "bool", "date", "array", "object", "list", "string"]
    pools = [["", "x", "#/#"]] + [[""] + _candidates(t)[:: max(1, len(_candidates(t)) // 60)] for t in types[1:-1]]
    pools.append(["", "n"])
    rnd = random.Random(7)
    lines = []
    for _ in range(3000):
        values = [rnd.choice(pool) if rnd.random() < 0.3 else "" for pool in pools]
        if rnd.random() < 0.7:
            values[0] = values[0] or "k"
        lines.append("10|" + "|".join(values) + rnd.choice(["|", "", "||", "|x"]))
    con = duckdb.connect()
    con.execute("CREATE TABLE r AS SELECT unnest(?) AS l", [lines])
    n = len(types)
    value = [f"NULLIF(p[{i + 2}], '')" for i in range(n)]
    exact = [f"(len(p) = {n + 1} OR (len(p) = {n + 2} AND p[{n + 2}] = ''))", f"{value[0]} IS NOT NULL"]
    exact += [f"({value[i]} IS NULL OR {valid_sql(t, value[i])})" for i, t in enumerate(types)
              if valid_sql(t, "x") is not None]
    got = con.execute(
        f"SELECT l, regexp_full_match(l, ?), {' AND '.join(exact)} FROM (SELECT l, string_split(l, '|') AS p FROM r)",
        [line_pattern(types, [0])],
    ).fetchall()
    assert [line for line, fast, ok in got if fast and not ok] == []
    assert 0 < sum(1 for _l, fast, _ok in got if fast) < sum(1 for _l, _f, ok in got if ok)


HEADER = (
    "00|ACME|cc5|20261122093000|ref-1\n01|customer|ws-eu|bk-main|CRM|UPSERT\n02|code\n"
    "03|code:string|credit:number|qty:int|active:bool|since:date|tags:array|profile:object|hist:list|note\n"
)


def _report(path: Path, monkeypatch: pytest.MonkeyPatch, quick: bool):
    monkeypatch.setenv("TOOLKIT_CC5_QUICK", "1" if quick else "0")
    with validate(path) as report:
        return ([(f.code, f.line, f.field, f.value) for f in report.findings], report.data_rows,
                report._scan.rows_table is None)


def test_unusual_valid_values_stay_on_the_quick_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # valid values outside the patterns' shapes: valid_sql decides them, the quick path holds
    unusual = [
        "10|A|1e5|1234567890123456789|TrUe|20240229|a,b|{\"a\":{\"b\":{}}}|[[[1]]]|x|",
        "10|B|+.5|-0|0|05000101|x y|{\"a\":\"x#/#y\"}|[1e5]|#Enter#|",
        "10|C|1.|9223372036854775807|1|20000229235959|é|{}|[]||",
        "10|D|||||||||",
    ]
    path = tmp_path / "unusual.cc5txt"
    path.write_text(HEADER + "".join(r + "\n" for r in unusual) + "99|4|\n", encoding="utf-8")
    quick = _report(path, monkeypatch, True)
    exact = _report(path, monkeypatch, False)
    assert quick == ([], 4, True)
    assert exact[:2] == quick[:2]


@pytest.mark.parametrize("value, code", [
    ("20230229", "INVALID_DATE"), ("19000229", "INVALID_DATE"), ("9223372036854775808", "INVALID_INT"),
    ('{"a":"#Enter#"}', "INVALID_OBJECT"), ("1e999", "INVALID_NUMBER"),
])
def test_a_bad_value_leaves_the_quick_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str,
                                           code: str) -> None:
    row = {"code": "A", "credit": "1", "qty": "1", "active": "1", "since": "20240101", "tags": "a",
           "profile": "{}", "hist": "[]", "note": ""}
    field = {"INVALID_DATE": "since", "INVALID_INT": "qty", "INVALID_OBJECT": "profile",
             "INVALID_NUMBER": "credit"}[code]
    row[field] = value
    path = tmp_path / "bad.cc5txt"
    path.write_text(HEADER + "10|" + "|".join(row.values()) + "|\n99|1|\n", encoding="utf-8")
    quick = _report(path, monkeypatch, True)
    assert quick[:2] == _report(path, monkeypatch, False)[:2]
    assert [(c, line, f) for c, line, f, _v in quick[0]] == [(code, 5, field)]
    assert quick[2] is False  # the exact engine ran


@pytest.mark.parametrize("numpy_distinct", [True, False])
def test_duplicate_keys_leave_the_quick_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             numpy_distinct: bool) -> None:
    import toolkit.cc5.quick as quick

    if not numpy_distinct:  # the DuckDB count(DISTINCT) used for files over 1 GB
        monkeypatch.setattr(quick, "NUMPY_DISTINCT_MAX_BYTES", 0)
    rows = [f"10|C{i}|1|{i}|true|20240115|a|{{}}|[]|n|" for i in range(30)]
    clean = tmp_path / "clean.cc5txt"
    clean.write_text(HEADER + "".join(r + "\n" for r in rows) + "99|30|\n", encoding="utf-8")
    assert _report(clean, monkeypatch, True) == ([], 30, True)
    dup = tmp_path / "dup.cc5txt"
    dup.write_text(HEADER + "".join(r + "\n" for r in rows + [rows[3]]) + "99|31|\n", encoding="utf-8")
    findings, data_rows, quick_taken = _report(dup, monkeypatch, True)
    assert [(c, line) for c, line, _f, _v in findings] == [("DUPLICATE_KEY", 35)] and not quick_taken
