"""The gate: a card against policies. Each rule gives one result: pass, fail, warn (a warning, failing only with
--strict) or skipped (its condition does not hold)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from modelcard.base.pointer import MISSING, parts, resolve
from modelcard.card.present import visible
from modelcard.gate.cardfile import Card
from modelcard.gate.policy import Condition, Policy, Rule

# Text that stands where an answer should be (compared without regard to case, markup, quotes or a final stop).
PLACEHOLDERS = frozenset({
    "[more information needed]", "more information needed", "todo", "tbd", "tba", "fixme", "xxx", "n/a", "n.a",
    "none yet", "not yet", "placeholder", "not declared by the model's authors", "-", "--", "—", "–", "?", "??",
    "...", "…",
})
_PLACEHOLDER_START = re.compile(r"^(?:todo|tbd|tba|fixme)\b", re.IGNORECASE)
_PLACEHOLDER_ANYWHERE = re.compile(r"lorem ipsum|\[more information needed\]", re.IGNORECASE)
# Template slots: "<your model's intended use>", "[Your name]" (but not "<name@example.org>" or a link).
_TEMPLATE_SLOT = re.compile(r"^(?:<[^<>]*>|\[[^\[\]]*\])$")


@dataclass
class Result:
    rule: Rule
    status: str  # pass, fail, warn, skipped
    problems: list[str] = field(default_factory=list)
    note: str | None = None  # why it passed or was skipped, where that is worth saying
    pointer: str | None = None
    line: int | None = None
    source: str | None = None  # where a README edit supplied the value


@dataclass
class PolicyReport:
    policy: Policy
    results: list[Result]

    @property
    def passed(self) -> bool:
        return not any(result.status == "fail" for result in self.results)

    def count(self, status: str) -> int:
        return sum(result.status == status for result in self.results)


@dataclass
class CardReport:
    card: Card
    policies: list[PolicyReport]
    document: dict[str, Any]  # what the rules read (Card.document): the record with its disclosures as edited

    @property
    def passed(self) -> bool:
        return all(report.passed for report in self.policies)


def check_card(card: Card, policies: list[Policy], strict: bool = False) -> CardReport:
    pointers = [pointer for policy in policies for rule in policy.rules
                for pointer in (rule.pointer, *(condition.pointer for condition in rule.when)) if pointer]
    document = card.document(front_matter=any(parts(pointer)[:1] == ["front_matter"] for pointer in pointers))
    return CardReport(card=card, policies=[PolicyReport(policy, [_check_rule(rule, card, document, strict)
                                                                   for rule in policy.rules])
                                           for policy in policies], document=document)


def _check_rule(rule: Rule, card: Card, document: dict[str, Any], strict: bool) -> Result:
    if rule.when and not all(holds(condition, document) for condition in rule.when):
        return Result(rule, "skipped", note="only when " + " and ".join(describe(c) for c in rule.when))
    if rule.kind == "pointer":
        result = _check_pointer(rule, card, document)
    elif rule.kind == "probe":
        result = _check_probe(rule, card)
    else:
        return _check_findings(rule, card, strict)
    if result.problems:
        result.status = "fail" if rule.severity == "error" or strict else "warn"
    return result


def _check_pointer(rule: Rule, card: Card, document: dict[str, Any]) -> Result:
    pointer = rule.pointer or ""
    result = Result(rule, "pass", pointer=pointer, line=card.line_of(pointer))
    steps = parts(pointer)
    if steps[:1] == ["disclosures"] and len(steps) > 1 and steps[1] in card.edited:
        result.source = f"{card.path} line {card.edited[steps[1]]}, edited by hand"
    value = resolve(document, pointer)
    if value is MISSING:
        result.problems.append("missing" if steps[:1] != ["disclosures"] else "not declared")
    elif value is None:
        gap = (card.record.get("unknowns") or {}).get(pointer)
        if not isinstance(gap, dict):
            result.problems.append("null without a reason" if steps[:1] != ["disclosures"] else "not declared")
        elif gap.get("kind") in rule.allow_unknown:
            result.note = f"null, {gap.get('kind')}: {visible(gap.get('reason'))}"
        else:
            result.problems.append(f"null ({gap.get('kind')}: {visible(gap.get('reason'))}); this policy needs a value")
    else:
        why = placeholder(value)
        if why:
            result.problems.append(why)
        elif rule.pattern and not _matches_pattern(value, rule.pattern):
            result.problems.append(f"{_short(value)} is not in the form this policy asks for (pattern {rule.pattern})")
    return result


def _check_probe(rule: Rule, card: Card) -> Result:
    record = card.record
    result = Result(rule, "pass", pointer="/probes", line=card.line_of("/probes"))
    runs = [probe for probe in record.get("probes") or [] if isinstance(probe, dict) and probe.get("id") == rule.probe]
    suite = record.get("probe_suite") or {}
    if not runs:
        result.problems.append(f"probe {rule.probe} did not run (probe suite {visible(suite.get('name', 'none'))})")
        return result
    counted = [probe for probe in runs if probe.get("status") in rule.statuses]
    if not counted:
        probe = runs[0]
        reason = f": {visible(probe['reason'])}" if probe.get("reason") else ""
        result.problems.append(f"probe {rule.probe} {probe.get('status')}{reason}")
        return result
    if rule.own_weights and all(probe.get("twin", suite.get("twin", False)) for probe in counted):
        result.problems.append(f"probe {rule.probe} ran only on a random-init twin of a config-only model; this "
                               "policy needs it measured on the model's own weights")
        return result
    result.note = f"{rule.probe}: {counted[0].get('status')}"
    return result


def _check_findings(rule: Rule, card: Card, strict: bool) -> Result:
    findings = [item for item in card.record.get("findings") or [] if isinstance(item, dict)]
    errors = [item for item in findings if item.get("severity") == "error"]
    warnings = [item for item in findings if item.get("severity") == "warning"] if rule.findings == "warning" else []
    shown = errors + warnings
    result = Result(rule, "pass", pointer="/findings", line=card.line_of("/findings"))
    if shown:
        result.pointer = shown[0].get("pointer") if len(shown) == 1 else "/findings"
        result.line = card.line_of("/findings")
    result.problems = [f"{item.get('severity')} finding at {visible(item.get('pointer'))}: "
                       f"{visible(item.get('message'))}" for item in shown]
    if errors or (warnings and strict):
        result.status = "fail"
    elif warnings:
        result.status = "warn"
    else:
        result.note = f"{len(findings)} finding(s), none of severity {rule.findings}" + (
            " or error" if rule.findings == "warning" else "")
    return result


def placeholder(value: Any) -> str | None:
    """Why `value` is no answer (empty, or a placeholder like TODO or [More Information Needed]), or None."""
    if isinstance(value, str):
        text = value.strip().strip("*_`\"' \t\n").rstrip(".:;!").strip()
        if not text:
            return "empty text"
        if (text.casefold() in PLACEHOLDERS or _PLACEHOLDER_START.match(text) or _PLACEHOLDER_ANYWHERE.search(text)
                or (_TEMPLATE_SLOT.match(text) and "@" not in text and "://" not in text)):
            return f"a placeholder ({_short(value)})"
        return None
    if isinstance(value, list):
        if not value:
            return "an empty list"
        for index, item in enumerate(value, start=1):
            why = placeholder(item)
            if why:
                return f"item {index} is {why}"
        return None
    if isinstance(value, dict) and not value:
        return "empty"
    return None


def _matches_pattern(value: Any, pattern: str) -> bool:
    items = value if isinstance(value, list) else [value]
    return all(isinstance(item, str) and re.search(pattern, item) for item in items)


def holds(condition: Condition, document: dict[str, Any]) -> bool:
    value = resolve(document, condition.pointer)
    if value is MISSING:
        return False
    items = value if isinstance(value, list) else [value]
    if condition.test in ("in", "not_in"):
        allowed = {_key(item) for item in condition.operand}
        inside = all(_key(item) in allowed for item in items)
        return inside if condition.test == "in" else not inside
    texts = [item if isinstance(item, str) else json.dumps(item) for item in items]
    found = all(condition.operand.search(text) for text in texts)
    return found if condition.test == "matches" else not found


def describe(condition: Condition) -> str:
    if condition.test in ("in", "not_in"):
        values = ", ".join(json.dumps(item) if not isinstance(item, str) else item for item in condition.operand)
        return f"{condition.pointer} is {'not ' if condition.test == 'not_in' else ''}one of [{values}]"
    verb = "matches" if condition.test == "matches" else "does not match"
    return f"{condition.pointer} {verb} {condition.operand.pattern}"


def _key(item: Any) -> Any:
    return item.strip().casefold() if isinstance(item, str) else json.dumps(item)


def _short(value: Any, limit: int = 60) -> str:
    text = " ".join(visible(value).split())
    return json.dumps(text if len(text) <= limit else text[: limit - 1] + "…", ensure_ascii=False)
