"""The one import pipeline: typed options checked before any work, and progress
events for every stage, the same for the CLI, the app and notebooks."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path
from typing import Any, get_type_hints

import httpx
import pytest
from conftest import make_cc5

import toolkit
from toolkit.client import ImportClient, ImportKeywords, ImportOptions, run_import
from toolkit.errors import ConfigError, ImportFailed
from toolkit.progress import ProgressEvent


def _recording_client(api: str) -> tuple[ImportClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500)

    client = ImportClient("http://api.test", "key", api=api, http=httpx.Client(transport=httpx.MockTransport(handler)))
    return client, sent


def test_a_misspelt_option_fails_before_any_work(tmp_path: Path) -> None:
    client, sent = _recording_client("portal")
    missing = tmp_path / "not-there.cc5txt"  # reading it would fail with another error
    with pytest.raises(ConfigError, match=r"Unknown import option 'forse' \(did you mean 'force'\?\)"):
        client.import_file(missing, "ws-eu", forse=True)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="Unknown import option 'colour'; known options: workspace, "):
        toolkit.import_file(missing, "ws-eu", base_url="http://api.test", api_key="k", colour="red")  # type: ignore[call-arg]
    assert sent == []


@pytest.mark.parametrize(("options", "message"), [
    ({"force": "yes"}, "force must be True or False, not 'yes'"),
    ({"timeout": -1}, "timeout must be a number of seconds > 0, not -1"),
    ({"keys": [1, 2]}, "keys must be a column name or a list of them"),
    ({"entity_type": 7}, "entity_type must be text, not int 7"),
])
def test_a_mistyped_option_fails_at_once(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ImportOptions(**options)


def test_options_the_api_cannot_take_fail_before_validation(tmp_path: Path) -> None:
    client, sent = _recording_client("imports")
    with pytest.raises(ConfigError, match=r"The imports API takes no upload options \(got folder\)"):
        run_import(client, tmp_path / "not-there.cc5txt", ImportOptions(folder="in"))
    assert sent == []


def test_keywords_and_the_options_object_name_the_same_options() -> None:
    assert set(get_type_hints(ImportKeywords)) == set(ImportOptions.names()) - {"workspace"}


def test_merge_applies_keywords_over_an_options_object() -> None:
    base = ImportOptions(workspace="ws-a", force=True, timeout=30)
    merged = ImportOptions.merge(base, timeout=5, entity_type=None)
    assert (merged.workspace, merged.force, merged.timeout, merged.entity_type) == ("ws-a", True, 5, None)
    assert base.timeout == 30 and dataclasses.is_dataclass(merged)
    with pytest.raises(dataclasses.FrozenInstanceError):
        merged.force = False  # type: ignore[misc]


def test_progress_events_follow_every_stage(live_service: Any, tmp_path: Path) -> None:
    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    path = make_cc5(tmp_path, rows=7, workspace=workspace)
    events: list[ProgressEvent] = []
    with ImportClient(live_service.url, live_service.api_key, api="portal") as client:
        result = client.import_file(path, options=ImportOptions(workspace=workspace), on_progress=events.append)
    assert (result.status, result.successful_count) == ("FINISHED", 7)
    stages = [e.stage for e in events]
    assert stages[0] == "validate" and "upload" in stages and stages[-1] == "process"
    assert stages == sorted(stages, key=["validate", "upload", "process"].index), "stages out of order"
    size = path.stat().st_size
    validated = [e for e in events if e.stage == "validate"][-1]
    lines = len(path.read_text(encoding="utf-8").splitlines())  # the engine counts every line it read
    assert (validated.done, validated.total, validated.rows) == (size, size, lines)
    uploaded = [e for e in events if e.stage == "upload"][-1]
    assert (uploaded.done, uploaded.total, uploaded.unit) == (size, size, "B")
    processed = [e for e in events if e.stage == "process"]
    assert processed[-1].status == "FINISHED" and processed[-1].rows == 7
    assert all(e.elapsed is not None and e.elapsed >= 0 for e in events)


def test_a_failed_import_carries_its_result(live_service: Any, tmp_path: Path) -> None:
    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    path = make_cc5(tmp_path, rows=3, workspace=workspace, footer=99)  # wrong 99 count: FAILED by the service
    with pytest.raises(ImportFailed) as caught:
        toolkit.import_file(path, workspace, base_url=live_service.url, api_key=live_service.api_key,
                            options=ImportOptions(force=True, progress=False))
    assert caught.value.result is not None and caught.value.result.status == "FAILED"
    assert caught.value.result.validate_seconds is not None


def test_a_report_made_before_is_used_instead_of_validating_again(live_service: Any, tmp_path: Path) -> None:
    from toolkit.cc5 import validate

    workspace = f"ws-{uuid.uuid4().hex[:8]}"
    path = make_cc5(tmp_path, rows=4, workspace=workspace)
    other = make_cc5(tmp_path, rows=2, workspace=workspace, name="other.cc5txt")
    events: list[ProgressEvent] = []
    with validate(path, progress=False) as report, \
            ImportClient(live_service.url, live_service.api_key, api="imports") as client:
        with pytest.raises(ConfigError, match="report given is of"):
            client.import_file(other, workspace, report=report, progress=False)
        result = client.import_file(path, workspace, report=report, on_progress=events.append)
        assert report.data_rows == 4  # still open: the caller owns it
    assert (result.status, result.successful_count, result.validate_seconds) == ("FINISHED", 4, None)
    assert "validate" not in {e.stage for e in events}


@dataclasses.dataclass(frozen=True)
class _Verdict:
    """A plain verdict kept after its report closed (as the app keeps one): a CheckedFile."""

    path: str
    file_errors: tuple[str, ...]
    header: Any = None

    def to_dict(self, *, max_findings: int | None = 100) -> dict[str, Any]:
        return {"path": self.path, "findings": []}


def test_a_plain_verdict_with_file_errors_stops_the_import_before_any_request(tmp_path: Path) -> None:
    from toolkit.errors import ValidationFailed

    client, sent = _recording_client("portal")
    path = make_cc5(tmp_path, rows=2, workspace="ws-eu")  # valid: only the verdict given says otherwise
    verdict = _Verdict(str(path), ("line 5: FOOTER_COUNT_MISMATCH",))
    with pytest.raises(ValidationFailed, match=r"Not uploaded: line 5: FOOTER_COUNT_MISMATCH; fix the file"):
        client.import_file(path, "ws-eu", report=verdict, progress=False)
    assert sent == []  # the verdict was taken as it is: the file was not read again


def test_a_table_the_writer_refuses_stops_before_any_request(tmp_path: Path) -> None:
    from toolkit.errors import WriteError

    client, sent = _recording_client("portal")
    source = tmp_path / "customers.csv"
    source.write_text("customer_code,name\nC1,Ada\n", encoding="utf-8")
    with pytest.raises(WriteError, match="code"):
        client.import_file(source, "ws-eu", entity_type="customer", keys=["code"], bucket_id="bk", progress=False)
    assert sent == []
