"""Probe suites: plain YAML files naming probes and their parameters (STYLE.md 5), validated strictly and
planned once, when the suite is built: every id resolved to its registered probe and every parameter checked,
before any model work. A suite may name local modules that define its probes (`probe_modules`); their code runs
only when the person running it names the same modules with `--probe-module`."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.readers import read_yaml
from modelcard.base.resources import data_dir
from modelcard.probe.registry import ProbeSpec, get_probe

SUITE_KEYS = {"name", "description", "probes", "probe_modules"}
ENTRY_KEYS = {"id", "params"}
NO_SUITE = "none"


@dataclass
class ProbeEntry:
    id: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedProbe:
    """One entry of a planned suite.

    Args:
        key: its result's name: the id, numbered when a suite lists an id twice (`scaling.2`).
        spec: the registered probe.
        params: its full parameters, defaults overlaid with the suite's, as JSON would store them.
    """

    key: str
    spec: ProbeSpec
    params: dict[str, Any]


@dataclass
class Suite:
    """A probe suite, planned as it is built.

    Args:
        name: the suite's name (`quick`, or the YAML's `name`).
        description: one line on what it is for.
        probes: its entries, in order.
        path: the YAML it was read from; None for a built-in built in code or a test's own.
        probe_modules: local modules (paths relative to the YAML) that define its probes.

    Raises:
        BadInput: an unknown probe id or parameter (naming the suite's file).
    """

    name: str
    description: str
    probes: list[ProbeEntry]
    path: Path | None
    probe_modules: list[Path] = field(default_factory=list)
    planned: list[PlannedProbe] = field(init=False)

    def __post_init__(self) -> None:
        planned: list[PlannedProbe] = []
        seen: dict[str, int] = {}
        where = self.path or self.name
        for entry in self.probes:
            spec = get_probe(entry.id, where)
            params = json.loads(json.dumps(spec.params(entry.params, where)))
            seen[entry.id] = seen.get(entry.id, 0) + 1
            key = entry.id if seen[entry.id] == 1 else f"{entry.id}.{seen[entry.id]}"
            planned.append(PlannedProbe(key, spec, params))
        self.planned = planned


def builtin_suites() -> dict[str, Path]:
    return {path.stem: path for path in sorted(data_dir("probes").glob("*.yaml"))}


def resolve_suite(name_or_path: str, allow_none: bool = True, trusted_modules: Collection[Path] = ()) -> Suite | None:
    """The suite a command line names, read and planned.

    Args:
        name_or_path: a built-in name (`quick`, `standard`, `cpu`, `long`), a path to a YAML file, or `none`.
        allow_none: whether the command may run no probes (`generate` may, `probe` may not).
        trusted_modules: the probe modules the person named on the command line (`--probe-module`), already
            imported; a suite may name only these.

    Returns:
        The suite, or None for `none`.

    Raises:
        BadInput: no such suite, a malformed file, an unknown probe or parameter, or a probe module the command
            line did not name.
    """
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
        return load_suite(path, trusted_modules)
    close = difflib.get_close_matches(name_or_path, names, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise BadInput(name_or_path, f"no such probe suite; {hint}available: {', '.join(names)}, or a path")


def load_suite(path: Path, trusted_modules: Collection[Path] = ()) -> Suite:
    """Read, check and plan the suite in `path` (see `resolve_suite`)."""
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
    modules = _probe_modules(path, data.get("probe_modules"), trusted_modules)
    return Suite(name=str(data.get("name", path.stem)), description=str(data.get("description", "")),
                 probes=entries, path=path, probe_modules=modules)


def _probe_modules(path: Path, named: Any, trusted: Collection[Path]) -> list[Path]:
    """The modules a suite names, each one the command line named too: a suite file can come from anywhere (a
    model's repository, a colleague), and naming a module in it must not be enough to run that module's code."""
    if named is None:
        return []
    if not isinstance(named, list) or not all(isinstance(item, str) for item in named):
        raise BadInput(path, "probe_modules must be a list of paths to Python files")
    modules = [(path.parent / item).resolve() for item in named]
    allowed = {module.resolve() for module in trusted}
    for item, module in zip(named, modules, strict=True):
        if module.resolve() not in allowed:
            raise BadInput(path, f"names probe module {item}, whose code runs only when you name it too: "
                                 f"--probe-module {module}")
    return modules
