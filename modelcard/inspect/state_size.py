"""Constant state of a recurrent token mixer, in values per sequence, from the shapes the cache would hold:
its convolution window (channels x kernel) and its recurrent state (Mamba: channels x state; Mamba-2:
heads x head size x state; gated delta rule: heads x key size x value size)."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.configs import as_int


def conv_values(mixer: Any) -> int:
    import torch

    total = 0
    for _, module in mixer.named_modules():
        if isinstance(module, torch.nn.Conv1d):
            kernel = as_int(getattr(mixer, "conv_kernel_size", None)) or module.kernel_size[0]
            total += module.in_channels * kernel
    return total


def recurrent_values(mixer: Any) -> int | None:
    """None where the mixer's state shape is not one of the known layouts."""
    a_log = getattr(mixer, "A_log", None)
    if a_log is not None and a_log.dim() == 2:
        return a_log.numel()
    heads = as_int(getattr(mixer, "num_heads", None) or getattr(mixer, "n_heads", None))
    head_dim = as_int(getattr(mixer, "head_dim", None))
    state = as_int(getattr(mixer, "ssm_state_size", None) or getattr(mixer, "d_state", None))
    if a_log is not None and heads and head_dim and state:
        return heads * head_dim * state
    v_heads = as_int(getattr(mixer, "num_v_heads", None))
    k_dim, v_dim = as_int(getattr(mixer, "head_k_dim", None)), as_int(getattr(mixer, "head_v_dim", None))
    if v_heads and k_dim and v_dim:
        return v_heads * k_dim * v_dim
    if a_log is None and conv_values(mixer):
        return 0  # a short convolution keeps only its window (LFM2)
    return None


def state_values(mixer: Any) -> int | None:
    recurrent = recurrent_values(mixer)
    return None if recurrent is None else conv_values(mixer) + recurrent
