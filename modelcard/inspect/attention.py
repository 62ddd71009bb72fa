"""`attention`: heads and their grouping, the kind and window of every token-mixing layer, features,
and the config keys that the architecture's code ignores."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.architecture import main_stack
from modelcard.inspect.custom import custom_attention
from modelcard.inspect.facts import NOT_APPLICABLE, Facts
from modelcard.inspect.features import features
from modelcard.inspect.layer_kinds import Layer
from modelcard.inspect.modules import attention_modules, is_cross
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

# config keys that would announce a layer kind, and the kind they announce
ANNOUNCING_KEYS = {"sliding_window": "sliding", "attention_chunk_size": "chunked", "attention_window": "local-global"}


def layer_entries(layers: dict[str, list[Layer]], stacks: list[Any]) -> list[dict[str, Any]]:
    entries = []
    for stack in stacks:
        for layer in layers[stack.name]:
            entries.append({"index": layer.index, "stack": stack.name, "kind": layer.kind, "window": layer.window})
        cross = [name for name, module in attention_modules(stack.module) if is_cross(name, module)] \
            if stack.module is not None else []
        entries.extend({"index": index, "stack": "cross", "kind": "full", "window": None}
                       for index in range(len(cross)))
    return entries


def record_ignored(view: ModelView, facts: Facts, entries: list[dict[str, Any]]) -> None:
    """A window key in the config.json that no layer acts on is not disclosed; say why it was ignored."""
    kinds = {entry["kind"] for entry in entries}
    raw = view.raw_config
    text = raw.get("text_config") if isinstance(raw.get("text_config"), dict) else {}
    model_class = type(view.model).__name__
    for key, kind in ANNOUNCING_KEYS.items():
        value = raw.get(key, text.get(key))
        if value is None or kind in kinds:
            continue
        if not view.code_reads(key):
            why = f"{model_class}'s modeling code never reads {key}"
        elif key == "sliding_window" and (raw.get("use_sliding_window", text.get("use_sliding_window")) is False):
            why = "use_sliding_window is false, so no layer slides"
        else:
            why = f"no layer of {model_class} is built as {kind} attention"
        facts.ignored(key, value, why)
    layer_types = raw.get("layer_types", text.get("layer_types"))
    if layer_types and not view.code_reads("layer_types"):
        facts.ignored("layer_types", layer_types, f"{model_class}'s modeling code never reads layer_types")


RECURRENT_KINDS = ("linear", "state-space")


@inspector("attention")
def inspect_attention(view: ModelView, facts: Facts) -> None:
    from modelcard.kernels import available_kernels

    implementation = getattr(view.config, "_attn_implementation", None) if view.config is not None else None
    stacks = facts.scratch["stacks"]
    if stacks:
        heads = dict(facts.scratch["heads"][main_stack(stacks).name])
        entries = layer_entries(facts.scratch["layers"], stacks)
        if entries and all(entry["kind"] in RECURRENT_KINDS for entry in entries):
            # Mamba-2's num_heads and head_dim are SSM heads: with no attention layer there are no attention heads.
            heads = {"query": None, "key_value": None, "head_dim": None, "grouping": "none"}
        record_ignored(view, facts, entries)
    else:
        heads, entries = custom_attention(view, facts)
    facts.values["attention"] = {
        "implementation": implementation,
        "available": available_kernels(),
        "heads": heads,
        "layers": entries,
        "features": features(view, facts),
    }
    if implementation is None:
        facts.null("/attention/implementation", "a custom module chooses its own kernel", NOT_APPLICABLE)
    for key in ("query", "key_value", "head_dim"):
        if heads.get(key) is None:
            reason = ("the model has no attention layers" if heads.get("grouping") == "none" else
                      "varies by layer: see heads.key_value_per_layer" if heads.get("key_value_per_layer") else
                      "not visible statically: neither the config nor the module tree states it")
            facts.null(f"/attention/heads/{key}", reason,
                       NOT_APPLICABLE if heads.get("grouping") == "none" else "unknown")
