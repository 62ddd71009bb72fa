"""What `modelcard check` prints: text for people, JSON, GitHub workflow annotations, JUnit XML."""

from __future__ import annotations

import json
from typing import Any

from modelcard.card.present import DISCLOSURE_TITLES, visible
from modelcard.gate.check import CardReport, PolicyReport, Result

FORMATS = ("text", "json", "github", "junit")
_MARKS = {"pass": "ok", "fail": "FAIL", "warn": "warn", "skipped": "n/a"}


def render_report(reports: list[CardReport], fmt: str, strict: bool) -> str:
    return {"text": text_report, "json": json_report, "github": github_report, "junit": junit_report}[fmt](
        reports, strict)


def how_to_supply(result: Result, report: CardReport) -> list[str]:
    """The lines that tell a person how to supply what is missing: the modelcard.yaml line, the README place."""
    supply = result.rule.supply
    card = report.card
    lines = []
    yaml_line = supply.yaml_line()
    if yaml_line:
        lines.append(f"add to modelcard.yaml: {yaml_line}  (then generate the card again)")
    if supply.hint:
        lines.append(supply.hint)
    pointer = result.pointer or ""
    if card.layout is not None and pointer.startswith("/disclosures/") and result.rule.kind == "pointer":
        key = pointer.split("/")[2]
        section = card.layout.sections.get(key)
        if section is not None:
            lines.append(f'or write it under "### {section.title}" in {card.path} (line {section.line})')
        elif card.layout.disclosures_line is not None:
            title = DISCLOSURE_TITLES.get(key) or key.replace("_", " ").strip().capitalize()
            lines.append(f'or add a "### {title}" section under "## Disclosures" in {card.path} '
                         f"(line {card.layout.disclosures_line})")
    elif card.layout is not None and pointer.startswith("/front_matter/") and supply.key:
        lines.append(f"or add `{yaml_line or supply.key}` to the front matter of {card.path}")
    return lines


def _summary(report: PolicyReport) -> str:
    counts = [(report.count("fail"), "failed"), (report.count("warn"), "warning(s)"),
              (report.count("pass"), "passed"), (report.count("skipped"), "not applicable")]
    return ", ".join(f"{count} {word}" for count, word in counts if count)


def _headline(result: Result) -> str:
    where = f"{result.pointer}: " if result.pointer and result.rule.kind == "pointer" else ""
    if result.problems:
        first = result.problems[0]
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        return f"{where}{first}{more}"
    return f"{where}{result.note}" if result.note else where.rstrip(": ")


def text_report(reports: list[CardReport], strict: bool) -> str:
    out = []
    for report in reports:
        for policy in report.policies:
            verdict = "passed" if policy.passed else "FAILED"
            source = "built-in" if policy.policy.source == "built-in" else policy.policy.source
            out.append(f"{report.card.path}: policy {policy.policy.name} ({source}): {verdict}: {_summary(policy)}")
            for result in policy.results:
                line = f"  {_MARKS[result.status]:<4}  {result.rule.id}  {_headline(result)}"
                if result.source:
                    line += f" (from {result.source})"
                out.append(visible(line))
                if result.status in ("fail", "warn"):
                    for problem in result.problems[1:]:
                        out.append(f"          {visible(problem)}")
                    out.append(f"          {result.rule.message}")
                    if result.rule.reference:
                        out.append(f"          ({result.rule.reference})")
                    out.extend(f"          {line}" for line in how_to_supply(result, report))
    failed = sum(not report.passed for report in reports)
    out.append(f"modelcard check: {'passed' if not failed else 'FAILED'}"
               f"{' (strict: warnings fail)' if strict else ''}")
    return "\n".join(out) + "\n"


def report_data(reports: list[CardReport], strict: bool) -> dict[str, Any]:
    return {
        "passed": all(report.passed for report in reports),
        "strict": strict,
        "cards": [{
            "card": str(report.card.path),
            "kind": report.card.kind,
            "passed": report.passed,
            "edited_in_readme": sorted(report.card.edited),
            "policies": [{
                "name": policy.policy.name,
                "source": policy.policy.source,
                "passed": policy.passed,
                "counts": {status: policy.count(status) for status in ("fail", "warn", "pass", "skipped")},
                "results": [{
                    "rule": result.rule.id,
                    "kind": result.rule.kind,
                    "severity": result.rule.severity,
                    "status": result.status,
                    "pointer": result.pointer,
                    "probe": result.rule.probe,
                    "problems": result.problems,
                    "note": result.note,
                    "source": result.source,
                    "line": result.line,
                    "message": result.rule.message,
                    "reference": result.rule.reference,
                    "supply": {"key": result.rule.supply.key, "line": result.rule.supply.yaml_line(),
                               "hint": result.rule.supply.hint,
                               "how": how_to_supply(result, report) if result.problems else []},
                } for result in policy.results],
            } for policy in report.policies],
        } for report in reports],
    }


def json_report(reports: list[CardReport], strict: bool) -> str:
    return json.dumps(report_data(reports, strict), indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_report(reports: list[CardReport], strict: bool) -> str:
    """GitHub Actions workflow commands: one ::error (or ::warning) per failing rule, at the line that shows
    the value where the card has one."""
    out = []
    for report in reports:
        for policy in report.policies:
            for result in policy.results:
                if result.status not in ("fail", "warn"):
                    continue
                command = "error" if result.status == "fail" else "warning"
                props = [f"file={_escape_property(str(report.card.path))}"]
                if result.line is not None:
                    props.append(f"line={result.line}")
                props.append(f"title={_escape_property(f'modelcard {policy.policy.name}: {result.rule.id}')}")
                body = [_headline(result), *result.problems[1:], result.rule.message,
                        *how_to_supply(result, report)]
                out.append(f"::{command} {','.join(props)}::{_escape_data(visible(chr(10).join(body)))}")
    out.append(text_report(reports, strict).rstrip("\n").split("\n")[-1])
    return "\n".join(out) + "\n"


def junit_report(reports: list[CardReport], strict: bool) -> str:
    """JUnit XML: a test suite per card and policy, a test case per rule (a failure where it fails, skipped
    where its condition does not hold, a warning as system-out)."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="modelcard check")
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for report in reports:
        for policy in report.policies:
            counts = {"tests": len(policy.results), "failures": policy.count("fail"),
                      "skipped": policy.count("skipped")}
            suite = ET.SubElement(root, "testsuite", {"name": f"{policy.policy.name} ({report.card.path})",
                                                      "errors": "0",
                                                      **{key: str(value) for key, value in counts.items()}})
            for key, value in counts.items():
                totals[key] += value
            for result in policy.results:
                attributes = {"name": result.rule.id, "classname": f"modelcard.{policy.policy.name}",
                              "file": str(report.card.path)}
                if result.line is not None:
                    attributes["line"] = str(result.line)
                case = ET.SubElement(suite, "testcase", {key: visible(value) for key, value in attributes.items()})
                details = "\n".join([*result.problems, result.rule.message, *how_to_supply(result, report)])
                if result.status == "fail":
                    failure = ET.SubElement(case, "failure", message=visible(_headline(result)),
                                            type=result.rule.severity)
                    failure.text = visible(details)
                elif result.status == "skipped":
                    ET.SubElement(case, "skipped", message=visible(result.note or "not applicable"))
                elif result.status == "warn":
                    ET.SubElement(case, "system-out").text = visible(f"warning: {details}")
                elif result.source or result.note:
                    ET.SubElement(case, "system-out").text = visible(
                        "; ".join(item for item in (result.note, result.source and f"from {result.source}") if item))
    root.set("errors", "0")
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
