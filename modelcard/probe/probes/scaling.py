"""`scaling`: peak memory and latency of one forward pass against context length (powers of two up to what
the device holds), with fitted log-log exponents and the analytic KV-cache size beside them."""

from __future__ import annotations

import itertools
import math
import time

from modelcard.probe.context import ProbeContext
from modelcard.probe.memory import peak_bytes
from modelcard.probe.outcome import Outcome, skipped
from modelcard.probe.registry import probe
from modelcard.probe.shared import bytes_at


def slope(points: list[tuple[int, float]]) -> float | None:
    """Least-squares exponent k of y ~ x^k."""
    usable = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(usable) < 2:
        return None
    mean_x = sum(x for x, _ in usable) / len(usable)
    mean_y = sum(y for _, y in usable) / len(usable)
    spread = sum((x - mean_x) ** 2 for x, _ in usable)
    return round(sum((x - mean_x) * (y - mean_y) for x, y in usable) / spread, 3) if spread else None


def growth_exponent(points: list[tuple[int, float]]) -> float | None:
    """Exponent k of y = a + b * x^k on a doubling grid: the increments y(2x) - y(x) grow as x^k, whatever the
    fixed cost a (weights' buffers, RoPE tables). Subtracting the first point instead would bend a straight
    line upwards. Falls back to the plain log-log slope when fewer than two increments are positive."""
    increments = [(x0, y1 - y0) for (x0, y0), (_, y1) in itertools.pairwise(points)]
    if sum(1 for _, step in increments if step > 0) >= 2:
        return slope(increments)
    return slope(points)


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower()


@probe("scaling", "Peak memory and latency against context length")
def scaling(ctx: ProbeContext, min_tokens: int = 64, max_tokens: int = 2048, repeats: int = 1, fit_points: int = 3,
            max_exponent: float = 1.5) -> Outcome:
    import torch

    adapter = ctx.adapter
    limit = min(max_tokens, ctx.max_length() or max_tokens)
    lengths = [2 ** k for k in range(max(0, math.ceil(math.log2(min_tokens))), 63) if 2 ** k <= limit]
    if len(lengths) < 2:
        return skipped(f"fewer than two lengths between {min_tokens} and {limit} tokens")
    kv_layers = (ctx.facts.get("kv_cache") or {}).get("layers") or []
    adapter.outputs(ctx.random_ids(lengths[0], salt=51))  # warm-up
    rows, stopped = [], None
    for length in lengths:
        ids = ctx.random_ids(length, salt=52)
        try:
            memory = peak_bytes(lambda ids=ids: adapter.outputs(ids), adapter.device)
            timings = []
            for _ in range(max(1, repeats)):
                start = time.perf_counter()
                adapter.outputs(ids)
                if adapter.device.type == "cuda":
                    torch.cuda.synchronize(adapter.device)
                timings.append(time.perf_counter() - start)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            stopped = f"out of memory at {length:,} tokens"
            if adapter.device.type == "cuda":
                torch.cuda.empty_cache()
            break
        rows.append({"tokens": length, "peak_bytes": memory, "latency_s": round(min(timings), 6),
                     "kv_cache_bytes": bytes_at(kv_layers, length) if kv_layers else None})
    tail = rows[-(fit_points + 1):]
    raw_exponent = slope([(r["tokens"], r["peak_bytes"]) for r in tail])
    memory_exponent = growth_exponent([(r["tokens"], r["peak_bytes"]) for r in tail])
    latency_exponent = growth_exponent([(r["tokens"], r["latency_s"]) for r in tail])
    passed = memory_exponent is not None and memory_exponent <= max_exponent
    return Outcome(status="pass" if passed else "fail", metric="peak-memory exponent", value=memory_exponent,
                   unit=None, threshold=max_exponent,
                   details={"points": rows, "latency_exponent": latency_exponent, "raw_memory_exponent": raw_exponent,
                            "fitted_on": [r["tokens"] for r in tail],
                            "stopped": stopped, "memory": "cuda allocator peak" if adapter.device.type == "cuda"
                            else "peak bytes of live tensors created by the forward"})
