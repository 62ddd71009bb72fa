"""Turn a validated record into what the templates show: rows and phrases, computed once, here, and escaped for
the format they go into. Templates only format (STYLE.md 2).

Every string in a record may come from someone else's files (a folder name, a config, a hand-typed
modelcard.yaml), so every one that is shown leaves through an escaper: `visible` for the HTML card (Jinja
autoescapes markup there) and the terminal, the `md_*` helpers for README.md, where nobody else escapes it."""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DISCLOSURE_TITLES = {
    "intended_use": "Intended use",
    "out_of_scope_use": "Out-of-scope use",
    "retrieval_mechanism": "Retrieval mechanism",
    "tool_access": "Tool access",
    "known_failure_modes": "Known failure modes",
    "training_data": "Training data",
    "license": "License",
    "contact": "Contact",
}
UNKNOWN_WORDS = {"not-applicable": "not applicable", "unknown": "unknown", "not-measured": "not measured"}


# Escaping ------------------------------------------------------------------------------------------------------

# Controls (C0, C1, DEL), format characters (bidi embeddings, overrides and isolates, LRM/RLM/ALM, zero-width
# characters, the BOM, soft hyphens, tag characters), lone surrogates, line and paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e\n\t]")
# Backslash-escaped wherever they stand: `\` and the characters that open code, emphasis, strikethrough,
# links and images, raw HTML and entities, and table cells.
_MD_ANYWHERE = re.compile(r"[\\`*~\[<&|]")
_MD_UNDERSCORES = re.compile(r"_+")
# At the start of a line: ATX headings, block quotes, list items, setext underlines and thematic breaks,
# ordered list items (`1.` / `1)` before a space).
_MD_LINE_START = re.compile(r"^(?:([#>+=-])|(\d+)([.)])(?=[ \t]|$))")
_MD_CLOSING_HASHES = re.compile(r"(?:^|(?<= ))#+$")
_BACKTICKS = re.compile(r"`+")


