"""`kv_cache`: what the cache costs per token and at given lengths, as transformers' DynamicCache stores it."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "float8_e4m3fn": 1, "float8_e5m2": 1}
CACHE_KIND = {"full": "full", "sliding": "sliding", "chunked": "chunked", "linear": "state", "state-space": "state"}


def per_token_values(heads: dict[str, Any]) -> int:
    """Values one token adds to one attention layer's cache: keys and values of every KV head, or an MLA
    model's compressed latent plus its decoupled RoPE key."""
    if heads.get("grouping") == "MLA":
        mla = heads["mla"]
        return mla["kv_lora_rank"] + (mla.get("qk_rope_head_dim") or 0)
    return 2 * heads["key_value"] * heads["head_dim"]


def layer_cap(layer: dict[str, Any]) -> int | None:
    """DynamicSlidingWindowLayer keeps window - 1 past tokens (the current token makes the window)."""
    if layer["kind"] in ("sliding", "chunked") and layer["window"]:
        return layer["window"] - 1
    return None


def powers_of_two_upto(limit: int) -> list[int]:
    points, tokens = [], 1
    while tokens <= limit:
        points.append(tokens)
        tokens *= 2
    return points


@inspector("kv_cache")
def inspect_kv_cache(view: ModelView, facts: Facts) -> None:
    dtype = facts.values["model"]["dtype"]
    width = DTYPE_BYTES.get(dtype, 4)
    heads = facts.values["attention"]["heads"]
    layers = facts.values["attention"]["layers"]
    growing = [layer for layer in layers if CACHE_KIND.get(layer["kind"]) != "state"]
    if not heads.get("head_dim") or not heads.get("key_value"):
        facts.values["kv_cache"] = {"dtype": dtype, "bytes_per_token": None, "constant_state_bytes": None,
                                    "bytes_at": [], "layers": [], "source": "formula"}
        facts.null("/kv_cache/bytes_per_token", "heads or head size are not visible statically")
        return
    per_layer = per_token_values(heads) * width
    declared = facts.values["context_window"]["declared"]
    points = set(powers_of_two_upto(declared or 0))
    if declared:
        points.add(declared)
    points.update(layer["window"] for layer in growing if layer_cap(layer))

    def bytes_at(tokens: int) -> int:
        total = 0
        for layer in growing:
            cap = layer_cap(layer)
            total += per_layer * (min(tokens, cap) if cap else tokens)
        return total

    facts.values["kv_cache"] = {
        "dtype": dtype,
        "bytes_per_token": per_layer * len(growing),
        "constant_state_bytes": 0,
        "bytes_at": [{"tokens": tokens, "bytes": bytes_at(tokens)} for tokens in sorted(points)],
        "layers": [
            {"index": layer["index"], "kind": CACHE_KIND.get(layer["kind"], "full"),
             "bytes_per_token": per_layer if layer in growing else 0, "max_tokens": layer_cap(layer)}
            for layer in layers
        ],
        "source": "formula",
    }
