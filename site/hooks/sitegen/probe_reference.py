"""The probe catalogue, generated from the probe registry (`modelcard.probe.registry`) and the built-in suites
(`probes/*.yaml`): every registered probe with its title, what its module says it measures, its parameters with
their defaults and the values each built-in suite sets."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from sitegen.markdown import cell, code, generated_note, table

SUITE_ORDER = ("quick", "standard", "long")  # shortest to longest run


def suite_params(suites_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """suite name -> probe id -> the parameters that suite sets (in the suite's order)."""
    from modelcard.probe.suite import load_suite

    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(suites_dir.glob("*.yaml")):
        suite = load_suite(path)
        found[suite.name] = {entry.id: entry.params for entry in suite.probes}
    return found


def ordered_ids(registered: dict[str, Any], suites: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Probes in the order the longest suite runs them, then any that no suite names."""
    order: list[str] = []
    for suite in sorted(suites.values(), key=len, reverse=True):
        order += [probe_id for probe_id in suite if probe_id in registered and probe_id not in order]
    return order + sorted(set(registered) - set(order))


def description(run: Any) -> str:
    """The probe's own words: its module's docstring (and the function's, when it has one)."""
    module = sys.modules.get(run.__module__)
    parts = [inspect.cleandoc(text) for text in (getattr(module, "__doc__", None), run.__doc__) if text]
    return "\n\n".join(parts)


def probe_reference_markdown(suites_dir: Path) -> str:
    from modelcard.probe.registry import registered

    probes = registered()
    suites = suite_params(suites_dir)
    suite_names = sorted(suites, key=lambda name: (SUITE_ORDER.index(name) if name in SUITE_ORDER else len(SUITE_ORDER),
                                                   name))
    out = ["# Probe catalogue\n\n"]
    out.append(
        "Every registered probe, in the order the suites run them. A suite names probes and may set their "
        "parameters; a parameter it does not set keeps the default below. Write your own suite as a YAML file "
        "with the same keys (`name`, `description`, `probes: [{id, params}]`) and pass its path to `--suite`.\n\n")
    rows = []
    for probe_id in ordered_ids(probes, suites):
        ran_by = [name for name in suite_names if probe_id in suites[name]]
        rows.append([f"[`{probe_id}`](#{probe_id})", cell(probes[probe_id].title),
                     ", ".join(f"`{name}`" for name in ran_by) or "no built-in suite"])
    out.append(table(["Probe", "Measures", "Built-in suites"], rows))
    out.append("\n## Suites\n\n")
    out.append(table(["Suite", "Probes"], [[f"`{name}`", cell(", ".join(suites[name]) or "none")]
                                           for name in suite_names]))
    for probe_id in ordered_ids(probes, suites):
        spec = probes[probe_id]
        out.append(f"\n## `{probe_id}` {{#{probe_id}}}\n\n**{spec.title}.**\n\n{description(spec.run)}\n\n")
        if not spec.defaults:
            out.append("This probe takes no parameters.\n")
            continue
        header = ["Parameter", "Default", *[f"`{name}` suite" for name in suite_names]]
        rows = []
        for name, default in spec.defaults.items():
            row = [f"`{name}`", code(plain(default))]
            for suite in suite_names:
                params = suites[suite].get(probe_id)
                row.append("—" if params is None else code(plain(params[name])) if name in params else "default")
            rows.append(row)
        out.append(table(header, rows))
    out.append(generated_note("the probe registry (`modelcard.probe.registry`) and the suites in `probes/*.yaml`"))
    return "".join(out)


def plain(value: Any) -> Any:
    """Tuples as lists, so a default reads as it would be written in a suite's YAML."""
    return list(value) if isinstance(value, tuple) else value
