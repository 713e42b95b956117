"""Sending requests with bounded retries: exponential backoff with jitter,
``Retry-After`` honoured, a fresh request (and so a freshly opened file) for
every try.

Connection errors, timeouts, 429 and 5xx (but 501/505) are retried. A request
that must not run twice (the import trigger) is sent with
``idempotent=False``: when it may already have reached the server (a
dropped answer, a 500/502/504) the sender raises :class:`AmbiguousRequest`
instead of re-sending, and the caller checks the file's state first.

    >>> import httpx
    >>> calls = []
    >>> def handler(request):
    ...     calls.append(request.url.path)
    ...     return httpx.Response(503 if len(calls) < 3 else 200, headers={"Retry-After": "0"})
    >>> sender = HttpSender(httpx.Client(transport=httpx.MockTransport(handler)),
    ...                     RetryPolicy(sleep=lambda seconds: None))
    >>> sender.send(lambda: httpx.Request("GET", "http://api.test/x"), what="Getting x").status_code
    200
    >>> len(calls)
    3
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import httpx

from toolkit.errors import TransportError

__all__ = ["RetryPolicy", "RetryState", "HttpSender", "AmbiguousRequest", "parse_retry_after", "describe_exception"]

logger = logging.getLogger("toolkit.client")

# Errors raised before a single byte of the request could reach the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Transport errors worth another try (not: bad URL, local protocol misuse).
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# Statuses that say "the request was not processed": safe to re-send anything.
_NOT_PROCESSED = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry.

    The n-th retry waits ``min(backoff_max, backoff_base * 2**(n-1))`` with
    "equal jitter" (between half and all of it), or the server's
    ``Retry-After`` when it sent one. A ``Retry-After`` longer than
    ``max_retry_after`` ends the retries. ``sleep``, ``clock`` and ``rng``
    are injectable for tests.

        >>> policy = RetryPolicy(backoff_base=1.0, rng=random.Random(1))
        >>> 0.5 <= policy.backoff(1) <= 1.0 and 4.0 <= policy.backoff(4) <= 8.0
        True
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), jittered."""
        cap = min(self.backoff_max, self.backoff_base * 2 ** max(0, retry - 1))
        return float(cap / 2 + self.rng.uniform(0, cap / 2))

    @staticmethod
    def is_retryable_status(status_code: int) -> bool:
        """429 and 5xx except 501 Not Implemented and 505 HTTP Version Not Supported."""
        return status_code == 429 or (500 <= status_code <= 599 and status_code not in (501, 505))


class RetryState:
    """The retry budget of one logical request (shared across its tries).

    >>> state = RetryState(RetryPolicy(max_attempts=2, sleep=lambda s: None))
    >>> state.next_delay() is not None, state.next_delay() is None
    (True, True)
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempts = 1  # the first try is under way when a state is made
        self.reason: str | None = None  # why the last delay was refused

    def next_delay(self, response: httpx.Response | None = None) -> float | None:
        """Seconds to wait before the next try, or ``None`` when retrying must stop."""
        if self.attempts >= self.policy.max_attempts:
            self.reason = f"gave up after {self.attempts} attempts"
            return None
        delay = self.policy.backoff(self.attempts)
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if response is not None else None
        if retry_after is not None:
            if retry_after > self.policy.max_retry_after:
                self.reason = f"the server asked to retry after {retry_after:.0f} s"
                return None
            delay = retry_after
        self.attempts += 1
        return delay

    def wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds with the policy's sleep function."""
        if delay > 0:
            self.policy.sleep(delay)


class AmbiguousRequest(Exception):
    """A non-idempotent request may have reached the server; its answer was lost.

    ``error`` is the :class:`~toolkit.errors.TransportError` to raise if the
    caller cannot tell; ``response`` is set when the server answered 5xx.
    """

    def __init__(self, error: Exception, response: httpx.Response | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.response = response


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a ``Retry-After`` header: delay-seconds or an HTTP date; ``None`` if absent or bad.

    >>> parse_retry_after("3"), parse_retry_after(None), parse_retry_after("soon")
    (3.0, None, None)
    >>> parse_retry_after("Sun, 22 Nov 2026 10:00:05 GMT",
    ...                   now=datetime(2026, 11, 22, 10, 0, 0, tzinfo=timezone.utc))
    5.0
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def describe_exception(exc: BaseException) -> str:
    """A short readable name for a transport failure.

    >>> describe_exception(httpx.ReadTimeout("timed out"))
    'read timed out'
    """
    kinds = [
        (httpx.ConnectTimeout, "connecting timed out"),
        (httpx.ReadTimeout, "read timed out"),
        (httpx.WriteTimeout, "sending timed out"),
        (httpx.PoolTimeout, "no free connection"),
        (httpx.ConnectError, "could not connect"),
        (httpx.ReadError, "connection dropped while reading the answer"),
        (httpx.WriteError, "connection dropped while sending"),
        (httpx.RemoteProtocolError, "the server closed the connection"),
    ]
    for kind, text in kinds:
        if isinstance(exc, kind):
            detail = str(exc).strip()
            return f"{text} ({detail})" if detail and detail not in text else text
    return f"{type(exc).__name__}: {exc}"


class HttpSender:
    """Sends requests through one ``httpx.Client`` under a :class:`RetryPolicy`."""

    def __init__(self, http: httpx.Client, policy: RetryPolicy | None = None) -> None:
        self.http = http
        self.policy = policy or RetryPolicy()

    def send(
        self,
        build: Callable[[], httpx.Request],
        *,
        what: str,
        idempotent: bool = True,
        stream: bool = False,
        state: RetryState | None = None,
    ) -> httpx.Response:
        """Send ``build()`` until an answer that is not worth retrying, and return it.

        ``build`` is called for every try (a streamed body must be re-created).
        The last retryable answer (e.g. a third 503) is returned, not raised:
        the caller turns statuses into errors. Transport failures that outlast
        the retries raise :class:`~toolkit.errors.TransportError`; with
        ``idempotent=False`` a possibly-delivered request raises
        :class:`AmbiguousRequest` instead of being re-sent.
        """
        state = state or RetryState(self.policy)
        while True:
            request = build()
            try:
                response = self.http.send(request, stream=stream)
            except _RETRYABLE as exc:
                error = TransportError(f"{what} failed: {describe_exception(exc)}", url=str(request.url))
                if not idempotent and not isinstance(exc, _NOT_SENT):
                    raise AmbiguousRequest(error) from exc
                delay = state.next_delay()
                if delay is None:
                    raise TransportError(f"{error} ({state.reason})", url=str(request.url)) from exc
                logger.info("%s: %s; retry %d in %.1f s", what, describe_exception(exc), state.attempts, delay)
            except httpx.HTTPError as exc:
                raise TransportError(f"{what} failed: {describe_exception(exc)}", url=str(request.url)) from exc
            else:
                if not self.policy.is_retryable_status(response.status_code):
                    return response
                if not idempotent and response.status_code not in _NOT_PROCESSED:
                    if stream:
                        response.read()
                    error = TransportError(
                        f"{what} failed: the server answered HTTP {response.status_code}", url=str(request.url)
                    )
                    raise AmbiguousRequest(error, response)
                delay = state.next_delay(response)
                if delay is None:
                    if stream:
                        response.read()
                    return response
                response.close()
                logger.info("%s: HTTP %d; retry %d in %.1f s", what, response.status_code, state.attempts, delay)
            state.wait(delay)
