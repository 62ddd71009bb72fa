"""`cache-consistency`: prefill in chunks and decode token by token through the cache; every position must
match one full forward pass. Past the windows, so that a sliding cache has to evict."""

from __future__ import annotations

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.probes.window_reach import claimed_windows
from modelcard.probe.registry import probe
from modelcard.probe.tolerances import compare, tolerance

# A cache that only reorders rounding stays within a few times the noise of a shorter forward; transformers'
# dtype tolerances come from tiny models and a deep model in half precision exceeds them on rounding alone.
NOISE_FACTOR = 4


@probe("cache-consistency", "Prefill and decode through the cache equal one full forward")
def cache_consistency(ctx: ProbeContext, length: int | None = None, min_length: int = 48, chunks: int = 3,
                      decode: int = 8, margin: int = 16, max_length: int = 16384, atol: float | None = None,
                      rtol: float | None = None) -> Outcome:
    import torch

    adapter = ctx.adapter
    if adapter.cache_argument is None:
        return skipped(f"{type(adapter.model).__name__}.forward takes no cache")
    length = length or max([min_length, *(w + margin + decode for w in claimed_windows(ctx))])
    if ctx.max_length():
        length = min(length, ctx.max_length())
    if length > max_length:
        return skipped(f"passing the windows needs {length:,} tokens; max_length is {max_length:,}")
    decode = min(decode, length - 1)
    ids = ctx.random_ids(length, salt=31)
    full = adapter.outputs(ids)
    prefill = length - decode
    size = -(-prefill // max(1, chunks))
    pieces, cache = [], None
    steps = [(start, min(start + size, prefill)) for start in range(0, prefill, size)]
    steps += [(position, position + 1) for position in range(prefill, length)]
    for start, end in steps:
        out, cache = adapter.step(ids[:, start:end], cache)
        pieces.append(out)
    cached = torch.cat(pieces, dim=1)
    atol, rtol = tolerance(adapter.dtype_name, atol, rtol)
    keep = torch.ones(cached.shape[:2], dtype=torch.bool, device=cached.device)
    result = compare(full, cached, keep, atol, rtol)
    # The first chunk runs on an empty cache: it differs from the full forward only by the rounding of a
    # shorter input. That is the model's own noise floor; a cache bug shows after it, and above it.
    first = steps[0][1]
    noise = float((full[:, :first].float() - cached[:, :first].float()).abs().max())
    beyond = float((full[:, first:].float() - cached[:, first:].float()).abs().max()) if first < length else 0.0
    within_noise = beyond <= NOISE_FACTOR * noise
    status = "pass" if result["within_tolerance"] or within_noise else "fail"
    findings = [] if status == "pass" else [finding(
        "error", "/kv_cache", "decoding through the cache computes what one full forward computes",
        {"max_abs_diff": result["max_abs_diff"], "first_position_off": result["first_position_off"]},
        f"decoding through the {type(cache).__name__} diverges from a full forward from position "
        f"{result['first_position_off']} on (max abs diff {result['max_abs_diff']:.3g}, over {NOISE_FACTOR}x the "
        f"rounding noise of a shorter forward, {noise:.3g}): cached generation does not compute what the "
        "model computes")]
    return Outcome(status=status, findings=findings, metric="max abs diff vs full forward",
                   value=result["max_abs_diff"], unit=None,
                   threshold={"atol": atol, "rtol": rtol, "noise_factor": NOISE_FACTOR},
                   details={**result, "length": length, "decoded_tokens": decode, "noise_floor": noise,
                            "max_abs_diff_after_first_chunk": beyond,
                            "within_rounding_noise": not result["within_tolerance"] and within_noise,
                            "prefill_chunks": [list(s) for s in steps[:len(steps) - decode]]})
