"""Probe suites: plain YAML files naming probes and their parameters (STYLE.md 5), validated strictly."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.readers import read_yaml
from modelcard.base.resources import data_dir

SUITE_KEYS = {"name", "description", "probes"}
ENTRY_KEYS = {"id", "params"}
NO_SUITE = "none"


@dataclass
class ProbeEntry:
    id: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Suite:
    name: str
    description: str
    probes: list[ProbeEntry]
    path: Path | None


def builtin_suites() -> dict[str, Path]:
    return {path.stem: path for path in sorted(data_dir("probes").glob("*.yaml"))}


def resolve_suite(name_or_path: str, allow_none: bool = True) -> Suite | None:
    """`none` -> None (where the command can skip probes); a built-in name (`quick`, ...) or a path to a YAML
    file -> the suite."""
    if name_or_path == NO_SUITE and allow_none:
        return None
    suites = builtin_suites()
    names = [*suites, NO_SUITE] if allow_none else list(suites)
    if name_or_path == NO_SUITE:
        raise BadInput(name_or_path, f"this command runs probes; name a suite: {', '.join(names)}, or a path")
    if name_or_path in suites:
        return load_suite(suites[name_or_path])
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_suite(path)
    close = difflib.get_close_matches(name_or_path, names, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise BadInput(name_or_path, f"no such probe suite; {hint}available: {', '.join(names)}, or a path")


def load_suite(path: Path) -> Suite:
    data = read_yaml(path, "suite")
    if not isinstance(data, dict):
        raise BadInput(path, "a probe suite must be a mapping with 'probes'")
    unknown = set(data) - SUITE_KEYS
    if unknown:
        raise BadInput(path, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(SUITE_KEYS))}")
    entries = []
    for position, item in enumerate(data.get("probes") or []):
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict) or "id" not in item or set(item) - ENTRY_KEYS:
            raise BadInput(path, f"probes[{position}] must be a probe id or {{id, params}}")
        if not isinstance(item.get("params", {}), dict):
            raise BadInput(path, f"probes[{position}].params must be a mapping")
        entries.append(ProbeEntry(id=str(item["id"]), params=dict(item.get("params") or {})))
    return Suite(name=str(data.get("name", path.stem)), description=str(data.get("description", "")),
                 probes=entries, path=path)
