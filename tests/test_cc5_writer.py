"""write_cc5(): inputs, type inference, escapes, footer, errors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from toolkit.cc5 import open_cc5, read_header, validate, write_cc5
from toolkit.errors import ToolkitError, WriteError

META = dict(entity_type="customer", workspace_id="ws-eu", bucket_id="bk-main", customer="ACME",
            datasource="CRM", action="UPSERT")


def test_dataframe_inference_and_layout(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "name": ["Ada|L", "B"], "code": ["C1", "C2"], "n": [1, 2], "x": [1.5, 2.0], "ok": [True, False],
        "at": pd.to_datetime(["2024-01-02 03:04:05", "2025-01-01 00:00:00"]), "tags": [["a", "b"], ["c"]],
        "meta": [{"k": 1}, {"k": [1, 2]}], "hist": [[{"a": 1}], []],
    })
    path = tmp_path / "o.cc5txt"
    res = write_cc5(df, path, keys="code", reference_id="ref-9", **META)
    assert res.rows == 2
    lines = path.read_text().splitlines()
    assert lines[0].startswith("00|ACME|cc5|") and lines[0].endswith("|ref-9")
    assert lines[1] == "01|customer|ws-eu|bk-main|CRM|UPSERT"
    assert lines[2] == "02|code"
    assert lines[3] == "03|code:string|name:string|n:int|x:number|ok:bool|at:date|tags:array|meta:object|hist:list"
    assert lines[4] == '10|C1|Ada#/#L|1|1.5|true|20240102030405|a,b|{"k": 1}|[{"a": 1}]|'
    assert lines[-1] == "99|2|"
    with validate(path) as report:
        assert report.ok


def test_types_override_and_defaults(tmp_path: Path) -> None:
    df = pd.DataFrame({"id_code": [7, 8], "n": [1, 2]})
    path = tmp_path / "t.cc5txt"
    write_cc5(df, path, entity_type="e", workspace_id="w", bucket_id="b", keys=["id_code"],
              types={"id_code": "string", "n": "number"})
    h = read_header(path)
    assert [(f.code, f.type) for f in h.fields] == [("id_code", "string"), ("n", "number")]
    assert (h.customer, h.datasource, h.action) == ("DEFAULT", "toolkit", "UPSERT")
    assert h.reference_id and len(h.reference_id) == 32


def test_relation_csv_and_parquet_inputs(tmp_path: Path) -> None:
    con = duckdb.connect()
    rel = con.sql("SELECT 'K' || i AS k, i AS n, i * 0.5 AS x, DATE '2024-01-01' + CAST(i AS INTEGER) AS d "
                  "FROM range(5000) t(i)")
    p1 = tmp_path / "rel.cc5txt"
    assert write_cc5(rel, p1, keys=["k"], **META).rows == 5000
    with open_cc5(p1) as f:
        assert f.data.fetchall()[1] == ("K1", 1, 0.5, pd.Timestamp("2024-01-02").to_pydatetime())
    csv = tmp_path / "in.csv"
    csv.write_text("code,qty,when\n007,5,2024-01-01\n008,6,2024-02-01\n")
    p2 = tmp_path / "csv.cc5txt"
    write_cc5(csv, p2, keys="code", types={"code": "string"}, **META)
    assert p2.read_text().splitlines()[4] == "10|007|5|20240101|"
    parquet = tmp_path / "in.parquet"
    con.sql("SELECT 'a' AS k, [1, 2] AS l, {'x': 1} AS s").write_parquet(str(parquet))
    p3 = tmp_path / "pq.cc5txt"
    write_cc5(parquet, p3, keys="k", **META)
    assert p3.read_text().splitlines()[3] == "03|k:string|l:array|s:object"
    assert p3.read_text().splitlines()[4] == '10|a|1,2|{"x":1}|'


def test_value_errors_name_the_column_and_row(tmp_path: Path) -> None:
    out = tmp_path / "w.cc5txt"
    cases = [
        (pd.DataFrame({"code": ["a", "b", "c"], "n": [1.0, 2.0, float("inf")]}), "n", 3, "infinite"),
        (pd.DataFrame({"code": ["a", "b"], "tags": [["x"], ["y", ""]]}), "tags", 2, "comma"),
        (pd.DataFrame({"code": ["a", None], "v": [1, 2]}), "code", 2, "key"),
    ]
    for df, column, row, text in cases:
        with pytest.raises(WriteError, match=text) as info:
            write_cc5(df, out, keys="code", **META)
        assert (info.value.column, info.value.row) == (column, row)
        assert str(info.value).startswith(f"column {column}, row {row}: ")
        assert isinstance(info.value, ToolkitError) and not out.exists()
    con = duckdb.connect()
    rel = con.sql("SELECT 'a' AS code, [1, 2] AS l UNION ALL SELECT 'b', [3, NULL] ORDER BY code")
    with pytest.raises(WriteError, match="array element") as info:
        write_cc5(rel, out, keys="code", **META)
    assert (info.value.column, info.value.row) == ("l", 2)


def test_errors(tmp_path: Path) -> None:
    df = pd.DataFrame({"code": ["a", None], "v": [1, 2]})
    out = tmp_path / "e.cc5txt"
    with pytest.raises(ValueError, match="key"):
        write_cc5(df, out, keys=["code"], **META)
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))
    with pytest.raises(ValueError, match="not in the data"):
        write_cc5(df, out, keys=["nope"], **META)
    with pytest.raises(ValueError, match="unknown type"):
        write_cc5(df, out, keys=["code"], types={"v": "money"}, **META)
    with pytest.raises(ValueError, match=r"\|"):
        write_cc5(df.dropna(), out, keys=["code"], **{**META, "customer": "A|B"})
    with pytest.raises(ValueError, match="comma"):
        write_cc5(pd.DataFrame({"k": ["a"], "t": [["x,y"]]}), out, keys="k", **META)
    with pytest.raises(ValueError, match="infinite"):
        write_cc5(pd.DataFrame({"k": ["a"], "x": [float("inf")]}), out, keys="k", **META)
    with pytest.raises(TypeError):
        write_cc5(42, out, keys="k", **META)  # type: ignore[arg-type]


def test_large_input_streams(tmp_path: Path) -> None:
    con = duckdb.connect()
    rel = con.sql("SELECT i AS k, 'name ' || i AS name FROM range(300000) t(i)")
    path = tmp_path / "big.cc5txt"
    assert write_cc5(rel, path, keys="k", **META).rows == 300000
    with validate(path) as report:
        assert report.ok and report.data_rows == 300000
