"""The client's Import Data call: the documented body built from a cc5 file,
a JSON body, a CSV file, a DataFrame or records; the limits checked before
sending; and imports through a real service on 127.0.0.1 (FINISHED with
the rows in the service's table, FAILED as a result), also from the CLI."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from conftest import import_data_body, make_cc5
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.client import ImportClient, RetryPolicy
from toolkit.client import import_data as client_import_data
from toolkit.client.import_data import build_import_data, check_import_data, import_data_from_cc5
from toolkit.errors import ApiError, ConfigError, ImportFailed, TransportError, ValidationFailed
from toolkit.service.import_data import FieldMapping, ImportDataRequest, ImportHeader, ImportMetadata

# The documented shape, names and case exactly as the portal's api-import-data.md writes them.
DOC_KEYS = ["header", "data", "delete", "footer", "InstanceId"]
HEADER_KEYS = ["customer", "fileType", "metadata", "FieldMappings"]
METADATA_KEYS = ["keys", "entityType", "workspaceId", "bucketId", "dataSource", "fileCreateTime", "flowType"]


def workspace() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"


def client_for(svc: Any, api: str = "portal") -> ImportClient:
    return ImportClient(svc.url, svc.api_key, api=api, retry=RetryPolicy(backoff_base=0.05, backoff_max=0.5))


# -- the body ----------------------------------------------------------------------------------------


def test_the_body_of_a_small_cc5_file_is_the_documented_shape(tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=2, workspace="ws-eu", deletes=[7, 8])
    body = import_data_from_cc5(path)
    assert list(body) == ["ImportData"]
    doc = body["ImportData"]
    assert list(doc) == DOC_KEYS
    assert list(doc["header"]) == HEADER_KEYS
    assert list(doc["header"]["metadata"]) == METADATA_KEYS
    assert doc["header"]["customer"] == "ACME" and doc["header"]["fileType"] == "cc5"
    assert doc["header"]["metadata"] == {
        "keys": ["customer_code"], "entityType": "customer", "workspaceId": "ws-eu", "bucketId": "bk-main",
        "dataSource": "CRM", "fileCreateTime": "20261122093000", "flowType": "UPSERT"}
    assert doc["header"]["FieldMappings"]["credit"] == {"code": "credit", "name": "credit", "type": "number"}
    assert [m["type"] for m in doc["header"]["FieldMappings"].values()] == [
        "string", "string", "number", "bool", "date", "array"]
    # values typed as their fields
    assert doc["data"][1] == {"customer_code": "C0000001", "name": "Customer 1", "credit": 1.5, "active": False,
                              "since": "20240115000000", "tags": ["vip", "eu"]}
    # the 90 rows become delete, keys only
    assert doc["delete"] == [{"customer_code": "C0000007"}, {"customer_code": "C0000008"}]
    assert doc["footer"] == {"total": 4} and doc["InstanceId"] == "sample"
    # the service's own model reads it as written
    parsed = ImportDataRequest.model_validate(body).ImportData
    assert parsed.footer.total == 4 and parsed.header.metadata.keys == ["customer_code"]


def test_dictionaries_and_names_go_into_the_field_mappings(tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=1)
    body = import_data_from_cc5(path, dictionaries={"name": {"Customer 0": "Zero"}}, names={"credit": "Credit"})
    mappings = body["ImportData"]["header"]["FieldMappings"]
    assert mappings["name"] == {"code": "name", "name": "name", "type": "string",
                                "dictionary": {"Customer 0": "Zero"}}
    assert mappings["credit"]["name"] == "Credit" and "dictionary" not in mappings["credit"]
    with pytest.raises(ConfigError, match="unknown field.*nope"):
        import_data_from_cc5(path, dictionaries={"nope": {"a": "b"}})


def test_a_cc5_file_with_errors_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = make_cc5(tmp_path, rows=2, bad_rows=1)
    with pytest.raises(ValidationFailed, match=r"cc5txt:7: INVALID_NUMBER field credit"):
        import_data_from_cc5(path)
    with pytest.raises(ValidationFailed, match="WORKSPACE_MISMATCH"):
        import_data_from_cc5(make_cc5(tmp_path, rows=1, workspace="ws-eu"), workspace="ws-other")


def test_records_and_dataframes_with_types_keys_and_deletes() -> None:
    records = [{"code": "001", "credit": "2.5", "active": "yes", "tags": "a,b"}]
    body = build_import_data(records, workspace="ws-eu", entity_type="customer", keys=["code"],
                             types={"credit": "number", "active": "bool", "tags": "array"},
                             delete=[{"code": "000"}], bucket_id="bk", instance_id="r-1")
    doc = body["ImportData"]
    assert doc["data"] == [{"code": "001", "credit": 2.5, "active": True, "tags": ["a", "b"]}]
    assert doc["delete"] == [{"code": "000"}] and doc["footer"] == {"total": 2}
    assert doc["header"]["metadata"]["keys"] == ["code"] and doc["InstanceId"] == "r-1"

    frame = pd.DataFrame({"code": ["A", "B"], "n": [1, 2], "x": [0.5, float("nan")],
                          "when": [datetime(2024, 1, 15, 9, 30), datetime(2024, 2, 1)]})
    doc = build_import_data(frame, workspace="ws-eu", entity_type="customer", keys=["code"],
                            bucket_id="bk")["ImportData"]
    assert {c: m["type"] for c, m in doc["header"]["FieldMappings"].items()} == {
        "code": "string", "n": "int", "x": "number", "when": "date"}
    assert doc["data"][1] == {"code": "B", "n": 2, "x": None, "when": "20240201000000"}
    json.dumps(body, allow_nan=False)  # NaN became null: valid JSON


def test_a_csv_file_keeps_text_and_types_only_what_it_is_told(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("code,credit\n007,1.25\n008,\n", encoding="utf-8")
    doc = build_import_data(path, workspace="ws-eu", entity_type="customer", keys=["code"], bucket_id="bk",
                            types={"credit": "number"})["ImportData"]
    assert doc["data"] == [{"code": "007", "credit": 1.25}, {"code": "008", "credit": None}]
    with pytest.raises(ConfigError, match="needs entity_type, keys, bucket_id"):
        build_import_data(path, workspace="ws-eu")


def test_table_options_are_refused_for_a_cc5_or_json_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="entity_type apply to table input"):
        build_import_data(make_cc5(tmp_path, rows=1), entity_type="other")
    body_file = tmp_path / "body.json"
    body_file.write_text(json.dumps(import_data_body([{"customer_code": "C1"}])), encoding="utf-8")
    assert build_import_data(body_file) == import_data_body([{"customer_code": "C1"}])
    with pytest.raises(ConfigError, match="workspaceId is 'ws-eu', not 'ws-x'"):
        build_import_data(body_file, workspace="ws-x")
    body_file.write_text("{\n  nope", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2: not JSON"):
        build_import_data(body_file)


def test_the_limits_are_the_services_and_are_checked_before_sending() -> None:
    # The client cannot import the service: the two sets of numbers are kept equal here.
    mappings = ImportHeader.model_fields["FieldMappings"].metadata
    assert any(getattr(m, "max_length", None) == client_import_data.MAX_FIELD_MAPPINGS for m in mappings)
    assert any(getattr(m, "max_length", None) == client_import_data.MAX_KEYS
               for m in ImportMetadata.model_fields["keys"].metadata)
    assert any(getattr(m, "max_length", None) == client_import_data.MAX_DICTIONARY_ENTRIES
               for m in FieldMapping.model_fields["dictionary"].metadata)

    many = {f"f{i}": "string" for i in range(501)}
    body = import_data_body([], fields=many, keys=("f0",))
    with pytest.raises(ConfigError, match="501 FieldMappings; the service accepts at most 500"):
        check_import_data(body)
    body = import_data_body([], tier={"dictionary": {str(i): "x" for i in range(10_001)}},
                            fields={"customer_code": "string", "tier": "string"})
    with pytest.raises(ConfigError, match="Field tier: its dictionary has 10001 entries"):
        check_import_data(body)
    body = import_data_body([{"customer_code": "C1"}])
    size = check_import_data(body)
    assert check_import_data(body, max_bytes=size) == size
    with pytest.raises(ConfigError, match=f"has {size} bytes; the service's limit is {size - 1}"):
        check_import_data(body, max_bytes=size - 1)


def test_the_imports_api_has_no_import_data(tmp_path: Path) -> None:
    with ImportClient("http://127.0.0.1:9", "key", api="imports") as client:
        with pytest.raises(ConfigError, match="Import Data .* is a portal API feature"):
            client.import_data(tmp_path / "never-read.cc5txt")


def test_import_data_is_sent_once_even_when_its_answer_is_lost() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with ImportClient("http://api.test", "key", api="portal", http=http,
                      retry=RetryPolicy(backoff_base=0.01, backoff_max=0.01)) as client:
        with pytest.raises(TransportError, match="may have been imported: look for the file with `toolkit list`"):
            client.import_data([{"code": "K1"}], "ws-eu", entity_type="account", keys=["code"], bucket_id="bk")
    assert len(sent) == 1
    assert sent[0].url.path == "/appfile/file/import/data" and sent[0].headers["x-api-key"] == "key"
    assert json.loads(sent[0].content)["ImportData"]["data"] == [{"code": "K1"}]


# -- against the service -----------------------------------------------------------------------------


def test_a_cc5_file_imports_through_import_data(live_service: Any, tmp_path: Path) -> None:
    ws = workspace()
    path = make_cc5(tmp_path, rows=4, workspace=ws, deletes=[2])
    with client_for(live_service) as client:
        result = client.import_data(path, dictionaries={"name": {"Customer 1": "Renamed"}})
        assert (result.status, result.successful_count, result.failure_count) == ("FINISHED", 5, 0)
        assert result.ok and result.api == "portal" and result.file_id.startswith("f_")
        assert result.bytes_uploaded > 0 and result.path == str(path)
        assert client.status(result.file_id).status == "FINISHED"
    table = live_service.read_table(ws, "customer").sort_values("customer_code")
    # C0000002 was inserted by a data row, then deleted by the 90 row
    assert table["customer_code"].tolist() == ["C0000000", "C0000001", "C0000003"]
    assert table.set_index("customer_code").loc["C0000001", "name"] == "Renamed"
    assert table.set_index("customer_code").loc["C0000003", "credit"] == 3.5


def test_records_import_through_import_data(live_service: Any) -> None:
    ws = workspace()
    with client_for(live_service) as client:
        result = client.import_data([{"code": "K1", "tier": "G"}, {"code": "K2", "tier": "S"}], ws,
                                    entity_type="account", keys=["code"], bucket_id="bk",
                                    dictionaries={"tier": {"G": "gold"}})
    assert (result.status, result.successful_count) == ("FINISHED", 2)
    table = live_service.read_table(ws, "account").sort_values("code")
    assert table["tier"].tolist() == ["gold", "S"]


def test_a_failed_import_data_is_a_result_not_an_exception(live_service: Any, tmp_path: Path) -> None:
    ws = workspace()
    body_file = tmp_path / "wrong-footer.json"
    body_file.write_text(json.dumps(import_data_body([{"customer_code": "C1"}], workspace=ws, total=9)),
                         encoding="utf-8")
    with client_for(live_service) as client:
        result = client.import_data(body_file)
        assert result.status == "FAILED" and not result.ok
        assert result.failure_code == "FOOTER_COUNT_MISMATCH"
        assert "FOOTER_COUNT_MISMATCH" in result.summary()
        with pytest.raises(ImportFailed) as raised:
            client.import_data(body_file, raise_on_failure=True)
        assert raised.value.result.status == "FAILED"
    assert live_service.read_table(ws, "customer") is None


def test_a_body_over_the_size_limit_is_refused_before_or_by_the_service(tmp_path: Path) -> None:
    import toolkit

    ws = workspace()
    rows = [{"customer_code": f"C{i:05d}", "name": "x" * 40} for i in range(100)]
    with toolkit.local_service(max_file_bytes=2_000) as svc, client_for(svc) as client:
        with pytest.raises(ConfigError, match="the service's limit is 2000 bytes: send the rows in smaller batches"):
            client.import_data(rows, ws, entity_type="customer", keys=["customer_code"], bucket_id="bk",
                               max_bytes=2_000)
        with pytest.raises(ApiError) as raised:  # not told the limit: the service's 413
            client.import_data(rows, ws, entity_type="customer", keys=["customer_code"], bucket_id="bk")
        assert raised.value.status_code == 413 and raised.value.error_code == "PAYLOAD_TOO_LARGE"
        assert client.count(workspaces=ws) == 0


# -- the CLI -----------------------------------------------------------------------------------------


def run(args: list[Any], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture()
def env(live_service: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("TOOLKIT_API", raising=False)
    return {"TOOLKIT_API_URL": live_service.url, "TOOLKIT_API_KEY": live_service.api_key}


def test_cli_import_data_of_a_csv_file(live_service: Any, env: dict[str, str], tmp_path: Path) -> None:
    ws = workspace()
    path = tmp_path / "accounts.csv"
    path.write_text("code,tier,credit\nA1,G,1.5\nA2,S,2\n", encoding="utf-8")
    result = run(["import-data", path, "-w", ws, "--entity", "account", "--keys", "code", "--bucket", "bk",
                  "--types", "credit:number", "--dictionary", "tier:G=gold", "--json"], env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["status"], data["successful_count"], data["stream_name"]) == ("FINISHED", 2, ws)
    table = live_service.read_table(ws, "account").sort_values("code")
    assert table["tier"].tolist() == ["gold", "S"] and table["credit"].tolist() == [1.5, 2.0]


def test_cli_import_data_exit_codes(env: dict[str, str], tmp_path: Path) -> None:
    ws = workspace()
    ok = run(["import-data", make_cc5(tmp_path, rows=3, workspace=ws)], env)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip().endswith("FINISHED: 3 rows applied, 0 rejected")

    body_file = tmp_path / "wrong-footer.json"
    body_file.write_text(json.dumps(import_data_body([{"customer_code": "C1"}], workspace=ws, total=5)),
                         encoding="utf-8")
    failed = run(["import-data", body_file], env)
    assert failed.exit_code == 1 and "FOOTER_COUNT_MISMATCH" in failed.stdout

    bad_rows = run(["import-data", make_cc5(tmp_path, rows=2, workspace=ws, bad_rows=1, name="bad.cc5txt")], env)
    assert bad_rows.exit_code == 1 and "INVALID_NUMBER" in bad_rows.stderr

    imports = run(["import-data", body_file, "--api", "imports"], env)
    assert imports.exit_code == 2 and "portal API feature" in imports.stderr
    usage = run(["import-data", body_file, "--dictionary", "nocolon"], env)
    assert usage.exit_code == 2 and "FIELD:FROM=TO" in usage.stderr
