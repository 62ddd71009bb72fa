"""The memory budget of one long-context cell: its peak estimated before it runs, from the record and the model
(weights + the KV cache at that length + the activations of one chunk for the kernel in use), compared with what
the devices that hold the model can give; and its peak measured while it runs, kept beside the estimate.

- weights: the bytes of the parameters and buffers that are resident (on any device but `meta`);
- KV cache: the record's own per-layer formula (kv_cache.layers, so a sliding layer stops at its window and a
  state-space layer adds its constant state), at the model's dtype; the widths of memcheck.Shape when the record
  has no formula;
- activations: memcheck.estimate_forward_bytes of one chunk of `chunk` new tokens over the full length, less its
  cache term (counted above), plus the attention mask that sdpa and flex take (mask_bytes).

A cell that cannot fit is skipped with the estimate in its reason: weights are already resident, so it fits
when the KV cache and activations fit in what the devices have free."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelcard.probe.memcheck import available_bytes, estimate_forward_bytes, materialises_scores, size
from modelcard.probe.shared import bytes_at

ELEMENT_SIZES = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2, "float8_e4m3fn": 1, "float8_e5m2": 1}


@dataclass(frozen=True)
class PeakEstimate:
    tokens: int
    weights: int
    kv_cache: int
    activations: int
    kv_source: str  # record: the record's per-layer formula; shape: the widths of the config

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations

    def as_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "weights": self.weights, "kv_cache": self.kv_cache,
                "activations": self.activations, "total": self.total, "kv_source": self.kv_source}

    def describe(self) -> str:
        return (f"estimated peak {size(self.total)} (weights {size(self.weights)} + KV cache at {self.tokens:,} "
                f"tokens {size(self.kv_cache)} + activations {size(self.activations)})")


def resident_bytes(model: Any) -> int:
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors if t.device.type != "meta")


def kv_cache_bytes(ctx: Any, tokens: int) -> tuple[int, str]:
    """The cache at `tokens` by the record's formula, at the dtype the model runs in."""
    adapter = ctx.adapter
    shape = adapter.memory_shape()
    kv = (ctx.facts.get("kv_cache") or {}) if not adapter.twin else (ctx.subject_facts.get("kv_cache") or {})
    layers = kv.get("layers") or []
    recorded = bytes_at(layers, tokens) if layers else None
    if recorded is not None:
        stated = ELEMENT_SIZES.get(str(kv.get("dtype")))
        if stated and stated != shape.element_size:  # the record costs an undeclared dtype at bfloat16
            recorded = recorded * shape.element_size // stated
        return int(recorded), "record"
    return 2 * shape.layers * shape.kv_heads * shape.head_dim * tokens * shape.element_size, "shape"


def estimate_peak(ctx: Any, tokens: int, chunk: int, batch: int = 1) -> PeakEstimate:
    adapter = ctx.adapter
    shape = adapter.memory_shape()
    new = min(tokens, max(1, chunk))
    forward = estimate_forward_bytes(shape, batch, new, tokens, materialises_scores(adapter.kernel))
    cache_term = estimate_forward_bytes(shape, batch, 0, tokens, False)
    kv, source = kv_cache_bytes(ctx, tokens)
    return PeakEstimate(tokens=tokens, weights=resident_bytes(adapter.model), kv_cache=kv * batch,
                        activations=max(0, forward - cache_term) + mask_bytes(adapter, batch, new, tokens),
                        kv_source=source)


def mask_bytes(adapter: Any, batch: int, new: int, tokens: int) -> int:
    """The (queries x keys) mask transformers builds for a kernel that takes one (sdpa, flex) when the new tokens
    follow a cache; eager's is counted with its scores, and flash attention takes none."""
    kernel = adapter.kernel or ""
    if materialises_scores(kernel) or kernel.startswith(("flash", "paged")):
        return 0
    return batch * new * tokens * adapter.memory_shape().element_size


def free_bytes(adapter: Any) -> tuple[int | None, str]:
    """Free memory on the devices that hold the model (its accelerators when it has any: a model split across
    GPUs with some layers offloaded computes on the GPUs), and their names; None when it cannot be told."""
    devices = adapter.devices
    accelerators = [d for d in devices if getattr(d, "type", str(d)) not in ("cpu", "meta")]
    chosen = accelerators or devices
    total = 0
    for device in chosen:
        free = available_bytes(device)
        if free is None:
            return None, ", ".join(map(str, chosen))
        total += free
    return total, ", ".join(map(str, chosen))


def fits(ctx: Any, estimate: PeakEstimate) -> str | None:
    """None when the cell fits; otherwise the reason it is skipped, with the estimate."""
    free, where = free_bytes(ctx.adapter)
    if ctx.adapter.agree is not None:  # the same decision on every rank of a sharded model
        free = ctx.adapter.agree(-1 if free is None else free)
        free = None if free < 0 else free
    if free is None or estimate.kv_cache + estimate.activations <= free:
        return None
    return (f"more than the device holds: {estimate.describe()} against {size(estimate.weights + free)} on {where} "
            f"({size(estimate.weights)} held by the weights + {size(free)} free)")


class PeakMeter:
    """The peak memory of what runs inside `measuring()`, counted like the estimate: on CUDA the allocator's peak
    (weights included) summed over the model's GPUs; elsewhere the resident weights plus the peak bytes of live
    tensors created while it runs (torch keeps no CPU allocator statistics)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter
        self.peak: int | None = None
        self.how = ""

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        import torch

        cuda = [d for d in self.adapter.devices if getattr(d, "type", "") == "cuda"]
        if cuda:
            for device in cuda:
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
            yield
            for device in cuda:
                torch.cuda.synchronize(device)
            self.peak = int(sum(torch.cuda.max_memory_allocated(d) for d in cuda))
            self.how = f"CUDA allocator peak, summed over {', '.join(map(str, cuda))}"
            return
        from modelcard.probe.memory import _tracker

        tracker = _tracker()
        with tracker:
            yield
        self.peak = resident_bytes(self.adapter.model) + int(tracker.peak)
        self.how = "resident weights + peak bytes of live tensors created while it ran"
