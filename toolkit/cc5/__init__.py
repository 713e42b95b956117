"""The cc5 engine: read, validate, preview, plan and write cc5 sync files.

    >>> from toolkit.cc5 import validate, open_cc5, write_cc5      # doctest: +SKIP
    >>> report = validate("customers.cc5txt")                       # doctest: +SKIP
    >>> report.ok, report.counts                                    # doctest: +SKIP

The format as implemented, and the finding-code catalogue, are in
``docs/cc5-format.md``.
"""

from toolkit.cc5.codes import FINDING_CODES, CodeInfo
from toolkit.cc5.findings import Finding
from toolkit.cc5.header import (
    DUCKDB_TYPES,
    FIELD_TYPES,
    Field,
    Header,
    decode_escapes,
    encode_escapes,
    read_header,
)
from toolkit.cc5.plan import ImportPlan, plan_import
from toolkit.cc5.reader import Cc5File, open_cc5
from toolkit.cc5.report import ValidationReport
from toolkit.cc5.validate import validate
from toolkit.cc5.writer import WriteResult, infer_cc5_type, write_cc5
from toolkit.errors import Cc5Error, WriteError

__all__ = [
    "Header",
    "Field",
    "Cc5File",
    "ValidationReport",
    "Finding",
    "ImportPlan",
    "WriteResult",
    "CodeInfo",
    "Cc5Error",
    "WriteError",
    "read_header",
    "open_cc5",
    "validate",
    "write_cc5",
    "plan_import",
    "infer_cc5_type",
    "decode_escapes",
    "encode_escapes",
    "FINDING_CODES",
    "FIELD_TYPES",
    "DUCKDB_TYPES",
]
