"""The kv_cache formula against the cache transformers really builds: tiny random-init twins of each cache
layout run one forward with use_cache, and every layer's stored bytes must equal what the record says."""

from __future__ import annotations

from typing import Any

import pytest
from inspect_helpers import inspect_dict

TOKENS = 9  # longer than every window below, so caps show
TINY = {"hidden_size": 64, "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 64, "max_position_embeddings": 64, "num_hidden_layers": 4, "torch_dtype": "float32"}

CASES: dict[str, dict[str, Any]] = {
    "llama-gqa": {**TINY, "model_type": "llama"},
    "mistral-sliding": {**TINY, "model_type": "mistral", "sliding_window": 4},
    "gemma2-alternating": {**TINY, "model_type": "gemma2", "head_dim": 32, "sliding_window": 4},
    "gpt-oss-sinks": {**TINY, "model_type": "gpt_oss", "head_dim": 16, "sliding_window": 4, "num_local_experts": 2,
                      "num_experts_per_tok": 1, "layer_types": ["sliding_attention", "full_attention"] * 2},
    "llama4-chunked": {**TINY, "model_type": "llama4_text", "head_dim": 16, "attention_chunk_size": 4,
                       "num_local_experts": 2, "intermediate_size_mlp": 64, "no_rope_layer_interval": 2},
    "deepseek-v3-mla": {**TINY, "model_type": "deepseek_v3", "num_key_value_heads": 4, "kv_lora_rank": 16,
                        "q_lora_rank": 24, "qk_rope_head_dim": 8, "qk_nope_head_dim": 16, "v_head_dim": 12,
                        "head_dim": 8, "n_routed_experts": 4, "num_experts_per_tok": 2, "n_group": 1, "topk_group": 1,
                        "first_k_dense_replace": 1, "moe_intermediate_size": 32},
    "deepseek-v2-mla": {**TINY, "model_type": "deepseek_v2", "num_key_value_heads": 4, "kv_lora_rank": 16,
                        "q_lora_rank": None, "qk_rope_head_dim": 8, "qk_nope_head_dim": 16, "v_head_dim": 12,
                        "n_routed_experts": 4, "num_experts_per_tok": 2, "first_k_dense_replace": 1,
                        "moe_intermediate_size": 32, "n_group": 1, "topk_group": 1},
    "gemma3n-kv-sharing": {**TINY, "model_type": "gemma3n_text", "head_dim": 16, "sliding_window": 4,
                           "num_hidden_layers": 6, "num_kv_shared_layers": 2, "vocab_size_per_layer_input": 64,
                           "hidden_size_per_layer_input": 8, "laurel_rank": 4, "altup_num_inputs": 2,
                           "activation_sparsity_pattern": [0.0] * 6,
                           "layer_types": ["sliding_attention", "sliding_attention", "full_attention"] * 2},
    "qwen3-next-linear": {**TINY, "model_type": "qwen3_next", "head_dim": 16, "linear_num_key_heads": 2,
                          "linear_num_value_heads": 4, "linear_key_head_dim": 8, "linear_value_head_dim": 8,
                          "linear_conv_kernel_dim": 4, "num_experts": 2, "num_experts_per_tok": 1,
                          "moe_intermediate_size": 32, "shared_expert_intermediate_size": 32},
    "mamba-ssm": {**TINY, "model_type": "mamba", "state_size": 4, "expand": 2, "conv_kernel": 4},
    "jamba-hybrid": {**TINY, "model_type": "jamba", "attn_layer_period": 2, "attn_layer_offset": 1, "num_experts": 2,
                     "num_experts_per_tok": 1, "mamba_d_state": 4, "mamba_d_conv": 4, "mamba_expand": 2,
                     "use_mamba_kernels": False},
    "lfm2-conv": {**TINY, "model_type": "lfm2", "full_attn_idxs": [1, 3], "conv_L_cache": 3, "block_dim": 64,
                  "block_ff_dim": 64},
}


def stored_bytes(layer: Any) -> int:
    """Bytes a cache layer object holds: keys and values, conv and recurrent states."""
    import torch

    total = 0
    for name in ("keys", "values"):
        tensor = getattr(layer, name, None)
        if isinstance(tensor, torch.Tensor) and tensor.device.type != "meta":
            total += tensor.numel() * tensor.element_size()
    for name in ("conv_states", "recurrent_states"):
        for tensor in (getattr(layer, name, None) or {}).values():
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
    return total


def runtime_cache(config: dict[str, Any]) -> list[int]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(0)
    model_config = AutoConfig.for_model(**config)
    model = AutoModelForCausalLM.from_config(model_config).eval()
    with torch.no_grad():
        output = model(torch.randint(0, config["vocab_size"], (1, TOKENS)), use_cache=True)
    cache = getattr(output, "past_key_values", None) or output.cache_params
    return [stored_bytes(layer) for layer in cache.layers]


@pytest.mark.parametrize("name", sorted(CASES))
def test_formula_matches_the_cache_the_runtime_builds(name: str, tmp_path) -> None:
    config = CASES[name]
    record = inspect_dict(config, tmp_path / name)
    kv = record["kv_cache"]
    expected = []
    for layer in kv["layers"]:
        tokens = min(TOKENS, layer["max_tokens"]) if layer["max_tokens"] is not None else TOKENS
        expected.append(layer["bytes_per_token"] * tokens + layer.get("state_bytes", 0))
    measured = runtime_cache(config)
    assert expected == measured, f"formula {expected} != runtime {measured}"
    at = {point["tokens"]: point["bytes"] for point in kv["bytes_at"]}
    if TOKENS in at:
        assert at[TOKENS] == sum(measured)
