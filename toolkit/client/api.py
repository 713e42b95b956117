"""``ImportClient``: every step of an import, against either documented API.

    >>> from toolkit.client import ImportClient
    >>> with ImportClient("http://127.0.0.1:8000", "key", api="imports") as client:  # doctest: +SKIP
    ...     result = client.import_file("customers.cc5txt", workspace="ws-eu")
    ...     print(result.summary())
    f_0a1b FINISHED: 10 rows applied, 0 rejected

The steps, when you want them one by one::

    target = client.request_upload("customers.cc5txt", workspace="ws-eu",
                                   entity_type="customer", bucket_id="bk-main")
    client.upload("customers.cc5txt", target)
    client.start_import(target)            # portal: the trigger; imports: starts by itself
    record = client.wait(target.file_id)   # FINISHED, FAILED or DELETED
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Unpack

import httpx
from tqdm.auto import tqdm

from toolkit.client.backend import ApiBackend
from toolkit.client.config import ClientConfig
from toolkit.client.http import HttpSender, RetryPolicy, describe_exception
from toolkit.client.imports import ImportsApi
from toolkit.client.options import ImportKeywords, ImportOptions
from toolkit.client.pipeline import CheckedFile, run_import
from toolkit.client.portal import PortalApi
from toolkit.client.result import (
    CsvRowCounter,
    ImportRecord,
    ImportResult,
    describe_failure,
    records_to_frame,
    rejected_csv_to_frame,
)
from toolkit.client.times import to_unix_seconds
from toolkit.client.upload import UploadReceipt, UploadTarget, upload_file
from toolkit.errors import ConfigError, ImportFailed, ImportTimeout, ToolkitError, TransportError
from toolkit.progress import ProgressCallback, ProgressEvent

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

__all__ = ["ImportClient", "DEFAULT_TIMEOUT", "DEFAULT_WAIT_TIMEOUT"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_WAIT_TIMEOUT = 600.0
_BACKENDS: dict[str, type[ApiBackend]] = {"portal": PortalApi, "imports": ImportsApi}
_StatusFilter = str | Sequence[str] | None
# A datetime, a date, UNIX seconds, a timedelta (that long ago), "7d"-style text or an ISO date, or None.
_TimeFilter = datetime | date | timedelta | float | str | None


def _as_list(value: _StatusFilter, *, upper: bool = False) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    items = [str(v).strip() for v in items if str(v).strip()]
    return ([v.upper() for v in items] if upper else items) or None


class ImportClient:
    """A client of the import API (``api="portal"`` or ``"imports"``).

    The constructor reads no environment: :meth:`from_env` fills what is not
    passed from ``TOOLKIT_API_URL``, ``TOOLKIT_API_KEY`` and ``TOOLKIT_API``.
    ``api`` defaults to ``"portal"``. Pass ``http`` to use your own ``httpx.Client``
    (proxies, certificates, a ``MockTransport`` in tests); it is then not
    closed by :meth:`close`. ``retry`` sets the retry policy.

        >>> client = ImportClient("http://127.0.0.1:9", "key", api="imports")
        >>> client.api, client.base_url
        ('imports', 'http://127.0.0.1:9')
        >>> client.close()
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        api: str | None = None,
        http: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.config = ClientConfig.resolve(base_url, api_key, api)
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sender = HttpSender(self.http, self.retry)
        self.backend: ApiBackend = _BACKENDS[self.config.api](self.config.base_url, self.config.api_key, self.sender)

    @classmethod
    def from_env(
        cls,
        base_url: str | None = None,
        api_key: str | None = None,
        api: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        http: httpx.Client | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
    ) -> "ImportClient":
        """A client configured from the arguments, then the environment (``env``, default ``os.environ``).

        Meant for the edges (the CLI, a notebook, a script); the library itself
        passes its settings explicitly.

            >>> ImportClient.from_env(env={"TOOLKIT_API_URL": "http://127.0.0.1:9",
            ...                            "TOOLKIT_API_KEY": "k", "TOOLKIT_API": "imports"}).api
            'imports'
        """
        config = ClientConfig.resolve(base_url, api_key, api, env=os.environ if env is None else env)
        return cls(config.base_url, config.api_key, config.api, http=http, timeout=timeout, retry=retry)

    @property
    def api(self) -> str:
        """``"portal"`` or ``"imports"``."""
        return self.config.api

    @property
    def base_url(self) -> str:
        """The API's base URL, without a trailing slash."""
        return self.config.base_url

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> "ImportClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ImportClient({self.base_url!r}, api={self.api!r})"

    # -- steps ---------------------------------------------------------------
    def request_upload(
        self,
        file_name: str | os.PathLike[str],
        *,
        workspace: str,
        entity_type: str | None = None,
        bucket_id: str | None = None,
        **options: Any,
    ) -> UploadTarget:
        """Ask for a pre-signed upload: a signed PUT URL (portal) or POST form (imports).

        ``entity_type`` and ``bucket_id`` are required by the portal API;
        ``options`` are its optional fields (``folder``, ``category``,
        ``tags``, ``metadata``, ``action_id``, ``description``).

            >>> target = client.request_upload("customers.cc5txt", workspace="ws-eu",
            ...     entity_type="customer", bucket_id="bk-main")          # doctest: +SKIP
            >>> target.method, target.file_id                           # doctest: +SKIP
            ('PUT', 'f_0a1b')
        """
        name = Path(file_name).name
        return self.backend.request_upload(
            name, workspace=workspace, entity_type=entity_type, bucket_id=bucket_id, options=options
        )

    def upload(
        self,
        path: str | os.PathLike[str],
        target: UploadTarget,
        progress: bool = True,
        *,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> UploadReceipt:
        """Stream ``path`` to ``target`` (retried, file reopened per try), with a progress bar.

        ``on_progress(sent, total)``, when given, follows the bytes sent (the app's bar).

        Raises :class:`~toolkit.errors.UploadError` whose ``step`` says what failed.

            >>> client.upload("customers.cc5txt", target).bytes       # doctest: +SKIP
            1234
        """
        return upload_file(self.sender, path, target, progress=progress, on_progress=on_progress)

    def start_import(
        self,
        file: str | UploadTarget | ImportRecord,
        wait: bool = False,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        action_id: str | None = None,
        description: str | None = None,
    ) -> ImportRecord:
        """Start the import of an uploaded file; never triggers it twice.

        Portal: ``wait=False`` uses the async trigger (answers ``QUEUED``);
        ``wait=True`` the synchronous one, then polls if its answer was lost.
        Imports API: processing starts by itself; this returns the record
        (and waits for the end with ``wait=True``).

            >>> client.start_import(target).status                    # doctest: +SKIP
            'QUEUED'
        """
        file_id, file_path = self._file_ref(file)
        if isinstance(file, UploadTarget):
            action_id = action_id or file.action_id
        record = self.backend.trigger(
            file_id,
            wait=wait,
            timeout=timeout,
            file_path=file_path,
            action_id=action_id,
            description=description,
        )
        if wait and not record.is_terminal:
            record = self.wait(file_id, timeout=timeout)
        return record

    def status(self, file_id: str) -> ImportRecord:
        """The file's current record.

        >>> client.status("f_0a1b").status                        # doctest: +SKIP
        'FINISHED'
        """
        return self.backend.get(file_id)

    def wait(
        self,
        file_id: str,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        *,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        first_interval: float = 0.2,
        max_interval: float = 5.0,
    ) -> ImportRecord:
        """Poll the file with growing intervals until FINISHED, FAILED or DELETED.

        Returns the final record (whatever its status); raises
        :class:`~toolkit.errors.ImportTimeout` after ``timeout`` seconds.
        ``progress`` draws a tqdm line; ``on_progress`` receives a ``process``
        :class:`~toolkit.progress.ProgressEvent` per look (status, elapsed, rows).

            >>> client.wait("f_0a1b", timeout=60).status              # doctest: +SKIP
            'FINISHED'
        """
        clock, sleep = self.retry.clock, self.retry.sleep
        deadline = clock() + timeout
        started = time.perf_counter()
        interval = first_interval
        bar = tqdm(
            total=None,
            desc=f"Waiting for {file_id}",
            disable=not progress,
            leave=False,
            delay=0.5,  # no flash for imports that end at once
            bar_format="{desc} [{elapsed}]",
        )
        try:
            while True:
                record = self.backend.get(file_id)
                bar.set_description_str(f"Waiting for {file_id}: {record.status}", refresh=True)
                if on_progress is not None:
                    rows = record.successful_count + record.failure_count
                    on_progress(ProgressEvent(stage="process", done=rows, total=None, unit="rows",
                                              rows=rows, status=record.status,
                                              elapsed=time.perf_counter() - started))
                if record.is_terminal:
                    return record
                remaining = deadline - clock()
                if remaining <= 0:
                    raise ImportTimeout(
                        f"Gave up waiting for file {file_id} after {timeout:g} s: it is still "
                        f"{record.status} (check later with `toolkit status {file_id}`)",
                        file_id=file_id,
                        status=record.status,
                    )
                sleep(min(interval, remaining))
                interval = min(max_interval, interval * 1.5)
        finally:
            bar.close()

    def list_records(
        self,
        *,
        statuses: _StatusFilter = None,
        workspaces: _StatusFilter = None,
        created_after: _TimeFilter = None,
        created_before: _TimeFilter = None,
        page_size: int = 1000,
    ) -> list[ImportRecord]:
        """Every matching record, newest first, fetching all pages (see :meth:`list_imports`)."""
        if not 1 <= page_size <= 1000:
            raise ConfigError(f"page_size must be between 1 and 1000, not {page_size}")
        filters = self._list_filters(statuses, workspaces, created_after, created_before)
        seen: dict[str, ImportRecord] = {}
        offset = 0
        while True:
            total, page = self.backend.list_page(**filters, offset=offset, limit=page_size)
            for record in page:
                # Files created while paging shift pages: keep each file once.
                seen.setdefault(record.file_id, record)
            offset += len(page)
            if not page or offset >= total:
                return list(seen.values())

    @staticmethod
    def _list_filters(statuses: _StatusFilter, workspaces: _StatusFilter, created_after: _TimeFilter,
                      created_before: _TimeFilter) -> dict[str, Any]:
        try:
            after, before = to_unix_seconds(created_after), to_unix_seconds(created_before)
        except ValueError as exc:
            raise ConfigError(f"Bad time filter: {exc}") from None
        return dict(statuses=_as_list(statuses, upper=True), workspaces=_as_list(workspaces),
                    created_after=after, created_before=before)

    def list_imports(
        self,
        *,
        statuses: _StatusFilter = None,
        workspaces: _StatusFilter = None,
        created_after: _TimeFilter = None,
        created_before: _TimeFilter = None,
        page_size: int = 1000,
    ) -> "pd.DataFrame":
        """All matching files as a typed DataFrame (one row per file, newest first).

        Filters: ``statuses`` and ``workspaces`` (a value or a list),
        ``created_after``/``created_before`` (datetime, UNIX seconds,
        ``timedelta`` ago, or ``"7d"``-style strings). Every page is fetched.

            >>> client.list_imports(statuses="FAILED", created_after="7d")[["file_id", "failure_code"]]  # doctest: +SKIP
        """
        return records_to_frame(
            self.list_records(
                statuses=statuses,
                workspaces=workspaces,
                created_after=created_after,
                created_before=created_before,
                page_size=page_size,
            )
        )

    def rejected_rows(self, file_id: str) -> "pd.DataFrame":
        """The file's rejected rows (``line``, ``error``, then the row's values as text).

        >>> client.rejected_rows("f_0a1b")[["line", "error"]]     # doctest: +SKIP
        """
        with self.backend.stream(
            self.backend.rejected_path(file_id), what=f"Getting rejected rows of {file_id}"
        ) as response:
            text = response.read().decode("utf-8")
        return rejected_csv_to_frame(text)

    def save_rejected(self, file_id: str, out: str | os.PathLike[str] | BinaryIO) -> int:
        """Stream the rejected-rows CSV, as the service wrote it, to a path or a binary file; returns its row count.

        Written to a path, the CSV appears only once complete (no half-written file).

            >>> client.save_rejected("f_0a1b", "rejected.csv")        # doctest: +SKIP
            3
        """
        what = f"Getting rejected rows of {file_id}"
        counter = CsvRowCounter()
        with self.backend.stream(self.backend.rejected_path(file_id), what=what) as response:
            if hasattr(out, "write"):
                self._copy(response, out, counter, what)  # type: ignore[arg-type]
                return counter.rows
            target = Path(out)
            partial = target.with_name(target.name + ".part")
            try:
                with open(partial, "wb") as handle:
                    self._copy(response, handle, counter, what)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        return counter.rows

    @staticmethod
    def _copy(response: httpx.Response, out: BinaryIO, counter: "CsvRowCounter", what: str) -> None:
        try:
            for chunk in response.iter_bytes():
                counter.feed(chunk)
                out.write(chunk)
        except httpx.HTTPError as exc:
            raise TransportError(f"{what} failed: {describe_exception(exc)}") from exc

    def delete(self, file_id: str) -> ImportRecord:
        """Delete the file (its object and imported file; applied rows stay); returns the DELETED record.

        >>> client.delete("f_0a1b").status                        # doctest: +SKIP
        'DELETED'
        """
        return self.backend.delete(file_id)

    def discard_pending(self, file_id: str) -> bool:
        """Delete the file if it still waits for its upload (after an upload
        failed, so no record dangles); True if it was deleted. Never raises a
        ToolkitError: it is cleanup after another error.

        >>> client.discard_pending("f_0a1b")                      # doctest: +SKIP
        True
        """
        try:
            if self.status(file_id).status == "PENDING_UPLOAD":
                self.delete(file_id)
                return True
        except ToolkitError:
            pass
        return False

    def count(
        self,
        *,
        statuses: _StatusFilter = None,
        workspaces: _StatusFilter = None,
        created_after: _TimeFilter = None,
        created_before: _TimeFilter = None,
    ) -> int:
        """How many files match (one call asking for a single record).

        >>> client.count(statuses="FAILED")                       # doctest: +SKIP
        12
        """
        total, _ = self.backend.list_page(**self._list_filters(statuses, workspaces, created_after, created_before),
                                          offset=0, limit=1)
        return total

    def import_file(
        self,
        path: Any,
        workspace: str | None = None,
        *,
        options: ImportOptions | None = None,
        on_progress: ProgressCallback | None = None,
        report: CheckedFile | None = None,
        **keywords: Unpack[ImportKeywords],
    ) -> ImportResult:
        """Validate, (convert,) upload, trigger and wait: a file to a finished import.

        The options are an :class:`~toolkit.client.ImportOptions` or its fields
        as keywords (``entity_type``, ``keys``, ``force``, ``wait``,
        ``timeout``...), checked before any work; see
        :func:`toolkit.client.pipeline.run_import`. ``on_progress`` receives
        the :class:`~toolkit.progress.ProgressEvent` s of every stage;
        ``report`` is a validation report of this file made before (not redone).

            >>> client.import_file("customers.cc5txt", workspace="ws-eu").status  # doctest: +SKIP
            'FINISHED'
        """
        chosen = ImportOptions.merge(options, workspace=workspace, **keywords)
        return run_import(self, path, chosen, on_progress=on_progress, report=report)

    def import_data(
        self,
        source: Any,
        workspace: str | None = None,
        *,
        timeout: float = DEFAULT_WAIT_TIMEOUT,
        max_bytes: int | None = None,
        raise_on_failure: bool = False,
        **body_options: Any,
    ) -> ImportResult:
        """Import rows through the portal's Import Data call (JSON, synchronous; portal API only).

        ``source`` and ``body_options`` (``entity_type``, ``keys``, ``types``,
        ``dictionaries``, ``delete``...) are those of
        :func:`toolkit.client.import_data.build_import_data`; ``max_bytes``
        refuses a body over the service's size limit before sending. A FAILED
        import is returned (status FAILED, its code), unless
        ``raise_on_failure`` raises :class:`~toolkit.errors.ImportFailed`.

            >>> client.import_data("customers.cc5txt").successful_count  # doctest: +SKIP
            10
        """
        from toolkit.client.import_data import build_import_data, require_portal, send_import_data

        require_portal(self.api)  # before reading the source: say it at once
        started = time.perf_counter()
        body = build_import_data(source, workspace=workspace, **body_options)
        built = time.perf_counter() - started
        path = str(source) if isinstance(source, (str, os.PathLike)) else None
        result = send_import_data(self.backend, body, timeout=timeout, max_bytes=max_bytes, path=path,
                                  validate_seconds=built)
        if raise_on_failure and result.status in ("FAILED", "DELETED"):
            raise ImportFailed(describe_failure(result.record), record=result.record,
                               failure_code=result.failure_code, result=result)
        return result

    # -- helpers ---------------------------------------------------------------
    @staticmethod
    def _file_ref(file: str | UploadTarget | ImportRecord) -> tuple[str, str | None]:
        if isinstance(file, UploadTarget):
            return file.file_id, file.file_path
        if isinstance(file, ImportRecord):
            return file.file_id, file.file_path
        return str(file), None
