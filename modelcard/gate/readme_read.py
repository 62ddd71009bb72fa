"""Reading back what a person can edit in a README.md that `modelcard generate` wrote: the front matter, and the
text under each heading of the Disclosures section (templates/card.md.j2). Each value keeps its line number, so
a report can point at it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.readers import parse_yaml
from modelcard.card.present import DISCLOSURE_TITLES, visible

DISCLOSURES_HEADING = "## Disclosures"
NOT_DECLARED = "*Not declared by the model's authors.*"
# The template's own paragraph after the last disclosure (a list of overridden values): not part of it.
_TRAILERS = ("Detected values that the authors overrode:",)
_RECORD_COMMENT = "<!-- modelcard-record"
# Where a README holds text of its own around the generated card, the card lies between these (the last pair).
_BEGIN = "<!-- modelcard:begin -->"
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,9}[.)])\s+(.*)$")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
# CommonMark: a backslash before ASCII punctuation stands for the punctuation itself.
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_TITLE_KEYS = {title.casefold(): key for key, title in DISCLOSURE_TITLES.items()}


@dataclass
class Section:
    """One disclosure as the README shows it: its heading's line and the value read from the text under it
    (None where it says it was not declared, or is empty)."""

    key: str
    title: str
    line: int
    value: str | list[str] | None


@dataclass
class ReadmeLayout:
    front_matter: dict[str, Any]
    front_matter_lines: dict[str, int] = field(default_factory=dict)  # top-level key -> line
    headings: dict[str, int] = field(default_factory=dict)  # "## Title" -> line of its first occurrence
    sections: dict[str, Section] = field(default_factory=dict)  # disclosure key -> section
    disclosures_line: int | None = None


def title_key(title: str) -> str:
    """The disclosure key a heading stands for: the named ones by their title, others as the renderer titles
    them (`document_version` -> "Document version")."""
    title = unescape(title).strip()
    return _TITLE_KEYS.get(title.casefold()) or re.sub(r"[\s-]+", "_", title.casefold())


def normalised(value: Any) -> Any:
    """A disclosure for comparing what the README shows with what the record holds: whitespace collapsed,
    invisible characters written as the README writes them; empty is None."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return tuple(normalised(item) for item in value)
    return " ".join(visible(value).split())


def unescape(text: str) -> str:
    return _BACKSLASH_ESCAPE.sub(r"\1", text)


def read_layout(markdown: str, path: Path) -> ReadmeLayout:
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    front_matter, front_lines, body_start = _front_matter(lines, path)
    layout = ReadmeLayout(front_matter=front_matter, front_matter_lines=front_lines)
    begins = [index for index in range(body_start, len(lines)) if lines[index].strip() == _BEGIN]
    if begins:
        body_start = begins[-1] + 1
    in_disclosures = False
    current: tuple[str, int, list[str]] | None = None
    for index in range(body_start, len(lines)):
        line = lines[index]
        number = index + 1
        if line.startswith(_RECORD_COMMENT):
            break
        if line.startswith("## "):
            if current is not None:
                _close(layout, current)
                current = None
            heading = line.rstrip()
            layout.headings.setdefault(heading, number)
            in_disclosures = heading == DISCLOSURES_HEADING
            if in_disclosures and layout.disclosures_line is None:
                layout.disclosures_line = number
            continue
        if not in_disclosures:
            continue
        if line.startswith("### "):
            if current is not None:
                _close(layout, current)
            current = (line[4:].strip(), number, [])
        elif current is not None and line.strip() in _TRAILERS:
            _close(layout, current)
            current = None
        elif current is not None:
            current[2].append(line)
    if current is not None:
        _close(layout, current)
    return layout


def _close(layout: ReadmeLayout, section: tuple[str, int, list[str]]) -> None:
    title, line, body = section
    key = title_key(title)
    if key and key not in layout.sections:
        layout.sections[key] = Section(key=key, title=unescape(title), line=line, value=section_value(body))


def section_value(body: list[str]) -> str | list[str] | None:
    """Text (paragraphs), a list (when every paragraph is list items), or None (empty, or the renderer's
    "not declared" line)."""
    text = _HTML_COMMENT.sub("", "\n".join(body)).strip("\n")
    if not text.strip() or text.strip() == NOT_DECLARED:
        return None
    lines = [line for line in text.split("\n")]
    items: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        match = _LIST_ITEM.match(line)
        if match:
            items.append(match.group(1).strip())
        elif items and line.startswith((" ", "\t")):
            items[-1] = f"{items[-1]} {line.strip()}"
        else:
            items = []
            break
    if items:
        return [unescape(item) for item in items]
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(unescape(line.strip()) for line in p.split("\n") if line.strip())
                       for p in paragraphs)


def _front_matter(lines: list[str], path: Path) -> tuple[dict[str, Any], dict[str, int], int]:
    """(front matter, top-level key -> line, index of the first body line)."""
    if not lines or lines[0].rstrip() != "---":
        return {}, {}, 0
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            data = parse_yaml("\n".join(lines[1:index]), path)
            keys: dict[str, int] = {}
            for number, line in enumerate(lines[1:index], start=2):
                match = re.match(r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*:", line)
                if match:
                    keys.setdefault(match.group(1), number)
            return (data if isinstance(data, dict) else {}), keys, index + 1
    return {}, {}, 0
