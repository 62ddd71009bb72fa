"""Cards for the gate's tests, made from the complete fixture card (tests/fixtures/check/complete.json: the demo
model with a short probe suite and every disclosure the built-in policies ask for)."""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "check"
COMPLETE = FIXTURES / "complete.json"


@functools.cache
def _complete() -> dict[str, Any]:
    return json.loads(COMPLETE.read_text(encoding="utf-8"))


def complete_record() -> dict[str, Any]:
    return copy.deepcopy(_complete())


def write_card(folder: Path, record: dict[str, Any], name: str = "card.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return path


def render_readme(folder: Path, record: dict[str, Any]) -> Path:
    """The README.md that `modelcard render` writes for `record` (so the tests follow the template)."""
    from modelcard.cli import main

    card = write_card(folder / "in", record)
    assert main(["render", str(card), "-o", str(folder / "out")]) == 0
    return folder / "out" / "README.md"


def _parent(record: dict[str, Any], pointer: str) -> tuple[Any, str | int]:
    steps = pointer.split("/")[1:]
    node: Any = record
    for step in steps[:-1]:
        node = node[int(step)] if isinstance(node, list) else node[step]
    last = steps[-1]
    return node, int(last) if isinstance(node, list) else last


def set_value(record: dict[str, Any], pointer: str, value: Any) -> dict[str, Any]:
    node, key = _parent(record, pointer)
    node[key] = value
    return record


def delete(record: dict[str, Any], pointer: str) -> dict[str, Any]:
    node, key = _parent(record, pointer)
    del node[key]
    return record


def null_without_reason(record: dict[str, Any], pointer: str) -> dict[str, Any]:
    record["unknowns"].pop(pointer, None)
    return set_value(record, pointer, None)


def null_with_reason(record: dict[str, Any], pointer: str, kind: str, reason: str) -> dict[str, Any]:
    set_value(record, pointer, None)
    record["unknowns"][pointer] = {"kind": kind, "reason": reason}
    return record


def edit_section(markdown: str, title: str, body: str) -> str:
    """The README with the text under `### title` in its Disclosures section replaced by `body`, or with such a
    section added at the start of the section list when the README has none: what a person does by hand."""
    lines = markdown.split("\n")
    start = lines.index("## Disclosures")
    heading = f"### {title}"
    end_of_section = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("## "))
    if heading in lines[start:end_of_section]:
        at = lines.index(heading, start)
        stop = next((i for i in range(at + 1, len(lines)) if re.match(r"#{2,3} |Detected values that", lines[i])),
                    len(lines))
        return "\n".join([*lines[: at + 1], "", body, "", *lines[stop:]])
    first = next((i for i in range(start + 1, end_of_section) if lines[i].startswith("### ")), end_of_section)
    return "\n".join([*lines[:first], heading, "", body, "", *lines[first:]])


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").split("\n").index(text) + 1
