"""The changes since a previous card, for the card itself (`generate --previous OLD_CARD`): `modelcard diff`'s
content in words, regressions first (probes that broke and new error findings, then what else changed), with
the previous version's identity, so that a card says how the model's behaviour shifted between releases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelcard.gate.cardfile import Card
from modelcard.gate.diff import GROUPS, Change, diff_cards, shown

FIRST = ("probes", "findings")  # where regressions are; the other groups follow in diff's order
IDENTITY = ("id", "revision", "config_sha256", "weights_sha256", "chat_template_sha256")


def changelog(previous: Card, record: dict[str, Any]) -> dict[str, Any]:
    """The `changes` section of a record: what differs from `previous`.

    Args:
        previous: the earlier card (a card.json or a generated README).
        record: the new record, before it is written.

    Returns:
        {"previous": identity of the earlier card, "count", "items": [{group, pointer, label, kind, old, new,
        text, regression}]}, regressions first.
    """
    result = diff_cards(previous, Card(path=Path("card.json"), kind="json", record=record, text=""))
    order = [*FIRST, *(name for name, _ in GROUPS if name not in FIRST)]
    items = []
    for name in order:
        for change in result.groups[name]:
            items.append({"group": name, "pointer": change.pointer, "label": change.label, "kind": change.kind,
                          "old": change.old, "new": change.new, "text": sentence(change),
                          "regression": regression(name, change)})
    items.sort(key=lambda item: not item["regression"])  # stable: diff's own order within each part
    old = previous.record
    return {"previous": {"model": {key: old.get("model", {}).get(key) for key in IDENTITY},
                         "generator": old.get("generator"), "schema_version": old.get("schema_version"),
                         "file": previous.path.name},
            "count": len(items), "items": items}


def regression(group: str, change: Change) -> bool:
    """A probe that passed and now fails or errs, or a new error finding."""
    if group == "probes" and change.pointer.endswith("/status"):
        return change.old == "pass" and change.new in ("fail", "error")
    if group == "findings":
        return change.new == "error" and change.old != "error"
    return False


def sentence(change: Change) -> str:
    """One line in words: `added`, `removed` or `old -> new`."""
    if change.bare:
        return ("new: " if change.kind == "added" else "gone: ") + str(change.label)
    if change.kind == "added":
        return f"{change.label}: now {shown(change.new)}"
    if change.kind == "removed":
        return f"{change.label}: no longer {shown(change.old)}"
    return f"{change.label}: {shown(change.old)} -> {shown(change.new)}"
