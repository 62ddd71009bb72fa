"""`cache-consistency`: generation through the cache must compute what one full forward computes, past the
windows so that a sliding cache has to evict. Two ways through the cache are checked: the prompt prefilled
in one piece and then decoded token by token (how `generate` runs), and the prompt prefilled in chunks (how
serving engines run long prompts). The rounding noise they are allowed comes from the full forward alone (run
again, and on shorter inputs), never from a path through the cache under test."""

from __future__ import annotations

from typing import Any

from modelcard.probe.capping import cap_length, declared_context
from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.registry import probe
from modelcard.probe.shared import NOISE_FACTOR, claimed_windows, float64_copy
from modelcard.probe.tolerances import compare, tolerance


def through_cache(adapter: Any, ids: Any, steps: list[tuple[int, int]]) -> tuple[Any, Any]:
    import torch

    pieces, cache = [], None
    for start, end in steps:
        out, cache = adapter.step(ids[:, start:end], cache)
        pieces.append(out)
    return torch.cat(pieces, dim=1), cache


def divergence(full: Any, cached: Any, first: int, atol: float, rtol: float) -> dict[str, Any]:
    """How far the cached outputs are from the full forward: overall, over the first piece (the prefill on an
    empty cache) and after it."""
    import torch

    keep = torch.ones(cached.shape[:2], dtype=torch.bool, device=cached.device)
    result = compare(full, cached, keep, atol, rtol)
    difference = (full.float() - cached.float()).abs()
    result["first_piece_diff"] = float(difference[:, :first].max())
    result["max_abs_diff_after_first_piece"] = float(difference[:, first:].max()) if first < full.shape[1] else 0.0
    return result


def noise_lengths(paths: dict[str, list[tuple[int, int]]], length: int) -> list[int]:
    """Lengths whose rounding the cached paths meet: where each prefill piece ends (the one-piece prefill, each
    chunk), and the first two and the last decoded positions."""
    ends = {end for steps in paths.values() for start, end in steps if end - start > 1}
    decoded = sorted({start for steps in paths.values() for start, end in steps if end - start == 1})
    ends |= {start + 1 for start in decoded[:2]} | ({decoded[-1]} if decoded else set())
    return sorted(n for n in ends if 0 < n < length)


def noise_floor(adapter: Any, ids: Any, full: Any, lengths: list[int]) -> dict[str, Any]:
    """Rounding noise measured on paths that never touch the cache under test: the full forward of the same
    input run again (a kernel that is not deterministic), and full forwards of each shorter input `lengths`
    names against the same positions of the full forward (which lengths change a kernel's rounding differs by
    device: on an H200 in bf16 a 240-token forward of 248 tokens was bit-identical, an 80-token one was not).
    A prefill bug therefore cannot widen the tolerance it is judged by."""
    again = adapter.outputs(ids)
    diffs = {"repeat": float((again.float() - full.float()).abs().max())}
    for n in lengths:
        shorter = adapter.outputs(ids[:, :n])
        diffs[str(n)] = float((shorter.float() - full[:, :n].float()).abs().max())
    return {"value": max(diffs.values()), "by_length": diffs}


def judge(results: dict[str, dict[str, Any]], noise: dict[str, Any]) -> None:
    """A path is consistent within its dtype's tolerance, or within a few times the rounding noise of the full
    forward alone (deep models in half precision exceed transformers' tiny-model tolerances on rounding)."""
    for result in results.values():
        result["noise_floor"] = noise["value"]
        result["within_rounding_noise"] = (not result["within_tolerance"]
                                           and result["max_abs_diff"] <= NOISE_FACTOR * noise["value"])
        result["consistent"] = result["within_tolerance"] or result["within_rounding_noise"]


def check_paths(adapter: Any, ids: Any, paths: dict[str, list[tuple[int, int]]], atol: float,
                rtol: float) -> tuple[dict[str, dict[str, Any]], str]:
    full = adapter.outputs(ids)
    results, cache_name = {}, "cache"
    for name, steps in paths.items():
        cached, cache = through_cache(adapter, ids, steps)
        cache_name = type(cache).__name__
        results[name] = divergence(full, cached, steps[0][1], atol, rtol)
    noise = noise_floor(adapter, ids, full, noise_lengths(paths, ids.shape[1]))
    judge(results, noise)
    for result in results.values():
        result["noise_by_length"] = noise["by_length"]
    return results, cache_name


