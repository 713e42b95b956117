"""ImportData (the JSON form of a cc5 file) translates faithfully to cc5 text."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from toolkit.service.import_data import ImportData, to_cc5_text


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "header": {"CustomerCode": "ACME", "FileType": "cc5", "CreateTime": "20261122093000", "ReferenceId": "r1"},
        "metadata": {"EntityType": "customer", "WorkspaceId": "ws-eu", "BucketId": "bk", "DatasourceCode": "CRM",
                     "ActionCode": "UPSERT"},
        "FieldMappings": [
            {"FieldCode": "name", "Type": "string"},
            {"FieldCode": "code", "Type": "string", "IsKey": True},
            {"FieldCode": "credit", "Type": "number"},
            {"FieldCode": "active", "Type": "bool"},
            {"FieldCode": "tags", "Type": "array"},
            {"FieldCode": "items", "Type": "list"},
            {"FieldCode": "profile", "Type": "object"},
        ],
        "data": [],
        "delete": [],
        "footer": {"total": 0},
    }
    doc.update(changes)
    return doc


def test_keys_come_first_and_values_are_encoded() -> None:
    doc = ImportData.model_validate(_doc(
        data=[{"code": "C1", "name": "Ada|Lovelace\nline two", "credit": 1500.5, "active": True,
               "tags": ["vip", "eu"], "items": [1, "x"], "profile": {"tier": "gold"}},
              {"code": "C2", "name": None, "credit": 3, "active": False}],
        delete=[{"code": "C0"}], footer={"total": 3}))
    lines = to_cc5_text(doc).splitlines()
    assert lines[2] == "02|code"
    assert lines[3] == "03|code:string|name:string|credit:number|active:bool|tags:array|items:list|profile:object"
    assert lines[4] == '10|C1|Ada#/#Lovelace#Enter#line two|1500.5|true|vip,eu|[1,"x"]|{"tier":"gold"}|'
    assert lines[5] == "10|C2||3|false||||"
    assert lines[6] == "90|C0"
    assert lines[7] == "99|3|"


def test_unmapped_properties_become_extra_values() -> None:
    doc = ImportData.model_validate(_doc(data=[{"code": "C1", "surprise": "x"}], footer={"total": 1}))
    assert to_cc5_text(doc).splitlines()[4] == "10|C1|||||||x|"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"FieldMappings": [{"FieldCode": "a", "IsKey": "yes"}]}, "FieldMappings"),
        ({"FieldMappings": [{"FieldCode": "a", "Type": "string|x"}]}, "FieldMappings"),
        ({"FieldMappings": [{"FieldCode": "a|b", "IsKey": True}]}, "FieldMappings"),
        ({"metadata": {"EntityType": "customer", "WorkspaceId": "ws/../x"}}, "metadata"),
        ({"footer": {"total": "2"}}, "footer"),
        ({"footer": {}}, "footer"),
        ({"header": None}, "header"),
    ],
)
def test_invalid_documents_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ImportData.model_validate(_doc(**changes))
    assert info.value.errors()[0]["loc"][0] == field
