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

import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from queue import Empty
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from toolkit.errors import Cc5Error, ConfigError
from toolkit.progress import ProgressCallback

FIELD_TYPES = ("string", "int", "number", "bool", "date", "array", "list", "object")

__all__ = [
    "PreparedFile",
    "ReportSummary",
    "CHILD_MIN_BYTES",
    "TABLE_SUFFIXES",
    "CC5_SUFFIXES",
    "UPLOAD_TYPES",
    "MAX_FINDINGS_SHOWN",
    "PREVIEW_ROWS",
    "PROFILE_EAGER_BYTES",
    "kind_of",
    "new_workdir",
    "save_upload",
    "upload_path",
    "table_schema",
    "prepare_cc5",
    "convert_table",
    "raw_lines",
    "takes_progress_callback",
    "readable_profile",
    "FIELD_TYPES",
]

CC5_SUFFIXES = (".cc5txt", ".txt", ".cc5")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
UPLOAD_TYPES = [s.lstrip(".") for s in CC5_SUFFIXES + TABLE_SUFFIXES]
#: Findings shown in the table (the download and the counts cover all of them).
MAX_FINDINGS_SHOWN = 5000
PREVIEW_ROWS = 100
#: Files up to this size get their profile at once; a larger file's profile (a
#: full scan per field: 45 s and ~200 MB for 200 MB) is computed when asked for.
PROFILE_EAGER_BYTES = 25_000_000


#: Findings kept in the summary's ``to_dict`` (what the import pipeline keeps of a report).
SUMMARY_FINDINGS = 100


@dataclass(frozen=True)
class ReportSummary:
    """What the page needs of a ``ValidationReport``, as plain data (it outlives the engine's tables).

    It is also the verdict the import pipeline takes instead of validating
    the file again (a :class:`~toolkit.client.pipeline.CheckedFile`):
    ``run_import(client, summary.path, ..., report=summary)``.
    """

    ok: bool
    importable: bool
    data_rows: int
    delete_rows: int
    rejected_rows: int
    counts: dict[str, int]
    header: Any = field(repr=False)
    #: The validated file (the pipeline refuses a verdict on another file). Two summaries
    #: compare equal when their verdicts are the same, wherever the file was.
    path: str = field(default="", compare=False)
    #: The file-level errors as text: any of them blocks the import.
    file_errors: tuple[str, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, report: Any) -> "ReportSummary":
        return cls(ok=bool(report.ok), importable=bool(report.importable), data_rows=int(report.data_rows),
                   delete_rows=int(report.delete_rows), rejected_rows=int(report.rejected_rows),
                   counts=dict(report.counts), header=report.header, path=str(report.path),
                   file_errors=tuple(str(f) for f in report.file_errors),
                   summary=report.to_dict(max_findings=SUMMARY_FINDINGS))

    def to_dict(self, *, max_findings: int | None = SUMMARY_FINDINGS) -> dict[str, Any]:
        """The report's ``to_dict`` as it was, with at most ``max_findings`` findings (at most 100 kept)."""
        findings = self.summary.get("findings", [])
        return {**self.summary, "findings": findings if max_findings is None else findings[:max_findings]}


@dataclass
class PreparedFile:
    """A validated cc5 file on disk with what the page shows of it (plain data: no open engine objects)."""

    name: str
    path: Path
    source: str  # "cc5" | "csv" | "parquet"
    report: ReportSummary = field(repr=False)
    readable: bool = False  # the header defines fields: preview and profile exist
    preview: pd.DataFrame | None = field(default=None, repr=False)
    profile: pd.DataFrame | None = field(default=None, repr=False)
    findings: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    rejected_path: Path | None = None
    rejected_count: int = 0
    problems: list[str] = field(default_factory=list)
    #: The upload is not text (binary data): said once instead of a finding per byte.
    binary: bool = False

    @property
    def rejected_csv(self) -> bytes:
        """The rejected rows as CSV, read from disk when asked (not held in the session)."""
        return self.rejected_path.read_bytes() if self.rejected_path is not None else b""

    def compute_profile(self) -> pd.DataFrame | None:
        """The per-field profile (computed on first use for a large file; None without readable fields)."""
        if self.profile is None and self.readable:
            self.profile = _in_child_if_large(_profile_of, self.path)
        return self.profile

    @property
    def header(self) -> Any:
        """The file's header (None when rows 00-03 are unreadable)."""
        return self.report.header

    @property
    def blocked(self) -> bool:
        """True when file-level errors make the import fail: nothing would be applied."""
        return not self.report.importable

    def close(self) -> None:
        """Delete the working folder."""
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


