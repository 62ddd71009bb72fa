"""The record schema: a valid 2020-12 schema, described field by field, and versioned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcard.base.errors import BadInput
from modelcard.record.document import SCHEMA_VERSION, check_version, read_record
from modelcard.record.validate import schema, validate_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_schema_is_a_valid_2020_12_schema():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    assert schema()["$schema"].endswith("2020-12/schema")


def _undescribed(node: object, path: str) -> list[str]:
    missing = []
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict) and "description" not in sub and "$ref" not in sub:
                missing.append(f"{path}/{name}")
        for key, sub in node.items():
            missing += _undescribed(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for index, sub in enumerate(node):
            missing += _undescribed(sub, f"{path}/{index}")
    return missing


def test_every_field_has_a_description():
    assert _undescribed(schema(), "") == []


def test_schema_version_of_new_records_matches_the_schema():
    import re

    assert re.fullmatch(schema()["properties"]["schema_version"]["pattern"], SCHEMA_VERSION)


def test_golden_demo_record_is_valid():
    record = json.loads((FIXTURES.parent / "golden" / "demo" / "card.json").read_text())
    assert validate_record(record) == []


def test_a_1_0_record_fixture_is_still_read():
    record = read_record(FIXTURES / "record-1.0.json")
    assert validate_record(record) == []


def test_a_future_major_version_is_refused():
    with pytest.raises(BadInput, match="newer"):
        read_record(FIXTURES / "record-future.json")


def test_a_record_without_version_is_refused():
    with pytest.raises(BadInput, match="schema_version"):
        check_version({}, "x.json")


def test_unknown_top_level_keys_are_errors():
    record = json.loads((FIXTURES / "record-1.0.json").read_text())
    record["surprise"] = 1
    errors = validate_record(record)
    assert [e.pointer for e in errors] == [""] and "surprise" in errors[0].message


def test_null_needs_no_placeholder_strings():
    record = json.loads((FIXTURES / "record-1.0.json").read_text())
    record["unknowns"]["/context_window/effective"] = {"kind": "maybe", "reason": ""}
    pointers = {e.pointer for e in validate_record(record)}
    assert pointers == {"/unknowns/~1context_window~1effective/kind", "/unknowns/~1context_window~1effective/reason"}
