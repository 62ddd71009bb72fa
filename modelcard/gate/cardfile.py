"""A CARD argument of `check`, `diff` and `validate`: a card.json, or a README.md that `modelcard generate` wrote.

From a README the record is the one embedded at its end; its front matter is what the Hugging Face Hub reads,
and the disclosure sections a person edited by hand count over the embedded record's disclosures (editing the
README is one way to supply them)."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.pointer import parts
from modelcard.base.readers import decode_utf8, parse_json, read_bytes
from modelcard.gate.readme_read import ReadmeLayout, normalised, read_layout
from modelcard.record.document import check_version

# A pointer's nearest README heading when it is not a disclosure or front-matter key.
_README_PLACES = (("/findings", "## Findings"), ("/probes", "## Probes"), ("/probe_suite", "## Probes"),
                  ("/attention/layers", "## Attention layers"), ("/kv_cache/bytes_at", "## KV cache by context length"),
                  ("/unknowns", "## What is not known"), ("/disclosures", "## Disclosures"), ("", "## At a glance"))


@dataclass
class Card:
    path: Path
    kind: str  # "json" or "readme"
    record: dict[str, Any]  # as stored (the README's embedded record)
    text: str
    layout: ReadmeLayout | None = None
    edited: dict[str, int] = field(default_factory=dict)  # disclosure key -> README line, where edited by hand

    def disclosures(self) -> dict[str, Any]:
        """The record's disclosures with the README's hand edits in place."""
        disclosures = copy.deepcopy(self.record.get("disclosures") or {})
        if self.layout is not None:
            for key in self.edited:
                disclosures[key] = self.layout.sections[key].value
        return disclosures

    def document(self, front_matter: bool = True) -> dict[str, Any]:
        """What a policy reads: the record, its disclosures as edited, and `front_matter` (the README's own; for
        a card.json, the one `modelcard render` would write, built only when asked for)."""
        document = dict(self.record)
        document["disclosures"] = self.disclosures()
        if self.layout is not None:
            document["front_matter"] = self.layout.front_matter
        elif front_matter:
            from modelcard.card.render import front_matter as render_front_matter

            document["front_matter"] = render_front_matter(self.record)
        return document

    def line_of(self, pointer: str) -> int | None:
        """The line of the file that shows `pointer` (or its nearest shown parent), where there is one."""
        if self.layout is None:
            return json_line(self.text, pointer)
        layout = self.layout
        steps = parts(pointer)
        if steps[:1] == ["front_matter"]:  # a key the front matter lacks: its opening line, where it would go
            return (layout.front_matter_lines.get(steps[1]) if len(steps) > 1 else None) or 1
        if steps[:1] == ["disclosures"] and len(steps) > 1 and steps[1] in layout.sections:
            return layout.sections[steps[1]].line
        for prefix, heading in _README_PLACES:
            if pointer == prefix or pointer.startswith(prefix + "/") or not prefix:
                return layout.headings.get(heading)
        return None


def read_card(path: Path) -> Card:
    """A card.json or a generated README.md, version-checked (a newer major format is bad input)."""
    text = decode_utf8(read_bytes(path, "card"), path)
    if _is_markdown(path, text):
        return _read_readme(path, text)
    record = parse_json(text, path, "a card record")
    if not isinstance(record, dict):
        raise BadInput(path, "a card record must be a JSON object")
    check_version(record, path)
    return Card(path=path, kind="json", record=record, text=text)


def read_valid_card(path: Path) -> Card:
    """`read_card`, and refused as bad input unless its record fits the schema."""
    from modelcard.record.validate import validate_record

    card = read_card(path)
    errors = validate_record(card.record)
    if errors:
        where = "its embedded record breaks" if card.kind == "readme" else "breaks"
        raise BadInput(path, f"{where} the record schema at {errors[0]} (run `modelcard validate` for all)")
    return card


def _is_markdown(path: Path, text: str) -> bool:
    if path.suffix.lower() in (".md", ".markdown"):
        return True
    if path.suffix.lower() == ".json":
        return False
    return not text.lstrip().startswith("{")


def _read_readme(path: Path, text: str) -> Card:
    from modelcard.card.render import embedded_record_text

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    embedded = embedded_record_text(text)
    if embedded is None:
        raise BadInput(path, "no modelcard record at its end (a README.md that `modelcard generate` wrote ends "
                             "with one in an HTML comment); pass its card.json instead")
    record = parse_json(embedded, path, "the embedded card record")
    if not isinstance(record, dict):
        raise BadInput(path, "the embedded card record must be a JSON object")
    check_version(record, path)
    layout = read_layout(text, path)
    stored = disclosures if isinstance(disclosures := record.get("disclosures"), dict) else {}
    edited = {key: section.line for key, section in layout.sections.items()
              if normalised(section.value) != normalised(stored.get(key))}
    return Card(path=path, kind="readme", record=record, text=text, layout=layout, edited=edited)


def json_line(text: str, pointer: str) -> int | None:
    """The line of `pointer`'s key (or its deepest parent key that is there) in JSON written with indent=2,
    as card.json is; None for JSON written otherwise."""
    lines = text.split("\n")
    if len(lines) < 3:
        return None
    found = None
    start = 0
    for depth, step in enumerate(parts(pointer), start=1):
        if step.isdigit():
            return found
        key = re.compile(rf'^ {{{2 * depth}}}{re.escape(_json_key(step))}:')
        for index in range(start, len(lines)):
            line = lines[index]
            if key.match(line):
                found, start = index + 1, index + 1
                break
            stripped = line.lstrip(" ")
            if stripped[:1] in ("}", "]") and len(line) - len(stripped) < 2 * depth:
                return found
        else:
            return found
    return found


def _json_key(name: str) -> str:
    import json

    return json.dumps(name, ensure_ascii=False)
