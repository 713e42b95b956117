"""An uploaded file on its way to an import: saved, converted if tabular, validated, previewed.

The Validate & import page calls ``prepare_cc5`` (a ``.cc5txt``) or
``convert_table`` (a CSV/Parquet plus the entity metadata of the small form)
once per upload and keeps the ``PreparedFile`` in the session; everything
the page shows comes from it, so reruns do not re-read the file.

    >>> prepared = prepare_cc5("customers.cc5txt", data, workdir)      # doctest: +SKIP
    >>> prepared.report.importable, len(prepared.findings)              # doctest: +SKIP
    (True, 0)
"""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from toolkit.errors import Cc5Error, ConfigError

__all__ = [
    "PreparedFile",
    "TABLE_SUFFIXES",
    "CC5_SUFFIXES",
    "UPLOAD_TYPES",
    "MAX_FINDINGS_SHOWN",
    "PREVIEW_ROWS",
    "kind_of",
    "new_workdir",
    "table_columns",
    "prepare_cc5",
    "convert_table",
    "readable_profile",
]

CC5_SUFFIXES = (".cc5txt", ".txt", ".cc5")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
UPLOAD_TYPES = [s.lstrip(".") for s in CC5_SUFFIXES + TABLE_SUFFIXES]
#: Findings shown in the table (the download and the counts cover all of them).
MAX_FINDINGS_SHOWN = 5000
PREVIEW_ROWS = 100


@dataclass
class PreparedFile:
    """A validated cc5 file on disk with what the page shows of it."""

    name: str
    path: Path
    source: str  # "cc5" | "csv" | "parquet"
    report: Any = field(repr=False)
    cc5: Any = field(default=None, repr=False)
    preview: pd.DataFrame | None = field(default=None, repr=False)
    profile: pd.DataFrame | None = field(default=None, repr=False)
    findings: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    rejected_csv: bytes = field(default=b"", repr=False)
    rejected_count: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def header(self) -> Any:
        """The file's header (None when rows 00-03 are unreadable)."""
        return self.report.header

    @property
    def blocked(self) -> bool:
        """True when file-level errors make the import fail: nothing would be applied."""
        return not self.report.importable

    def close(self) -> None:
        """Release the report's DuckDB tables and delete the working folder."""
        try:
            self.report.close()
            if self.cc5 is not None:
                self.cc5.close()
        finally:
            shutil.rmtree(self.path.parent, ignore_errors=True)


def kind_of(file_name: str) -> str:
    """``"cc5"``, ``"csv"`` or ``"parquet"`` from the file name; ConfigError otherwise.

        >>> kind_of("customers.cc5txt"), kind_of("Export.CSV"), kind_of("t.pq")
        ('cc5', 'csv', 'parquet')
    """
    suffix = Path(file_name).suffix.lower()
    if suffix in CC5_SUFFIXES:
        return "cc5"
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ConfigError(
        f"{file_name}: not a cc5, CSV or Parquet file (expected one of {', '.join(CC5_SUFFIXES + TABLE_SUFFIXES)})"
    )


def new_workdir() -> Path:
    """A private folder for one upload (removed by ``PreparedFile.close``)."""
    return Path(tempfile.mkdtemp(prefix="toolkit-app-"))


def _save(name: str, data: bytes | memoryview, workdir: Path) -> Path:
    path = workdir / (Path(name).name or "upload")
    path.write_bytes(data)
    return path


def table_columns(name: str, data: bytes | BinaryIO) -> list[str]:
    """The column names of an uploaded CSV or Parquet file (for the keys picker).

    ``data`` may be a seekable file object (Streamlit's upload): only the
    CSV's first line or the Parquet footer is read, and it is rewound.

        >>> table_columns("t.csv", b"code,name\\n1,a\\n")
        ['code', 'name']
    """
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        if kind_of(name) == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(source).names)
        return [str(c) for c in pd.read_csv(source, nrows=0, dtype="string").columns]
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ConfigError(f"{name}: cannot read its columns: {exc}") from None
    finally:
        source.seek(0)


def prepare_cc5(
    name: str, data: bytes | memoryview, workdir: Path, *, max_bytes: int | None = None
) -> PreparedFile:
    """Save an uploaded cc5 file, validate it, and compute its preview and profile."""
    return _prepare(_save(name, data, workdir), "cc5", max_bytes=max_bytes)


def convert_table(
    name: str,
    data: bytes | memoryview,
    workdir: Path,
    *,
    entity_type: str,
    workspace: str,
    keys: list[str],
    bucket_id: str = "bk-main",
    customer: str | None = None,
    max_bytes: int | None = None,
) -> PreparedFile:
    """Write an uploaded CSV/Parquet as cc5 (``write_cc5``) and prepare that file.

    Raises ConfigError naming the missing form field.
    """
    from toolkit.cc5 import write_cc5

    missing = [label for label, value in (("entity type", entity_type), ("workspace", workspace),
                                          ("keys", keys), ("bucket", bucket_id)) if not value]
    if missing:
        raise ConfigError(f"{name}: to convert it, fill in {', '.join(missing)}")
    source = _save(name, data, workdir)
    target = workdir / (Path(name).stem + ".cc5txt")
    options = {"customer": customer} if customer else {}
    try:
        write_cc5(source, target, entity_type=entity_type, workspace_id=workspace, bucket_id=bucket_id,
                  keys=list(keys), **options)
    except ValueError as exc:  # bad metadata or data the writer refuses: the user's to fix
        raise ConfigError(f"{name}: cannot write it as cc5: {exc}") from None
    return _prepare(target, kind_of(name), max_bytes=max_bytes)


def _prepare(path: Path, source: str, *, max_bytes: int | None) -> PreparedFile:
    from toolkit.cc5 import open_cc5, validate
    from toolkit.service.config import DEFAULT_MAX_FILE_BYTES

    limit = DEFAULT_MAX_FILE_BYTES if max_bytes is None else max_bytes
    problems: list[str] = []
    cc5 = None
    if path.stat().st_size <= limit:
        try:
            cc5 = open_cc5(path, progress=False)
        except Cc5Error as exc:  # no readable fields: findings only, no preview
            problems.append(f"No preview or profile: {exc}")
    # One pass for both when the file opens: the report shares the file's scan.
    report = cc5.validate() if cc5 is not None else validate(path, max_bytes=limit, progress=False)
    prepared = PreparedFile(name=path.name, path=path, source=source, report=report, cc5=cc5,
                            problems=problems)
    prepared.findings = pd.DataFrame(
        [f.to_dict() for f in report.iter_findings(limit=MAX_FINDINGS_SHOWN)],
        columns=["code", "severity", "level", "line", "field", "value", "message"],
    )
    rejected = path.parent / "_rejected.csv"
    prepared.rejected_count = report.write_rejected(rejected)
    prepared.rejected_csv = rejected.read_bytes()
    if cc5 is not None:
        prepared.preview = cc5.to_pandas(limit=PREVIEW_ROWS)
        prepared.profile = readable_profile(cc5.profile())
    return prepared


def readable_profile(profile: pd.DataFrame) -> pd.DataFrame:
    """The engine's profile with ``top`` (a list of (value, count)) as one line of text.

        >>> readable_profile(pd.DataFrame({"top": [[("a", 2), ("b", 1)]]}))["top"][0]
        'a (2), b (1)'
    """
    if "top" not in profile.columns:
        return profile
    def line(top: Any) -> str:
        if not isinstance(top, (list, tuple)):
            return ""
        return ", ".join(f"{value} ({count})" for value, count in top)
    return profile.assign(top=profile["top"].map(line).astype("string"))
