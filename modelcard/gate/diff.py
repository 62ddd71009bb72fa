"""What changed between two card records, grouped the way a release reviewer reads it: disclosures,
architecture and attention, context window, KV cache, probe results (regressions first), findings, the rest.

Left out as run-to-run noise or as derived from what is shown: probe durations, time limits and details (the
headline value and status carry the result), `kv_cache.bytes_at` (from bytes per token) and the probe suite's
note (from the statuses)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from modelcard.base.pointer import join, parts
from modelcard.card.present import layer_pattern, visible
from modelcard.gate.cardfile import Card

GROUPS = (("disclosures", "Disclosures"), ("architecture", "Architecture and attention"),
          ("context_window", "Context window"), ("kv_cache", "KV cache"), ("probes", "Probe results"),
          ("findings", "Findings"), ("other", "Other"))
_ARCHITECTURE = ("/model/model_type", "/model/class_name", "/model/parameters", "/architecture", "/attention",
                 "/masking", "/position")
_IGNORED = ("/kv_cache/bytes_at", "/probe_suite/note", "/probe_suite/time_limit_s", "/probes", "/findings",
            "/changes")
LABELS = {
    "/context_window/declared": "context window (declared)",
    "/context_window/original": "context window (before RoPE scaling)",
    "/context_window/effective": "context window (effective, measured)",
    "/kv_cache/bytes_per_token": "KV cache bytes per token",
    "/kv_cache/constant_state_bytes": "constant state bytes",
    "/kv_cache/layers": "KV cache layers",
    "/kv_cache/dtype": "KV cache dtype",
    "/kv_cache/source": "KV cache figures from",
    "/attention/layers": "attention layers",
    "/attention/implementation": "attention kernel",
    "/attention/heads/grouping": "head grouping",
    "/architecture/class": "architecture class",
    "/model/parameters": "parameters",
    "/masking/stacks": "masking",
}
# Probe status changes in the order a reviewer wants them: what broke first, what was fixed last.
_STATUS_RANK: dict[tuple[str | None, str | None], int] = {
    ("pass", "fail"): 0, ("pass", "error"): 0, ("skipped", "fail"): 1, ("skipped", "error"): 1,
    ("pass", "skipped"): 2, ("fail", "error"): 2, ("error", "fail"): 3}
_PROBE_FIELDS = ("status", "value", "unit", "metric", "twin", "kernel", "device", "dtype", "params")
# Maps keyed by JSON pointers: each entry is one value, and entries that differ only in a layer index fold into one.
_POINTER_MAPS = {"/provenance": "provenance", "/unknowns": "unknown", "/inspection/overridden": "overridden"}
_INDEX = re.compile(r"/\d+(?=/|$)")


@dataclass
class Change:
    pointer: str
    label: str
    kind: str  # changed, added, removed
    old: Any = None
    new: Any = None
    rank: int = 5  # order within a group (probe regressions first)
    bare: bool = False  # the label says it all (a finding)


@dataclass
class CardDiff:
    old: Card
    new: Card
    groups: dict[str, list[Change]] = field(default_factory=dict)

    @property
    def equal(self) -> bool:
        return not any(self.groups.values())

    @property
    def count(self) -> int:
        return sum(len(changes) for changes in self.groups.values())


def diff_cards(old: Card, new: Card) -> CardDiff:
    result = CardDiff(old, new, {name: [] for name, _ in GROUPS})
    before, after = _document(old), _document(new)
    flat_old, flat_new = flatten(before), flatten(after)
    for pointer in [*flat_old, *(p for p in flat_new if p not in flat_old)]:
        if pointer in flat_old and pointer in flat_new and _same(flat_old[pointer], flat_new[pointer]):
            continue
        if _emptied(pointer, flat_old, flat_new) or _emptied(pointer, flat_new, flat_old):
            continue  # {} on one side, its entries on the other: each entry is its own change
        kind = "changed" if pointer in flat_old and pointer in flat_new else "removed" if pointer in flat_old \
            else "added"
        result.groups[_group(pointer)].append(Change(pointer, _label(pointer), kind, flat_old.get(pointer),
                                                     flat_new.get(pointer)))
    result.groups["probes"] = _probe_changes(before, after) + result.groups["probes"]
    result.groups["other"] = _folded(result.groups["other"])
    result.groups["findings"] = _finding_changes(before.get("findings") or [], after.get("findings") or [])
    return result


def _emptied(pointer: str, mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """`pointer` is an empty object or list here whose entries the other side lists one by one."""
    return mine.get(pointer) in ({}, []) and any(other.startswith(pointer + "/") for other in theirs)


def _document(card: Card) -> dict[str, Any]:
    document = dict(card.record)
    document["disclosures"] = card.disclosures()
    return document


def flatten(node: Any, pointer: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pointer -> leaf value; lists of plain values are leaves, layer lists are summarised."""
    out = {} if out is None else out
    if pointer in _IGNORED:
        return out
    if pointer in _POINTER_MAPS and isinstance(node, dict):
        for key, value in node.items():
            out[pointer + join(key)] = (f"{value.get('kind')}: {value.get('reason')}"
                                        if isinstance(value, dict) and set(value) == {"kind", "reason"} else value)
        return out
    if pointer == "/attention/layers" and isinstance(node, list):
        out[pointer] = layer_pattern(node) if node else "none"
    elif pointer == "/kv_cache/layers" and isinstance(node, list):
        out[pointer] = _cache_pattern(node)
    elif isinstance(node, dict) and node:
        for key, value in node.items():
            flatten(value, pointer + join(key), out)
    elif isinstance(node, list) and any(isinstance(item, (dict, list)) for item in node):
        for index, value in enumerate(node):
            flatten(value, pointer + join(index), out)
    else:
        out[pointer] = node
    return out


