"""Tiny custom nn.Modules that follow SPEC.md's protocol, honest ones and ones with a planted bug, each
importable as a `tinymodels:<factory>` model spec. Weights are random and seeded."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn import functional as F

VOCAB, DIM, HEADS = 64, 32, 2


class Attention(nn.Module):
    def __init__(self, window: int | None, leak: int, bidirectional: bool, prefix: int, model: TinyLM) -> None:
        super().__init__()
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.out = nn.Linear(DIM, DIM)
        self.window, self.leak, self.bidirectional, self.prefix = window, leak, bidirectional, prefix
        object.__setattr__(self, "owner", model)  # not registered as a child; a deepcopy copies it along

    @property
    def model(self) -> dict:
        """The owner's settings (kernel, bugs): those of the copy, in a copy (the float64 recheck's)."""
        return self.owner.__dict__

    def allowed(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        q, k = queries[:, None], keys[None, :]
        ok = k <= q + self.leak
        if self.bidirectional:
            ok = torch.ones_like(ok)
        if self.prefix:
            ok = ok | ((q < self.prefix) & (k < self.prefix))
        if self.window is not None and self.model["enforce_window"]:
            ok = ok & (k > q - self.window)
        if self.model["chunk"]:
            ok = ok & (k // self.model["chunk"] == q // self.model["chunk"])
        return ok

    def forward(self, x: torch.Tensor, past: tuple | None) -> tuple[torch.Tensor, tuple]:
        batch, length, _ = x.shape
        if self.model["crash_kernel"] == self.model["attn_implementation"]:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        q, k, v = (t.view(batch, length, HEADS, -1).transpose(1, 2) for t in self.qkv(x).chunk(3, dim=-1))
        if self.model["caching"] and self.model["cache_key_scale"]:  # the bug: keys go wrong once a cache is kept
            k = k * (1 + self.model["cache_key_scale"])
        offset = 0 if past is None else past[0].shape[-2] + self.model["dropped"]
        if past is not None:
            whole = torch.cat([past[0], k], dim=-2), torch.cat([past[1], v], dim=-2)
            if not (self.model["chunk_forgets_cache"] and length > 1):  # the bug: chunks ignore what is cached
                k, v = whole
        queries = torch.arange(offset, offset + length)
        keys = torch.arange(offset + length - k.shape[-2], offset + length)
        mask = self.allowed(queries, keys)
        head = q.shape[-1]
        if self.model["attn_implementation"] == "sdpa":
            scale = 1 / head if self.model["bad_kernel"] else 1 / math.sqrt(head)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        else:
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(head)
            y = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v
        stored = (k, v) if past is None else whole
        if past is None and self.model["drop_cache_token"]:
            stored = (k[:, :, :-1], v[:, :, :-1])  # the bug: the last prefill token never reaches the cache
            self.model["dropped"] = 1
        return self.out(y.transpose(1, 2).reshape(batch, length, DIM)), stored


class Block(nn.Module):
    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(DIM), nn.LayerNorm(DIM)
        self.attn = Attention(**kwargs)
        self.mlp = nn.Sequential(nn.Linear(DIM, 2 * DIM), nn.GELU(), nn.Linear(2 * DIM, DIM))

    def forward(self, x: torch.Tensor, past: tuple | None = None) -> tuple[torch.Tensor, tuple]:
        y, stored = self.attn(self.norm1(x), past)
        x = x + y
        return x + self.mlp(self.norm2(x)), stored


class TinyLM(nn.Module):
    modelcard_kernels = ["eager", "sdpa"]

    def __init__(self, layers: int = 2, window: int | None = None, leak: int = 0, bidirectional: bool = False,
                 prefix: int = 0, enforce_window: bool = True, drop_cache_token: bool = False,
                 bad_kernel: bool = False, declared: dict | None = None, seed: int = 0,
                 length_rounding: float = 0.0, chunk_forgets_cache: bool = False, chunk: int | None = None,
                 cache_key_scale: float = 0.0, crash_kernel: str | None = None) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.attn_implementation = "sdpa"
        self.enforce_window, self.drop_cache_token, self.bad_kernel, self.dropped = (
            enforce_window, drop_cache_token, bad_kernel, 0)
        self.length_rounding, self.chunk_forgets_cache = length_rounding, chunk_forgets_cache
        self.chunk, self.cache_key_scale, self.crash_kernel, self.caching = chunk, cache_key_scale, crash_kernel, False
        self.embed = nn.Embedding(VOCAB, DIM)
        self.blocks = nn.ModuleList(Block(window=window, leak=leak, bidirectional=bidirectional, prefix=prefix,
                                          model=self) for _ in range(layers))
        self.head = nn.Linear(DIM, VOCAB)
        self.modelcard_declared = declared if declared is not None else {"masking": "causal", "context_window": 512}
        self.eval()

    def set_attn_implementation(self, name: str) -> None:
        if name not in self.modelcard_kernels:
            raise ValueError(f"no kernel {name}")
        self.attn_implementation = name

    def forward(self, input_ids: torch.Tensor, cache: list | None = None, use_cache: bool = False):
        if cache is None:
            self.dropped = 0
        self.caching = use_cache
        x = self.embed(input_ids)
        stored = []
        for index, block in enumerate(self.blocks):
            x, layer_cache = block(x, None if cache is None else cache[index])
            stored.append(layer_cache)
        logits = self.head(x) + self.length_rounding * (input_ids.shape[1] % 3)
        return SimpleNamespace(logits=logits, cache=stored if use_cache else None)


def honest() -> TinyLM:
    return TinyLM()


def leaks_next_token() -> TinyLM:
    """Each position also sees the one after it."""
    return TinyLM(leak=1)


def bidirectional() -> TinyLM:
    return TinyLM(bidirectional=True, declared={"masking": "bidirectional"})


def prefix_lm() -> TinyLM:
    return TinyLM(prefix=6, declared={"masking": "prefix"})


def windowed() -> TinyLM:
    return TinyLM(window=8, declared={"masking": "causal", "sliding_window": 8, "context_window": 512})


def window_not_enforced() -> TinyLM:
    """Declares a sliding window of 8 and attends to everything."""
    return TinyLM(window=8, enforce_window=False,
                  declared={"masking": "causal", "sliding_window": 8, "context_window": 512})


def drops_cache_token() -> TinyLM:
    return TinyLM(drop_cache_token=True)


def chunked_prefill_forgets_cache() -> TinyLM:
    """Decodes token by token correctly, but a multi-token chunk after a cached prefix ignores the cache (the
    way transformers 5.24's Mamba layers handle a chunked prefill)."""
    return TinyLM(chunk_forgets_cache=True)


def length_dependent_rounding() -> TinyLM:
    """Exact, but every output moves by up to 2e-3 with the length of the call, like a deep model's rounding
    in half precision: far over fp32 tolerances, and the same before and after the cache is used."""
    return TinyLM(length_rounding=1e-3)


def disagreeing_kernel() -> TinyLM:
    """Its sdpa path scales scores by 1/d instead of 1/sqrt(d)."""
    return TinyLM(bad_kernel=True)
