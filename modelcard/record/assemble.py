"""Assemble one record from detected facts, probe results and declared disclosures, with provenance."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from modelcard import __version__
from modelcard.base.errors import BadInput
from modelcard.record.document import SCHEMA_VERSION
from modelcard.record.vocabulary import NOT_MEASURED, InspectedFacts

DETECTED_SECTIONS = ("model", "architecture", "attention", "masking", "position", "context_window", "kv_cache")
DERIVED_POINTERS = ("/kv_cache/bytes_at",)


def assemble(
    facts: InspectedFacts,
    probes: list[dict[str, Any]] | None = None,
    probe_suite: dict[str, Any] | None = None,
    disclosures: dict[str, Any] | None = None,
    findings: list[dict[str, Any]] | None = None,
    disclosures_path: Path | None = None,
    measured: dict[str, Any] | None = None,
    derived: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`measured` (JSON pointer -> value from a probe) wins over what was detected or declared, with provenance
    `measured`; the earlier value stays visible in the probe's finding. `derived` values are computed from
    measured ones."""
    values = copy.deepcopy(facts.values)
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "modelcard", "version": __version__},
        **{section: values[section] for section in DETECTED_SECTIONS},
        "probe_suite": probe_suite or {"name": "none", "probes": 0, "note": "probes were not run"},
        "probes": probes or [],
        "disclosures": copy.deepcopy(disclosures or {}),
        "findings": [*copy.deepcopy(facts.findings), *(findings or [])],
        "inspection": {"ignored_config_keys": facts.ignored_config_keys},
        "provenance": {},
        "unknowns": dict(facts.unknowns),
    }
    provenance = record["provenance"]
    for section in DETECTED_SECTIONS:
        provenance[f"/{section}"] = "detected"
    for pointer in DERIVED_POINTERS:
        provenance[pointer] = "derived"
    provenance.update(facts.provenance)  # what inspection assumed rather than read (an undeclared dtype)
    if record["probes"]:
        provenance["/probes"] = "measured"
    if record["disclosures"]:
        provenance["/disclosures"] = "declared"
    if not record["probes"]:
        record["unknowns"]["/probes"] = {"kind": NOT_MEASURED, "reason": record["probe_suite"]["note"]}
    _apply_overrides(record, disclosures_path)
    _apply_measurements(record, measured or {}, "measured")
    _apply_measurements(record, derived or {}, "derived")
    _explain_effective_context(record)
    _replace_non_finite(record, record, "")
    return record


def _explain_effective_context(record: dict[str, Any]) -> None:
    """When the retrieval grid ran but measured no effective context, say why instead of "no probe ran"."""
    if record["context_window"].get("effective") is not None:
        return
    grid = next((p for p in record["probes"] if p["id"] == "passkey-grid"), None)
    if grid is None:
        return
    rule = record["context_window"].get("effective_rule") or {}
    reason = rule.get("reason") or grid.get("reason") or f"passkey-grid ended with status {grid['status']}"
    record["unknowns"]["/context_window/effective"] = {"kind": NOT_MEASURED, "reason": f"passkey-grid: {reason}"}


def _replace_non_finite(record: dict[str, Any], node: Any, pointer: str) -> None:
    """JSON has no NaN or infinity: such a value (a model whose output overflowed) becomes null with a reason."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        here = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
        if isinstance(value, float) and not math.isfinite(value):
            node[key] = None
            if pointer != "/unknowns":
                record["unknowns"][here] = {"kind": "unknown", "reason": f"the value was {value}, not a finite number"}
        elif isinstance(value, (dict, list)) and here != "/unknowns":
            _replace_non_finite(record, value, here)


def _apply_measurements(record: dict[str, Any], values: dict[str, Any], provenance: str) -> None:
    for pointer, value in values.items():
        parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
        node: Any = record
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(parts[-1])] = copy.deepcopy(value)
        else:
            node[parts[-1]] = copy.deepcopy(value)
        record["provenance"][pointer] = provenance
        for gap in [p for p in record["unknowns"] if p == pointer or p.startswith(pointer + "/")]:
            if _value_at(record, gap) is not None:
                del record["unknowns"][gap]


def _value_at(record: dict[str, Any], pointer: str) -> Any:
    node: Any = record
    for part in pointer.split("/")[1:]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    return node


def _apply_overrides(record: dict[str, Any], where: Path | None) -> None:
    """`overrides` in the disclosures correct a detected value; the detected one stays visible."""
    overrides = record["disclosures"].get("overrides") or {}
    overridden = {}
    for pointer, value in overrides.items():
        parent, key = _resolve_parent(record, pointer, where)
        overridden[pointer] = parent.get(key) if isinstance(parent, dict) else parent[key]
        parent[key] = value
        record["provenance"][pointer] = "declared"
        record["unknowns"].pop(pointer, None)
    if overridden:
        record["inspection"]["overridden"] = overridden


def _resolve_parent(record: dict[str, Any], pointer: str, where: Path | None) -> tuple[Any, Any]:
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
    if not parts or parts[0] not in DETECTED_SECTIONS:
        raise BadInput(where or "overrides", f"override {pointer} must point into {', '.join(DETECTED_SECTIONS)}")
    node: Any = record
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise BadInput(where or "overrides", f"override {pointer}: no such place in the record") from None
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise BadInput(where or "overrides", f"override {pointer}: no such place in the record")
        return node, int(last)
    if not isinstance(node, dict) or last not in node:
        raise BadInput(where or "overrides", f"override {pointer}: no such place in the record")
    return node, last
