"""The person's disclosures file (`modelcard.yaml`): what no model file can say."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.readers import read_yaml, resolve_inside

DEFAULT_FILE = "modelcard.yaml"
TEXT_KEYS = ("model_name", "intended_use", "out_of_scope_use", "retrieval_mechanism", "training_data", "license",
             "contact", "pipeline_tag", "document_version", "document_date")
MAX_KEY_LENGTH = 200
# Every key the disclosures file names with a meaning (schemas/card.schema.json lists each under disclosures);
# any other key is kept as a section of its own.
KNOWN_KEYS = ("model_name", "intended_use", "out_of_scope_use", "retrieval_mechanism", "tool_access",
              "known_failure_modes", "training_data", "license", "contact", "language", "base_model", "pipeline_tag",
              "document_version", "document_date", "overrides")


def read_disclosures(path: Path) -> dict[str, Any]:
    """The disclosures as the record holds them; every shape the record cannot take is bad input here,
    before any model work. Error lines name the key and the kind of value, never the value."""
    data = read_yaml(path, "disclosures")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(path, "the disclosures file must be a mapping of keys to values")
    for key in data:
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise BadInput(path, f"every top-level key must be a name of 1-{MAX_KEY_LENGTH} characters "
                                 f"(found {_kind(key)})")
    for key in TEXT_KEYS:
        if data.get(key) is not None and not isinstance(data[key], str):
            quote = " (quote it)" if isinstance(data[key], (int, float)) and not isinstance(data[key], bool) else ""
            raise BadInput(path, f"{key} must be text (found {_kind(data[key])}{quote})")
    if isinstance(data.get("document_date"), str) and not _iso_date(data["document_date"]):
        raise BadInput(path, 'document_date must be a date written YYYY-MM-DD (for example "2025-08-02")')
    language = data.get("language")
    if language is not None and not (isinstance(language, str) or _text_list(language)):
        raise BadInput(path, f"language must be text or a list of text items (found {_kind(language)})")
    base_model = data.get("base_model")
    if base_model is not None and not (isinstance(base_model, str) or _text_list(base_model)):
        raise BadInput(path, f"base_model must be a Hub id or a list of them (found {_kind(base_model)})")
    tools = data.get("tool_access")
    if tools is not None and not (isinstance(tools, str) or _text_list(tools)):
        raise BadInput(path, f"tool_access must be text or a list of text items (found {_kind(tools)})")
    failures = data.get("known_failure_modes")
    if failures is not None and not _text_list(failures):
        raise BadInput(path, f"known_failure_modes must be a list of text items (found {_kind(failures)})")
    overrides = data.get("overrides")
    if overrides is not None and not (isinstance(overrides, dict)
                                      and all(isinstance(k, str) and k.startswith("/") for k in overrides)):
        raise BadInput(path, "overrides must map JSON pointers (like /context_window/declared) to values")
    return dict(data)


def _iso_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _kind(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list" if _text_list(value) or not value else "a list with items that are not text"
    if isinstance(value, dict):
        return "a mapping"
    return "text" if isinstance(value, str) else type(value).__name__


def default_disclosures_path(folder: Path | None = None) -> Path | None:
    """`modelcard.yaml` in `folder` (default: the working folder), if there is one; a link to a file outside
    that folder is refused, so a planted link cannot put a secret (a token file, a key) into a card."""
    base = folder or Path.cwd()
    candidate = base / DEFAULT_FILE
    if not os.path.lexists(candidate):  # also False where the folder cannot be searched (another user's cwd)
        return None
    resolve_inside(candidate, base)
    return candidate


def find_disclosures(model_dirs: Iterable[Path] = ()) -> Path | None:
    """The `modelcard.yaml` a card uses when none is named: beside the model first (where the README tells
    people to put it), then in the working folder. Either may be a link only to a file inside its own folder."""
    for folder in model_dirs:
        found = default_disclosures_path(Path(folder))
        if found is not None:
            return found
    return default_disclosures_path()


def _pointer(key: str) -> str:
    return "/disclosures/" + key.replace("~", "~0").replace("/", "~1")


def key_findings(disclosures: dict[str, Any], where: Path | None) -> list[dict[str, Any]]:
    """A warning finding for each top-level key that is close to a known one but is not it (`licence`):
    such a key is kept as a section of its own, and the known one it was meant for stays undeclared; a warning
    finding for a disclosures file that declares nothing at all."""
    import difflib

    name = where.name if where is not None else DEFAULT_FILE
    findings = []
    if where is not None and not disclosures:
        findings.append({"severity": "warning", "pointer": "/disclosures", "declared": name, "measured": None,
                         "message": f"the disclosures file {name} is empty: nothing is declared, and every "
                                    "disclosure stays undeclared"})
    for key in disclosures:
        if key in KNOWN_KEYS:
            continue
        close = difflib.get_close_matches(key.strip().lower().replace("-", "_").replace(" ", "_"), KNOWN_KEYS, n=1,
                                          cutoff=0.75)
        if not close or close[0] in disclosures:
            continue
        findings.append({"severity": "warning", "pointer": _pointer(key), "declared": key, "measured": None,
                         "message": f"the key {key} in {name} is not one modelcard knows; did you mean {close[0]}? "
                                    f"It is shown as a section of its own, and {close[0]} stays undeclared"})
    return findings
