"""`kv-layout`: the cache object the runtime really builds, read back layer by layer: kind, tokens held, bytes
per token, where growth stops; compared with the inspector's formula."""

from __future__ import annotations

import copy
from typing import Any

from modelcard.probe.capping import cap_length, declared_context
from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.registry import probe
from modelcard.probe.shared import bytes_at, bytes_per_token, claimed_windows, put


def measure_layers(ctx: ProbeContext, short: int, long: int) -> list[dict[str, Any]]:
    adapter = ctx.adapter
    half = max(1, short // 2)
    at_half = adapter.cache_layers(adapter.step(ctx.random_ids(half, salt=21))[1])
    at_short = adapter.cache_layers(adapter.step(ctx.random_ids(short, salt=22))[1])
    at_long = adapter.cache_layers(adapter.step(ctx.random_ids(long, salt=23))[1])
    subject_layers = (ctx.subject_facts.get("attention") or {}).get("layers") or []
    rows = []
    for index, (a, b, c) in enumerate(zip(at_half, at_short, at_long, strict=True)):
        per_token = bytes_per_token(a.kv_bytes, b.kv_bytes, short - half)
        cap = c.tokens if c.tokens is not None and c.tokens < long else None
        if per_token == 0 and b.tokens is None:
            kind = "state" if b.state_bytes else "none"
        elif cap is not None:
            detected = subject_layers[index]["kind"] if index < len(subject_layers) else "sliding"
            kind = detected if detected in ("sliding", "chunked") else "sliding"
        else:
            kind = "full"
        row = {"index": index, "kind": kind, "bytes_per_token": per_token, "max_tokens": cap,
               "class": b.class_name, "tokens_held": {str(half): a.tokens, str(short): b.tokens, str(long): c.tokens}}
        if b.state_bytes:
            row["state_bytes"] = b.state_bytes
        rows.append(row)
    return rows


def _dropped(rows: list[dict[str, Any]], half: int, short: int) -> list[int]:
    """Layers that hold fewer tokens than they were given while below their cap."""
    return [row["index"] for row in rows if row["kind"] != "state" and row["tokens_held"][str(short)] is not None
            and (row["tokens_held"][str(half)] != half or row["tokens_held"][str(short)] != short)]


@probe("kv-layout", "The cache the runtime really builds", version=1)
def kv_layout(ctx: ProbeContext, short: int = 8, length: int | None = None, min_length: int = 32, margin: int = 8,
              max_length: int = 16384) -> Outcome:
    if ctx.adapter.cache_argument is None:
        return skipped(f"{type(ctx.adapter.model).__name__}.forward takes no cache")
    windows = claimed_windows(ctx)
    short = max(2, min([short, *(w - 1 for w in windows)]))
    long, capped = cap_length(length or max([min_length, *(w + margin for w in windows)]),
                              [declared_context(ctx.max_length())])
    if long > max_length:
        return skipped(f"reaching the windows needs {long:,} tokens; max_length is {max_length:,}")
    rows = measure_layers(ctx, short, long)
    formula = ctx.subject_facts.get("kv_cache") or {}
    total = sum(row["bytes_per_token"] for row in rows)
    state = sum(row.get("state_bytes", 0) for row in rows)
    outcome = Outcome(status="pass", metric="bytes per token", value=total, unit="B", threshold=None,
                      details={"lengths": [max(1, short // 2), short, long], "layers": rows,
                               "formula_bytes_per_token": formula.get("bytes_per_token"),
                               "constant_state_bytes": state, "twin": ctx.adapter.twin, "capped": capped})
    _compare(ctx, rows, formula, total, outcome)
    dropped = _dropped(rows, max(1, short // 2), short)
    if dropped:
        outcome.details["layers_dropping_tokens"] = dropped
        outcome.status = "fail"
    _record(ctx, rows, total, state, outcome)
    return outcome


def _compare(ctx: ProbeContext, rows: list[dict[str, Any]], formula: dict[str, Any], total: int,
             outcome: Outcome) -> None:
    on = " on the twin" if ctx.adapter.twin else ""
    expected = formula.get("bytes_per_token")
    if expected is not None and expected != total:
        outcome.status = "fail"
        outcome.findings.append(finding(
            "warning", "/kv_cache/bytes_per_token", expected, total,
            f"the cache the runtime builds{on} holds {total:,} B per token; the formula says {expected:,} B"))
    longest = outcome.details["lengths"][-1]
    for row, predicted in zip(rows, formula.get("layers") or [], strict=False):
        said = (predicted["kind"], predicted["bytes_per_token"], predicted["max_tokens"])
        seen = (row["kind"], row["bytes_per_token"], row["max_tokens"])
        if said != seen and _cap_beyond_input(predicted, row, longest):
            # A cap the longest input cannot reach (a window longer than the model's context): untested, and not
            # contradicted; the formula's kind and cap stand.
            row.update(kind=predicted["kind"], max_tokens=predicted["max_tokens"], cap_reached=False)
            outcome.details.setdefault("caps_beyond_input", []).append(row["index"])
        elif said != seen:
            outcome.status = "fail"
            outcome.details.setdefault("layers_off_formula", []).append(
                {"index": row["index"], "formula": list(said), "measured": list(seen)})
    if outcome.details.get("layers_off_formula") and expected == total:
        first = outcome.details["layers_off_formula"][0]
        outcome.findings.append(finding(
            "warning", f"/kv_cache/layers/{first['index']}", first["formula"], first["measured"],
            f"{len(outcome.details['layers_off_formula'])} layer(s){on} cache differently than the formula says "
            "(kind, bytes per token, cap)"))


def _cap_beyond_input(predicted: dict[str, Any], row: dict[str, Any], longest: int) -> bool:
    return (predicted["kind"] in ("sliding", "chunked") and row["kind"] == "full" and row["max_tokens"] is None
            and predicted["bytes_per_token"] == row["bytes_per_token"]
            and predicted["max_tokens"] is not None and predicted["max_tokens"] >= longest)


def _record(ctx: ProbeContext, rows: list[dict[str, Any]], total: int, state: int, outcome: Outcome) -> None:
    """Measured values win. On a twin, widths are tiny, so only the structure (kind, cap) carries over, and the
    sizes by length are derived from the formula's per-layer bytes with the measured caps."""
    formula = ctx.facts.get("kv_cache") or {}
    points = {row["tokens"] for row in formula.get("bytes_at") or []}
    layer_map = ctx.adapter.layer_map
    if ctx.adapter.twin and layer_map:
        if max(layer_map) >= len(rows):
            raise ValueError(f"the {len(rows)} cache layers read back do not cover the twin's {max(layer_map) + 1} "
                             "layers; cannot map them to the documented model's layers")
        layers = copy.deepcopy(formula.get("layers") or [])
        for index, twin_index in enumerate(layer_map):
            row = rows[twin_index]
            if row.get("cap_reached") is False:  # untested on the twin: the documented model's formula stands
                continue
            # measured on the layers the twin kept, derived on the layers of the same kind they stand for
            put(outcome, ctx.adapter, index, f"/kv_cache/layers/{index}/kind", row["kind"])
            put(outcome, ctx.adapter, index, f"/kv_cache/layers/{index}/max_tokens", row["max_tokens"])
            if index < len(layers):
                layers[index].update(kind=row["kind"], max_tokens=row["max_tokens"])
        if layers and all(layer.get("bytes_per_token") is not None for layer in layers):
            points.update(layer["max_tokens"] + 1 for layer in layers if layer["max_tokens"])
            outcome.derived["/kv_cache/bytes_at"] = [{"tokens": t, "bytes": bytes_at(layers, t)}
                                                     for t in sorted(points)]
        return
    layers = []
    for row in rows:
        entry = {"index": row["index"], "kind": row["kind"], "bytes_per_token": row["bytes_per_token"],
                 "max_tokens": row["max_tokens"]}
        if "state_bytes" in row:
            entry["state_bytes"] = row["state_bytes"]
        layers.append(entry)
    outcome.measured.update({"/kv_cache/layers": layers, "/kv_cache/bytes_per_token": total,
                             "/kv_cache/constant_state_bytes": state, "/kv_cache/source": "measured"})
    outcome.derived["/kv_cache/bytes_at"] = [{"tokens": t, "bytes": bytes_at(layers, t)} for t in sorted(points)]