def _cache_pattern(layers: list[Any]) -> str:
    runs: list[list[Any]] = []
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        key = (layer.get("kind"), layer.get("max_tokens"), layer.get("bytes_per_token"))
        if runs and runs[-1][0] == key:
            runs[-1][1] += 1
        else:
            runs.append([key, 1])
    texts = []
    for (kind, max_tokens, per_token), count in runs:
        keeps = f", keeps {max_tokens:,} tokens" if isinstance(max_tokens, int) else ""
        texts.append(f"{count} × {kind} ({per_token} B/token{keeps})")
    return ", ".join(texts) or "none"


def _group(pointer: str) -> str:
    head = "/" + (parts(pointer)[0] if pointer else "")
    if head == "/disclosures":
        return "disclosures"
    if head in ("/context_window", "/kv_cache"):
        return head[1:]
    if head == "/probe_suite":
        return "probes"
    if any(pointer == prefix or pointer.startswith(prefix + "/") for prefix in _ARCHITECTURE):
        return "architecture"
    return "other"


def _label(pointer: str) -> str:
    if pointer in LABELS:
        return LABELS[pointer]
    steps = parts(pointer)
    for prefix, word in _POINTER_MAPS.items():
        if pointer.startswith(prefix + "/"):
            return f"{word} {parts(pointer[len(prefix):])[0]}"
    if steps[:1] == ["disclosures"]:
        if steps[1:2] == ["overrides"] and len(steps) > 2:
            return f"overrides {steps[2]}"
        return "/".join(steps[1:])
    if steps[:1] == ["probe_suite"]:
        return f"probe suite {'/'.join(steps[1:])}"
    return pointer


def _folded(changes: list[Change]) -> list[Change]:
    """Changes to pointer-keyed entries that differ only in a layer index, as one change."""
    folded: dict[tuple, Change] = {}
    counts: dict[tuple, int] = {}
    for change in changes:
        key = (_INDEX.sub("/*", change.label), change.kind, json.dumps(change.old), json.dumps(change.new))
        if key in folded:
            counts[key] += 1
            continue
        folded[key], counts[key] = change, 1
    result = []
    for key, change in folded.items():
        if counts[key] > 1:
            change = Change(change.pointer, f"{key[0]} ({counts[key]} entries)", change.kind, change.old, change.new,
                            change.rank)
        result.append(change)
    return result


def _same(old: Any, new: Any) -> bool:
    """Equal, and numbers equal to three significant figures (measured values wobble in the last digits)."""
    if isinstance(old, float) and isinstance(new, (int, float)) and not isinstance(new, bool) \
            or isinstance(new, float) and isinstance(old, (int, float)) and not isinstance(old, bool):
        return f"{old:.3g}" == f"{new:.3g}"
    return type(old) is type(new) and old == new


