"""Head counts of one stack: query and KV heads, head size, grouping and MLA's latent, read from every
spelling real configs use and cross-checked against the projection shapes the module tree holds."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.configs import KV_HEAD_KEYS, as_int, read
from modelcard.inspect.modules import MLA_NAMES, attention_modules, heads_from_projections, is_cross
from modelcard.inspect.stacks import Stack

HEAD_DIM_KEYS = ("head_dim", "attention_head_dim", "d_kv", "kv_channels", "head_size", "attention_head_size")


def grouping(query: int | None, key_value: int | None) -> str | None:
    if not query or not key_value:
        return None
    if key_value == query:
        return "MHA"
    return "MQA" if key_value == 1 else "GQA"


def self_attention(stack: Stack) -> list[tuple[str, Any]]:
    if stack.module is None:
        return []
    return [(name, module) for name, module in attention_modules(stack.module) if not is_cross(name, module)]


def config_key_value(stack: Stack, query: int | None) -> Any:
    if read(stack.config, "multi_query") and not read(stack.config, "new_decoder_architecture"):
        return 1
    value = stack.get(*KV_HEAD_KEYS)
    return value if value is not None else query


def stack_heads(stack: Stack) -> dict[str, Any]:
    """{query, key_value, head_dim, grouping[, mla]} for one stack; `key_value` may be a per-layer list."""
    modules = self_attention(stack)
    query = as_int(stack.query_heads)
    key_value = config_key_value(stack, query)
    hidden = stack.hidden_size
    head_dim = as_int(stack.get(*HEAD_DIM_KEYS))
    if head_dim is None and hidden and query:
        head_dim = hidden // query
    kv_lora_rank = as_int(stack.get("kv_lora_rank"))
    if kv_lora_rank and (not modules or any(_has(module, MLA_NAMES) for _, module in modules)):
        nope = as_int(stack.get("qk_nope_head_dim")) or 0
        rope = as_int(stack.get("qk_rope_head_dim"))
        return {"query": query, "key_value": query, "head_dim": (nope + (rope or 0)) or head_dim, "grouping": "MLA",
                "mla": {"kv_lora_rank": kv_lora_rank, "qk_rope_head_dim": rope},
                "v_head_dim": as_int(stack.get("v_head_dim"))}
    if modules:
        seen_query, seen_kv = heads_from_projections(modules[0][1], head_dim, query)
        if query is None:
            query = seen_query
        if seen_kv is not None and (not isinstance(key_value, int) or seen_kv != key_value) and \
                not isinstance(key_value, (list, tuple)):
            key_value = seen_kv  # the module tree is what runs
    elif query is None:
        return {"query": None, "key_value": None, "head_dim": None, "grouping": "none"}
    per_layer = None
    if isinstance(key_value, (list, tuple)):
        per_layer = [as_int(value) for value in key_value]
        key_value = per_layer[0] if len(set(per_layer)) == 1 else None
    key_value = as_int(key_value)
    heads: dict[str, Any] = {"query": query, "key_value": key_value, "head_dim": head_dim,
                             "grouping": grouping(query, key_value)}
    if per_layer is not None and key_value is None:
        heads["key_value_per_layer"] = per_layer
        heads["grouping"] = "MQA" if all(value == 1 for value in per_layer) else "GQA"
    return heads


def _has(module: Any, names: tuple[str, ...]) -> bool:
    return any(name in dict(module.named_children()) for name in names)
