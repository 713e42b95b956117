"""The client's retrying sender: which failures are retried, how long it
waits (exponential backoff with jitter, Retry-After), when it gives up, and
how a non-idempotent request is protected from being sent twice."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from toolkit.client.http import (
    AmbiguousRequest,
    HttpSender,
    RetryPolicy,
    RetryState,
    describe_exception,
    parse_retry_after,
)
from toolkit.errors import TransportError

URL = "http://api.test/v1/imports/f_1"


def make_sender(handler, *, max_attempts: int = 5, **policy) -> tuple[HttpSender, list[float]]:
    sleeps: list[float] = []
    sender = HttpSender(
        httpx.Client(transport=httpx.MockTransport(handler)),
        RetryPolicy(max_attempts=max_attempts, sleep=sleeps.append, rng=random.Random(7), **policy),
    )
    return sender, sleeps


def scripted(*outcomes):
    """A handler answering (or raising) each outcome in turn; records the calls."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        if isinstance(outcome, int):
            return httpx.Response(outcome, json={})
        return outcome

    return handler, calls


def get() -> httpx.Request:
    return httpx.Request("GET", URL)


# -- the policy -------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, rng=random.Random(1))
    for retry, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        delays = [policy.backoff(retry) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays), (retry, min(delays), max(delays))
        assert len(set(delays)) > 100, "no jitter"


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (200, False),
        (400, False),
        (401, False),
        (404, False),
        (409, False),
        (429, True),
        (500, True),
        (501, False),
        (502, True),
        (503, True),
        (504, True),
        (505, False),
    ],
)
def test_which_statuses_are_retried(status: int, retryable: bool) -> None:
    assert RetryPolicy.is_retryable_status(status) is retryable


def test_parse_retry_after_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=12), usegmt=True), now=now) == 12.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=12), usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("in a while") is None


def test_retry_state_counts_the_budget_and_says_why_it_stopped() -> None:
    state = RetryState(RetryPolicy(max_attempts=3, rng=random.Random(0)))
    assert state.next_delay() is not None
    assert state.next_delay() is not None
    assert state.next_delay() is None
    assert state.reason == "gave up after 3 attempts"


# -- the sender -------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.Response(429),
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(503),
        httpx.Response(504),
    ],
    ids=lambda f: type(f).__name__ if isinstance(f, Exception) else f"HTTP {f.status_code}",
)
def test_transient_failures_are_retried_until_success(failure) -> None:
    handler, calls = scripted(failure, failure, 200)
    sender, sleeps = make_sender(handler, backoff_base=1.0)
    response = sender.send(get, what="Getting f_1")
    assert response.status_code == 200
    assert len(calls) == 3
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0  # the second wait is longer


def test_each_try_sends_a_fresh_request_from_the_factory() -> None:
    handler, calls = scripted(503, 200)
    built: list[httpx.Request] = []

    def build() -> httpx.Request:
        built.append(httpx.Request("PUT", URL, content=b"body"))
        return built[-1]

    sender, _ = make_sender(handler)
    sender.send(build, what="Uploading")
    assert len(built) == 2 and built[0] is not built[1]
    assert [c.content for c in calls] == [b"body", b"body"]


def test_retry_after_seconds_is_honoured_instead_of_backoff() -> None:
    handler, calls = scripted(httpx.Response(429, headers={"Retry-After": "3"}), 200)
    sender, sleeps = make_sender(handler, backoff_base=0.1)
    assert sender.send(get, what="x").status_code == 200
    assert sleeps == [3.0]


def test_retry_after_http_date_is_honoured() -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    handler, _ = scripted(httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}), 200)
    sender, sleeps = make_sender(handler)
    sender.send(get, what="x")
    assert 25 <= sleeps[0] <= 30


def test_a_retry_after_beyond_the_limit_ends_retrying_and_returns_the_answer() -> None:
    handler, calls = scripted(httpx.Response(503, headers={"Retry-After": "3600"}), 200)
    sender, sleeps = make_sender(handler, max_retry_after=60)
    response = sender.send(get, what="x")
    assert response.status_code == 503
    assert len(calls) == 1 and sleeps == []


def test_retries_are_bounded_and_the_last_error_answer_is_returned() -> None:
    handler, calls = scripted(502)
    sender, sleeps = make_sender(handler, max_attempts=4)
    assert sender.send(get, what="x").status_code == 502
    assert len(calls) == 4 and len(sleeps) == 3


def test_transport_errors_beyond_the_budget_raise_transport_error_with_context() -> None:
    handler, calls = scripted(httpx.ConnectError("[Errno 111] Connection refused"))
    sender, _ = make_sender(handler, max_attempts=3)
    with pytest.raises(TransportError) as caught:
        sender.send(get, what="Getting file f_1")
    assert len(calls) == 3
    message = str(caught.value)
    assert message.startswith("Getting file f_1 failed: could not connect")
    assert "Connection refused" in message and "gave up after 3 attempts" in message
    assert caught.value.url == URL


@pytest.mark.parametrize("status", [400, 401, 404, 409, 501])
def test_non_transient_answers_are_returned_at_once(status: int) -> None:
    handler, calls = scripted(status, 200)
    sender, sleeps = make_sender(handler)
    assert sender.send(get, what="x").status_code == status
    assert len(calls) == 1 and sleeps == []


def test_a_bad_url_is_not_retried() -> None:
    sender = HttpSender(httpx.Client(), RetryPolicy(sleep=lambda s: pytest.fail("slept")))
    with pytest.raises(TransportError, match="UnsupportedProtocol"):
        sender.send(lambda: httpx.Request("GET", "ftp://example.test/x"), what="x")


# -- non-idempotent requests ------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("dropped"),
        httpx.WriteError("reset"),
        httpx.Response(500),
        httpx.Response(502),
        httpx.Response(504),
    ],
    ids=lambda f: type(f).__name__ if isinstance(f, Exception) else f"HTTP {f.status_code}",
)
def test_a_possibly_delivered_non_idempotent_request_is_not_resent(failure) -> None:
    handler, calls = scripted(failure, 200)
    sender, sleeps = make_sender(handler)
    with pytest.raises(AmbiguousRequest) as caught:
        sender.send(get, what="Starting the import", idempotent=False)
    assert len(calls) == 1 and sleeps == []
    assert isinstance(caught.value.error, TransportError)
    if isinstance(failure, httpx.Response):
        assert caught.value.response.status_code == failure.status_code


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.Response(429), httpx.Response(503)],
    ids=lambda f: type(f).__name__ if isinstance(f, Exception) else f"HTTP {f.status_code}",
)
def test_a_non_idempotent_request_is_resent_when_it_surely_was_not_processed(failure) -> None:
    handler, calls = scripted(failure, 200)
    sender, sleeps = make_sender(handler)
    assert sender.send(get, what="x", idempotent=False).status_code == 200
    assert len(calls) == 2 and len(sleeps) == 1


def test_describe_exception_names_the_failure() -> None:
    assert describe_exception(httpx.ConnectError("refused")) == "could not connect (refused)"
    assert describe_exception(httpx.WriteError("")) == "connection dropped while sending"
    assert describe_exception(ValueError("odd")) == "ValueError: odd"
