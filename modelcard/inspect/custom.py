"""Attention in a custom nn.Module (package.module:factory): what the module tree shows of it. Heads and
windows that cannot be seen statically stay null with a reason; the probes measure them."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.configs import as_int
from modelcard.inspect.facts import Facts
from modelcard.inspect.heads import grouping
from modelcard.inspect.modules import attention_modules, heads_from_projections, is_cross
from modelcard.inspect.view import ModelView

HEAD_ATTRS = ("num_heads", "n_heads", "n_head", "heads", "num_attention_heads")
KV_ATTRS = ("num_kv_heads", "n_kv_heads", "num_key_value_heads", "kv_heads", "n_kv_head")
HEAD_DIM_ATTRS = ("head_dim", "head_size", "d_head", "dim_head")
WINDOW_ATTRS = ("sliding_window", "window", "window_size", "attention_window")


def _attribute(module: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = as_int(getattr(module, name, None))
        if value:
            return value
    return None


def custom_heads(module: Any) -> dict[str, Any]:
    import torch

    if isinstance(module, torch.nn.MultiheadAttention):
        query = module.num_heads
        return {"query": query, "key_value": query, "head_dim": module.head_dim, "grouping": grouping(query, query)}
    query = _attribute(module, HEAD_ATTRS)
    head_dim = _attribute(module, HEAD_DIM_ATTRS)
    key_value = _attribute(module, KV_ATTRS)
    seen_query, seen_kv = heads_from_projections(module, head_dim, query)
    query, key_value = query or seen_query, key_value or seen_kv or (query if head_dim else None)
    return {"query": query, "key_value": key_value, "head_dim": head_dim, "grouping": grouping(query, key_value)}


def custom_attention(view: ModelView, facts: Facts) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(heads, layers) of a model without a transformers config."""
    modules = [(name, module) for name, module in attention_modules(view.model) if not is_cross(name, module)]
    if not modules:
        facts.null("/attention/layers", "no attention module is visible in the module tree (q/k/v or fused "
                                        "projections, nn.MultiheadAttention); see the probes")
        return {"query": None, "key_value": None, "head_dim": None, "grouping": None}, []
    heads = custom_heads(modules[0][1])
    declared = (view.loaded.declared if view.loaded else {}) or {}
    layers = []
    for index, (_, module) in enumerate(modules):
        window = _attribute(module, WINDOW_ATTRS) or as_int(declared.get("sliding_window"))
        layers.append({"index": index, "stack": "decoder" if declared.get("masking") != "bidirectional" else "encoder",
                       "kind": "sliding" if window else "full", "window": window})
    return heads, layers
