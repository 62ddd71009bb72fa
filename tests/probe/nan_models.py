"""Tiny modules whose outputs are not finite, each importable as a `nan_models:<factory>` model spec
(tests/probe/tinymodels.py has the module they configure). No probe may pass on them."""

from __future__ import annotations

import torch
from tinymodels import TinyLM


def nan_logits() -> TinyLM:
    """Every logit is NaN; the blocks below the head compute finite values."""
    return TinyLM(length_rounding=float("nan"))


def infinite_logits() -> TinyLM:
    """Logits of +inf (or NaN where inf meets 0) at every position."""
    return TinyLM(length_rounding=float("inf"))


def nan_in_last_block() -> TinyLM:
    """The last block's MLP adds NaN: its output, and every logit, is NaN."""
    model = TinyLM()
    with torch.no_grad():
        model.blocks[-1].mlp[-1].bias.fill_(float("nan"))
    return model
