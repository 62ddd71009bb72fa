"""The GitHub Action's inputs and outputs, read from the repository's `action.yml` at build time, and the
pre-commit hooks from `.pre-commit-hooks.yaml`, so the CI page shows what this release ships."""

from __future__ import annotations

from pathlib import Path

from sitegen.markdown import cell, code, table


def action_inputs_markdown(action: Path) -> str:
    import yaml

    if not action.is_file():
        return ('!!! warning "No GitHub Action in this build"\n'
                f"    The repository held no `{action.name}` when this site was built; use the plain steps below.\n")
    data = yaml.safe_load(action.read_text(encoding="utf-8")) or {}
    inputs = data.get("inputs") or {}
    rows = [[code(name), "yes" if spec.get("required") else "no",
             code(spec["default"]) if spec.get("default") not in (None, "") else "—",
             cell(spec.get("description", ""))] for name, spec in inputs.items()]
    out = [table(["Input", "Required", "Default", "Description"], rows)]
    outputs = data.get("outputs") or {}
    if outputs:
        out.append("\n" + table(["Output", "Description"], [[code(name), cell(spec.get("description", ""))]
                                                            for name, spec in outputs.items()]))
    return "".join(out)


def pre_commit_hooks_markdown(hooks: Path) -> str:
    import yaml

    if not hooks.is_file():
        return ('!!! warning "No pre-commit hook in this build"\n'
                f"    The repository held no `{hooks.name}` when this site was built; use a local hook as below.\n")
    entries = yaml.safe_load(hooks.read_text(encoding="utf-8")) or []
    return table(["Hook id", "Runs", "Files", "Description"],
                 [[code(hook.get("id", "")), code(hook.get("entry", "")), code(hook.get("files", "all")),
                   cell(hook.get("description", ""))] for hook in entries])
