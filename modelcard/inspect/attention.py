"""`attention`: heads and their grouping, the kind and window of every token-mixing layer, features."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.facts import NOT_APPLICABLE, Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

# transformers' `layer_types` values -> the record's layer kinds.
LAYER_TYPE_KINDS = {
    "full_attention": "full",
    "attention": "full",
    "sliding_attention": "sliding",
    "chunked_attention": "chunked",
    "linear_attention": "linear",
    "mamba": "state-space",
    "conv": "state-space",
}
WINDOW_KEYS = {"sliding": "sliding_window", "chunked": "attention_chunk_size"}


def head_counts(view: ModelView) -> dict[str, Any]:
    query = view.get("num_attention_heads", "n_head", "num_heads", "n_heads", "attn_config.n_heads")
    if view.get("multi_query") and not view.get("new_decoder_architecture"):
        key_value = 1
    else:
        key_value = view.get(
            "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num", "attn_config.kv_n_heads",
            default=query,
        )
    hidden = view.get("hidden_size", "n_embd", "d_model", "dim")
    head_dim = view.get("head_dim")
    if head_dim is None and hidden and query:
        head_dim = hidden // query
    heads = {"query": query, "key_value": key_value, "head_dim": head_dim, "grouping": _grouping(query, key_value)}
    kv_lora_rank = view.get("kv_lora_rank")
    if kv_lora_rank:
        heads["grouping"] = "MLA"
        heads["mla"] = {"kv_lora_rank": kv_lora_rank, "qk_rope_head_dim": view.get("qk_rope_head_dim")}
    return heads


def _grouping(query: int | None, key_value: int | None) -> str | None:
    if not query or not key_value:
        return None
    if key_value == query:
        return "MHA"
    return "MQA" if key_value == 1 else "GQA"


def layer_kinds(view: ModelView, facts: Facts) -> list[dict[str, Any]]:
    """One entry per token-mixing layer. The modeling code decides: a window key that the code never
    reads is recorded as ignored, not disclosed."""
    num_layers = view.get("num_hidden_layers", "n_layer", "num_layers", "n_layers") or 0
    layer_types = view.get("layer_types")
    if layer_types and view.code_reads("layer_types"):
        kinds = [LAYER_TYPE_KINDS.get(value, "full") for value in layer_types]
    else:
        kinds = ["full"] * num_layers
        for kind, key in WINDOW_KEYS.items():
            if view.get(key) is not None and view.code_reads(key):
                kinds = [kind] * num_layers
                break
    used = set(kinds)
    for kind, key in WINDOW_KEYS.items():
        value = view.get(key)
        if value is not None and kind not in used:
            why = "its modeling code never reads it" if not view.code_reads(key) and not (
                layer_types and view.code_reads("layer_types")) else "no layer of this model is of that kind"
            facts.ignored(key, value, f"{type(view.model).__name__}: {why}")
    return [
        {"index": index, "stack": "decoder", "kind": kind,
         "window": view.get(WINDOW_KEYS[kind]) if kind in WINDOW_KEYS else None}
        for index, kind in enumerate(kinds)
    ]


def features(view: ModelView) -> list[str]:
    found = []
    names = {name.rsplit(".", 1)[-1] for name, _ in view.model.named_modules()}
    parameters = {name.rsplit(".", 1)[-1] for name, _ in view.model.named_parameters()}
    if getattr(view.config, "add_cross_attention", False) or "crossattention" in names or "encoder_attn" in names:
        found.append("cross-attention")
    if "sinks" in parameters:
        found.append("attention-sinks")
    if view.get("attn_logit_softcapping") is not None:
        found.append("logit-softcapping")
    if {"q_norm", "k_norm"} <= names:
        found.append("qk-norm")
    if view.get("alibi") or view.get("attn_config.alibi") or getattr(view.config, "model_type", "") == "bloom":
        found.append("alibi")
    if view.get("num_kv_shared_layers"):
        found.append("kv-sharing")
    return found


@inspector("attention")
def inspect_attention(view: ModelView, facts: Facts) -> None:
    from modelcard.kernels import available_kernels

    implementation = getattr(view.config, "_attn_implementation", None) if view.config is not None else None
    facts.values["attention"] = {
        "implementation": implementation,
        "available": available_kernels(),
        "heads": head_counts(view),
        "layers": layer_kinds(view, facts),
        "features": features(view),
    }
    if implementation is None:
        facts.null("/attention/implementation", "a custom module chooses its own kernel", NOT_APPLICABLE)