def as_text(value: Any) -> str:
    """A value as one string: strings as they are, anything else as compact JSON, null as a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON (a record is, once validated) or an integer too long to print
        return "(a value that cannot be shown)"


def _escape_character(character: str) -> str:
    code = ord(character)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def invisible(character: str) -> bool:
    return unicodedata.category(character) in _INVISIBLE_CATEGORIES


def visible(value: Any) -> str:
    """The text with every invisible or control character shown as an escape like `\\u202e`, so that no bidi
    override reorders what a reader sees and nothing hides in zero-width characters. Newlines and tabs stay."""
    text = as_text(value).replace("\r\n", "\n").replace("\r", "\n")
    if not _NOT_PRINTABLE_ASCII.search(text):
        return text
    return "".join(_escape_character(c) if c not in "\n\t" and invisible(c) else c for c in text)


def _escape_underscores(match: re.Match[str]) -> str:
    """`_` inside a word (`sliding_window`) can neither open nor close emphasis; any other run is escaped."""
    text, start, end = match.string, match.start(), match.end()
    if start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum():
        return match.group()
    return "\\_" * (end - start)


def _md_inline(text: str) -> str:
    return _MD_UNDERSCORES.sub(_escape_underscores, _MD_ANYWHERE.sub(r"\\\g<0>", text))


def _md_line_start(line: str) -> str:
    """No indentation (an indented code block) and nothing at the start that opens a block."""
    line = line.strip(" \t")
    return _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line, count=1)


def _one_line(value: Any) -> str:
    return visible(value).replace("\n", " ").replace("\t", " ")


def md_cell(value: Any) -> str:
    """One Markdown table cell: one line, `|` escaped, no markup, no HTML."""
    return _md_inline(_one_line(value)).strip(" ")


def md_line(value: Any) -> str:
    """Text within one line of Markdown (a sentence, a heading): no line break, no markup, no HTML, and no `#`
    at its end that would close a heading."""
    return _MD_CLOSING_HASHES.sub(r"\\\g<0>", _md_inline(_one_line(value)).strip(" "))


def md_item(value: Any) -> str:
    """A list item's text: one line, like `md_line`, that also cannot start a block (a heading, a quote, a
    nested list, a thematic break, HTML)."""
    return _md_line_start(md_line(value))


def md_text(value: Any) -> str:
    """Paragraphs of Markdown from declared text: the lines stay, each neutralised like `md_item` (a line
    cannot start a block, so it cannot end the paragraph either, or underline it into a heading)."""
    lines = [_md_line_start(_md_inline(line)) for line in visible(value).replace("\t", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def md_code(value: Any, table: bool = False) -> str:
    """An inline code span around the text, with delimiters longer than any run of backticks inside it.
    In a table a `|` would end the cell even inside code, so such text is shown as escaped plain text."""
    text = _one_line(value)
    if not text:
        return '`""`'
    if table and "|" in text:
        return md_cell(text)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if "`" in (text[0], text[-1]) or (text[0] == text[-1] == " " and text.strip(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@dataclass(frozen=True)
class Escaper:
    """How a shown string is escaped in each place a template puts it."""

    text: Callable[[Any], str]  # paragraphs
    line: Callable[[Any], str]  # within one line: sentences, headings
    item: Callable[[Any], str]  # a list item (one line)
    cell: Callable[[Any], str]  # a table cell
    code: Callable[[Any], str]  # inline code (Markdown: the span with its delimiters)
    cell_code: Callable[[Any], str]  # inline code in a table cell


MARKDOWN = Escaper(md_text, md_line, md_item, md_cell, md_code, lambda value: md_code(value, table=True))
PLAIN = Escaper(visible, visible, visible, visible, visible, visible)  # HTML (autoescaped by Jinja) and the terminal


# Phrases (plain text, escaped where they are placed) -----------------------------------------------------------


def human_bytes(count: int | None) -> str:
    if count is None:
        return "unknown"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_count(count: int | None) -> str:
    if count is None:
        return "unknown"
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= limit:
            return f"{count / limit:.2f}{suffix}"
    return str(count)


def tokens(count: int | None) -> str:
    return f"{count:,} tokens" if count is not None else "unknown"


def index_spans(indices: list[int]) -> str:
    """Layer indices in few characters: `0–3`, `0, 2, …, 24` (a regular stride), or `0–2, 4–6, 8`."""
    if len(indices) >= 3:
        stride = indices[1] - indices[0]
        if stride > 1 and all(b - a == stride for a, b in itertools.pairwise(indices)):
            return f"{indices[0]}, {indices[1]}, …, {indices[-1]}"
    spans = []
    for _, run in itertools.groupby(enumerate(indices), key=lambda pair: pair[1] - pair[0]):
        members = [index for _, index in run]
        spans.append(str(members[0]) if len(members) == 1 else f"{members[0]}–{members[-1]}")
    return ", ".join(spans)


def layer_runs(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per stack, kind and window, in order of first appearance, with the layers that have it."""
    groups: dict[tuple, list[int]] = {}
    for layer in layers:
        groups.setdefault((layer["stack"], layer["kind"], layer["window"]), []).append(layer["index"])
    return [{"layers": index_spans(indices), "count": len(indices), "stack": stack, "kind": kind,
             "window": tokens(window) if window else "—"}
            for (stack, kind, window), indices in groups.items()]


