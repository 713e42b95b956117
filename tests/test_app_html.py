"""Jupyter HTML of a validation report, an import result and an open cc5 file (toolkit._html)."""

from __future__ import annotations

import random
from html.parser import HTMLParser

from toolkit.cc5 import open_cc5, validate
from toolkit.client.result import ImportRecord, ImportResult
from toolkit.demo import make_demo_file


class Text(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tags: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def demo_path(tmp_path, defect, rows=30, seed=4):
    file = make_demo_file(random.Random(seed), workspace="ws-eu", entity="customer", defect=defect, rows=rows)
    path = tmp_path / file.name
    path.write_text(file.data, encoding="utf-8")
    return file, path


def test_a_report_shows_its_verdict_counts_by_code_and_first_findings(tmp_path):
    file, path = demo_path(tmp_path, "bad_values", rows=60, seed=12)
    with validate(path, progress=False) as report:
        html = report._repr_html_()
        parsed = Text(html)
        assert "ROWS REJECTED" in parsed.text and path.name in parsed.text
        assert f"{report.rejected_rows} rejected" in parsed.text
        for code, n in report.counts.items():
            assert f"{code} {n}" in parsed.text
        first = report.iter_findings(limit=1)[0]
        assert f"{first.line} {first.code} {first.field}" in parsed.text
        assert parsed.tags.count("table") == 2 and "<script" not in html


def test_a_report_escapes_what_the_file_holds(tmp_path):
    path = tmp_path / "x.cc5txt"
    path.write_text("<script>alert(1)</script>\n", encoding="utf-8")
    with validate(path, progress=False) as report:
        html = report._repr_html_()
    assert "<script>" not in html and "NOT IMPORTABLE" in Text(html).text


def test_a_valid_file_and_its_open_cc5(tmp_path):
    _, path = demo_path(tmp_path, "clean", rows=8)
    with validate(path, progress=False) as report:
        assert "VALID" in Text(report._repr_html_()).text
    cc5 = open_cc5(path, progress=False)
    try:
        text = Text(cc5._repr_html_()).text
    finally:
        cc5.close()
    assert "entity customer · workspace ws-eu · keys customer_code" in text
    assert "customer_code:string" in text.replace(": ", ":") and "First 5 rows" in text


def test_an_import_result_shows_status_counts_code_and_local_findings():
    record = ImportRecord(file_id="f_9", file_name="c.cc5txt", status="FAILED", failure_code="FOOTER_COUNT_MISMATCH",
                          failure_count=2000)
    result = ImportResult(record=record, api="portal", validation={
        "summary": "c.cc5txt: NOT IMPORTABLE", "counts": {"FOOTER_COUNT_MISMATCH": 1},
        "findings": [{"line": 2004, "code": "FOOTER_COUNT_MISMATCH", "field": None, "value": "2001",
                      "message": "the 99 row says 2001"}]})
    text = Text(result._repr_html_()).text
    assert text.startswith("FAILED c.cc5txt · file f_9")
    assert "0 2,000 FOOTER_COUNT_MISMATCH" in text
    assert "Local validation" in text and "2004 FOOTER_COUNT_MISMATCH" in text
