"""Helpers for the inspector tests (conftest.py puts this folder on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def inspect_dict(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The schema-valid inspection record of a config.json holding `config` (config only, no weights)."""
    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record
    from modelcard.record.validate import validate_record

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    record = inspect_record(str(folder), LoadOptions())
    errors = validate_record(record)
    assert not errors, [str(error) for error in errors]
    return record


def layer_summary(record: dict[str, Any], stack: str | None = None) -> list[tuple[str, int | None]]:
    return [(layer["kind"], layer["window"]) for layer in record["attention"]["layers"]
            if stack is None or layer["stack"] == stack]