def new_workdir(session_id: str | None = None) -> Path:
    """A private folder for one upload (removed by ``PreparedFile.close``).

    With the upload middleware running (``serve_app.py``) and a ``session_id``
    it is made in that session's upload folder, so it is deleted with the
    session's uploads even if the page never closes it.
    """
    from toolkit.app_support.upload_spool import session_folder

    within = session_folder(session_id) if session_id else None
    return Path(tempfile.mkdtemp(prefix="work-" if within else "toolkit-app-", dir=within))


#: Chunk size when an upload is written to disk (never a second copy of the file in memory).
SAVE_CHUNK_BYTES = 1 << 20


def save_upload(name: str, data: bytes | memoryview | BinaryIO, workdir: Path) -> Path:
    """Write an upload into ``workdir`` once, in chunks; returns its path.

    ``data`` is bytes or a readable file object (Streamlit's ``UploadedFile``,
    rewound first): the file is copied ``SAVE_CHUNK_BYTES`` at a time.

        >>> save_upload("a.csv", b"x,y\\n", Path(tempfile.mkdtemp())).read_bytes()
        b'x,y\\n'
    """
    path = workdir / (Path(name).name or "upload")
    with path.open("wb") as out:
        if isinstance(data, (bytes, bytearray, memoryview)):
            out.write(data)
        else:
            data.seek(0)
            shutil.copyfileobj(data, out, SAVE_CHUNK_BYTES)
    return path


def upload_path(uploaded: Any, workdir: Path, *, spool: Path | None = None) -> Path:
    """The upload as a file in ``workdir``, without the file's bytes passing through memory.

    When the app runs from ``serve_app.py`` the upload was streamed to disk as
    it arrived (``upload_spool``) and ``uploaded`` (Streamlit's
    ``UploadedFile``) holds no bytes: that file is hard-linked into
    ``workdir`` (copied on disk across file systems), so removing the upload
    from the widget and closing the prepared file each delete only their own
    name. Otherwise (``streamlit run app.py``, AppTest) the widget's bytes are
    written once, in chunks. ``spool`` is the upload folder (default: this
    process's).

        >>> upload_path(st.file_uploader("File"), new_workdir())     # doctest: +SKIP
        PosixPath('/tmp/toolkit-app-.../customers.cc5txt')
    """
    from toolkit.app_support.upload_spool import spooled_file

    spooled = spooled_file(str(uploaded.file_id), spool)
    if spooled is None:
        return save_upload(uploaded.name, uploaded, workdir)
    target = workdir / (Path(uploaded.name).name or "upload")
    try:
        os.link(spooled, target)
    except OSError:  # another file system: a disk-to-disk copy, still nothing in memory
        shutil.copyfile(spooled, target)
    return target