@probe("cache-consistency", "Prefill and decode through the cache equal one full forward", version=1)
def cache_consistency(ctx: ProbeContext, length: int | None = None, min_length: int = 48, chunks: int = 3,
                      decode: int = 8, margin: int = 16, max_length: int = 16384, atol: float | None = None,
                      rtol: float | None = None) -> Outcome:
    adapter = ctx.adapter
    if adapter.cache_argument is None:
        return skipped(f"{type(adapter.model).__name__}.forward takes no cache")
    length, capped = cap_length(length or max([min_length, *(w + margin + decode for w in claimed_windows(ctx))]),
                                [declared_context(ctx.max_length())])
    if length > max_length:
        return skipped(f"passing the windows needs {length:,} tokens; max_length is {max_length:,}")
    decode = min(decode, length - 1)
    ids = ctx.random_ids(length, salt=31)
    prefill = length - decode
    size = -(-prefill // max(1, chunks))
    tokens = [(position, position + 1) for position in range(prefill, length)]
    paths = {"decode": [(0, prefill), *tokens],
             "chunked_prefill": [(start, min(start + size, prefill)) for start in range(0, prefill, size)] + tokens}
    atol, rtol = tolerance(adapter.dtype_name, atol, rtol)
    results, cache_name = check_paths(adapter, ids, paths, atol, rtol)
    if not all(r["consistent"] for r in results.values()):
        exact = float64_copy(adapter)
        rechecked = None
        if exact is not None:
            atol64, rtol64 = tolerance("float64")
            try:
                rechecked, _ = check_paths(exact, ids, paths, atol64, rtol64)
            except (RuntimeError, TypeError, ValueError) as error:  # some kernels (grouped MoE matmuls) have no float64
                for result in results.values():
                    result["float64"] = {"error": " ".join(str(error).split())[:200]}
        if rechecked is not None:
            for name, result in results.items():
                result["float64"] = {k: rechecked[name][k] for k in ("max_abs_diff", "consistent")}
                result["rounding_only"] = not result["consistent"] and rechecked[name]["consistent"]
                result["consistent"] = result["consistent"] or rechecked[name]["consistent"]
    outcome = Outcome(status="pass", metric="max abs diff vs full forward",
                      value=max(r["max_abs_diff"] for r in results.values()), unit=None,
                      threshold={"atol": atol, "rtol": rtol, "noise_factor": NOISE_FACTOR},
                      details={"length": length, "capped": capped, "decoded_tokens": decode,
                               "prefill_chunks": paths["chunked_prefill"][:-decode], **results})
    decode_result, chunked = results["decode"], results["chunked_prefill"]
    if not decode_result["consistent"]:
        outcome.status = "fail"
        outcome.findings.append(finding(
            "error", "/kv_cache", "decoding through the cache computes what one full forward computes",
            {"max_abs_diff": decode_result["max_abs_diff"], "first_position_off": decode_result["first_position_off"]},
            f"decoding through the {cache_name} diverges from a full forward from position "
            f"{decode_result['first_position_off']} on (max abs diff {decode_result['max_abs_diff']:.3g}, over "
            f"{NOISE_FACTOR}x the rounding noise of a shorter forward, {decode_result['noise_floor']:.3g}): "
            "generation does not compute what the model computes"))
    elif not chunked["consistent"]:
        outcome.status = "fail"
        outcome.findings.append(finding(
            "warning", "/kv_cache", "a prompt prefilled in chunks through the cache gives the full forward",
            {"max_abs_diff": chunked["max_abs_diff"], "first_position_off": chunked["first_position_off"]},
            f"prefilling in chunks through the {cache_name} diverges from a full forward from position "
            f"{chunked['first_position_off']} on (max abs diff {chunked['max_abs_diff']:.3g}); one-piece prefill "
            "and token-by-token decoding agree, so only chunked prefill (as serving engines do) is affected"))
    return outcome
