"""Turn a validated record into what the templates show: rows and phrases, computed once, here, and escaped for
the format they go into (modelcard.card.escape). Templates only format (STYLE.md 2).

Every value is checked before it is formatted: a record that validates may hold null almost anywhere, and an
unknown value is shown with the reason the record gives for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeGuard

from modelcard.base.wording import humane, number, plural, round_numbers_in
from modelcard.card.escape import (  # noqa: F401 (re-exported: the names templates' callers have used)
    MARKDOWN,
    PLAIN,
    Escaper,
    as_text,
    invisible,
    md_cell,
    md_code,
    md_item,
    md_line,
    md_text,
    visible,
)
from modelcard.card.finding_groups import group_findings, terms_used
from modelcard.card.index_spans import index_span_list, index_spans  # noqa: F401 (index_spans: re-exported)
from modelcard.card.kv_plan import kv_plan
from modelcard.card.layer_pattern import layers_pattern
from modelcard.card.probe_notes import cause, twin_note
from modelcard.card.status import badge, declared, status_items
from modelcard.record.vocabulary import LONG_CONTEXT_PROBES

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
# Hub metadata a person may declare too; shown as their own sections when present, never asked for
METADATA_TITLES = {"language": "Language", "base_model": "Base model"}
UNKNOWN_WORDS = {"not-applicable": "not applicable", "unknown": "unknown", "not-measured": "not measured"}
FOLD_AFTER = 4  # index spans shown before the rest of a long list is folded away


# Phrases (plain text, escaped where they are placed) -----------------------------------------------------------


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def human_bytes(count: float | None) -> str:
    """`1 KiB`, `89.9 MiB`, `140 KiB`, `5 GiB`: three significant figures at most."""
    if not _is_number(count):
        return "unknown"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            if unit == "B":
                return f"{int(value):,} B"
            text = f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}" if abs(value) < 1e6 else f"{value:.3g}"
            return f"{text.removesuffix('.0')} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_count(count: int | None) -> str:
    if not _is_number(count):
        return "unknown"
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= limit:
            return f"{count / limit:.2f}{suffix}"
    return number(count)


def tokens(count: int | None) -> str:
    return f"{number(count)} tokens" if _is_number(count) else "unknown"


def short_tokens(count: int) -> str:
    """`4K (4,096)` for the lengths people plan in, else `3,000`."""
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024:,}K ({count:,})"
    return f"{count:,}"


def layer_runs(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per stack, kind and window, in order of first appearance, with the layers that have it; a list
    of more than FOLD_AFTER spans is given whole (`layers`) and short (`layers_short`)."""
    groups: dict[tuple, list[int]] = {}
    for layer in layers:
        groups.setdefault((layer["stack"], layer["kind"], layer["window"]), []).append(layer["index"])
    rows = []
    for (stack, kind, window), indices in groups.items():
        spans = index_span_list(indices)
        short = ", ".join(spans[:FOLD_AFTER]) + (f", … ({len(spans) - FOLD_AFTER} more runs)"
                                                 if len(spans) > FOLD_AFTER else "")
        rows.append({"layers": ", ".join(spans), "layers_short": short, "count": len(indices), "stack": stack,
                     "kind": kind, "window": tokens(window) if window else "—"})
    return rows


def layer_pattern(layers: list[dict[str, Any]]) -> str:
    return layers_pattern(layers)


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


