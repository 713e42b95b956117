"""Answers the client reads: the portal envelope, the imports API's error
body, S3's XML errors, and every exception class they turn into."""

from __future__ import annotations

import random

import httpx
import pytest

from toolkit.client import ImportClient, RetryPolicy, UploadTarget
from toolkit.client.responses import (
    error_class,
    imports_json,
    portal_data,
    s3_error_message,
)
from toolkit.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    ConflictError,
    NotFoundError,
    ToolkitError,
    TransportError,
    UploadError,
)


def envelope(data=None, *, ok=True, code="", message="", errors=None) -> dict:
    return {
        "IsSuccess": ok,
        "ResponseStatus": {"ErrorCode": code, "Message": message, "StackTrace": "", "Errors": errors or []},
        "Data": data,
    }


def imports_error(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def client_answering(api: str, response: httpx.Response | Exception) -> ImportClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response

    return ImportClient(
        "http://api.test",
        "key",
        api=api,
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        retry=RetryPolicy(max_attempts=2, sleep=lambda s: None, rng=random.Random(0)),
    )


# -- the portal envelope ----------------------------------------------------------

# Both APIs map an error answer to the same class by its HTTP status.
ERRORS_BY_STATUS = [
    (401, "UNAUTHORIZED", AuthenticationError),
    (404, "NOT_FOUND", NotFoundError),
    (409, "CONFLICT", ConflictError),
    (400, "VALIDATION_ERROR", ApiError),
    (500, "INTERNAL_ERROR", ApiError),
]


def test_portal_data_of_a_successful_envelope() -> None:
    response = httpx.Response(200, json=envelope({"FileId": "f_1"}))
    assert portal_data(response, what="x") == {"FileId": "f_1"}


@pytest.mark.parametrize(("status", "code", "cls"), ERRORS_BY_STATUS)
def test_portal_error_envelopes_become_the_matching_error(status: int, code: str, cls: type) -> None:
    response = httpx.Response(status, json=envelope(ok=False, code=code, message="Something is off."))
    with pytest.raises(cls) as caught:
        portal_data(response, what="Getting file f_1")
    error = caught.value
    assert type(error) is cls
    assert error.status_code == status and error.error_code == code and error.response is response
    assert str(error) == f"Getting file f_1 failed: Something is off. (HTTP {status} {code})"


def test_portal_validation_errors_list_the_fields() -> None:
    errors = [
        {"ErrorCode": "REQUIRED", "FieldName": "WorkspaceId", "Message": "is required"},
        {"ErrorCode": "REQUIRED", "FieldName": "FileName", "Message": "is required"},
    ]
    response = httpx.Response(
        400, json=envelope(ok=False, code="VALIDATION_ERROR", message="Invalid body.", errors=errors)
    )
    with pytest.raises(ApiError) as caught:
        portal_data(response, what="Requesting an upload URL")
    assert caught.value.errors == errors
    assert str(caught.value) == (
        "Requesting an upload URL failed: Invalid body: WorkspaceId: is required; "
        "FileName: is required (HTTP 400 VALIDATION_ERROR)"
    )


def test_an_unsuccessful_envelope_with_http_200_is_still_an_error() -> None:
    response = httpx.Response(200, json=envelope(ok=False, code="NOT_FOUND", message="No such file."))
    with pytest.raises(NotFoundError):
        portal_data(response, what="x")


def test_a_success_without_envelope_is_reported() -> None:
    with pytest.raises(ApiError, match="without the portal envelope"):
        portal_data(httpx.Response(200, json={"FileId": "f_1"}), what="x")


def test_a_non_json_error_page_keeps_a_snippet() -> None:
    response = httpx.Response(502, text="<html><body>Bad gateway</body></html>")
    with pytest.raises(ApiError) as caught:
        portal_data(response, what="Listing files")
    assert "Bad gateway" in str(caught.value) and "(HTTP 502)" in str(caught.value)
    assert caught.value.status_code == 502 and caught.value.error_code is None


# -- the imports API's errors -----------------------------------------------------


@pytest.mark.parametrize(("status", "code", "cls"), ERRORS_BY_STATUS)
def test_imports_errors_become_the_matching_error(status: int, code: str, cls: type) -> None:
    response = httpx.Response(status, json=imports_error(code, "Nope."))
    with pytest.raises(cls) as caught:
        imports_json(response, what="Getting file f_1")
    assert type(caught.value) is cls
    assert (caught.value.status_code, caught.value.error_code) == (status, code)
    assert str(caught.value) == f"Getting file f_1 failed: Nope. (HTTP {status} {code})"


def test_imports_validation_details_are_shown() -> None:
    details = [{"field": "stream_name", "message": "is required"}]
    response = httpx.Response(400, json=imports_error("VALIDATION_ERROR", "Invalid body", details))
    with pytest.raises(ApiError, match="Invalid body: stream_name: is required") as caught:
        imports_json(response, what="x")
    assert caught.value.errors == details


def test_imports_success_that_is_not_json_is_reported() -> None:
    with pytest.raises(ApiError, match="not JSON"):
        imports_json(httpx.Response(200, text="hello"), what="x")


def test_error_class_falls_back_on_the_error_code() -> None:
    assert error_class(403, "UNAUTHORIZED") is AuthenticationError
    assert error_class(418, None) is ApiError


# -- through the client, for both APIs -------------------------------------------


@pytest.mark.parametrize("api", ["portal", "imports"])
@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [(401, "UNAUTHORIZED", AuthenticationError), (404, "NOT_FOUND", NotFoundError), (409, "CONFLICT", ConflictError)],
)
def test_client_calls_raise_the_error_tree(api: str, status: int, code: str, cls: type) -> None:
    body = envelope(ok=False, code=code, message="Refused.") if api == "portal" else imports_error(code, "Refused.")
    client = client_answering(api, httpx.Response(status, json=body))
    for call in (
        lambda: client.status("f_1"),
        lambda: client.delete("f_1"),
        lambda: client.list_imports(),
        lambda: client.rejected_rows("f_1"),
    ):
        with pytest.raises(cls) as caught:
            call()
        assert isinstance(caught.value, ToolkitError) and caught.value.status_code == status


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_server_errors_are_retried_then_raised_with_the_api_message(api: str) -> None:
    body = (
        envelope(ok=False, code="INTERNAL_ERROR", message="Boom.")
        if api == "portal"
        else imports_error("INTERNAL_ERROR", "Boom.")
    )
    client = client_answering(api, httpx.Response(500, json=body))
    with pytest.raises(ApiError, match=r"Getting file f_1 failed: Boom. \(HTTP 500 INTERNAL_ERROR\)"):
        client.status("f_1")


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_an_unreachable_api_is_a_transport_error(api: str) -> None:
    client = client_answering(api, httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(TransportError, match="Getting file f_1 failed: could not connect"):
        client.status("f_1")


@pytest.mark.parametrize("api", ["portal", "imports"])
def test_malformed_records_are_api_errors(api: str) -> None:
    data = envelope({"File": {"Status": "QUEUED"}}) if api == "portal" else {"status": "QUEUED"}
    client = client_answering(api, httpx.Response(200, json=data))
    with pytest.raises(ApiError, match="without (FileId|file_id)"):
        client.status("f_1")


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOOLKIT_API_URL", "TOOLKIT_API_KEY", "TOOLKIT_API"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="No API URL configured.*toolkit serve"):
        ImportClient()
    with pytest.raises(ConfigError, match="No API key configured"):
        ImportClient("http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="'portal' or 'imports'"):
        ImportClient("http://127.0.0.1:1", "k", api="soap")
    with pytest.raises(ConfigError, match="http:// or https://"):
        ImportClient("127.0.0.1:1", "k")
    monkeypatch.setenv("TOOLKIT_API_URL", "http://127.0.0.1:1/")
    monkeypatch.setenv("TOOLKIT_API_KEY", "env-key")
    monkeypatch.setenv("TOOLKIT_API", "Imports")
    client = ImportClient.from_env()
    assert (client.base_url, client.api, client.config.api_key) == ("http://127.0.0.1:1", "imports", "env-key")
    assert ImportClient.from_env(api="portal").api == "portal"  # arguments beat the environment
    # Configuration at the edges: the constructor itself never reads the environment.
    with pytest.raises(ConfigError, match="No API URL configured"):
        ImportClient()


# -- S3 errors ----------------------------------------------------------------------


def s3_xml(code: str, message: str, **extra: str) -> str:
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        f"{more}<RequestId>r1</RequestId></Error>"
    )


@pytest.mark.parametrize(
    ("status", "xml", "expected"),
    [
        (
            403,
            s3_xml("AccessDenied", "Request has expired", Expires="2026-11-22T10:00:00Z"),
            "the upload URL expired at 2026-11-22T10:00:00Z; request a new upload URL and try again (S3 AccessDenied, HTTP 403)",
        ),
        (
            400,
            s3_xml(
                "EntityTooLarge",
                "Your proposed upload exceeds the maximum allowed size",
                ProposedSize="400000000",
                MaxSizeAllowed="300000000",
            ),
            "the file is too large for this upload: 400000000 bytes, the limit is 300000000 bytes (S3 EntityTooLarge, HTTP 400)",
        ),
        (
            403,
            s3_xml("SignatureDoesNotMatch", "The request signature we calculated does not match"),
            "storage rejected the upload URL's signature; request a new upload URL (S3 SignatureDoesNotMatch, HTTP 403)",
        ),
        (
            403,
            s3_xml("AccessDenied", "Invalid according to Policy: Policy Condition failed"),
            "the upload does not satisfy the upload policy: Invalid according to Policy: Policy Condition failed (S3 AccessDenied, HTTP 403)",
        ),
        (
            404,
            s3_xml("NoSuchBucket", "The specified bucket does not exist"),
            "the storage bucket of the upload URL does not exist (S3 NoSuchBucket, HTTP 404)",
        ),
        (
            400,
            s3_xml("InvalidArgument", "Bad header"),
            "storage refused the upload: Bad header (S3 InvalidArgument, HTTP 400)",
        ),
        (500, "not xml at all", "storage refused the upload: not xml at all (HTTP 500)"),
    ],
)
def test_s3_errors_read_as_sentences(status: int, xml: str, expected: str) -> None:
    assert s3_error_message(httpx.Response(status, text=xml)) == expected


def test_an_expired_upload_url_is_an_upload_error_at_the_storage_step(tmp_path) -> None:
    path = tmp_path / "c.cc5txt"
    path.write_bytes(b"x" * 10)
    client = client_answering("portal", httpx.Response(403, text=s3_xml("AccessDenied", "Request has expired")))
    with pytest.raises(UploadError) as caught:
        client.upload(path, UploadTarget(file_id="f_1", url="http://s3.test/b/k"), progress=False)
    assert caught.value.step == "storage" and caught.value.status_code == 403
    assert str(caught.value).startswith("Upload of c.cc5txt failed: the upload URL expired")
