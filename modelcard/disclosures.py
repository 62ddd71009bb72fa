"""The person's disclosures file (`modelcard.yaml`): what no model file can say."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelcard.errors import BadInput
from modelcard.files import read_yaml

DEFAULT_FILE = "modelcard.yaml"
TEXT_KEYS = ("intended_use", "out_of_scope_use", "retrieval_mechanism", "training_data", "license", "contact")


def read_disclosures(path: Path) -> dict[str, Any]:
    data = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(path, "the disclosures file must be a mapping of keys to values")
    for key in TEXT_KEYS:
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise BadInput(path, f"{key} must be text")
    failures = data.get("known_failure_modes")
    if failures is not None and not (isinstance(failures, list) and all(isinstance(f, str) for f in failures)):
        raise BadInput(path, "known_failure_modes must be a list of text items")
    overrides = data.get("overrides")
    if overrides is not None and not (isinstance(overrides, dict) and all(str(k).startswith("/") for k in overrides)):
        raise BadInput(path, "overrides must map JSON pointers (like /context_window/declared) to values")
    return {str(key): value for key, value in data.items()}


def default_disclosures_path(folder: Path | None = None) -> Path | None:
    candidate = (folder or Path.cwd()) / DEFAULT_FILE
    return candidate if candidate.is_file() else None
