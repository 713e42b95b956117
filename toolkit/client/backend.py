"""What both API flavours share: authenticated JSON calls through the retrying
sender, and the interface :class:`~toolkit.client.api.ImportClient` uses.

Each flavour (:mod:`~toolkit.client.portal`, :mod:`~toolkit.client.imports`)
maps the same operations onto its own paths, names and error shapes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import httpx

from toolkit.client.http import AmbiguousRequest, HttpSender, RetryState
from toolkit.client.result import ImportRecord
from toolkit.client.upload import UploadTarget
from toolkit.errors import ApiError

__all__ = ["ApiBackend", "ListSpec", "STARTED_STATUSES"]

# Statuses that prove an import trigger was accepted.
STARTED_STATUSES = frozenset({"QUEUED", "PROCESSING", "FINISHED", "FAILED"})


@dataclass(frozen=True)
class ListSpec:
    """How an API spells the file list: its path, the request's field names
    (by the client's filter names), the answer's list and total fields and
    the reader of one record."""

    path: str
    fields: dict[str, str]
    items: str
    total: str
    record: Callable[[dict[str, Any]], ImportRecord]


class ApiBackend:
    """Base of the two API flavours; subclasses fill in the endpoints."""

    name = ""
    upload_method = "PUT"
    list_spec: ListSpec

    def __init__(self, base_url: str, api_key: str, sender: HttpSender) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.sender = sender

    # -- plumbing --------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        """The headers that carry the API key."""
        raise NotImplementedError

    def parse(self, response: httpx.Response, *, what: str) -> Any:
        """The useful JSON of a response, or raise the matching ApiError."""
        raise NotImplementedError

    def build(
        self, method: str, path: str, *, json: Any = None, timeout: float | None = None
    ) -> Callable[[], httpx.Request]:
        """A request factory for the sender (one fresh request per try)."""
        headers = {"Accept": "application/json", **self.auth_headers()}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}

        def make() -> httpx.Request:
            return self.sender.http.build_request(method, f"{self.base_url}{path}", json=json, headers=headers, **extra)

        return make

    def call(self, method: str, path: str, *, what: str, json: Any = None) -> Any:
        """Send an idempotent call with retries and return its parsed answer."""
        response = self.sender.send(self.build(method, path, json=json), what=what)
        return self.parse(response, what=what)

    @contextlib.contextmanager
    def stream(self, path: str, *, what: str) -> Iterator[httpx.Response]:
        """A streamed GET (for CSV downloads); errors are raised before yielding."""
        response = self.sender.send(self.build("GET", path), what=what, stream=True)
        try:
            if not response.is_success:
                response.read()
                self.parse(response, what=what)
            yield response
        finally:
            response.close()

    def trigger_once_accepted(
        self,
        file_id: str,
        send: Callable[[RetryState], httpx.Response],
        *,
        what: str,
    ) -> httpx.Response | ImportRecord:
        """Send a non-idempotent trigger so that the server runs it at most once.

        When the answer is lost (or a 5xx hides whether it ran), ask for the
        file's status: if the import started, that record is the answer;
        otherwise re-send, within the retry budget.
        """
        state = RetryState(self.sender.policy)
        while True:
            try:
                return send(state)
            except AmbiguousRequest as ambiguous:
                record = self.get(file_id)
                if record.status in STARTED_STATUSES:
                    return record
                delay = state.next_delay(ambiguous.response)
                if delay is None:
                    if ambiguous.response is not None:
                        self.parse(ambiguous.response, what=what)
                    raise ambiguous.error from ambiguous
                state.wait(delay)

    # -- operations ------------------------------------------------------
    def request_upload(
        self,
        file_name: str,
        *,
        workspace: str,
        entity_type: str | None,
        bucket_id: str | None,
        options: dict[str, Any],
    ) -> UploadTarget:
        """Ask for a pre-signed upload for ``file_name`` in ``workspace``."""
        raise NotImplementedError

    def trigger(
        self,
        file_id: str,
        *,
        wait: bool,
        timeout: float | None,
        file_path: str | None,
        action_id: str | None,
        description: str | None,
    ) -> ImportRecord:
        """Start the import of an uploaded file (at most once) and return its record."""
        raise NotImplementedError

    def get(self, file_id: str) -> ImportRecord:
        """The file's current record."""
        raise NotImplementedError

    def delete(self, file_id: str) -> ImportRecord:
        """Delete the file; returns the DELETED record."""
        raise NotImplementedError

    def list_page(
        self,
        *,
        statuses: Sequence[str] | None,
        workspaces: Sequence[str] | None,
        created_after: float | None,
        created_before: float | None,
        offset: int,
        limit: int,
    ) -> tuple[int, list[ImportRecord]]:
        """One page of the file list: (total matching, records).

        Both APIs take the same filters under their own names
        (:attr:`list_spec`).
        """
        spec = self.list_spec
        names = spec.fields
        body: dict[str, Any] = {names["offset"]: offset, names["limit"]: limit}
        for name, value in (("statuses", statuses), ("workspaces", workspaces)):
            if value:
                body[names[name]] = list(value)
        for name, when in (("created_after", created_after), ("created_before", created_before)):
            if when is not None:
                body[names[name]] = when
        what = "Listing files"
        data = self.call("POST", spec.path, what=what, json=body)
        if not isinstance(data, dict) or not isinstance(data.get(spec.items), list):
            raise ApiError(f"{what} failed: the answer has no {spec.items} list: {data!r:.200}")
        return int(data.get(spec.total) or 0), [spec.record(item) for item in data[spec.items]]

    def rejected_path(self, file_id: str) -> str:
        """The path of the rejected-rows CSV of ``file_id``."""
        raise NotImplementedError
