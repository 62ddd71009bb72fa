"""`attention`: heads and their grouping, the kind and window of every token-mixing layer, and features."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.custom import custom_attention
from modelcard.inspect.facts import Facts
from modelcard.inspect.features import features
from modelcard.inspect.layer_kinds import Layer
from modelcard.inspect.modules import attention_modules, is_cross
from modelcard.inspect.registry import inspector
from modelcard.inspect.state import main_stack
from modelcard.inspect.view import ModelView
from modelcard.record.vocabulary import NOT_APPLICABLE

RECURRENT_KINDS = ("linear", "state-space")


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


def _run_dtype(facts: Facts) -> str:
    """The dtype the model runs in (flash kernels need half precision); bfloat16 when it is not known yet."""
    return (facts.values.get("model") or {}).get("dtype") or "bfloat16"


@inspector("attention")
def inspect_attention(view: ModelView, facts: Facts) -> None:
    from modelcard.inspect.kernels import available_kernels

    implementation = getattr(view.config, "_attn_implementation", None) if view.config is not None else None
    stacks = facts.structure.stacks
    if stacks:
        heads = dict(facts.structure.heads[main_stack(stacks).name])
        entries = layer_entries(facts.structure.layers, stacks)
        if entries and all(entry["kind"] in RECURRENT_KINDS for entry in entries):
            # Mamba-2's num_heads and head_dim are SSM heads: with no attention layer there are no attention heads.
            heads = {"query": None, "key_value": None, "head_dim": None, "grouping": "none"}
    else:
        heads, entries = custom_attention(view, facts)
    facts.values["attention"] = {
        "implementation": implementation,
        "available": available_kernels(view.model, dtype=_run_dtype(facts)),
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
