"""``import_file``'s pipeline: (convert,) validate, request, upload, trigger, wait.

CSV/Parquet files and DataFrames are written as cc5 first (``write_cc5``),
with the entity metadata passed in. A file with file-level errors is refused
before anything is uploaded, unless ``force=True``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from toolkit.client.result import ImportResult, describe_failure
from toolkit.errors import (
    Cc5Error,
    ConfigError,
    ImportFailed,
    UploadError,
    ValidationFailed,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from toolkit.client.api import ImportClient

__all__ = ["run_import", "TABULAR_SUFFIXES"]

TABULAR_SUFFIXES = frozenset({".csv", ".parquet", ".pq"})


def _is_tabular(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).suffix.lower() in TABULAR_SUFFIXES
    return True  # a DataFrame or a DuckDB relation


def _convert(
    source: Any,
    out_dir: Path,
    *,
    workspace: str | None,
    entity_type: str | None,
    keys: Sequence[str] | str | None,
    bucket_id: str | None,
    file_name: str | None,
    convert_options: dict[str, Any],
) -> Path:
    missing = [
        name
        for name, value in (
            ("workspace", workspace),
            ("entity_type", entity_type),
            ("keys", keys),
            ("bucket_id", bucket_id),
        )
        if not value
    ]
    if missing:
        what = Path(source).name if isinstance(source, (str, os.PathLike)) else "a table"
        raise ConfigError(f"Importing {what} needs entity metadata to write a cc5 file: pass {', '.join(missing)}")
    from toolkit.cc5 import write_cc5

    if file_name:
        name = Path(file_name).name
    elif isinstance(source, (str, os.PathLike)):
        name = Path(source).stem + ".cc5txt"
    else:
        name = "data.cc5txt"
    target = out_dir / name
    try:
        write_cc5(
            source,
            target,
            entity_type=entity_type,
            workspace_id=workspace,
            bucket_id=bucket_id,
            keys=keys,
            **{k: v for k, v in convert_options.items() if v is not None},
        )
    except ValueError as exc:  # the writer's "bad input" error: missing file, unknown key column...
        label = str(source) if isinstance(source, (str, os.PathLike)) else "the table"
        raise Cc5Error(f"cannot write it as cc5: {exc}", file=label) from None
    return target


def _refuse(path: Path, report: Any) -> None:
    """Raise ValidationFailed (keeping the report open for inspection) when the file cannot be imported."""
    errors = report.file_errors
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailed(
            f"Not uploaded: {errors[0]}{more}; fix the file, or force the upload (force=True, --force)",
            report=report,
        )


def run_import(
    client: "ImportClient",
    source: Any,
    *,
    workspace: str | None = None,
    entity_type: str | None = None,
    keys: Sequence[str] | str | None = None,
    bucket_id: str | None = None,
    customer: str | None = None,
    datasource: str | None = None,
    action: str | None = None,
    reference_id: str | None = None,
    types: dict[str, str] | None = None,
    file_name: str | None = None,
    force: bool = False,
    wait: bool = True,
    timeout: float = 600.0,
    progress: bool = True,
    raise_on_failure: bool = True,
    **upload_options: Any,
) -> ImportResult:
    """Take a cc5 file (or CSV/Parquet/DataFrame plus entity metadata) to a finished import.

    ``workspace`` defaults to the file's 01 row (and must match it);
    ``entity_type`` and ``bucket_id`` likewise. ``wait=False`` returns
    once the import is triggered. A FAILED or DELETED end raises
    :class:`~toolkit.errors.ImportFailed` unless ``raise_on_failure=False``.
    ``upload_options`` go to :meth:`ImportClient.request_upload` (portal:
    ``folder``, ``category``, ``tags``, ``metadata``, ``action_id``, ``description``).

        >>> result = run_import(client, "customers.cc5txt", workspace="ws-eu")   # doctest: +SKIP
        >>> result.status, result.upload_seconds                                  # doctest: +SKIP
        ('FINISHED', 0.02)
    """
    from toolkit.cc5 import validate

    started = time.perf_counter()
    convert_seconds = None
    with tempfile.TemporaryDirectory(prefix="toolkit-import-") as tmp:
        if _is_tabular(source):
            t0 = time.perf_counter()
            path = _convert(
                source,
                Path(tmp),
                workspace=workspace,
                entity_type=entity_type,
                keys=keys,
                bucket_id=bucket_id,
                file_name=file_name,
                convert_options=dict(
                    customer=customer, datasource=datasource, action=action, reference_id=reference_id, types=types
                ),
            )
            convert_seconds = time.perf_counter() - t0
            file_name = None  # the converted file already has its name
        else:
            path = Path(source)

        t0 = time.perf_counter()
        report = validate(path, expected_workspace=workspace, progress=None if progress else False)
        validate_seconds = time.perf_counter() - t0
        if not force:
            _refuse(path, report)
        # Keep a summary, not the report: its DuckDB tables hold the whole file.
        validation = report.to_dict(max_findings=100)
        header = report.header
        report.close()
        workspace = workspace or (header.workspace_id if header else None)
        entity_type = entity_type or (header.entity_type if header else None)
        bucket_id = bucket_id or (header.bucket_id if header else None)
        if not workspace:
            raise ConfigError(f"No workspace for {path}: pass workspace= (its 01 row names none)")

        name = Path(file_name).name if file_name else path.name
        target = client.request_upload(
            name, workspace=workspace, entity_type=entity_type, bucket_id=bucket_id, **upload_options
        )
        try:
            receipt = client.upload(path, target, progress=progress)
        except UploadError:
            client.discard_pending(target.file_id)
            raise
    record = client.start_import(target, wait=False, description=upload_options.get("description"))
    t0 = time.perf_counter()
    if wait and not record.is_terminal:
        record = client.wait(target.file_id, timeout=timeout, progress=progress)
    wait_seconds = time.perf_counter() - t0 if wait else None
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
    if raise_on_failure and record.status in ("FAILED", "DELETED"):
        error = ImportFailed(describe_failure(record), record=record, failure_code=record.failure_code)
        error.result = result  # type: ignore[attr-defined] - the timings, for who wants them
        raise error
    return result
