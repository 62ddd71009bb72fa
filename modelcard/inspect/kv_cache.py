"""`kv_cache`: what the cache costs per token and at given lengths, as transformers' DynamicCache stores it:
DynamicLayer for full layers, DynamicSlidingWindowLayer (window - 1 past tokens) for sliding and chunked
layers, a constant conv + recurrent state for linear and state-space layers, nothing for layers that
reuse another layer's cache, and MLA's compressed latent where the code caches the latent."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.architecture import takes_a_cache
from modelcard.inspect.configs import as_int, layer_config, read
from modelcard.inspect.facts import Facts
from modelcard.inspect.heads import HEAD_DIM_KEYS, self_attention
from modelcard.inspect.layer_kinds import Layer
from modelcard.inspect.modules import forward_source
from modelcard.inspect.registry import inspector
from modelcard.inspect.state import main_stack
from modelcard.inspect.state_size import state_values
from modelcard.inspect.view import ModelView
from modelcard.record.vocabulary import NOT_APPLICABLE

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "float8_e4m3fn": 1, "float8_e5m2": 1}
CAPPED = ("sliding", "chunked")
# what the KV figures are given at when neither the weights nor the config say: the dtype most released checkpoints
# of this kind use; marked `derived` (assumed), never `detected`
ASSUMED_DTYPE = "bfloat16"
KV_POINTERS = ("/kv_cache/dtype", "/kv_cache/bytes_per_token", "/kv_cache/constant_state_bytes", "/kv_cache/bytes_at",
               "/kv_cache/layers")


def latent_is_cached(attention: Any) -> bool:
    """MLA: the cache update happens before the latent is expanded by kv_b_proj (DeepSeek V2/V3 in v5)."""
    source = forward_source(attention)
    if not source:
        return True
    update = source.find(".update(")
    expand = [pos for pos in (source.find("kv_b_proj"), source.find("expand_kv")) if pos >= 0]
    return update >= 0 and (not expand or update < min(expand))


def per_token_values(heads: dict[str, Any], stack: Any, index: int, attention: Any) -> int | None:
    """Values one token adds to one attention layer: keys and values of every KV head, or MLA's latent
    (kv_lora_rank + qk_rope_head_dim) where the code caches the latent."""
    if heads.get("grouping") == "MLA":
        mla = heads["mla"]
        if attention is None or latent_is_cached(attention):
            return mla["kv_lora_rank"] + (mla.get("qk_rope_head_dim") or 0)
        return heads["query"] * (heads["head_dim"] + (heads.get("v_head_dim") or heads["head_dim"]))
    own = layer_config(stack.config, index)
    key_value = heads.get("key_value")
    per_layer = heads.get("key_value_per_layer")
    if per_layer and index < len(per_layer):
        key_value = per_layer[index]
    elif own is not stack.config:
        key_value = as_int(read(own, "num_key_value_heads")) or key_value
    head_dim = as_int(read(own, *HEAD_DIM_KEYS)) if own is not stack.config else None
    head_dim = head_dim or heads.get("head_dim")
    if not key_value or not head_dim:
        return None
    return 2 * key_value * head_dim


def layer_cap(layer: Layer) -> int | None:
    """DynamicSlidingWindowLayer keeps window - 1 past tokens (the current token makes the window)."""
    if layer.kind in CAPPED and layer.window:
        return layer.window - 1
    return None


def powers_of_two_upto(limit: int) -> list[int]:
    points, tokens = [], 1
    while tokens <= limit:
        points.append(tokens)
        tokens *= 2
    return points


def cache_layers(view: ModelView, facts: Facts, dtype: str) -> list[dict[str, Any]] | None:
    """One entry per layer of the generating stack: kind, bytes per token, cap, constant state."""
    structure = facts.structure
    main = main_stack(structure.stacks)
    heads = structure.heads[main.name]
    width = DTYPE_BYTES.get(dtype, 4)
    attentions = [module for _, module in self_attention(main)]
    shared = set(structure.kv_shared)
    entries = []
    attention_seen = 0
    for layer in structure.layers[main.name]:
        entry: dict[str, Any] = {"index": layer.index, "kind": layer.kind if layer.kind in CAPPED else "full",
                                 "bytes_per_token": 0, "max_tokens": None}
        if layer.state:
            values = state_values(layer.mixer) if layer.mixer is not None else None
            if values is None:
                return None
            entry["state_bytes"] = values * width
        if layer.kind in ("linear", "state-space"):
            entry["kind"] = "state"
        elif layer.index in shared:
            entry["kind"] = "none"
        else:
            attention = attentions[attention_seen] if attention_seen < len(attentions) else None
            attention_seen += 1
            values = per_token_values(heads, main, layer.index, attention)
            if values is None:
                return None
            entry["bytes_per_token"] = values * width
            entry["max_tokens"] = layer_cap(layer)
        entries.append(entry)
    return entries


def bytes_at(entries: list[dict[str, Any]], tokens: int) -> int:
    total = 0
    for entry in entries:
        cap = entry["max_tokens"]
        total += entry["bytes_per_token"] * (min(tokens, cap) if cap is not None else tokens)
        total += entry.get("state_bytes", 0)
    return total


@inspector("kv_cache")
def inspect_kv_cache(view: ModelView, facts: Facts) -> None:
    dtype = facts.values["model"]["dtype"]
    if dtype is None:
        dtype = ASSUMED_DTYPE
        facts.structure.dtype_assumed = True
        facts.provenance.update(dict.fromkeys(KV_POINTERS, "derived"))
    empty = {"dtype": dtype, "bytes_per_token": None, "constant_state_bytes": None, "bytes_at": [], "layers": [],
             "source": "formula"}
    stacks = facts.structure.stacks
    arch_class = facts.values["architecture"]["class"]
    if not stacks:
        facts.values["kv_cache"] = empty
        facts.null("/kv_cache/bytes_per_token", "a custom module: its cache is not visible statically; see kv-layout")
        facts.null("/kv_cache/constant_state_bytes", "a custom module: its cache is not visible statically")
        return
    main = main_stack(stacks)
    if arch_class in ("encoder-only", "vision-encoder") or main.name not in ("decoder", "text"):
        facts.values["kv_cache"] = {**empty, "bytes_per_token": 0, "constant_state_bytes": 0}
        facts.null("/kv_cache/layers", "an encoder attends over its whole input at once: it keeps no cache",
                   NOT_APPLICABLE)
        return
    if main.name == "text" and main.module is not None and not takes_a_cache(main.module):
        facts.values["kv_cache"] = {**empty, "bytes_per_token": 0, "constant_state_bytes": 0}
        facts.null("/kv_cache/layers", f"the text tower ({type(main.module).__name__}) encodes its input in one pass "
                                       "and takes no cache", NOT_APPLICABLE)
        return
    entries = cache_layers(view, facts, dtype)
    if entries is None:
        facts.values["kv_cache"] = empty
        facts.null("/kv_cache/bytes_per_token", "heads, head size or a recurrent state shape are not visible "
                                                "statically; the kv-layout probe measures the cache")
        facts.null("/kv_cache/constant_state_bytes", "a recurrent state shape is not visible statically")
        return
    declared = facts.values["context_window"]["declared"]
    points = set(powers_of_two_upto(declared or 0))
    if declared:
        points.add(declared)
    points.update(entry["max_tokens"] + 1 for entry in entries if entry["max_tokens"])
    facts.values["kv_cache"] = {
        "dtype": dtype,
        "bytes_per_token": sum(entry["bytes_per_token"] for entry in entries),
        "constant_state_bytes": sum(entry.get("state_bytes", 0) for entry in entries),
        "bytes_at": [{"tokens": tokens, "bytes": bytes_at(entries, tokens)} for tokens in sorted(points)],
        "layers": entries,
        "source": "formula",
    }
    if facts.structure.dtype_assumed:
        facts.finding("info", "/kv_cache/dtype", None, ASSUMED_DTYPE,
                      f"the config declares no dtype and no weights were loaded: the KV-cache figures assume "
                      f"{ASSUMED_DTYPE} (2 bytes a value)")
