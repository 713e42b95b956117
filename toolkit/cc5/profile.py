"""A per-field profile of the data rows: nulls, distinct, min/max, top values."""

from __future__ import annotations

from typing import Sequence

import duckdb
import pandas as pd

from toolkit.cc5.header import Field
from toolkit.cc5.values import ident

__all__ = ["profile_relation"]

_ORDERED = {"string", "int", "number", "bool", "date"}


def profile_relation(
    con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation, fields: Sequence[Field], *, top: int = 5
) -> pd.DataFrame:
    """One row per field: field, type, rows, nulls, distinct, min, max, top (list of (value, count))."""
    view = f"cc5_profile_{id(rel):x}"
    rel.create_view(view, replace=True)
    try:
        aggs = ["count(*) AS rows"]
        for i, f in enumerate(fields):
            c = ident(f.code)
            as_text = f"CAST({c} AS VARCHAR)"
            aggs.append(f"count(*) - count({c}) AS n{i}")
            aggs.append(f"count(DISTINCT {as_text}) AS d{i}")
            if f.type in _ORDERED:
                aggs.append(f"CAST(min({c}) AS VARCHAR) AS lo{i}, CAST(max({c}) AS VARCHAR) AS hi{i}")
            else:
                aggs.append(f"NULL::VARCHAR AS lo{i}, NULL::VARCHAR AS hi{i}")
        stats = con.execute(f"SELECT {', '.join(aggs)} FROM {view}").fetchall()[0]
        n_rows = stats[0]
        out = []
        for i, f in enumerate(fields):
            nulls, distinct, lo, hi = stats[1 + 4 * i: 5 + 4 * i]
            c = ident(f.code)
            tops = con.execute(
                f"SELECT CAST({c} AS VARCHAR) AS v, count(*) AS n FROM {view} WHERE {c} IS NOT NULL "
                f"GROUP BY v ORDER BY n DESC, v LIMIT {int(top)}"
            ).fetchall()
            out.append({
                "field": f.code, "type": f.type, "duckdb_type": f.duckdb_type, "rows": n_rows,
                "nulls": nulls, "distinct": distinct, "min": lo, "max": hi,
                "top": [(v, int(n)) for v, n in tops],
            })
        return pd.DataFrame(out, columns=["field", "type", "duckdb_type", "rows", "nulls", "distinct", "min", "max", "top"])
    finally:
        con.execute(f"DROP VIEW IF EXISTS {view}")
