"""Which attention kernels transformers can run on this machine."""

from __future__ import annotations

import importlib.util


def available_kernels() -> list[str]:
    """Kernels that are usable here, in transformers' own names. eager always is; sdpa with torch;
    flex_attention where torch has it; flash attention only with its package and a CUDA device."""
    import torch

    kernels = ["eager", "sdpa"]
    if hasattr(torch.nn.attention, "flex_attention") or importlib.util.find_spec("torch.nn.attention.flex_attention"):
        kernels.append("flex_attention")
    if torch.cuda.is_available():
        if importlib.util.find_spec("flash_attn") is not None:
            kernels.append("flash_attention_2")
        if importlib.util.find_spec("flash_attn_interface") is not None:
            kernels.append("flash_attention_3")
    return kernels