def _probe_changes(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    old, new = _probes_by_key(before), _probes_by_key(after)
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        pointer = f"/probes/{key}"
        if key not in new:
            changes.append(Change(pointer, f"probe {key}", "removed", old[key].get("status"), None, rank=4))
            continue
        if key not in old:
            changes.append(Change(pointer, f"probe {key}", "added", None, new[key].get("status"), rank=4))
            continue
        for name in _PROBE_FIELDS:
            a, b = old[key].get(name), new[key].get(name)
            if _same(a, b):
                continue
            rank = _STATUS_RANK.get((a, b), 3 if name == "status" else 5) if name == "status" else 5
            label = f"probe {key}" if name == "status" else f"probe {key} {name}"
            changes.append(Change(f"{pointer}/{name}", label, "changed", a, b, rank=rank))
    return sorted(changes, key=lambda change: change.rank)


def _probes_by_key(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    probes: dict[str, dict[str, Any]] = {}
    for probe in document.get("probes") or []:
        if not isinstance(probe, dict):
            continue
        key, number = str(probe.get("id")), 2
        while key in probes:  # a suite may run one probe twice with different parameters
            key, number = f"{probe.get('id')}#{number}", number + 1
        probes[key] = probe
    return probes


def _finding_changes(before: list[Any], after: list[Any]) -> list[Change]:
    def key(item: Any) -> tuple[str, str]:
        return (str(item.get("pointer")), str(item.get("message"))) if isinstance(item, dict) else ("", str(item))

    old = {key(item): item for item in before}
    new = {key(item): item for item in after}
    changes = []
    for (pointer, message), item in new.items():
        severity = item.get("severity")
        if (pointer, message) not in old:
            changes.append(Change(f"/findings{pointer}", f"{severity} at {pointer}: {message}", "added", None,
                                  severity, rank=0 if severity == "error" else 2, bare=True))
        elif old[(pointer, message)].get("severity") != severity:
            changes.append(Change(f"/findings{pointer}", f"at {pointer}: {message}", "changed",
                                  old[(pointer, message)].get("severity"), severity, rank=1))
    for (pointer, message), item in old.items():
        if (pointer, message) not in new:
            changes.append(Change(f"/findings{pointer}", f"{item.get('severity')} at {pointer}: {message}", "removed",
                                  item.get("severity"), None, rank=3, bare=True))
    return sorted(changes, key=lambda change: change.rank)


def shown(value: Any) -> str:
    """A value as a reviewer reads it: numbers with thousands separators, text as it is, lists joined."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) < 1e15 else f"{value:.3g}"
    if isinstance(value, str):
        return " ".join(visible(value).split()) or '""'
    if isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
        return "[" + ", ".join(shown(item) for item in value) + "]"
    return visible(json.dumps(value, ensure_ascii=False, sort_keys=True))


def diff_text(result: CardDiff) -> str:
    if result.equal:
        return f"{result.old.path} and {result.new.path}: no changes\n"
    out = [f"--- {result.old.path}", f"+++ {result.new.path}"]
    for name, title in GROUPS:
        changes = result.groups[name]
        if not changes:
            continue
        out.append(f"{title}:")
        for change in changes:
            out.extend(_change_lines(change))
    out.append(f"{result.count} change(s)")
    return "\n".join(out) + "\n"


def _change_lines(change: Change) -> list[str]:
    if change.bare:
        return [f"  {'+' if change.kind == 'added' else '-'} {visible(change.label)}"]
    if change.kind == "added":
        return [f"  + {change.label}: {shown(change.new)}"]
    if change.kind == "removed":
        return [f"  - {change.label}: {shown(change.old)}"]
    old, new = shown(change.old), shown(change.new)
    if len(old) + len(new) + len(change.label) > 100:
        return [f"  ~ {change.label}:", f"      - {old}", f"      + {new}"]
    return [f"  ~ {change.label}: {old} -> {new}"]


def diff_data(result: CardDiff) -> dict[str, Any]:
    return {
        "old": str(result.old.path),
        "new": str(result.new.path),
        "equal": result.equal,
        "changes": result.count,
        "groups": [{"name": name, "title": title,
                    "changes": [{"pointer": change.pointer, "label": change.label, "kind": change.kind,
                                 "old": change.old, "new": change.new} for change in result.groups[name]]}
                   for name, title in GROUPS],
    }