def table_schema(name: str, path: Path) -> pd.DataFrame:
    """The columns of a saved CSV/Parquet table with the cc5 type ``write_cc5`` would give each.

    The conversion form starts from these and lets the user change them.

        >>> folder = Path(tempfile.mkdtemp()); _ = (folder / "t.csv").write_text("code,credit\\nC1,1.5\\n")
        >>> table_schema("t.csv", folder / "t.csv").to_dict("records")
        [{'column': 'code', 'type': 'string', 'key': True}, {'column': 'credit', 'type': 'number', 'key': False}]
    """
    import duckdb

    from toolkit.cc5.writer import infer_cc5_type

    reader = "read_parquet(?)" if kind_of(name) == "parquet" else "read_csv(?, header = true)"
    try:
        with duckdb.connect() as con:
            described = con.execute(f"DESCRIBE SELECT * FROM {reader}", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise ConfigError(f"{name}: cannot read its columns ({str(exc).splitlines()[0]})") from None
    return pd.DataFrame(
        [{"column": str(row[0]), "type": infer_cc5_type(str(row[1])), "key": i == 0}
         for i, row in enumerate(described)],
        columns=["column", "type", "key"],
    )


def prepare_cc5(
    name: str, data: bytes | memoryview | BinaryIO | Path, workdir: Path, *, max_bytes: int | None = None,
    progress: ProgressCallback | None = None,
) -> PreparedFile:
    """Validate an uploaded cc5 file and compute its preview and profile.

    ``data`` is the upload already on disk in ``workdir`` (``upload_path``),
    or its bytes / a file object, saved there first (in chunks).
    ``progress`` receives the engine's ``ProgressEvent`` s (stage "validate").
    """
    path = data if isinstance(data, Path) else save_upload(name, data, workdir)
    return _prepare(path, "cc5", max_bytes=max_bytes, progress=progress, shown_name=name)


def convert_table(
    name: str,
    data: bytes | memoryview | BinaryIO | Path,
    workdir: Path,
    *,
    entity_type: str,
    workspace: str,
    keys: list[str],
    bucket_id: str = "bk-main",
    customer: str | None = None,
    types: dict[str, str] | None = None,
    max_bytes: int | None = None,
    progress: ProgressCallback | None = None,
) -> PreparedFile:
    """Write an uploaded CSV/Parquet as cc5 (``write_cc5`` with the user's ``types``) and prepare it.

    ``data`` may be the path of the table already saved in ``workdir``.
    Raises ConfigError naming the missing form field.
    """
    from toolkit.cc5 import write_cc5

    missing = [label for label, value in (("entity type", entity_type), ("workspace", workspace),
                                          ("keys", keys), ("bucket", bucket_id)) if not value]
    if missing:
        raise ConfigError(f"{name}: to convert it, fill in {', '.join(missing)}")
    source = data if isinstance(data, Path) else save_upload(name, data, workdir)
    target = workdir / (Path(name).stem + ".cc5txt")
    options: dict[str, Any] = {"customer": customer} if customer else {}
    try:
        write_cc5(source, target, entity_type=entity_type, workspace_id=workspace, bucket_id=bucket_id,
                  keys=list(keys), types=dict(types or {}), **options)
    except ValueError as exc:  # bad metadata or data the writer refuses: the user's to fix
        raise ConfigError(f"{name}: cannot write it as cc5: {_without_paths(str(exc), workdir)}") from None
    return _prepare(target, kind_of(name), max_bytes=max_bytes, progress=progress, shown_name=target.name)


#: A raw line longer than this is cut (a finding's row can be megabytes long).
RAW_LINE_CHARS = 400


def raw_lines(path: Path, numbers: list[int], *, max_chars: int = RAW_LINE_CHARS) -> dict[int, str]:
    """The lines ``numbers`` (1-based) of ``path`` as text, read in one streaming pass.

        >>> folder = Path(tempfile.mkdtemp()); _ = (folder / "f").write_bytes(b"a\\nb|\\xff\\nc\\n")
        >>> raw_lines(folder / "f", [2, 3])
        {2: 'b|\\ufffd', 3: 'c'}
    """
    wanted = set(numbers)
    found: dict[int, str] = {}
    if not wanted:
        return found
    last = max(wanted)
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if number in wanted:
                text = line[: max_chars * 4].decode("utf-8", errors="replace").rstrip("\r\n")
                found[number] = text if len(text) <= max_chars else text[:max_chars] + "…"
            if number >= last:
                break
    return found


def _without_paths(text: str, workdir: Path) -> str:
    """``text`` with the server's working folder taken out (the user knows the file by its name)."""
    return text.replace(f"{workdir}/", "").replace(str(workdir), "")


def _validate_file(path: Path, *, max_bytes: int, cc5: Any, progress: ProgressCallback | None) -> Any:
    """The engine's validation of ``path`` (through ``cc5`` when it opened), with ``progress`` if the
    engine takes a callback (``toolkit.progress``); otherwise without it."""
    from toolkit.cc5 import validate

    callback = progress if progress is not None and takes_progress_callback(validate) else None
    if cc5 is not None:
        return cc5.validate()
    return validate(path, max_bytes=max_bytes, progress=callback if callback is not None else False)


def takes_progress_callback(function: Any) -> bool:
    """Whether ``function``'s ``progress`` parameter takes a ``ProgressEvent`` callback (not only a bool).

        >>> def old(path, progress: bool | None = None): ...
        >>> def new(path, progress: "ProgressArg" = None): ...
        >>> takes_progress_callback(old), takes_progress_callback(new)
        (False, True)
    """
    import inspect

    parameter = inspect.signature(function).parameters.get("progress")
    if parameter is None:
        return False
    annotation = str(parameter.annotation)  # a string: the engine uses postponed annotations
    return "Callable" in annotation or "Progress" in annotation


#: Files at least this big are validated in a child process: the engine's memory
#: is returned to the system when it ends, so Streamlit's process holds the upload
#: and the results only (small files stay in-process: no process start).
CHILD_MIN_BYTES = 20_000_000


def _prepare(path: Path, source: str, *, max_bytes: int | None, progress: ProgressCallback | None = None,
             shown_name: str | None = None) -> PreparedFile:
    from toolkit.service.config import DEFAULT_MAX_FILE_BYTES

    limit = DEFAULT_MAX_FILE_BYTES if max_bytes is None else max_bytes
    data = _in_child_if_large(_examine, path, limit, progress=progress)
    return PreparedFile(name=shown_name or path.name, path=path, source=source, **data)


def _examine(path: Path, limit: int, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Validate ``path`` and gather what the page shows, as plain data (runs in a child for large files)."""
    from toolkit.cc5 import open_cc5

    problems: list[str] = []
    cc5 = None
    if path.stat().st_size <= limit:
        try:
            callback = progress if progress is not None and takes_progress_callback(open_cc5) else False
            cc5 = open_cc5(path, progress=callback)
        except Cc5Error:  # no readable fields: findings only, no preview
            problems.append("No preview or profile: the header does not define readable fields "
                            "(see the findings).")
    report = _validate_file(path, max_bytes=limit, cc5=cc5, progress=progress)
    binary = "NOT_TEXT" in report.counts  # the engine's verdict: binary data, UTF-16, an image...
    try:
        findings = pd.DataFrame(
            [f.to_dict() for f in report.iter_findings(limit=MAX_FINDINGS_SHOWN)],
            columns=["code", "severity", "level", "line", "field", "value", "message"],
        )
        if not findings.empty:
            findings["message"] = findings["message"].map(
                lambda text: _without_paths(str(text), path.parent) if isinstance(text, str) else text)
        raw = raw_lines(path, findings["line"].dropna().astype(int).tolist()) if not binary else {}
        findings["raw"] = findings["line"].map(
            lambda line: raw.get(int(line), "") if pd.notna(line) else "").astype("string")
        rejected = path.parent / "_rejected.csv"
        data: dict[str, Any] = dict(
            report=ReportSummary.of(report), readable=cc5 is not None, findings=findings,
            rejected_path=rejected, rejected_count=report.write_rejected(rejected), problems=problems,
            binary=binary,
        )
        if cc5 is not None:
            data["preview"] = cc5.to_pandas(limit=PREVIEW_ROWS)
            if path.stat().st_size <= PROFILE_EAGER_BYTES:
                data["profile"] = readable_profile(cc5.profile())
        return data
    finally:
        report.close()
        if cc5 is not None:
            cc5.close()


def _profile_of(path: Path, progress: ProgressCallback | None = None) -> pd.DataFrame:
    """The readable profile of ``path`` (``progress`` is not reported: the engine's profile has none)."""
    from toolkit.cc5 import open_cc5

    cc5 = open_cc5(path, progress=False)
    try:
        return readable_profile(cc5.profile())
    finally:
        cc5.close()


def _in_child_if_large(work: Callable[..., Any], path: Path, *args: Any,
                       progress: ProgressCallback | None = None) -> Any:
    """``work(path, *args, progress=...)`` here for a small file, in a child process for a large one.

    The child's progress events come back through a queue and are passed to
    ``progress`` here; so do its result and its exception.
    """
    if path.stat().st_size < CHILD_MIN_BYTES:
        return work(path, *args, progress=progress)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_child_main, args=(queue, work, path, args, progress is not None),
                            name="toolkit-app-validate", daemon=True)
    with _main_module_hidden():
        child.start()
    try:
        while True:
            try:
                kind, value = queue.get(timeout=0.5)
            except Empty:
                if not child.is_alive():
                    raise ConfigError(f"{path.name}: validating it stopped unexpectedly "
                                      f"(exit code {child.exitcode})") from None
                continue
            if kind == "progress" and progress is not None:
                progress(value)
            elif kind == "result":
                return value
            elif kind == "error":
                raise value
    finally:
        child.join(5)
        if child.is_alive():
            child.kill()
        queue.close()


_spawn_lock = threading.Lock()


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start a spawned child without re-running ``__main__`` in it.

    Under Streamlit, ``__main__`` is the page script being run: a spawned child
    would import (run) it again. ``_child_main`` needs nothing from it.
    """
    with _spawn_lock:
        main = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to import
        try:
            yield
        finally:
            if main is not None:
                sys.modules["__main__"] = main


def _child_main(queue: Any, work: Callable[..., Any], path: Path, args: tuple[Any, ...], report: bool) -> None:
    forward = (lambda event: queue.put(("progress", event))) if report else None
    try:
        queue.put(("result", work(path, *args, progress=forward)))
    except Exception as exc:  # noqa: BLE001 - re-raised in the parent
        queue.put(("error", exc if _picklable(exc) else ConfigError(f"{type(exc).__name__}: {exc}")))


def _picklable(value: Any) -> bool:
    import pickle

    try:
        pickle.dumps(value)
        return True
    except Exception:  # noqa: BLE001 - anything unpicklable is sent as text
        return False


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
