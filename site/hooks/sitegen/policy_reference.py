"""The built-in policies, generated from whatever `policies/*.yaml` holds at build time. The reference shows each
file as it is (its scalar keys, and every list of rules as a table whose columns are the rules' own keys), so a
key added to the policy format appears without a change here. An absent or empty folder is said plainly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sitegen.markdown import cell, code, generated_note, table


def policy_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def read_policy(path: Path) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a policy must be a YAML mapping")
    return data


def policy_name(path: Path, data: dict[str, Any]) -> str:
    return str(data.get("name") or path.stem)


def shown(value: Any) -> str:
    if isinstance(value, str):
        return cell(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(code(item) for item in value)
    return code(value)


WHAT = ("pointer", "probe", "findings")  # a rule checks exactly one of these
SHOWN_ELSEWHERE = {"id", "message", "severity", "supply", "reference", *WHAT}


def flow(value: Any) -> str:
    """A YAML value written as it would be typed in flow style: `{key: value}`, `[a, b]`, `null`, `true`."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {flow(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def requirement(rule: dict[str, Any]) -> str:
    parts = []
    if "pointer" in rule:
        parts.append(code(rule["pointer"]))
    if "probe" in rule:
        parts.append(f"probe {code(rule['probe'])} ran")
    if "findings" in rule:
        parts.append(f"no finding of severity {code(rule['findings'])} or worse")
    parts += [f"{key}: {code(flow(value))}" for key, value in rule.items() if key not in SHOWN_ELSEWHERE]
    return "; ".join(parts)


def supply(rule: dict[str, Any]) -> str:
    given = rule.get("supply")
    if not isinstance(given, dict):
        return cell(flow(given)) if given else ""
    shown = []
    if given.get("key"):
        example = given.get("example")
        line = f"{given['key']}: {flow(example)}" if example is not None else given["key"]
        shown.append(f"modelcard.yaml: {code(line)}")
    if given.get("hint"):
        shown.append(cell(given["hint"]))
    return "; ".join(shown)


def rules_table(items: list[Any]) -> str:
    """One row per rule: what it requires (and when), its severity, its message and how to supply the value."""
    if not all(isinstance(item, dict) for item in items):
        return "\n".join(f"- {shown(item)}" for item in items) + "\n"
    rows = []
    for rule in items:
        message = cell(rule.get("message", ""))
        if rule.get("reference"):
            message += f" *({cell(rule['reference'])})*"
        rows.append([code(rule.get("id", "")), requirement(rule), cell(rule.get("severity", "error")), message,
                     supply(rule)])
    return table(["Rule", "Requires", "Severity", "Message", "To supply it"], rows)


def policy_section(path: Path, repo: Path) -> str:
    data = read_policy(path)
    name = policy_name(path, data)
    out = [f"\n## `{name}` {{#{name}}}\n\n", f"Source: `{path.relative_to(repo).as_posix()}`. "
           f"Use it with `modelcard check CARD --policy {name}`.\n\n"]
    if data.get("description"):
        out.append(f"{data['description']}\n\n")
    scalars = {key: value for key, value in data.items() if key not in ("name", "description")
               and not (isinstance(value, list) and value and all(isinstance(item, dict) for item in value))}
    if scalars:
        out.append(table(["Key", "Value"], [[f"`{key}`", shown(value)] for key, value in scalars.items()]))
        out.append("\n")
    for key, value in data.items():
        if key in scalars or key in ("name", "description"):
            continue
        out.append(f"### `{key}` ({len(value)})\n\n")
        out.append(rules_table(value))
        out.append("\n")
    return "".join(out)


def policy_reference_markdown(folder: Path, repo: Path) -> str:
    files = policy_files(folder)
    out = ["# Built-in policies\n\n"]
    note = generated_note(f"the YAML files in `{folder.relative_to(repo).as_posix()}/`")
    out.append(
        "A policy lists what a card must state: values as JSON pointers into the record (see the "
        "[record schema](schema.md)), probes that must have run, and the findings that fail, each with a message "
        "and a severity. `modelcard check CARD --policy NAME` applies one: a value that is missing, `null` "
        "without a reason of a kind the rule accepts, or a placeholder (`[More Information Needed]`, `TODO`, "
        "`TBD`, empty) fails the rule; `error` rules fail the gate, `warning` rules only with `--strict`. The "
        "keys are described in the [policy format](policy-format.md); to write your own, see "
        "[Custom policies](../how-to/custom-policies.md).\n\n")
    if not files:
        out.append(
            '!!! warning "No built-in policies in this build"\n'
            f"    `{folder.relative_to(repo).as_posix()}/` held no policy file when this site was built, so "
            "there is nothing to list. SPEC.md names three that will ship: `attention-governance`, "
            "`eu-ai-act-gpai` and `hf-hub`.\n")
        return "".join(out) + note
    out.append(table(["Policy", "Description"],
                     [[f"[`{policy_name(path, data)}`](#{policy_name(path, data)})", cell(data.get("description", ""))]
                      for path in files for data in [read_policy(path)]]))
    for path in files:
        out.append(policy_section(path, repo))
    return "".join(out) + note


def policy_example_markdown(folder: Path, repo: Path) -> str:
    """The shortest built-in policy file, verbatim, as a template to copy; or a note that there is none."""
    files = policy_files(folder)
    if not files:
        return ('!!! warning "No built-in policy in this build"\n'
                f"    `{folder.relative_to(repo).as_posix()}/` held no policy file when this site was built, so "
                "there is no template to show yet.\n")
    path = min(files, key=lambda item: (len(item.read_text(encoding="utf-8")), item.name))
    return (f'```yaml title="{path.relative_to(repo).as_posix()}"\n'
            + path.read_text(encoding="utf-8").rstrip() + "\n```\n")
