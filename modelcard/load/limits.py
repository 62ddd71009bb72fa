"""Dimensions a config may claim, checked before transformers builds anything: a meta build of 1e9 layers never
ends, and zero heads or a negative window crash deep inside the modeling code."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput

# Far above any released model (the deepest have ~200 layers, 128 heads, a 256K vocabulary, 384 experts).
LAYER_KEYS = ("num_hidden_layers", "num_layers", "n_layer", "n_layers", "num_decoder_layers", "num_encoder_layers",
              "encoder_layers", "decoder_layers")
HEAD_KEYS = ("num_attention_heads", "n_head", "num_heads", "num_key_value_heads", "encoder_attention_heads",
             "decoder_attention_heads", "multi_query_group_num", "n_head_kv", "num_kv_heads")
SIZE_KEYS = ("hidden_size", "n_embd", "d_model", "intermediate_size", "ffn_dim", "n_inner", "head_dim", "vocab_size",
             "kv_lora_rank", "q_lora_rank", "moe_intermediate_size", "d_ff", "d_kv", "qk_rope_head_dim",
             "qk_nope_head_dim", "v_head_dim")
EXPERT_KEYS = ("num_experts", "num_local_experts", "n_routed_experts", "num_experts_per_tok")
LENGTH_KEYS = ("sliding_window", "max_position_embeddings", "attention_chunk_size", "n_positions", "max_seq_len",
               "max_sequence_length", "seq_length")
LIMITS: dict[str, tuple[int, int]] = {
    **{key: (0, 4096) for key in LAYER_KEYS},
    **{key: (1, 65_536) for key in HEAD_KEYS},
    **{key: (0, 1 << 24) for key in SIZE_KEYS},
    **{key: (0, 65_536) for key in EXPERT_KEYS},
    **{key: (0, 1 << 53) for key in LENGTH_KEYS},
}
# Position-encoding numbers that the card states: an infinite or zero theta is no real model's.
POSITIVE_NUMBER_KEYS = ("rope_theta", "partial_rotary_factor", "factor", "rope_local_base_freq")
MAX_LIST = 10_000
MAX_NESTING = 8  # sub-configs (text_config, vision_config, ...) inside a config


def check_dimensions(config: dict[str, Any], where: Path | str) -> None:
    """Every dimension a whole number in its range and every position-encoding number a finite positive one,
    and query heads a whole multiple of key-value heads; one BadInput line naming the key otherwise."""
    _check(config, where, "", 0)
    _check_grouping(config, where, "", 0)


def _check_grouping(config: dict[str, Any], where: Path | str, prefix: str, depth: int) -> None:
    """Grouped-query attention shares each key-value head among a whole number of query heads."""
    query, shared = config.get("num_attention_heads"), config.get("num_key_value_heads")
    if isinstance(query, int) and isinstance(shared, int) and not isinstance(query, bool) \
            and not isinstance(shared, bool) and query > 0 and shared > 0 and query % shared:
        raise BadInput(where, f"{prefix}num_attention_heads = {query} is not a multiple of {prefix}num_key_value_heads "
                              f"= {shared}: grouped-query attention shares each key-value head among whole groups")
    if depth < MAX_NESTING:
        for key, value in config.items():
            if isinstance(value, dict):
                _check_grouping(value, where, f"{prefix}{key}.", depth + 1)


def _check(config: dict[str, Any], where: Path | str, prefix: str, depth: int) -> None:
    for key, value in config.items():
        name = f"{prefix}{key}"
        if key in POSITIVE_NUMBER_KEYS and value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise BadInput(where, f"{name} must be a finite number above 0")
        elif isinstance(value, dict) and depth < MAX_NESTING:
            _check(value, where, f"{name}.", depth + 1)
        elif key in LIMITS and isinstance(value, list):  # per stage or per layer (Swin, Gemma 3n)
            for position, item in enumerate(value[:MAX_LIST]):
                _check_value(item, LIMITS[key], where, f"{name}[{position}]")
        elif key in LIMITS and value is not None:
            _check_value(value, LIMITS[key], where, name)


def _check_value(value: Any, limits: tuple[int, int], where: Path | str, name: str) -> None:
    low, high = limits
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 4096.0: JSON writers that know only floats
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadInput(where, f"{name} must be a whole number (found {_kind(value)})")
    if value < low:
        raise BadInput(where, f"{name} = {value} is below {low}, the smallest a model can have")
    if value > high:
        raise BadInput(where, f"{name} = {value:,} is above {high:,}, far beyond any real model; "
                              "modelcard refuses to build it")


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float):
        return "a fraction"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else type(value).__name__