def layer_pattern(layers: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for layer in layers:
        label = layer["kind"] + (f" ({layer['window']:,})" if layer["window"] else "")
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{count} × {label}" for label, count in counts.items()) or "no token-mixing layers"


def _why(record: dict[str, Any], pointer: str) -> str:
    gap = record["unknowns"].get(pointer)
    return f"{UNKNOWN_WORDS.get(gap['kind'], gap['kind'])}: {gap['reason']}" if gap else "unknown"


def attention_variant(record: dict[str, Any]) -> str:
    heads = record["attention"]["heads"]
    grouping = heads.get("grouping") or "unknown grouping"
    if grouping == "none":
        return "no attention: tokens are mixed by recurrent or state-space layers"
    if heads.get("query") is None:
        return f"{grouping}: {_why(record, '/attention/heads/query')}"
    if grouping == "MLA":
        mla = heads.get("mla") or {}
        if mla.get("kv_lora_rank") is None:
            return f"MLA, {heads['query']} query heads, latent size unknown"
        rope = f" + RoPE {mla['qk_rope_head_dim']}" if mla.get("qk_rope_head_dim") is not None else ""
        return f"MLA, {heads['query']} query heads, latent {mla['kv_lora_rank']}{rope}"
    if heads.get("key_value") is not None:
        kv = f"{heads['key_value']} KV heads"
    elif per_layer := [n for n in heads.get("key_value_per_layer") or [] if n is not None]:
        kv = f"{min(per_layer)}–{max(per_layer)} KV heads by layer"
    else:
        kv = "KV heads unknown"
    head_dim = f"head size {heads['head_dim']}" if heads.get("head_dim") is not None else "head size unknown"
    return f"{grouping}: {heads['query']} query heads, {kv}, {head_dim}"


def tally(items: list[dict[str, Any]], key: str, order: tuple[str, ...]) -> str:
    """`2 pass, 1 fail` in the given order, leaving out what did not occur."""
    return ", ".join(f"{n} {value}" for value in order if (n := sum(item[key] == value for item in items)))


def kv_phrase(record: dict[str, Any]) -> str:
    kv = record["kv_cache"]
    if kv["bytes_per_token"] is None:
        return _why(record, "/kv_cache/bytes_per_token")
    assumed = record.get("provenance", {}).get("/kv_cache/dtype") == "derived"
    dtype = f"{kv['dtype']}, assumed" if assumed and kv["dtype"] else kv["dtype"] or "dtype unknown"
    text = f"{human_bytes(kv['bytes_per_token'])} ({dtype}, {kv['source']})"
    if kv["constant_state_bytes"]:
        text += f", plus {human_bytes(kv['constant_state_bytes'])} of constant recurrent state"
    return text


def position_phrase(record: dict[str, Any]) -> str:
    position = record["position"]
    stacks = position.get("stacks") or {}
    if position["kind"] == "mixed" and stacks:  # Whisper: sinusoidal encoder, learned decoder
        text = "mixed: " + "; ".join(f"{stack} {kind}" for stack, kind in stacks.items())
        return text + (f"; {_rope_phrase(position)}" if position.get("rope") else "")
    if position["kind"] != "rope" or not position["rope"]:
        return position["kind"] or _why(record, "/position/kind")
    return _rope_phrase(position)


def _rope_phrase(position: dict[str, Any]) -> str:
    rope = position["rope"]
    text = f"RoPE, θ = {rope['theta']:g}" if rope.get("theta") is not None else "RoPE, θ unknown"
    if rope.get("partial_rotary_factor") not in (None, 1, 1.0):
        text += f", rotary fraction {rope['partial_rotary_factor']:g}"
    scaling = rope.get("scaling")
    if scaling:
        text += f"; {scaling.get('type') or 'unnamed'} scaling"
        if scaling.get("factor") is not None:
            text += f" × {scaling['factor']:g}"
        if scaling.get("original_context") is not None:
            text += f" from {tokens(scaling['original_context'])}"
    if position["nope_layers"]:
        text += f"; no position encoding in layers {', '.join(map(str, position['nope_layers']))}"
    return text


def masking_phrase(record: dict[str, Any]) -> str:
    parts = []
    for stack, mask in record["masking"]["stacks"].items():
        text = f"{stack}: {mask['mask']}"
        if mask["window"]:
            text += f", sliding window {mask['window']:,}"
        if mask["chunk"]:
            text += f", chunks of {mask['chunk']:,}"
        parts.append(text)
    return "; ".join(parts) or "no attention"


def context_phrase(record: dict[str, Any]) -> dict[str, str]:
    window = record["context_window"]
    return {
        key: tokens(window[key]) if window[key] is not None else _why(record, f"/context_window/{key}")
        for key in ("declared", "original", "effective")
    }


RETRIEVAL_PROBES = ("passkey-grid", "copy-distance", "multikey-distractors", "position-sensitivity",
                    "injected-instruction")


def _sentence(text: str) -> str:
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith('.') else '.'}" if text else text


