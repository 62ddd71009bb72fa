"""`cache-consistency`: prefill in chunks and decode token by token through the cache; every position must
match one full forward pass. Past the windows, so that a sliding cache has to evict."""

from __future__ import annotations

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.probes.window_reach import claimed_windows
from modelcard.probe.registry import probe
from modelcard.probe.tolerances import compare, tolerance


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
    status = "pass" if result["within_tolerance"] else "fail"
    findings = [] if status == "pass" else [finding(
        "error", "/kv_cache", "decoding through the cache computes what one full forward computes",
        {"max_abs_diff": result["max_abs_diff"], "first_position_off": result["first_position_off"]},
        f"decoding through the {type(cache).__name__} diverges from a full forward from position "
        f"{result['first_position_off']} on (max abs diff {result['max_abs_diff']:.3g}): cached generation "
        "does not compute what the model computes")]
    return Outcome(status=status, findings=findings, metric="max abs diff vs full forward",
                   value=result["max_abs_diff"], unit=None,
                   threshold={"atol": atol, "rtol": rtol},
                   details={**result, "length": length, "decoded_tokens": decode,
                            "prefill_chunks": [list(s) for s in steps[:len(steps) - decode]]})
