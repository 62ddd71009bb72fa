"""Schema validation of a card record, each error with its JSON pointer."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from modelcard.base.resources import data_dir

SCHEMA_FILE = "card.schema.json"


@dataclass(frozen=True)
class SchemaError:
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads((data_dir("schemas") / SCHEMA_FILE).read_text(encoding="utf-8"))


def to_pointer(path: Any) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def validate_record(record: dict[str, Any]) -> list[SchemaError]:
    """Every way `record` breaks the schema, in document order; empty when it is valid."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(record), key=lambda error: list(map(str, error.absolute_path)))
    return [SchemaError(to_pointer(error.absolute_path), error.message) for error in errors]
