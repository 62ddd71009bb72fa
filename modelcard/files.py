"""Reading the JSON and YAML files people hand us, with one clear BadInput line for each way they break."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelcard.errors import BadInput


def read_text(path: Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise BadInput(path, f"cannot read: {error.strerror or error}") from None


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON file that must hold an object; `what` names it in the error ("a config", "a card record")."""
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise BadInput(path, f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(data, dict):
        raise BadInput(path, f"{what} must be a JSON object")
    return data


def read_yaml(path: Path) -> Any:
    """Plain YAML (safe_load: no tags, no code)."""
    import yaml

    try:
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as error:
        raise BadInput(path, f"not valid YAML: {' '.join(str(error).split())}") from None
