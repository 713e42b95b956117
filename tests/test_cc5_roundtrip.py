"""write_cc5 -> open_cc5 gives the data back, under the documented contract.

The contract (docs/cc5-format.md, "Round trip"):

* an empty string is written as an empty value, which the format reads as
  null: ``""`` comes back as ``None``;
* every line break is written as ``#Enter#`` and read as ``\\r\\n`` (the portal's
  line break): ``\\r\\n`` round-trips, a lone ``\\n`` or ``\\r`` comes back as ``\\r\\n``;
* a value holding the literal text ``#/#`` or ``#Enter#`` cannot round-trip
  (the reader decodes it to ``|`` or ``\\r\\n``); such values are tested apart.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.cc5 import open_cc5, validate, write_cc5

META = dict(entity_type="customer", workspace_id="ws-eu", bucket_id="bk-main", customer="ACME",
            datasource="CRM", action="UPSERT")

tricky = st.sampled_from(["|", "\r\n", "\r", "\n", "#", '"', "é", "日本", "🙂", " ", "\t", ",", "{", "'", "\\"])
text_st = st.lists(st.one_of(tricky, st.text(max_size=5)), max_size=6).map("".join).filter(
    lambda s: "#/#" not in s and "#Enter#" not in s and "\x00" not in s)


def expected_text(s: str | None) -> str | None:
    if s is None or s == "":
        return None
    return s.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


element_st = text_st.filter(lambda s: s != "" and "," not in s)
row_st = st.fixed_dictionaries({
    "name": st.one_of(st.none(), text_st),
    "qty": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "credit": st.floats(allow_nan=False, allow_infinity=False, width=64),
    "active": st.booleans(),
    "since": st.datetimes(min_value=datetime(1700, 1, 1), max_value=datetime(2200, 12, 31)).map(
        lambda d: d.replace(microsecond=0)),
    "tags": st.lists(element_st, min_size=1, max_size=4),
    "profile": st.dictionaries(st.text(max_size=4).filter(lambda s: "#/#" not in s), st.one_of(st.integers(-5, 5), text_st), max_size=3),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_st, min_size=1, max_size=25))
def test_dataframe_round_trip(tmp_path_factory, rows) -> None:
    df = pd.DataFrame(rows)
    df.insert(0, "code", [f"K{i}|{i}" for i in range(len(df))])
    df["qty"] = df["qty"].astype("int64")
    path = tmp_path_factory.mktemp("rt") / "rt.cc5txt"
    result = write_cc5(df, path, keys=["code"], **META)
    assert result.rows == len(df)
    assert {f.code: f.type for f in result.header.fields} == {
        "code": "string", "name": "string", "qty": "int", "credit": "number", "active": "bool",
        "since": "date", "tags": "array", "profile": "object"}
    with validate(path) as report:
        assert report.ok, [str(f) for f in report.findings]
    with open_cc5(path) as f:
        back = f.data.fetchall()
        cols = f.data.columns
    assert len(back) == len(rows)
    for i, (row, got) in enumerate(zip(rows, back)):
        got = dict(zip(cols, got))
        assert got["code"] == f"K{i}|{i}"
        assert got["name"] == expected_text(row["name"])
        assert got["qty"] == row["qty"]
        assert got["credit"] == row["credit"] or (math.isnan(got["credit"]) and math.isnan(row["credit"]))
        assert got["active"] is row["active"]
        assert got["since"] == row["since"]
        assert got["tags"] == [expected_text(t) for t in row["tags"]]
        assert json.loads(got["profile"]) == json.loads(json.dumps(row["profile"]))


def test_empty_string_and_line_breaks(tmp_path: Path) -> None:
    df = pd.DataFrame({"code": ["a", "b", "c"], "v": ["", "x\r\ny", "p\rq\nr"]})
    path = tmp_path / "e.cc5txt"
    write_cc5(df, path, keys="code", **META)
    assert "10|b|x#Enter#y|" in path.read_text()
    with open_cc5(path) as f:
        assert [r[1] for r in f.data.fetchall()] == [None, "x\r\ny", "p\r\nq\r\nr"]


def test_literal_escapes_do_not_round_trip(tmp_path: Path) -> None:
    df = pd.DataFrame({"code": ["a"], "v": ["1 #/# 2 #Enter# 3"]})
    path = tmp_path / "lit.cc5txt"
    write_cc5(df, path, keys="code", **META)
    with open_cc5(path) as f:
        assert f.data.fetchall() == [("a", "1 | 2 \r\n 3")]


def test_nulls_and_nan(tmp_path: Path) -> None:
    df = pd.DataFrame({"code": ["a", "b"], "n": [1.5, np.nan], "i": pd.array([1, None], dtype="Int64"),
                       "d": [pd.Timestamp("2024-01-02 03:04:05"), pd.NaT], "b": pd.array([True, None], dtype="boolean")})
    path = tmp_path / "n.cc5txt"
    write_cc5(df, path, keys="code", **META)
    with open_cc5(path) as f:
        assert f.data.fetchall()[1] == ("b", None, None, None, None)
