"""Tiny random transformers models, one per cache family, saved to a folder with the demo's byte-level tokenizer
so that the text probes run on them: full attention (Llama), sliding (Mistral, window 16), hybrid 5:1 sliding
and full (Gemma-3), chunked (Llama-4 text), MLA (DeepSeek-V3), linear attention hybrid (Qwen3-Next) and Mamba
hybrid (GraniteMoeHybrid). Weights are random and seeded; vocabulary 259 (the demo's tokenizer)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[2] / "modelcard" / "demo"
SMALL = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 259, "max_position_embeddings": 1024, "head_dim": 8,
         "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "full": ("llama", {}),
    "sliding": ("mistral", {"sliding_window": 16}),
    "hybrid": ("gemma3_text", {"sliding_window": 8, "num_hidden_layers": 6, "query_pre_attn_scalar": 8}),
    "chunked": ("llama4_text", {"attention_chunk_size": 16, "num_hidden_layers": 4, "intermediate_size_mlp": 64,
                                "num_local_experts": 2}),
    "mla": ("deepseek_v3", {"kv_lora_rank": 16, "q_lora_rank": 16, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8,
                            "v_head_dim": 8, "n_routed_experts": 4, "num_experts_per_tok": 2,
                            "moe_intermediate_size": 32, "first_k_dense_replace": 1, "num_key_value_heads": 4,
                            "n_group": 1, "topk_group": 1}),
    "linear": ("qwen3_next", {"num_hidden_layers": 4, "linear_num_value_heads": 4, "linear_num_key_heads": 2,
                              "linear_key_head_dim": 8, "linear_value_head_dim": 8, "num_experts": 4,
                              "num_experts_per_tok": 2, "moe_intermediate_size": 32,
                              "shared_expert_intermediate_size": 32}),
    "mamba": ("granitemoehybrid", {"layer_types": ["mamba", "attention"], "mamba_n_heads": 4, "mamba_d_head": 16,
                                   "mamba_n_groups": 1, "mamba_d_state": 8, "num_local_experts": 2,
                                   "num_experts_per_tok": 1, "shared_intermediate_size": 32}),
}


def save_family(name: str, folder: Path) -> Path:
    """The family's tiny model with random weights (seed 0) and the demo's tokenizer, saved in `folder`.

    Args:
        name: a key of FAMILIES.
        folder: where to save it (created).

    Returns:
        the folder.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    model_type, overrides = FAMILIES[name]
    torch.manual_seed(0)
    config = AutoConfig.for_model(model_type, **{**SMALL, **overrides})
    model = AutoModelForCausalLM.from_config(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(DEMO / file, folder / file)
    return folder