def tally(items: list[dict[str, Any]], key: str, order: tuple[str, ...], nouns: dict[str, str] | None = None) -> str:
    """`5 pass, 1 fail` or (with nouns) `1 error, 2 warnings` in the given order, leaving out what did not occur."""
    counts = [(value, sum(item[key] == value for item in items)) for value in order]
    return ", ".join(plural(n, value, (nouns or {}).get(value, value)) for value, n in counts if n)


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
    text = f"RoPE, θ = {number(rope['theta'])}" if _is_number(rope.get("theta")) else "RoPE, θ unknown"
    if _is_number(rope.get("partial_rotary_factor")) and rope["partial_rotary_factor"] != 1:
        text += f", rotary fraction {number(rope['partial_rotary_factor'])}"
    scaling = rope.get("scaling")
    if scaling:
        text += f"; {scaling.get('type') or 'unnamed'} scaling"
        if _is_number(scaling.get("factor")):
            text += f" × {number(scaling['factor'])}"
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
        if isinstance(rule.get("set_by"), str):
            head += f" (the {rule['set_by']} family: the shortest over the task families that ran)"
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


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _percent(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def long_context(record: dict[str, Any], escape: Escaper = PLAIN) -> dict[str, Any] | None:
    """The "Measured long-context behaviour" section: the effective context and its rule, one plain sentence per
    retrieval probe (or why it did not measure), and passkey-grid's depth x length table."""
    probes = {p["id"]: p for p in record["probes"] if p["id"] in LONG_CONTEXT_PROBES}
    if not probes:
        return None
    lines = []
    for probe_id in LONG_CONTEXT_PROBES:
        probe = probes.get(probe_id)
        if probe is None:
            continue
        summary = (probe.get("details") or {}).get("summary")
        if probe["status"] in ("pass", "fail") and isinstance(summary, str) and summary:
            text = _sentence(round_numbers_in(summary))
        else:
            text = _sentence(f"not measured: {probe.get('reason') or 'status ' + probe['status']}")
        lines.append({"id": escape.code(probe_id), "badge": _badge(probe["status"], escape),
                      "text": escape.line(text)})
    grid = None
    details = (probes.get("passkey-grid") or {}).get("details") or {}
    lengths = [n for n in details.get("lengths") or [] if isinstance(n, int) and not isinstance(n, bool)]
    if isinstance(details.get("grid"), list) and details["grid"] and lengths:
        rows = [row for row in details["grid"] if isinstance(row, dict)]
        grid = {"lengths": [f"{n:,}" for n in lengths],
                "rows": [{"depth": _percent(row.get("depth")),
                          "cells": [_percent(_mapping(row.get("scores")).get(str(n))) for n in lengths]}
                         for row in rows],
                "skipped": [escape.item(f"{item['length']:,} tokens: {item.get('reason') or 'not run'}")
                            for item in details.get("skipped_lengths") or []
                            if isinstance(item, dict) and isinstance(item.get("length"), int)]}
    effective = _effective_line(record)
    families = _families(record, escape)
    return {"effective": escape.line(effective) if effective else None, "lines": lines, "grid": grid,
            "families": families}


def _families(record: dict[str, Any], escape: Escaper) -> dict[str, Any] | None:
    """The task families against lengths: each family's score by length (what it counts named in its row) and its
    effective context."""
    rule = _mapping(record["context_window"].get("effective_rule"))
    rows = [row for row in rule.get("families") or [] if isinstance(row, dict)]
    if not rows:
        return None
    lengths = sorted({int(n) for row in rows for n in _mapping(row.get("scores")) if str(n).isdigit()})
    shown = []
    for row in rows:
        scores = _mapping(row.get("scores"))
        value = row.get("value")
        verdict = ("cannot do the task" if row.get("cannot_do") else
                   tokens(value) if isinstance(value, int) and not isinstance(value, bool) else "—")
        shown.append({"family": escape.cell(str(row.get("family"))), "probe": escape.code(str(row.get("probe"))),
                      "measure": escape.cell(str(row.get("measure") or "exact match")),
                      "cells": [_percent(scores.get(str(n))) for n in lengths], "effective": escape.cell(verdict)})
    set_by = rule.get("set_by")
    return {"lengths": [f"{n:,}" for n in lengths], "rows": shown,
            "set_by": escape.cell(set_by) if isinstance(set_by, str) else None}


def _badge(word: str, escape: Escaper) -> dict[str, str]:
    shown = badge(word)
    return {"word": escape.cell(word), "symbol": shown.symbol, "tone": shown.tone, "emoji": shown.emoji,
            "markdown": escape.cell(f"{shown.emoji} {word}")}


def _probe_result(probe: dict[str, Any]) -> str:
    value = probe["value"]
    shown = humane(value, limit=80)
    unit = f" {probe['unit']}" if probe.get("unit") and value is not None else ""
    if probe.get("unit") == "B" and _is_number(value):
        shown, unit = human_bytes(value), ""
    return f"{probe['metric']} = {shown}{unit}" if probe.get("metric") else f"{shown}{unit}"


def _ran_with(probe: dict[str, Any]) -> str:
    """`sdpa and eager on cpu, 0.04 s`."""
    kernel = probe.get("kernel")
    text = " and ".join(part.strip() for part in kernel.split(",")) if isinstance(kernel, str) and kernel else ""
    if probe.get("device"):
        text += f" on {probe['device']}" if text else f"on {probe['device']}"
    duration = probe.get("duration_s")
    if _is_number(duration):
        text += f", {duration:.2f} s" if text else f"{duration:.2f} s"
    return text or "—"


def probe_rows(record: dict[str, Any], escape: Escaper = PLAIN) -> list[dict[str, Any]]:
    rows = []
    real_kv = human_bytes(record["kv_cache"].get("bytes_per_token"))
    for probe in record["probes"]:
        notes = [round_numbers_in(probe["reason"])] if probe.get("reason") else []
        if note := twin_note(probe, record, real_kv):
            notes.append(note)
        why = cause(probe, record)
        rows.append({"id": escape.cell_code(probe["id"]), "title": escape.cell(probe["title"]),
                     "status": escape.cell(probe["status"]), "badge": _badge(probe["status"], escape),
                     "result": escape.cell(_probe_result(probe) + (" (twin)" if probe.get("twin") else "")),
                     "ran_with": escape.cell(_ran_with(probe)),
                     "note": escape.cell("; ".join(notes)) if notes else "",
                     "cause": escape.line(why) if why else None})
    return rows


def _finding_values(item: dict[str, Any]) -> str:
    if item.get("declared") is None and item.get("measured") is None:
        return ""
    return f"Declared or detected: {humane(item.get('declared'))}; measured: {humane(item.get('measured'))}."


def finding_rows(record: dict[str, Any], escape: Escaper = PLAIN) -> list[dict[str, Any]]:
    """Errors first, then warnings, then info; each in words with its numbers rounded, and the same finding about
    several layers in one row (modelcard.card.finding_groups)."""
    order = {"error": 0, "warning": 1, "info": 2}
    items = sorted(record["findings"], key=lambda item: order.get(item["severity"], 3))
    rows = []
    for group in group_findings(items):
        item = group.item
        more = len(group.layers) - 1
        rows.append({"severity": escape.cell(item["severity"]), "badge": _badge(item["severity"], escape),
                     "pointer": escape.cell_code(item["pointer"]),
                     "more": escape.cell(f"and the same for {plural(more, 'more layer')}") if more > 0 else "",
                     "message": escape.cell(_sentence(round_numbers_in(group.message))),
                     "compared": escape.cell(_finding_values(item)), "probe": escape.cell(item.get("probe") or "")})
    return rows


def finding_terms(record: dict[str, Any], escape: Escaper = PLAIN) -> list[dict[str, str]]:
    """A line for each measured word the card's findings use ("irregular", "not proof", ...)."""
    return [{"word": escape.cell(word), "meaning": escape.cell(meaning)}
            for word, meaning in terms_used([str(item.get("message", "")) for item in record["findings"]])]


def _title(key: str) -> str:
    return DISCLOSURE_TITLES.get(key) or METADATA_TITLES.get(key) or key.replace("_", " ").strip().capitalize() \
        or '""'


def disclosure_rows(record: dict[str, Any], escape: Escaper = PLAIN) -> list[dict[str, Any]]:
    """One section per declared disclosure: the named ones in a fixed order, then any others the authors added,
    titled by their key. The undeclared named ones are left to `undeclared`."""
    disclosures = record["disclosures"]
    rows = []
    keys = list(DISCLOSURE_TITLES) + [k for k in disclosures if k not in DISCLOSURE_TITLES
                                      and k not in ("overrides", "model_name")]  # the name is the card's title
    for key in keys:
        value = disclosures.get(key)
        if not declared(value):
            continue
        row: dict[str, Any] = {"title": escape.line(_title(key)), "entries": None, "text": None}
        if isinstance(value, list):
            row["entries"] = [escape.item(item) for item in value] or None
        else:
            row["text"] = escape.text(value) or None
        rows.append(row)
    return rows


def undeclared(record: dict[str, Any], escape: Escaper = PLAIN) -> dict[str, Any] | None:
    """The named disclosures nobody declared, in one line with the keys to add."""
    keys = [key for key in DISCLOSURE_TITLES if not declared(record["disclosures"].get(key))]
    if not keys:
        return None
    return {"titles": escape.line(", ".join(DISCLOSURE_TITLES[key].lower() for key in keys)),
            "keys": [escape.code(key) for key in keys]}


def kv_section(record: dict[str, Any], escape: Escaper = PLAIN) -> dict[str, Any] | None:
    plan = kv_plan(record)
    if plan is None or not plan.rows:
        return None
    dtype = record["kv_cache"].get("dtype")
    assumed = record.get("provenance", {}).get("/kv_cache/dtype") == "derived"
    heads = [f"{name}" + (" (cache dtype, assumed)" if i == 0 and assumed else " (cache dtype)" if i == 0 else "")
             for i, name in enumerate(plan.dtypes)]
    note = "Each figure is the cache of one sequence: a server holding N sequences at once needs N times as much."
    if plan.state_bytes:
        note += f" It includes {human_bytes(plan.state_bytes)} of fixed-size recurrent state, kept at {dtype}."
    return {"heads": [escape.cell(head) for head in heads],
            "rows": [{"tokens": escape.cell(short_tokens(row.tokens) + (" (declared window)" if row.declared else "")),
                      "cells": [escape.cell(human_bytes(size)) for size in row.bytes]} for row in plan.rows],
            "note": escape.line(note)}


def changes_section(record: dict[str, Any], escape: Escaper = PLAIN) -> dict[str, Any] | None:
    """The "Changes since" section of a card made with --previous: its title and one line per change."""
    changes = record.get("changes")
    if not changes:
        return None
    previous = changes["previous"]
    model = previous.get("model") or {}
    version = model.get("revision") or (model.get("weights_sha256") or model.get("config_sha256") or "")[:12]
    title = f"Changes since {previous.get('file') or 'the previous card'}" + (
        f" ({model.get('id')}{', ' + version if version else ''})" if model.get("id") else "")
    return {"title": escape.line(title),
            "items": [{"text": escape.item(item["text"]), "regression": item["regression"]}
                      for item in changes["items"]]}


def card_title(record: dict[str, Any]) -> str:
    """The disclosures' `model_name` where the authors wrote one, else the model's id."""
    name = (record.get("disclosures") or {}).get("model_name")
    return name.strip() if isinstance(name, str) and name.strip() else str(record["model"]["id"])


def architecture_phrase(record: dict[str, Any]) -> str:
    """`LlamaForCausalLM (llama)`: the class that was built and transformers' family name."""
    model = record["model"]
    family = model.get("model_type")
    return f"{model['class_name']} ({family})" if family else str(model["class_name"])


def size_phrase(record: dict[str, Any]) -> str:
    """`hidden size 576, vocabulary 49,152 tokens, input and output embeddings tied`."""
    architecture = record["architecture"]
    parts = []
    if _is_number(architecture.get("hidden_size")):
        parts.append(f"hidden size {number(architecture['hidden_size'])}")
    if _is_number(architecture.get("vocab_size")):
        parts.append(f"vocabulary {number(architecture['vocab_size'])} tokens")
    tied = architecture.get("tied_embeddings")
    if tied is not None:
        parts.append("input and output embeddings tied" if tied else "separate input and output embeddings")
    return ", ".join(parts) or "not stated"


def gguf_phrase(gguf: dict[str, Any]) -> str:
    """`Q4_1, 5.74 bits per weight, 93.8 MiB (37% of float16)`."""
    bpw, share = gguf.get("bits_per_weight"), gguf.get("size_vs_float16")
    return (f"{gguf.get('file_type') or 'file type not stated'}, "
            + (f"{bpw:.2f} bits per weight, " if bpw is not None else "")
            + human_bytes(gguf["bytes"]) + (f" ({share:.0%} of float16)" if share is not None else ""))


def quantization_section(record: dict[str, Any], escape: Escaper = PLAIN) -> dict[str, Any] | None:
    """A GGUF input's quantization: one sentence, a table by ggml type and one by tensor family; None otherwise."""
    gguf = record["model"].get("gguf")
    if not gguf:
        return None
    bpw = gguf.get("bits_per_weight")
    share = gguf.get("size_vs_float16")
    parts = f" in {gguf['parts']} parts" if gguf["parts"] > 1 else ""
    kind = gguf.get("file_type") or "not stated"
    sentence = (f"{gguf['file']}{parts}: GGUF version {gguf['version']}, file type {kind}"
                f"; {f'{bpw:.2f}' if bpw is not None else 'unknown'} bits per weight over all tensors; "
                f"{human_bytes(gguf['bytes'])} against {human_bytes(gguf['float16_bytes'])} in float16"
                + (f" ({share:.0%})" if share is not None else "") + f". The probes ran on {gguf['probed_weights']}.")

    def bits(tally: dict[str, int]) -> str:
        return f"{8 * tally['bytes'] / tally['elements']:.2f}" if tally["elements"] else "—"

    by_type = sorted(gguf["types"].items(), key=lambda item: -item[1]["bytes"])
    return {
        "sentence": escape.line(sentence),
        "types": [{"type": escape.cell(name), "tensors": escape.cell(number(t["count"])),
                   "weights": escape.cell(human_count(t["elements"])), "bytes": escape.cell(human_bytes(t["bytes"])),
                   "bits": escape.cell(bits(t))} for name, t in by_type],
        "families": [{"family": escape.cell_code(row["family"]), "type": escape.cell(row["type"]),
                      "tensors": escape.cell(number(row["count"])), "bytes": escape.cell(human_bytes(row["bytes"])),
                      "bits": escape.cell(bits(row))} for row in gguf["tensors"]],
    }


def charts_view(charts: Sequence[Any], markdown: bool) -> dict[str, Any]:
    """Each drawn chart by name: the Markdown image (its PNG beside README.md) or the inline SVG for HTML."""
    from markupsafe import Markup

    from modelcard.card.chart_data import CHART_NAMES

    shown: dict[str, Any] = dict.fromkeys(CHART_NAMES)
    for chart in charts:
        spec = chart.spec
        if markdown:
            alt = md_line(f"{spec.title}. {spec.alt}").replace("]", "\\]")
            shown[spec.name] = {"image": f"![{alt}]({spec.file_name})"}
        else:
            shown[spec.name] = {"svg": Markup(chart.svg), "caption": visible(spec.alt)}  # noqa: S704 (drawn here)
    return shown


def present(record: dict[str, Any], markdown: bool = False, charts: Sequence[Any] = ()) -> dict[str, Any]:
    """Everything the Markdown (`markdown=True`) or the HTML template shows, escaped for it. Plain, the strings
    are the text itself with invisible characters made visible (the HTML template autoescapes markup).
    `charts` are the drawn charts (modelcard.card.charts.DrawnChart) to place."""
    escape = MARKDOWN if markdown else PLAIN
    model = record["model"]
    suite = record.get("probe_suite") or {}
    context = context_phrase(record)
    probes = probe_rows(record, escape)
    facts = [
        ("Architecture", architecture_phrase(record)),
        ("Architecture class", record["architecture"]["class"] or _why(record, "/architecture/class")),
        ("Parameters", f"{human_count(model['parameters'])} ({number(model['parameters'])})"
         if _is_number(model.get("parameters")) else _why(record, "/model/parameters")),
        ("Weights dtype", model.get("dtype") or _why(record, "/model/dtype")),
        *([("Quantization (GGUF)", gguf_phrase(model["gguf"]))] if model.get("gguf") else []),
        ("Size", size_phrase(record)),
        ("Attention variant", attention_variant(record)),
        ("Layers", layer_pattern(record["attention"]["layers"])),
        ("Masking", masking_phrase(record)),
        ("Position encoding", position_phrase(record)),
        ("Context window (declared)", context["declared"]),
        ("Context window (before scaling)", context["original"]),
        ("Context window (effective, measured)", context["effective"]),
        ("KV cache per token", kv_phrase(record)),
        ("Attention kernel", record["attention"]["implementation"] or _why(record, "/attention/implementation")),
        ("Attention features", ", ".join(map(str, record["attention"]["features"])) or "none detected"),
        ("Probes", tally(record["probes"], "status", ("pass", "fail", "error", "skipped"))
         or f"none ran (suite {suite.get('name', 'none')})"),
        ("Findings", tally(record["findings"], "severity", ("error", "warning", "info"),
                           {"error": "errors", "warning": "warnings", "info": "info"}) or "none"),
    ]
    inspection = record.get("inspection") or {}
    status = status_items(record)
    worst = next((item.badge.tone for item in status if item.badge.tone in ("bad", "warn")), "good")
    twin = any(p.get("twin") for p in record["probes"]) or bool(suite.get("twin"))
    return {
        "title": escape.line(card_title(record)),
        "schema_version": escape.line(record["schema_version"]),
        "status": [{"badge": _badge(item.badge.word, escape), "text": escape.line(item.text)} for item in status],
        "status_tone": worst,
        "facts": [{"name": name, "value": escape.cell(value)} for name, value in facts],
        "layer_pattern": escape.line(layer_pattern(record["attention"]["layers"])),
        "layer_runs": [{key: escape.cell(value) for key, value in run.items()}
                       for run in layer_runs(record["attention"]["layers"])],
        "kv": kv_section(record, escape),
        "quantization": quantization_section(record, escape),
        "changes": changes_section(record, escape),
        "kv_per_token": escape.line(kv_phrase(record)),
        "probe_rows": probes,
        "probe_notes": any(row["note"] for row in probes),
        "long_context": long_context(record, escape),
        "probe_note": escape.line(suite.get("note", "")),
        "suite": escape.code(suite.get("name", "none")),
        "twin": twin,
        "findings": finding_rows(record, escape),
        "finding_terms": finding_terms(record, escape),
        "disclosures": disclosure_rows(record, escape),
        "undeclared": undeclared(record, escape),
        "ignored": [{"key": escape.code(item["key"]), "value": escape.code(item["value"]),
                     "reason": escape.line(item["reason"])} for item in inspection.get("ignored_config_keys", [])],
        "overridden": [{"pointer": escape.code(pointer), "detected": escape.code(detected)}
                       for pointer, detected in (inspection.get("overridden") or {}).items()],
        "unknowns": [{"pointer": escape.cell_code(pointer), "kind": escape.cell(UNKNOWN_WORDS.get(gap["kind"])),
                      "reason": escape.cell(gap["reason"])} for pointer, gap in record["unknowns"].items()],
        "library": {name: escape.line(version) for name, version in model["library"].items()},
        "generator": {name: escape.line(value) for name, value in record["generator"].items()},
        "charts": charts_view(charts, markdown),
    }
