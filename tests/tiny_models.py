"""Tiny model configs that tests write to disk."""

from __future__ import annotations

from pathlib import Path

TINY_LLAMA = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 128,
    "max_position_embeddings": 4096,
    "rope_theta": 500000.0,
}


def save_tiny_llama(folder: Path) -> Path:
    """A tiny random Llama (TINY_LLAMA, seed 0) saved as transformers saves it: config.json + model.safetensors."""
    import torch
    from transformers import AutoConfig, LlamaForCausalLM

    torch.manual_seed(0)
    LlamaForCausalLM(AutoConfig.for_model(**TINY_LLAMA)).save_pretrained(folder)
    return folder
