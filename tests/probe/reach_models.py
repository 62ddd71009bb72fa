"""Tiny custom modules for window-reach's measurement through the weights, each importable as a
`reach_models:<factory>` model spec (tests/probe/tinymodels.py has the module they configure)."""

from __future__ import annotations

import torch
from tinymodels import TinyLM


def sharp_attention() -> TinyLM:
    """Full attention whose last layer's queries and keys are scaled 30x: its softmax puts most visible positions'
    weight below float precision, so their change does not show through the weights."""
    model = TinyLM()
    with torch.no_grad():
        qkv = model.blocks[-1].attn.qkv
        width = qkv.weight.shape[0] // 3
        qkv.weight[:2 * width].mul_(30.0)
    return model


def undeclared_chunks() -> TinyLM:
    """Declares full attention and attends within chunks of 4 tokens."""
    return TinyLM(chunk=4, declared={"masking": "causal", "context_window": 512})
