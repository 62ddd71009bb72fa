"""`scaling`: peak memory and latency of one forward pass against context length (powers of two up to what
the device holds), with fitted log-log exponents and their 95% intervals, and the analytic KV-cache size beside
them.

What makes it repeatable: forwards at the smallest length warm the model up, and each length runs once untimed
(its memory measurement) before it is timed; the timed forwards then run in `repeats` interleaved rounds over
every length (a change in the machine's load spreads over all lengths instead of bending the curve), and each
length reports the median with its range. The exponents are fitted on exactly what the card's chart draws
(modelcard.card.chart_data.scaling_chart): the median peak memory above the weights (modelcard.probe.memory) and the
median latency, over the `fit_points + 1` longest lengths. Each comes with its 95% interval
(modelcard.probe.exponents), and the memory exponent fails the probe only when its whole interval lies above
`max_exponent`."""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from modelcard.probe.capping import cap_length, declared_context
from modelcard.probe.context import ProbeContext
from modelcard.probe.exponents import fit_exponent
from modelcard.probe.memory import peak_bytes
from modelcard.probe.outcome import Outcome, skipped
from modelcard.probe.registry import probe
from modelcard.probe.shared import bytes_at


def is_out_of_memory(error: BaseException) -> bool:
    """Whether `error` says the device ran out of memory (torch raises RuntimeError subclasses for it)."""
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower()


def doubling_lengths(min_tokens: int, limit: int) -> list[int]:
    """The powers of two from `min_tokens` (rounded up to one) to `limit`."""
    first = max(0, math.ceil(math.log2(max(1, min_tokens))))
    return [2 ** k for k in range(first, 63) if 2 ** k <= limit]


def synchronize(device: Any) -> None:
    """Wait for the device's queued work, so that a timer measures it."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(run: Callable[[], Any], device: Any) -> float:
    """Seconds one call of `run` takes, the device's queued work included."""
    synchronize(device)
    start = time.perf_counter()
    run()
    synchronize(device)
    return time.perf_counter() - start


def measure_memory(ctx: ProbeContext, lengths: list[int], repeats: int) -> tuple[dict[int, list[int]], str | None]:
    """Peak bytes of a forward at each length (`repeats` times; once where the count is exact), shortest first,
    until the device runs out of memory. The first forward at a length also warms it up for the timing.

    Returns:
        ({length: [peak bytes, ...]}, why it stopped early or None).
    """
    adapter = ctx.adapter
    peaks: dict[int, list[int]] = {}
    for length in lengths:
        ids = ctx.random_ids(length, salt=52)
        try:
            peaks[length] = [peak_bytes(functools.partial(adapter.outputs, ids), adapter.device)
                             for _ in range(repeats)]
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            release(adapter.device)
            return peaks, f"out of memory at {length:,} tokens"
    return peaks, None


def release(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()


def measure_latency(ctx: ProbeContext, lengths: list[int], repeats: int) -> dict[int, list[float]]:
    """Seconds of a forward at each length, `repeats` interleaved rounds over all lengths."""
    adapter = ctx.adapter
    inputs = {length: ctx.random_ids(length, salt=52) for length in lengths}
    seconds: dict[int, list[float]] = {length: [] for length in lengths}
    for _ in range(repeats):
        for length in lengths:
            seconds[length].append(timed(functools.partial(adapter.outputs, inputs[length]), adapter.device))
    return seconds


def spread(values: Sequence[float], digits: int) -> list[float]:
    return [round(min(values), digits), round(max(values), digits)]


def point(length: int, peaks: list[int], seconds: list[float], kv_layers: list[dict[str, Any]]) -> dict[str, Any]:
    """One length's row: the medians the chart draws with their range, and the analytic cache size."""
    return {"tokens": length, "peak_bytes": int(statistics.median(peaks)), "peak_bytes_range": spread(peaks, 0),
            "latency_s": round(statistics.median(seconds), 6), "latency_range_s": spread(seconds, 6),
            "latency_samples_s": [round(s, 6) for s in seconds],
            "kv_cache_bytes": bytes_at(kv_layers, length) if kv_layers else None}


@probe("scaling", "Peak memory and latency against context length", version=2)
def scaling(ctx: ProbeContext, min_tokens: int = 64, max_tokens: int = 2048, repeats: int = 3, warmup: int = 2,
            fit_points: int = 3, max_exponent: float = 1.5) -> Outcome:
    adapter = ctx.adapter
    limit, capped = cap_length(max_tokens, [declared_context(ctx.max_length())])
    lengths = doubling_lengths(min_tokens, limit)
    if len(lengths) < 2:
        return skipped(f"fewer than two lengths between {min_tokens} and {limit} tokens")
    repeats = max(1, repeats)
    exact_memory = adapter.device.type == "cpu"  # live-tensor bytes are counted, not sampled: one count is exact
    memory_repeats = 1 if exact_memory else repeats
    for _ in range(max(0, warmup)):
        adapter.outputs(ctx.random_ids(lengths[0], salt=51))
    peaks, stopped = measure_memory(ctx, lengths, memory_repeats)
    if stopped is not None:
        capped = {"requested": max_tokens, "used": max(peaks, default=0), "why": stopped}
    seconds = measure_latency(ctx, list(peaks), repeats)
    kv_layers = (ctx.facts.get("kv_cache") or {}).get("layers") or []
    rows = [point(length, peaks[length], seconds[length], kv_layers) for length in peaks]
    if len(rows) < 2:
        return skipped(f"fewer than two lengths fit in memory ({stopped})")
    tail = rows[-(fit_points + 1):]
    xs = [row["tokens"] for row in tail]
    memory = fit_exponent(xs, [peaks[x] for x in xs], seed=ctx.seed)
    if memory is None:
        return skipped(f"no memory above the weights was measured at {xs[0]:,} to {xs[-1]:,} tokens")
    latency = fit_exponent(xs, [seconds[x] for x in xs], seed=ctx.seed)
    details = {"points": rows, "fitted_on": xs, "repeats": repeats, "warmup": warmup,
               "memory_exponent_interval": memory["interval"],
               "latency_exponent": latency["value"] if latency else None,
               "latency_exponent_interval": latency["interval"] if latency else None,
               "interval_method": memory["method"],
               "drawn": {"memory": "peak_bytes", "latency": "latency_s"},
               "stopped": stopped, "capped": capped,
               "memory": "cuda allocator peak above the weights" if adapter.device.type == "cuda" else
                         "peak bytes of live tensors created by the forward (above the weights), counted exactly"}
    low = memory["interval"][0] if memory["interval"] else memory["value"]
    return Outcome(status="fail" if low > max_exponent else "pass", metric="peak-memory exponent",
                   value=memory["value"], unit=None, threshold=max_exponent, details=details)