def _effective_line(record: dict[str, Any]) -> str | None:
    rule = record["context_window"].get("effective_rule")
    if not rule:
        return None
    value = record["context_window"].get("effective")
    declared = record["context_window"].get("declared")
    window = f" (declared {tokens(declared)})" if declared else ""
    if value is None:
        head = f"Effective context: not measured by {rule['probe']}: {rule.get('reason') or 'no length passed'}"
    else:
        bound = " or more" if rule.get("lower_bound") else ""
        head = f"Effective context: {tokens(value)}{bound}{window}, measured by {rule['probe']}"
    text = f"{head}. Rule: {rule['statement']}"
    if rule.get("base_score") is not None:
        text += f"; base {rule['base_score']:.0%} at {tokens(rule['base_length'])}"
    absolute = rule.get("absolute") or {}
    if absolute:
        shown = tokens(absolute.get("value")) if absolute.get("value") is not None else "no tested length"
        threshold = absolute.get("threshold")
        what = f"a fixed threshold of {threshold:g}" if isinstance(threshold, (int, float)) else "a fixed threshold"
        text += f". Absolute variant (RULER-style, {what}): {shown}"
    return text + "."


def _percent(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def long_context(record: dict[str, Any], escape: Escaper = PLAIN) -> dict[str, Any] | None:
    """The "Measured long-context behaviour" section: the effective context and its rule, one plain sentence per
    retrieval probe (or why it did not measure), and passkey-grid's depth x length table."""
    probes = {p["id"]: p for p in record["probes"] if p["id"] in RETRIEVAL_PROBES}
    if not probes:
        return None
    lines = []
    for probe_id in RETRIEVAL_PROBES:
        probe = probes.get(probe_id)
        if probe is None:
            continue
        summary = (probe.get("details") or {}).get("summary")
        if probe["status"] in ("pass", "fail") and summary:
            lines.append({"id": escape.code(probe_id), "text": escape.line(_sentence(summary))})
        else:
            why = probe.get("reason") or f"status {probe['status']}"
            lines.append({"id": escape.code(probe_id), "text": escape.line(_sentence(f"not measured: {why}"))})
    grid = None
    details = (probes.get("passkey-grid") or {}).get("details") or {}
    if details.get("grid") and details.get("lengths"):
        lengths = [str(n) for n in details["lengths"]]
        grid = {"lengths": [f"{int(n):,}" for n in lengths],
                "rows": [{"depth": _percent(row.get("depth")),
                          "cells": [_percent((row.get("scores") or {}).get(n)) for n in lengths]}
                         for row in details["grid"]],
                "skipped": [escape.item(f"{int(item['length']):,} tokens: {item['reason']}")
                            for item in details.get("skipped_lengths") or [] if "length" in item]}
    effective = _effective_line(record)
    return {"effective": escape.line(effective) if effective else None, "lines": lines, "grid": grid}


def _probe_result(probe: dict[str, Any]) -> str:
    value = probe["value"]
    shown = "—" if value is None else f"{value:.3g}" if isinstance(value, float) else as_text(value)
    unit = f" {probe['unit']}" if probe.get("unit") and value is not None else ""
    return f"{probe['metric']} = {shown}{unit}" if probe.get("metric") else f"{shown}{unit}"


def probe_rows(record: dict[str, Any], escape: Escaper = PLAIN) -> list[dict[str, Any]]:
    rows = []
    for probe in record["probes"]:
        notes = [probe["reason"]] if probe.get("reason") else []
        if probe.get("twin"):
            notes.append("ran on a shrunken twin")
        duration = probe.get("duration_s")
        rows.append({"id": escape.cell_code(probe["id"]), "title": escape.cell(probe["title"]),
                     "status": escape.cell(probe["status"]), "result": escape.cell(_probe_result(probe)),
                     "kernel": escape.cell(probe.get("kernel") or "—"),
                     "device": escape.cell(probe.get("device") or "—"),
                     "time": f"{duration:.2f} s" if duration is not None else "—",
                     "note": escape.cell("; ".join(notes)) if notes else ""})
    return rows


def finding_rows(record: dict[str, Any], escape: Escaper = PLAIN) -> list[dict[str, Any]]:
    return [{"severity": escape.cell(item["severity"]), "pointer": escape.cell_code(item["pointer"]),
             "declared": escape.cell(item["declared"]), "measured": escape.cell(item["measured"]),
             "message": escape.cell(item["message"]), "probe": escape.cell(item.get("probe") or "—")}
            for item in record["findings"]]


def disclosure_rows(record: dict[str, Any], escape: Escaper = PLAIN) -> list[dict[str, Any]]:
    """One section per disclosure: the named ones in a fixed order (undeclared ones say so), then any others the
    authors added, titled by their key."""
    disclosures = record["disclosures"]
    rows = []
    keys = list(DISCLOSURE_TITLES) + [k for k in disclosures if k not in DISCLOSURE_TITLES and k != "overrides"]
    for key in keys:
        value = disclosures.get(key)
        title = DISCLOSURE_TITLES.get(key) or key.replace("_", " ").strip().capitalize() or '""'
        row = {"title": escape.line(title), "entries": None, "text": None}
        if isinstance(value, list):
            row["entries"] = [escape.item(item) for item in value] or None
        elif value is not None and value != "":
            row["text"] = escape.text(value) or None
        rows.append(row)
    return rows


def present(record: dict[str, Any], markdown: bool = False) -> dict[str, Any]:
    """Everything the Markdown (`markdown=True`) or the HTML template shows, escaped for it. Plain, the strings
    are the text itself with invisible characters made visible (the HTML template autoescapes markup)."""
    escape = MARKDOWN if markdown else PLAIN
    model = record["model"]
    kv = record["kv_cache"]
    suite = record.get("probe_suite") or {}
    context = context_phrase(record)
    facts = [
        ("Architecture class", record["architecture"]["class"] or _why(record, "/architecture/class")),
        ("Parameters", f"{human_count(model['parameters'])} ({model['parameters']:,})"
         if model.get("parameters") is not None else _why(record, "/model/parameters")),
        ("Weights dtype", model.get("dtype") or _why(record, "/model/dtype")),
        ("Attention variant", attention_variant(record)),
        ("Layers", layer_pattern(record["attention"]["layers"])),
        ("Masking", masking_phrase(record)),
        ("Position encoding", position_phrase(record)),
        ("Context window (declared)", context["declared"]),
        ("Context window (before scaling)", context["original"]),
        ("Context window (effective, measured)", context["effective"]),
        ("KV cache per token", kv_phrase(record)),
        ("Attention kernel", record["attention"]["implementation"] or _why(record, "/attention/implementation")),
        ("Attention features", ", ".join(record["attention"]["features"]) or "none detected"),
        ("Probes", tally(record["probes"], "status", ("pass", "fail", "error", "skipped"))
         or f"none ran (suite {suite.get('name', 'none')})"),
        ("Findings", tally(record["findings"], "severity", ("error", "warning", "info")) or "none"),
    ]
    inspection = record.get("inspection") or {}
    return {
        "title": escape.line(model["id"]),
        "schema_version": escape.line(record["schema_version"]),
        "facts": [{"name": name, "value": escape.cell(value)} for name, value in facts],
        "layer_runs": [{key: escape.cell(value) for key, value in run.items()}
                       for run in layer_runs(record["attention"]["layers"])],
        "kv_rows": [{"tokens": f"{row['tokens']:,}", "bytes": human_bytes(row["bytes"])} for row in kv["bytes_at"]],
        "probe_rows": probe_rows(record, escape),
        "long_context": long_context(record, escape),
        "probe_note": escape.line(suite.get("note", "")),
        "suite": escape.code(suite.get("name", "none")),
        "findings": finding_rows(record, escape),
        "disclosures": disclosure_rows(record, escape),
        "ignored": [{"key": escape.code(item["key"]), "value": escape.code(item["value"]),
                     "reason": escape.line(item["reason"])} for item in inspection.get("ignored_config_keys", [])],
        "overridden": [{"pointer": escape.code(pointer), "detected": escape.code(detected)}
                       for pointer, detected in (inspection.get("overridden") or {}).items()],
        "unknowns": [{"pointer": escape.cell_code(pointer), "kind": escape.cell(UNKNOWN_WORDS.get(gap["kind"])),
                      "reason": escape.cell(gap["reason"])} for pointer, gap in record["unknowns"].items()],
        "library": {name: escape.line(version) for name, version in model["library"].items()},
        "generator": {name: escape.line(value) for name, value in record["generator"].items()},
    }
