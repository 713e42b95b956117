"""Import Data (the portal's JSON form of a cc5 file) translates faithfully to cc5 text."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from toolkit.service.import_data import ImportDataRequest, to_cc5_text


def _doc(**changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {
        "customer": "ACME", "fileType": "cc5",
        "metadata": {"keys": ["code"], "entityType": "customer", "workspaceId": "ws-eu", "bucketId": "bk",
                     "dataSource": "CRM", "fileCreateTime": "20261122093000", "flowType": "UPSERT"},
        "FieldMappings": {
            "name": {"code": "name", "type": "string"},
            "code": {"code": "code", "type": "string"},
            "credit": {"code": "credit", "type": "number"},
            "active": {"type": "bool"},
            "tags": {"code": "tags", "type": "array"},
            "items": {"code": "items", "type": "list"},
            "profile": {"code": "profile", "type": "object"},
        },
    }
    doc: dict[str, Any] = {"header": header, "data": [], "delete": [], "footer": {"total": 0}, "InstanceId": "r1"}
    for name, value in changes.items():
        (header if name in ("metadata", "FieldMappings", "fieldMappings") else doc)[name] = value
    return {"ImportData": doc}


def _text(body: dict[str, Any], **options: Any) -> list[str]:
    return to_cc5_text(ImportDataRequest.model_validate(body).ImportData, **options).splitlines()


def test_keys_come_first_and_values_are_encoded() -> None:
    lines = _text(_doc(
        data=[{"code": "C1", "name": "Ada|Lovelace\nline two", "credit": 1500.5, "active": True,
               "tags": ["vip", "eu"], "items": [1, "x"], "profile": {"tier": "gold"}},
              {"code": "C2", "name": None, "credit": 3, "active": False}],
        delete=[{"code": "C0"}], footer={"total": 3}))
    assert lines[0] == "00|ACME|cc5|20261122093000|r1|"
    assert lines[1] == "01|customer|ws-eu|bk|CRM|UPSERT|"
    assert lines[2] == "02|code"
    assert lines[3] == "03|code:string|name:string|credit:number|active:bool|tags:array|items:list|profile:object"
    assert lines[4] == '10|C1|Ada#/#Lovelace#Enter#line two|1500.5|true|vip,eu|[1,"x"]|{"tier":"gold"}|'
    assert lines[5] == "10|C2||3|false||||"
    assert lines[6] == "90|C0"
    assert lines[7] == "99|3|"


def test_unmapped_properties_become_extra_values() -> None:
    assert _text(_doc(data=[{"code": "C1", "surprise": "x"}], footer={"total": 1}))[4] == "10|C1|||||||x|"


def test_dictionary_maps_values_and_code_names_the_field() -> None:
    mappings = {"code": {"code": "customer_code"}, "tier": {"code": "level", "dictionary": {"G": "gold", "1": "one"}}}
    lines = _text(_doc(FieldMappings=mappings, data=[{"code": "C1", "tier": "G"}, {"code": "C2", "tier": 1},
                                                     {"code": "C3", "tier": "S"}], footer={"total": 3}))
    assert lines[2:] == ["02|customer_code", "03|customer_code:string|level:string", "10|C1|gold|", "10|C2|one|",
                         "10|C3|S|", "99|3|"]


def test_lowercase_field_mappings_overrides_and_default_create_time() -> None:
    metadata = {"keys": ["code"], "entityType": "customer", "workspaceId": "ws-eu"}
    body = _doc(metadata=metadata, FieldMappings=None)
    body["ImportData"]["header"].pop("FieldMappings")
    body["ImportData"]["header"]["fieldMappings"] = {"code": {}}
    lines = _text(body, workspace_id="ws-x", bucket_id="bk-x", create_time="20260101000000")
    assert lines[:4] == ["00|ACME|cc5|20260101000000|r1|", "01|customer|ws-x|bk-x|||", "02|code", "03|code:string"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"FieldMappings": {"a": {"code": "a|b"}}}, "FieldMappings"),
        ({"FieldMappings": {"a": {"type": "string|x"}}}, "FieldMappings"),
        ({"FieldMappings": {}}, "FieldMappings"),
        ({"metadata": {"keys": ["a"], "entityType": "customer", "workspaceId": "ws/../x"}}, "metadata"),
        ({"metadata": {"keys": [], "entityType": "customer"}}, "metadata"),
        ({"footer": {"total": "2"}}, "footer"),
        ({"footer": {}}, "footer"),
    ],
)
def test_invalid_documents_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ImportDataRequest.model_validate(_doc(**changes))
    assert field in [str(part) for part in info.value.errors()[0]["loc"]]


def test_a_key_without_a_mapping_is_a_string_field() -> None:
    lines = _text(_doc(metadata={"keys": ["id"], "entityType": "customer", "workspaceId": "ws-eu"},
                       FieldMappings={"name": {}}, data=[{"id": "A", "name": "x"}], footer={"total": 1}))
    assert lines[2:5] == ["02|id", "03|id:string|name:string", "10|A|x|"]


@pytest.mark.parametrize("name", ["", "a|b", "a:b", "a\nb"])
def test_field_names_that_cannot_be_codes_are_refused(name: str) -> None:
    # Found by the API fuzz test: a key named with ":" and no mapping was a 500.
    with pytest.raises(ValidationError):
        ImportDataRequest.model_validate(_doc(metadata={"keys": [name], "entityType": "customer",
                                                        "workspaceId": "ws-eu"}))
    with pytest.raises(ValidationError):
        ImportDataRequest.model_validate(_doc(FieldMappings={name: {}}))
