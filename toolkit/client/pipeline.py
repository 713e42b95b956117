"""The one import pipeline: (convert,) validate, request, upload, trigger, wait.

The CLI, the app, notebooks and ``toolkit.import_file`` all call
:func:`run_import` (through :meth:`ImportClient.import_file`). CSV/Parquet
files and DataFrames are written as cc5 first (``write_cc5``), with the
entity metadata passed in. A file with file-level errors is refused before
anything is uploaded, unless ``force=True``. Progress goes to a callback as
:class:`~toolkit.progress.ProgressEvent` s (stages ``validate``, ``upload``,
``process``), or else to tqdm bars.

    >>> events = []
    >>> result = run_import(client, "customers.cc5txt", ImportOptions(workspace="ws-eu"),
    ...                     on_progress=events.append)              # doctest: +SKIP
    >>> sorted({e.stage for e in events})                          # doctest: +SKIP
    ['process', 'upload', 'validate']
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from toolkit.client.options import ImportOptions
from toolkit.client.result import ImportRecord, ImportResult, describe_failure
from toolkit.client.upload import UploadReceipt, UploadTarget
from toolkit.errors import (
    ConfigError,
    ImportFailed,
    UploadError,
    ValidationFailed,
)
from toolkit.progress import ProgressCallback, ProgressEvent

__all__ = ["run_import", "ImportSteps", "CheckedFile", "TABULAR_SUFFIXES"]

TABULAR_SUFFIXES = frozenset({".csv", ".parquet", ".pq"})


class ImportSteps(Protocol):
    """The steps of an import the pipeline drives (:class:`~toolkit.client.ImportClient` has them)."""

    @property
    def api(self) -> str: ...

    def request_upload(self, file_name: str, *, workspace: str, entity_type: str | None = None,
                       bucket_id: str | None = None, **options: Any) -> UploadTarget: ...

    def upload(self, path: str | os.PathLike[str], target: UploadTarget, progress: bool = True, *,
               on_progress: Callable[[int, int], None] | None = None) -> UploadReceipt: ...

    def start_import(self, file: str | UploadTarget | ImportRecord, wait: bool = False, *,
                     timeout: float = ..., action_id: str | None = None,
                     description: str | None = None) -> ImportRecord: ...

    def wait(self, file_id: str, timeout: float = ..., *, progress: bool = False,
             on_progress: ProgressCallback | None = None) -> ImportRecord: ...

    def discard_pending(self, file_id: str) -> bool: ...


class CheckedFile(Protocol):
    """A verdict on a cc5 file made before the import, used instead of validating it again.

    A :class:`~toolkit.cc5.ValidationReport` is one; so is a plain summary
    kept after the report closed (the app validates large files in a child
    process and keeps only its verdict). The pipeline reads no more than this.
    """

    @property
    def path(self) -> str | os.PathLike[str]: ...

    @property
    def header(self) -> Any: ...

    @property
    def file_errors(self) -> Sequence[object]: ...

    def to_dict(self, *, max_findings: int | None = ...) -> dict[str, Any]: ...


def _is_tabular(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).suffix.lower() in TABULAR_SUFFIXES
    return True  # a DataFrame or a DuckDB relation


def _convert(source: Any, out_dir: Path, options: ImportOptions) -> Path:
    workspace, entity_type, keys, bucket_id = options.workspace, options.entity_type, options.keys, options.bucket_id
    if not (workspace and entity_type and keys and bucket_id):
        missing = [name for name in ("workspace", "entity_type", "keys", "bucket_id") if not getattr(options, name)]
        what = Path(source).name if isinstance(source, (str, os.PathLike)) else "a table"
        raise ConfigError(f"Importing {what} needs entity metadata to write a cc5 file: pass {', '.join(missing)}")
    from toolkit.cc5 import write_cc5

    if options.file_name:
        name = Path(options.file_name).name
    elif isinstance(source, (str, os.PathLike)):
        name = Path(source).stem + ".cc5txt"
    else:
        name = "data.cc5txt"
    target = out_dir / name
    # Bad input (a missing file, an unknown key column, a value cc5 cannot hold) is
    # the writer's own WriteError, naming the column and row.
    write_cc5(source, target, entity_type=entity_type, workspace_id=workspace, bucket_id=bucket_id, keys=keys,
              **options.convert_fields())
    return target


def _refuse(path: Path, report: CheckedFile) -> None:
    """Raise ValidationFailed (keeping the report open for inspection) when the file cannot be imported."""
    errors = report.file_errors
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(
            f"Not uploaded: {errors[0]}{more}; fix the file, or force the upload (force=True, --force)",
            report=report,
        )


def _check_before_work(client: ImportSteps, options: ImportOptions) -> None:
    """Refuse what cannot work before any file is read or converted."""
    upload_fields = options.upload_fields()
    if client.api == "imports" and upload_fields:
        raise ConfigError(f"The imports API takes no upload options (got {', '.join(sorted(upload_fields))})")


def _validate(path: Path, options: ImportOptions, on_progress: ProgressCallback | None) -> Any:
    from toolkit.cc5 import validate

    # The engine reports its own progress: to the callback, else to a tqdm bar (None: when slow).
    progress = on_progress if on_progress is not None else (None if options.progress else False)
    return validate(path, expected_workspace=options.workspace, progress=progress)


def _upload_events(on_progress: ProgressCallback | None) -> Callable[[int, int], None] | None:
    if on_progress is None:
        return None
    started = time.perf_counter()

    def sent(done: int, total: int) -> None:
        on_progress(ProgressEvent(stage="upload", done=done, total=total, unit="B",
                                  elapsed=time.perf_counter() - started))

    return sent


def run_import(
    client: ImportSteps,
    source: Any,
    options: ImportOptions | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    report: CheckedFile | None = None,
) -> ImportResult:
    """Take a cc5 file (or CSV/Parquet/DataFrame plus entity metadata) to a finished import.

    ``options`` (:class:`~toolkit.client.ImportOptions`, default: all
    defaults): ``workspace`` defaults to the file's 01 row (and must match
    it); ``entity_type`` and ``bucket_id`` likewise. ``wait=False`` returns
    once the import is triggered. A FAILED or DELETED end raises
    :class:`~toolkit.errors.ImportFailed` unless ``raise_on_failure=False``.
    ``on_progress`` receives every step's :class:`~toolkit.progress.ProgressEvent`
    (then no tqdm bar is drawn). ``report``: a :class:`CheckedFile` (a
    ``ValidationReport``, or the app's summary of one) of this very cc5 file
    made before (the app validates a file before offering to import it), used
    instead of validating it again; it stays open.

        >>> result = run_import(client, "customers.cc5txt", ImportOptions(workspace="ws-eu"))   # doctest: +SKIP
        >>> result.status, result.upload_seconds                                                 # doctest: +SKIP
        ('FINISHED', 0.02)
    """
    options = options or ImportOptions()
    _check_before_work(client, options)
    if report is not None and (_is_tabular(source) or Path(report.path).resolve() != Path(source).resolve()):
        raise ConfigError(f"The validation report given is of {report.path}, not of {source}")
    bars = options.progress and on_progress is None
    started = time.perf_counter()
    convert_seconds = None
    file_name = options.file_name
    with tempfile.TemporaryDirectory(prefix="toolkit-import-") as tmp:
        if _is_tabular(source):
            t0 = time.perf_counter()
            path = _convert(source, Path(tmp), options)
            convert_seconds = time.perf_counter() - t0
            file_name = None  # the converted file already has its name
        else:
            path = Path(source)

        t0 = time.perf_counter()
        fresh = None  # a report made here, closed here
        if report is None:
            fresh = checked = _validate(path, options, on_progress)
        else:
            checked = report
        validate_seconds = time.perf_counter() - t0 if report is None else None
        if not options.force:
            _refuse(path, checked)
        # Keep a summary, not the report: its DuckDB tables hold the whole file.
        validation = checked.to_dict(max_findings=100)
        header = checked.header
        if fresh is not None:
            fresh.close()
        workspace = options.workspace or (header.workspace_id if header else None)
        entity_type = options.entity_type or (header.entity_type if header else None)
        bucket_id = options.bucket_id or (header.bucket_id if header else None)
        if not workspace:
            raise ConfigError(f"No workspace for {path}: pass workspace= (its 01 row names none)")

        name = Path(file_name).name if file_name else path.name
        target = client.request_upload(
            name, workspace=workspace, entity_type=entity_type, bucket_id=bucket_id, **options.upload_fields()
        )
        try:
            receipt = client.upload(path, target, progress=bars, on_progress=_upload_events(on_progress))
        except UploadError:
            client.discard_pending(target.file_id)
            raise
    record = client.start_import(target, wait=False, description=options.description)
    t0 = time.perf_counter()
    if options.wait and not record.is_terminal:
        record = client.wait(target.file_id, timeout=options.timeout, progress=bars, on_progress=on_progress)
    wait_seconds = time.perf_counter() - t0 if options.wait else None
    result = ImportResult(
        record=record,
        api=client.api,
        path=str(source) if isinstance(source, (str, os.PathLike)) else None,
        bytes_uploaded=receipt.bytes,
        validate_seconds=validate_seconds,
        convert_seconds=convert_seconds,
        upload_seconds=receipt.seconds,
        wait_seconds=wait_seconds,
        total_seconds=time.perf_counter() - started,
        validation=validation,
    )
    if options.raise_on_failure and record.status in ("FAILED", "DELETED"):
        raise ImportFailed(describe_failure(record), record=record, failure_code=record.failure_code, result=result)
    return result
