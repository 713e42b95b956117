"""read_header() and open_cc5(): typed access to a file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from toolkit.cc5 import Cc5Error, Field, open_cc5, read_header

CORPUS = Path(__file__).resolve().parent / "cc5_corpus"


def test_read_header_typed() -> None:
    h = read_header(CORPUS / "valid.cc5txt")
    assert (h.customer, h.file_type, h.create_time, h.reference_id) == (
        "ACME", "cc5", datetime(2026, 11, 22, 9, 30), "ref-0001")
    assert (h.entity_type, h.workspace_id, h.bucket_id, h.datasource, h.action) == (
        "customer", "ws-eu", "bk-main", "CRM", "UPSERT")
    assert h.keys == ("code",)
    assert h.fields[0] == Field("code", "string", "VARCHAR")
    assert [f.duckdb_type for f in h.fields] == [
        "VARCHAR", "VARCHAR", "DOUBLE", "BIGINT", "BOOLEAN", "TIMESTAMP", "VARCHAR[]", "JSON", "JSON"]
    assert h.findings == ()
    assert h.to_dict()["keys"] == ["code"]


def test_read_header_of_a_broken_file_does_not_raise() -> None:
    h = read_header(CORPUS / "missing_header.cc5txt")
    assert h.customer is None and h.workspace_id == "ws-eu"
    assert [f.code for f in h.findings] == ["MISSING_HEADER"]
    with pytest.raises(Cc5Error):
        read_header(CORPUS / "nope.cc5txt")


def test_spaces_and_case_in_field_types(tmp_path: Path) -> None:
    p = tmp_path / "t.cc5txt"
    p.write_text("00|A|CC5|20260101000000|r\n01|e|w|b|d|a\n02|code\n03|code| amount : Number |flag:BOOL\n"
                 "10|x|1.5|TRUE|\n99|1|\n")
    h = read_header(p)
    assert [(f.code, f.type) for f in h.fields] == [("code", "string"), ("amount", "number"), ("flag", "bool")]
    with open_cc5(p) as f:
        assert f.data.fetchall() == [("x", 1.5, True)]


def test_open_cc5_typed_relation_and_deletes() -> None:
    with open_cc5(CORPUS / "quotes_and_json.cc5txt") as f:
        rel = f.data
        assert [str(t) for t in rel.types] == [
            "VARCHAR", "VARCHAR", "DOUBLE", "BIGINT", "BOOLEAN", "TIMESTAMP", "VARCHAR[]", "JSON", "JSON"]
        rows = rel.fetchall()
        assert rows[0][1] == 'say "hi" | bye'
        assert rows[0][7] == '{"a":"x|y","b":[1,{"c":null}]}'
        assert rows[1][6] == ["x", '"y"']
    with open_cc5(CORPUS / "valid.cc5txt") as f:
        assert f.deletes.fetchall() == [("C000",)]
        df = f.to_pandas(lines=True)
        assert list(df["_line"]) == [5, 6]
        assert list(f.to_pandas(limit=1)["code"]) == ["C001"]


def test_invalid_values_are_null_in_the_relation() -> None:
    with open_cc5(CORPUS / "bad_values.cc5txt") as f:
        rows = f.data.fetchall()
        assert rows[0][3] is None  # qty 12a
        assert rows[3][5] is None  # since 20240230
        report = f.validate()
        assert report.rejected_rows == 8


def test_head_reads_only_the_start(tmp_path: Path) -> None:
    lines = ["00|A|cc5|20260101000000|r", "01|e|w|b|d|a", "02|k", "03|k:int|v"]
    lines += [f"10|{i}|v{i}|" for i in range(1, 200001)] + ["99|200000|"]
    p = tmp_path / "big.cc5txt"
    p.write_text("\n".join(lines) + "\n")
    with open_cc5(p) as f:
        df = f.head(3)
        assert list(df["_line"]) == [5, 6, 7] and list(df["k"]) == [1, 2, 3]
        assert f._scan._lines is None  # nothing but the head was read


def test_profile() -> None:
    with open_cc5(CORPUS / "duplicate_key.cc5txt") as f:
        prof = f.profile().set_index("field")
        assert prof.loc["code", "rows"] == 3 and prof.loc["code", "distinct"] == 2
        assert prof.loc["code", "top"][0] == ("C001", 2)
        assert prof.loc["qty", "min"] == "1" and prof.loc["qty", "max"] == "2"
        assert pd.isna(prof.loc["tags", "min"])


def test_open_cc5_on_a_given_connection_and_errors(tmp_path: Path) -> None:
    con = duckdb.connect()
    with open_cc5(CORPUS / "valid.cc5txt", con=con) as f:
        assert f.con is con
        assert len(f.data.fetchall()) == 2
    assert con.execute("SELECT 1").fetchall() == [(1,)]  # not closed
    with pytest.raises(Cc5Error, match="03"):
        open_cc5(CORPUS / "missing_fields.cc5txt")
    with pytest.raises(Cc5Error, match="empty"):
        open_cc5(CORPUS / "empty.cc5txt")


def test_crlf_file_opens_exactly() -> None:
    with open_cc5(CORPUS / "bom_crlf.cc5txt") as f:
        assert [r[0] for r in f.data.fetchall()] == ["C001", "C002"]
        assert f.head(1)["code"].tolist() == ["C001"]
