"""The card record as a document: its format version, reading it back, and upgrading older versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.readers import read_json_object

SCHEMA_VERSION = "1.1"
SUPPORTED_MAJOR = 1


def parse_version(value: object, where: object) -> tuple[int, int]:
    try:
        major, minor = (int(part) for part in str(value).split("."))
    except ValueError:
        raise BadInput(where, f"schema_version {value!r} is not MAJOR.MINOR") from None
    return major, minor


def check_version(record: dict[str, Any], where: object) -> None:
    """Refuse a record written by a newer major version of the format (STYLE.md 1)."""
    if "schema_version" not in record:
        raise BadInput(where, "not a modelcard record: no schema_version")
    major, _ = parse_version(record["schema_version"], where)
    if major > SUPPORTED_MAJOR:
        raise BadInput(where, f"schema_version {record['schema_version']} is newer than this modelcard reads "
                              f"({SCHEMA_VERSION}); upgrade modelcard")


def read_record(path: Path) -> dict[str, Any]:
    """A record from a card.json, version-checked; structure is left to `validate`."""
    record = read_json_object(path, "a card record", kind="card")
    check_version(record, path)
    return record


def dump_record(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
