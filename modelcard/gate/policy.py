"""Policies for the gate: plain YAML files (STYLE.md 5) checked against schemas/policy.schema.json. A name picks
a built-in policy from policies/; anything else is a path."""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.readers import read_yaml
from modelcard.base.resources import data_dir

SCHEMA_FILE = "policy.schema.json"
DEFAULT_POLICY = "attention-governance"


@dataclass(frozen=True)
class Condition:
    pointer: str
    test: str  # in, not_in, matches, not_matches
    operand: Any


@dataclass(frozen=True)
class Supply:
    key: str | None = None
    example: Any = None
    has_example: bool = False
    hint: str | None = None

    def yaml_line(self) -> str | None:
        """The modelcard.yaml line to add, where the rule names a key."""
        if self.key is None:
            return None
        if not self.has_example:
            return f"{self.key}: ..."
        import yaml

        text = yaml.safe_dump(self.example, default_flow_style=True, sort_keys=False, width=10_000, allow_unicode=True)
        return f"{self.key}: {text.strip().removesuffix('...').strip()}"


@dataclass(frozen=True)
class Rule:
    id: str
    message: str
    severity: str
    kind: str  # pointer, probe or findings
    pointer: str | None = None
    probe: str | None = None
    findings: str | None = None
    allow_unknown: tuple[str, ...] = ()
    pattern: str | None = None
    statuses: tuple[str, ...] = ("pass", "fail")
    own_weights: bool = False
    when: tuple[Condition, ...] = ()
    supply: Supply = field(default_factory=Supply)
    reference: str | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    rules: tuple[Rule, ...]
    source: str  # "built-in" or the path


@functools.cache
def policy_schema() -> dict[str, Any]:
    return json.loads((data_dir("schemas") / SCHEMA_FILE).read_text(encoding="utf-8"))


def builtin_policies() -> dict[str, Path]:
    return {path.stem: path for path in sorted(data_dir("policies").glob("*.yaml"))}


def resolve_policy(name_or_path: str) -> Policy:
    """A built-in policy by name, or a policy file by path; an unknown name is bad input with the choices."""
    policies = builtin_policies()
    if name_or_path in policies:
        return load_policy(policies[name_or_path], builtin=True)
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or "/" in name_or_path or path.exists():
        return load_policy(path)
    close = difflib.get_close_matches(name_or_path, list(policies), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise BadInput(name_or_path, f"no such policy; {hint}available: {', '.join(policies)}, or a path to a YAML file")


def load_policy(path: Path, builtin: bool = False) -> Policy:
    data = read_yaml(path, "policy")
    problems = policy_problems(data)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInput(path, f"not a valid policy: {problems[0]}{more}")
    rules = tuple(_rule(item) for item in data["rules"])
    return Policy(name=data["name"], description=data.get("description", ""), rules=rules,
                  source="built-in" if builtin else str(path))


def policy_problems(data: Any) -> list[str]:
    """Every way `data` is not a policy, each as `where: what`, in document order."""
    from jsonschema import Draft202012Validator

    if not isinstance(data, dict):
        return ["a policy must be a mapping with name and rules"]
    validator = Draft202012Validator(policy_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(data), key=lambda error: list(map(str, error.absolute_path)))
    problems = [f"{_where(data, list(error.absolute_path))}: {_explain(error)}" for error in errors]
    if problems:
        return problems
    seen: set[str] = set()
    for index, rule in enumerate(data["rules"]):
        if rule["id"] in seen:
            problems.append(f"rules[{index}] ({rule['id']}): the id is used by an earlier rule; ids must be unique")
        seen.add(rule["id"])
    return problems


def _where(data: dict[str, Any], path: list[Any]) -> str:
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rule = data["rules"][path[1]]
        name = f" ({rule['id']})" if isinstance(rule, dict) and isinstance(rule.get("id"), str) else ""
        rest = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path[2:])
        return f"rules[{path[1]}]{name}{rest}"
    return ".".join(map(str, path)) or "the policy"


def _explain(error: Any) -> str:
    """jsonschema's message, made plain where it is not."""
    if error.validator == "oneOf":
        if list(error.schema_path)[-2:-1] == ["when"]:
            return "must be one condition ({pointer, in|not_in|matches|not_matches}) or a list of them"
        return "a rule needs exactly one of pointer, probe or findings"
    if error.validator in ("minProperties", "maxProperties") and isinstance(error.instance, dict) \
            and "pointer" in error.instance:
        return "a condition needs pointer and exactly one of in, not_in, matches, not_matches"
    if error.validator == "dependentSchemas":
        return f"{error.message}"
    if error.validator == "format" and error.validator_value == "regex":
        return f"{json.dumps(error.instance)} is not a valid regular expression"
    return error.message


def _rule(item: dict[str, Any]) -> Rule:
    kind = next(name for name in ("pointer", "probe", "findings") if name in item)
    supply = item.get("supply") or {}
    when = item.get("when") or []
    conditions = tuple(_condition(entry) for entry in (when if isinstance(when, list) else [when]))
    return Rule(
        id=item["id"], message=item["message"], severity=item.get("severity", "error"), kind=kind,
        pointer=item.get("pointer"), probe=item.get("probe"), findings=item.get("findings"),
        allow_unknown=tuple(item.get("allow_unknown") or ()), pattern=item.get("pattern"),
        statuses=tuple(item.get("statuses") or ("pass", "fail")), own_weights=bool(item.get("own_weights")),
        when=conditions, reference=item.get("reference"),
        supply=Supply(key=supply.get("key"), example=supply.get("example"), has_example="example" in supply,
                      hint=supply.get("hint")),
    )


def _condition(entry: dict[str, Any]) -> Condition:
    test = next(name for name in ("in", "not_in", "matches", "not_matches") if name in entry)
    operand = entry[test]
    if test in ("matches", "not_matches"):
        operand = re.compile(operand, re.IGNORECASE)
    return Condition(pointer=entry["pointer"], test=test, operand=operand)
