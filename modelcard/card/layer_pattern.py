"""A stack's layers as the pattern a person would describe: `5 sliding (1,024) : 1 full, ×8` for a period that
repeats, `30 full` for a uniform stack, counts by kind when nothing repeats."""

from __future__ import annotations

import itertools
from typing import Any

MAX_RUNS = 6  # runs in one period (or in a stack that does not repeat) before it is told as counts instead


def layer_label(layer: dict[str, Any]) -> str:
    window = layer.get("window")
    return f"{layer['kind']} ({window:,})" if isinstance(window, int) and window else str(layer["kind"])


def _runs(labels: list[str]) -> list[tuple[int, str]]:
    return [(len(list(group)), label) for label, group in itertools.groupby(labels)]


def _told(runs: list[tuple[int, str]]) -> str:
    return " : ".join(f"{count} {label}" for count, label in runs)


def _counts(labels: list[str]) -> str:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{count} {label}" for label, count in counts.items())


def period(labels: list[str]) -> int:
    """The shortest p for which the sequence is its first p labels repeated (the last repeat may be cut short)."""
    for p in range(1, len(labels) // 2 + 1):
        if all(labels[i] == labels[i % p] for i in range(p, len(labels))):
            return p
    return len(labels)


def stack_pattern(labels: list[str]) -> str:
    if not labels:
        return "no layers"
    p = period(labels)
    runs = _runs(labels[:p])
    if len(runs) == 1:  # one kind throughout
        return f"{len(labels)} {labels[0]}"
    repeats, rest = divmod(len(labels), p)
    if repeats < 2 or len(runs) > MAX_RUNS:
        whole = _runs(labels)
        return _told(whole) if len(whole) <= MAX_RUNS else _counts(labels)
    text = f"{_told(runs)}, ×{repeats}"
    return text + (f", then {_told(_runs(labels[-rest:]))}" if rest else "")


def layers_pattern(layers: list[dict[str, Any]]) -> str:
    """Every stack's pattern, in order of first appearance; the stack is named when there is more than one."""
    stacks: dict[str, list[str]] = {}
    for layer in layers:
        stacks.setdefault(str(layer["stack"]), []).append(layer_label(layer))
    if not stacks:
        return "no token-mixing layers"
    if len(stacks) == 1:
        return stack_pattern(next(iter(stacks.values())))
    return "; ".join(f"{stack}: {stack_pattern(labels)}" for stack, labels in stacks.items())
