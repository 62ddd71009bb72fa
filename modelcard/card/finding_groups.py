"""Findings as the card shows them: the same finding about several layers once, with the layers listed
("21 layers (3–6, 9, 11–19, 21–27): claims full attention but measures irregular"), and a line for each
measured word the findings use. The record keeps every finding as it was made."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from modelcard.card.index_spans import index_spans

LAYER_MESSAGE = re.compile(r"^layer (\d+) (.+)$", re.DOTALL)
LAYER_POINTER = re.compile(r"^(/attention/layers/)\d+(/.*)?$")

# The words a finding uses for what a probe measured, each in one line; the card lists those its findings use.
TERMS = {
    "irregular": "the positions a layer sees have gaps, or stop where no sliding window, chunk or full reach "
                 "would stop them",
    "sliding window": "each position sees itself and the window's length minus one positions before it",
    "chunked window": "each position sees only the positions of its own block of that many tokens",
    "full attention": "each position sees every position before it in the input tested",
    "not proof": "measured through the trained weights, which can leave a position the mask lets through "
                 "without effect; the probe checks again with redrawn weights where it can",
    "cannot do": "the model fails the task already at the shortest length tested, so the task's scores say "
                 "nothing about its context window",
    "holds to": "the longest tested length whose score stays at 0.85 of the model's own score at the shortest "
                "length (NoLiMa's relative rule), judged with 95% intervals",
}


@dataclass
class FindingGroup:
    """One row of the card's findings: a finding, or the same finding about several layers.

    Args:
        item: the first finding of the group (its severity, pointer, probe and compared values).
        message: the row's message, with the layers listed when there are several.
        layers: the layer indices the group covers (empty for a finding that names no layer).
    """

    item: dict[str, Any]
    message: str
    layers: list[int]


def group_findings(findings: list[dict[str, Any]]) -> list[FindingGroup]:
    """The findings with those that differ only in the layer they name merged into one, in first-seen order.

    Args:
        findings: the record's findings, in the order the card shows them.

    Returns:
        One group per row.
    """
    groups: list[FindingGroup] = []
    by_key: dict[tuple[Any, ...], FindingGroup] = {}
    for item in findings:
        said = LAYER_MESSAGE.match(str(item.get("message", "")))
        where = LAYER_POINTER.match(str(item.get("pointer", "")))
        if said is None or where is None:
            groups.append(FindingGroup(item, str(item.get("message", "")), []))
            continue
        key = (item.get("severity"), item.get("probe"), where.group(2), said.group(2),
               repr(item.get("declared")), repr(item.get("measured")))
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = FindingGroup(item, str(item["message"]), [])
            groups.append(group)
        group.layers.append(int(said.group(1)))
        if len(group.layers) > 1:
            group.message = f"{len(group.layers)} layers ({index_spans(sorted(group.layers))}): {said.group(2)}"
    return groups


def terms_used(messages: list[str]) -> list[tuple[str, str]]:
    """The measured words the messages use, each with its one-line meaning, in TERMS order.

    Args:
        messages: the texts the card shows.

    Returns:
        (word, meaning) pairs.
    """
    text = " ".join(messages).lower()
    return [(word, meaning) for word, meaning in TERMS.items() if word in text]
