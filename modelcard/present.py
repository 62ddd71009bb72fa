"""Turn a validated record into what the templates show: rows and phrases, computed once, here.
Templates only format (STYLE.md 2)."""

from __future__ import annotations

import itertools
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
    return f"{UNKNOWN_WORDS[gap['kind']]}: {gap['reason']}" if gap else "unknown"


def attention_variant(record: dict[str, Any]) -> str:
    heads = record["attention"]["heads"]
    grouping = heads.get("grouping") or "unknown grouping"
    if grouping == "none":
        return "no attention: tokens are mixed by recurrent or state-space layers"
    if heads.get("query") is None:
        return f"{grouping}: {_why(record, '/attention/heads/query')}"
    if grouping == "MLA":
        mla = heads["mla"]
        return f"MLA, {heads['query']} query heads, latent {mla['kv_lora_rank']} + RoPE {mla['qk_rope_head_dim']}"
    return f"{grouping}: {heads['query']} query heads, {heads['key_value']} KV heads, head size {heads['head_dim']}"


def tally(items: list[dict[str, Any]], key: str, order: tuple[str, ...]) -> str:
    """`2 pass, 1 fail` in the given order, leaving out what did not occur."""
    return ", ".join(f"{n} {value}" for value in order if (n := sum(item[key] == value for item in items)))


def kv_phrase(record: dict[str, Any]) -> str:
    kv = record["kv_cache"]
    if kv["bytes_per_token"] is None:
        return _why(record, "/kv_cache/bytes_per_token")
    text = f"{human_bytes(kv['bytes_per_token'])} ({kv['dtype']}, {kv['source']})"
    if kv["constant_state_bytes"]:
        text += f", plus {human_bytes(kv['constant_state_bytes'])} of constant recurrent state"
    return text


def position_phrase(record: dict[str, Any]) -> str:
    position = record["position"]
    if position["kind"] != "rope" or not position["rope"]:
        return position["kind"] or _why(record, "/position/kind")
    rope = position["rope"]
    text = f"RoPE, θ = {rope['theta']:g}"
    if rope["partial_rotary_factor"] not in (None, 1, 1.0):
        text += f", rotary fraction {rope['partial_rotary_factor']:g}"
    scaling = rope["scaling"]
    if scaling:
        text += f"; {scaling['type']} scaling × {scaling['factor']:g} from {tokens(scaling['original_context'])}"
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


def cell(value: Any) -> str:
    """One table cell: compact JSON for structures, and no `|`, which would split a Markdown row."""
    import json

    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "∣").replace("\n", " ")


def probe_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for probe in record["probes"]:
        value = probe["value"]
        shown = "—" if value is None else f"{value:.3g}" if isinstance(value, float) else cell(value)
        unit = f" {probe['unit']}" if probe["unit"] and value is not None else ""
        notes = [probe["reason"]] if probe["reason"] else []
        if probe.get("twin"):
            notes.append("ran on a shrunken twin")
        duration = probe.get("duration_s")
        rows.append({"id": probe["id"], "title": cell(probe["title"]), "status": probe["status"],
                     "result": cell(f"{probe['metric']} = {shown}{unit}" if probe["metric"] else shown),
                     "kernel": probe["kernel"] or "—", "device": probe["device"] or "—",
                     "time": f"{duration:.2f} s" if duration is not None else "—", "note": cell("; ".join(notes))
                     if notes else ""})
    return rows


def finding_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"severity": item["severity"], "pointer": item["pointer"], "declared": cell(item["declared"]),
             "measured": cell(item["measured"]), "message": cell(item["message"]), "probe": item.get("probe") or "—"}
            for item in record["findings"]]


def disclosure_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    disclosures = record["disclosures"]
    rows = []
    keys = list(DISCLOSURE_TITLES) + [k for k in disclosures if k not in DISCLOSURE_TITLES and k != "overrides"]
    for key in keys:
        value = disclosures.get(key)
        title = DISCLOSURE_TITLES.get(key, key.replace("_", " ").capitalize())
        if isinstance(value, list):
            rows.append({"title": title, "entries": [str(item) for item in value], "text": None})
        elif value is None or value == "":
            rows.append({"title": title, "entries": None, "text": None})
        else:
            rows.append({"title": title, "entries": None, "text": str(value)})
    return rows


def present(record: dict[str, Any]) -> dict[str, Any]:
    """Everything the Markdown and HTML templates show."""
    model = record["model"]
    kv = record["kv_cache"]
    facts = [
        ("Architecture class", record["architecture"]["class"] or _why(record, "/architecture/class")),
        ("Parameters", f"{human_count(model['parameters'])} ({model['parameters']:,})"
         if model["parameters"] is not None else "unknown"),
        ("Weights dtype", model["dtype"]),
        ("Attention variant", attention_variant(record)),
        ("Layers", layer_pattern(record["attention"]["layers"])),
        ("Masking", masking_phrase(record)),
        ("Position encoding", position_phrase(record)),
        ("Context window (declared)", context_phrase(record)["declared"]),
        ("Context window (before scaling)", context_phrase(record)["original"]),
        ("Context window (effective, measured)", context_phrase(record)["effective"]),
        ("KV cache per token", kv_phrase(record)),
        ("Attention kernel", record["attention"]["implementation"] or _why(record, "/attention/implementation")),
        ("Attention features", ", ".join(record["attention"]["features"]) or "none detected"),
        ("Probes", tally(record["probes"], "status", ("pass", "fail", "error", "skipped"))
         or f"none ran (suite {record.get('probe_suite', {}).get('name', 'none')})"),
        ("Findings", tally(record["findings"], "severity", ("error", "warning", "info")) or "none"),
    ]
    return {
        "title": model["id"],
        "record": record,
        "facts": [{"name": name, "value": value} for name, value in facts],
        "layer_runs": layer_runs(record["attention"]["layers"]),
        "kv_rows": [{"tokens": f"{row['tokens']:,}", "bytes": human_bytes(row["bytes"])} for row in kv["bytes_at"]],
        "probe_rows": probe_rows(record),
        "probe_note": record.get("probe_suite", {}).get("note", ""),
        "suite": record.get("probe_suite", {}).get("name", "none"),
        "findings": finding_rows(record),
        "disclosures": disclosure_rows(record),
        "ignored": record.get("inspection", {}).get("ignored_config_keys", []),
        "overridden": record.get("inspection", {}).get("overridden", {}),
        "unknowns": [{"pointer": pointer, "kind": UNKNOWN_WORDS[gap["kind"]], "reason": gap["reason"]}
                     for pointer, gap in record["unknowns"].items()],
        "library": model["library"],
        "generator": record["generator"],
    }
