"""The speed-ups never change a result: same findings with the numpy pre-check and the
quick path on and off."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from toolkit.cc5 import validate

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

row_st = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in POOLS.items()})
line_st = st.one_of(
    row_st.map(lambda r: "10|" + "|".join(r.values()) + "|"),
    row_st.map(lambda r: "10|" + "|".join(r.values())),
    row_st.map(lambda r: "10|" + "|".join(list(r.values())[:-1]) + "|"),
    row_st.map(lambda r: "10|" + "|".join(r.values()) + "|extra|"),
    st.sampled_from(["90|C1", "90|", "90|C1|", "90|C1|C2", "", "05|x", "xx|y", "10", "10|"]),
)


def _findings(path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool, quick: bool = False):
    monkeypatch.setenv("TOOLKIT_CC5_FASTCHECK", "1" if fast else "0")
    monkeypatch.setenv("TOOLKIT_CC5_QUICK", "1" if quick else "0")
    with validate(path) as report:
        return ([(f.code, f.line, f.field, f.value, f.message) for f in report.findings],
                report.data_rows, report.delete_rows, report.rejected_rows)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line_st, min_size=1, max_size=40))
def test_same_findings_with_and_without_the_precheck(tmp_path_factory, monkeypatch, lines) -> None:
    path = tmp_path_factory.mktemp("fc") / "f.cc5txt"
    n = sum(1 for line in lines if line.startswith(("10", "90")) and line[:3] in ("10|", "90|") or line in ("10",))
    path.write_text(HEADER + "\n".join(lines) + f"\n99|{n}|\n", encoding="utf-8")
    exact = _findings(path, monkeypatch, False)
    assert _findings(path, monkeypatch, True) == exact
    assert _findings(path, monkeypatch, True, quick=True) == exact


def test_every_pool_value_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = {k: v[1] for k, v in POOLS.items()}
    lines = []
    for field, values in POOLS.items():
        for value in values:
            lines.append("10|" + "|".join({**base, field: value}.values()) + "|")
    path = tmp_path / "all.cc5txt"
    path.write_text(HEADER + "\n".join(lines) + f"\n99|{len(lines)}|\n", encoding="utf-8")
    on = _findings(path, monkeypatch, True)
    off = _findings(path, monkeypatch, False)
    assert on == off
    bad = {(f[2], f[3]) for f in on[0]}
    assert ("qty", "1234567890123456789") not in bad and ("qty", "9223372036854775808") in bad
    assert ("since", "20240229") not in bad and ("since", "20230229") in bad
    assert ("since", "00000101") in bad and ("since", "00010101") not in bad
    assert ("credit", "1" * 200) in bad and ("credit", "1e5") not in bad  # values are cut to 200 chars
    assert ("profile", " {}") not in bad and ("profile", '{"a":"x#/#y"}') not in bad


CORPUS = Path(__file__).resolve().parent / "cc5_corpus"


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.cc5txt")))
def test_corpus_same_with_every_path(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    exact = _findings(CORPUS / name, monkeypatch, False)
    assert _findings(CORPUS / name, monkeypatch, True) == exact
    assert _findings(CORPUS / name, monkeypatch, True, quick=True) == exact


def _clean(tmp_path: Path, rows: list[str], footer: int | None = None, name: str = "q.cc5txt") -> Path:
    path = tmp_path / name
    n = len(rows) if footer is None else footer
    path.write_text(HEADER + "".join(r + "\n" for r in rows) + f"99|{n}|\n", encoding="utf-8")
    return path


def test_quick_path_is_taken_for_a_clean_file_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLKIT_CC5_QUICK", raising=False)
    good = [f"10|C{i}|1.5|{i}|true|20240115|a,b|{{}}|[]|n|" for i in range(50)]
    with validate(_clean(tmp_path, good)) as report:
        assert report.ok and report._scan.rows_table is None and report.data_rows == 50
    cases = {
        "dup": good + [good[0]],
        "bad": good + ["10|X|1.5|x|true|20240115|a|{}|[]|n|"],
        "delete": good + ["90|C1"],
        "blank": good[:10] + [""] + good[10:],
        "no_trailing": good + ["10|Y|1.5|1|true|20240115|a|{}|[]|n"],
        "json": good + ['10|Z|1.5|1|true|20240115|a|{"a":|[]|n|'],
    }
    for name, rows in cases.items():
        path = _clean(tmp_path, rows, name=f"{name}.cc5txt")
        got = _findings(path, monkeypatch, True, quick=True)
        assert got == _findings(path, monkeypatch, False), name
        with validate(path) as report:
            assert report._scan.rows_table is not None, name  # the exact engine ran
    wrong_footer = _clean(tmp_path, good, footer=7, name="footer.cc5txt")
    assert _findings(wrong_footer, monkeypatch, True, quick=True)[0][0][0] == "FOOTER_COUNT_MISMATCH"
    crlf = tmp_path / "crlf.cc5txt"
    crlf.write_bytes(_clean(tmp_path, good).read_bytes().replace(b"\n", b"\r\n"))
    with validate(crlf) as report:
        assert report.ok and report._scan.rows_table is not None
