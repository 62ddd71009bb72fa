"""A memory check before a forward allocates: a deliberately simple, conservative estimate of the peak a forward
of L tokens adds (the weights are already resident), compared with what the device has free. A forward that
cannot fit is refused before anything is allocated, with both numbers in the reason, instead of swapping the
machine to a halt or being killed by the OOM killer.

The estimate, per forward of `new` tokens over `total` positions (the cached ones included), batch B:
- attention scores, one layer at a time, only for kernels that materialise them (eager, or a custom module's
  unknown kernel): B x heads x new x total x (2 x element size + 4) (scores, the float32 softmax, its cast back)
  plus a B x new x total mask;
- hidden states: B x new x (4 x hidden + 2 x intermediate) x element size (residual stream, norms, MLP);
- logits: B x new x vocab x element size, plus a float32 copy when the model runs in half precision;
- the KV cache of `total` tokens across all layers: 2 x layers x B x KV heads x head size x total x element size.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from modelcard.base.runtime import cpu_available_bytes

# Kernels that never hold a full (queries x keys) score matrix.
TILED_KERNELS = ("sdpa", "flash", "flex", "paged")


class InsufficientMemory(MemoryError):
    """A forward that would not fit in the memory available; raised before anything was allocated."""

    def __init__(self, needed: int, available: int, device: str, tokens: int) -> None:
        self.needed, self.available = needed, available
        super().__init__(f"out of memory (estimated {size(needed)} needed, {size(available)} available on {device}) "
                         f"for a forward of {tokens:,} tokens; the forward was not run")


@dataclass(frozen=True)
class Shape:
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    intermediate: int
    vocab: int
    element_size: int


def size(n: int) -> str:
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def materialises_scores(kernel: str | None) -> bool:
    return not (kernel and kernel.startswith(TILED_KERNELS))


def estimate_forward_bytes(shape: Shape, batch: int, new: int, total: int, quadratic: bool) -> int:
    e = shape.element_size
    scores = batch * shape.heads * new * total * (2 * e + 4) + batch * new * total * e if quadratic else 0
    hidden = batch * new * (4 * shape.hidden + 2 * shape.intermediate) * e
    logits = batch * new * shape.vocab * (e + (4 if e < 4 else 0))
    cache = 2 * shape.layers * batch * shape.kv_heads * shape.head_dim * total * e
    return scores + hidden + logits + cache


def _positive(source: Any, *names: str) -> int | None:
    for name in names:
        try:
            value = getattr(source, name, None)
        except Exception:  # a config property that raises
            value = None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def model_shape(adapter: Any) -> Shape:
    """The widths that the estimate needs, from the config (the twin's, when probes run on a twin) or, for a
    custom module without one, from its module tree (heads guessed as hidden / 64 when it does not say)."""
    import torch

    config = adapter.config
    if config is not None and hasattr(config, "get_text_config"):
        with contextlib.suppress(Exception):
            config = config.get_text_config(decoder=True)
    model = adapter.model
    embeddings = next((m for m in model.modules() if isinstance(m, torch.nn.Embedding)), None)
    hidden = (_positive(config, "hidden_size", "d_model", "n_embd") or _positive(model, "hidden_size", "dim")
              or (embeddings.embedding_dim if embeddings is not None else 0))
    attention = next((m for m in model.modules() if isinstance(m, torch.nn.MultiheadAttention)), None)
    heads = (_positive(config, "num_attention_heads", "n_head", "num_heads")
             or _positive(model, "num_attention_heads", "num_heads", "n_heads")
             or (attention.num_heads if attention is not None else None) or max(1, hidden // 64))
    return Shape(
        layers=_positive(config, "num_hidden_layers", "n_layer", "num_layers") or len(adapter.blocks()) or 1,
        heads=heads,
        kv_heads=_positive(config, "num_key_value_heads", "num_kv_heads", "multi_query_group_num") or heads,
        head_dim=_positive(config, "head_dim", "kv_channels") or max(1, hidden // heads),
        hidden=hidden,
        intermediate=_positive(config, "intermediate_size", "ffn_dim", "n_inner", "d_ff") or 4 * hidden,
        vocab=adapter.vocab_size,
        element_size=torch.empty((), dtype=adapter.dtype).element_size(),
    )


def available_bytes(device: Any) -> int | None:
    """Memory free for a new allocation on `device`; None where it cannot be told (no check then)."""
    kind = getattr(device, "type", str(device))
    if kind == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        # what torch's caching allocator holds unused is free for torch as well
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if kind == "cpu":
        return cpu_available_bytes()
    return None


def cached_tokens(cache: Any) -> int:
    """Positions a cache already holds (0 when it cannot be told): keys a new chunk attends to as well."""
    if cache is None:
        return 0
    try:
        count = getattr(cache, "get_seq_length", None)
        if callable(count):
            return int(count())
        if isinstance(cache, (list, tuple)) and cache and isinstance(cache[0], (list, tuple)):
            return int(cache[0][0].shape[-2])
    except Exception:  # a cache that keeps no count (no attention layer), or an unusual layout
        pass
    return 0


def check_forward(adapter: Any, input_ids: Any, past_tokens: int = 0) -> None:
    """Raise InsufficientMemory when a forward of `input_ids` after `past_tokens` cached positions would not
    fit; do nothing where the free memory cannot be told."""
    device = adapter.device
    available = available_bytes(device)
    if getattr(adapter, "agree", None) is not None:  # the same decision on every rank of a sharded model
        available = adapter.agree(-1 if available is None else available)
        available = None if available < 0 else available
    if available is None or getattr(input_ids, "ndim", 0) != 2:
        return
    shape = adapter.memory_shape()
    batch, new = int(input_ids.shape[0]), int(input_ids.shape[1])
    needed = estimate_forward_bytes(shape, batch, new, new + past_tokens, materialises_scores(adapter.kernel))
    if needed > available:
        raise InsufficientMemory(needed, available, str(device), new + past_tokens)
