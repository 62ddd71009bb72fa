"""The length a config states for its input, and that length after RoPE scaling: shared by the context
inspector and by the layer kinds (a window at least as wide as the context is full attention)."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.configs import as_int, read
from modelcard.inspect.position import rope_parameters, rope_scaling

CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length",
                "max_target_positions", "n_ctx", "max_seq_length", "model_max_length")


def stated_length(config: Any) -> int | None:
    value = as_int(read(config, *CONTEXT_KEYS))
    return value if value and value > 0 else None  # XLNet states -1: no limit


def scaled_length(declared: int | None, scaling: dict[str, Any] | None) -> int | None:
    """Released long-context configs usually fold the RoPE scaling into max_position_embeddings already;
    scale only a config that still states the original length (vLLM scaled twice: PR #53634)."""
    if not declared or not scaling:
        return declared
    original, factor = as_int(scaling.get("original_context")), scaling.get("factor")
    if original and factor and declared == original:
        return int(original * factor)
    return declared


def context_length(config: Any) -> int | None:
    """The longest input `config` states, RoPE scaling applied where the config did not fold it in."""
    params = rope_parameters(config)
    return scaled_length(stated_length(config), rope_scaling(params, config) if params else None)
