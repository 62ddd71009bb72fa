"""The work estimates of the built-in probes (modelcard.probe.timing): the forwards each asks of the model,
counted from its parameters the way the probe spends them. They are estimates for planning, not accounting: a
probe that changes its method changes its estimate here.

The retrieval probes conclude from the lengths they could run (modelcard.probe.retrieval_cells.Merged): a cell
skipped for time is reported the way a length skipped for memory is, in the partial's `skipped` list."""

from __future__ import annotations

import math
from typing import Any

from modelcard.probe.timing import Forward, Work, register

KERNELS_COMPARED = 3  # kernel-agreement: eager, sdpa and one more where they run
# kernel-agreement's float64 reference: copying the model to float64 and its eager forward cost about ten forwards
# in the model's dtype (SmolLM2-135M on a CPU, where a short forward is mostly streaming the weights)
FLOAT64_REFERENCE_FORWARDS = 10


def retrieval_skipped(cell: dict[str, Any], reason: str) -> dict[str, Any]:
    """The partial of a retrieval cell that did not run: its length (or distance) listed as skipped with the
    reason, as modelcard.probe.retrieval_cells.measure_length lists a length over the window or the memory.

    Args:
        cell: the cell (names its `length` or `distance`).
        reason: why it did not run.

    Returns:
        The partial.
    """
    return {"skipped": [{**cell, "reason": reason}], "prompts": [], "compute": None, "memory": None}


def prompts_at(length: int, prompts: int, share: bool = True) -> Work:
    """`prompts` prompts of `length` tokens; with prefix sharing one full forward, then each other prompt's
    part after the shared prefix (half the length on average) over the full length of keys. Then one prompt of
    the cell scored again by a full forward without the cache (the scorer's check)."""
    if not share or prompts <= 1:
        return [Forward(length, count=max(1, prompts) + 1)]
    return [Forward(length, count=2), Forward(max(1, length // 2), keys=length, count=prompts - 1)]


def _window_of(ctx: Any, length: int) -> int:
    declared = ctx.max_length()
    return min(length, declared) if declared else length


def _mask_leak(ctx: Any, params: dict[str, Any]) -> Work:
    return [Forward(params["length"], count=params["length"], batch=params["batch"])]


def _window_reach(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    from modelcard.probe.outcome import Outcome
    from modelcard.probe.probes.window_reach import geometry

    shape = geometry(ctx, params)
    if isinstance(shape, Outcome):
        return []
    length, positions = shape
    if ctx.adapter.is_transformers:  # one forward through the kernels reads every block, in the first cell
        return [Forward(length, count=2)] if cell["block"] == 0 else []
    blocks = max(1, len(ctx.adapter.blocks()))  # a custom module: each position perturbed up to the block
    return [Forward(length, count=1 + len(positions), depth=(cell["block"] + 1) / blocks)]


def _claimed_windows(ctx: Any) -> list[int]:
    from modelcard.probe.shared import claimed_windows

    return list(claimed_windows(ctx))


def _kv_layout(ctx: Any, params: dict[str, Any]) -> Work:
    long = params["length"] or max([params["min_length"], *(w + params["margin"] for w in _claimed_windows(ctx))])
    return [Forward(params["short"], count=2), Forward(_window_of(ctx, min(long, params["max_length"])))]


def _cache_consistency(ctx: Any, params: dict[str, Any]) -> Work:
    length = params["length"] or max([params["min_length"],
                                      *(w + params["margin"] + params["decode"] for w in _claimed_windows(ctx))])
    length = _window_of(ctx, min(length, params["max_length"]))
    decode = min(params["decode"], length - 1)
    chunks = max(1, params["chunks"])
    # the full forward twice (the reference and its repeat), one full forward at each length whose rounding the
    # cached paths meet (each prefill piece's end, the first two and the last decoded positions), the two cached
    # paths' prefills (one piece, then `chunks` pieces) and each decoded token on both paths
    noise = chunks + 1 + 3
    return [Forward(length, count=2 + noise), Forward(length - decode, count=1),
            Forward(max(1, (length - decode) // chunks), keys=length, count=chunks),
            Forward(1, keys=length, count=2 * decode)]


def _kernel_agreement(ctx: Any, params: dict[str, Any]) -> Work:
    kernels = len(params["kernels"]) if params.get("kernels") else KERNELS_COMPARED
    reference = 0 if ctx.adapter.dtype_name == "float64" else FLOAT64_REFERENCE_FORWARDS
    return [Forward(params["length"], count=kernels + reference, batch=params["batch"])]


def _scaling(ctx: Any, params: dict[str, Any]) -> Work:
    limit = _window_of(ctx, params["max_tokens"])
    lengths = [2 ** k for k in range(max(0, math.ceil(math.log2(params["min_tokens"]))), 63) if 2 ** k <= limit]
    if len(lengths) < 2:
        return []
    repeats = max(1, params["repeats"])
    memory_repeats = 1 if ctx.adapter.device.type == "cpu" else repeats  # live-tensor bytes: one count is exact
    return [Forward(lengths[0], count=max(1, params.get("warmup", 1))), Forward(lengths[0], count=memory_repeats),
            *(Forward(n, count=memory_repeats + repeats) for n in lengths)]


def _passkey(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    """The filler before the needle once, each sample from its needle on over the whole length of keys, then the
    check's full forward (SmolLM2, 2,048 tokens, depths 0 / 0.5 / 1 x 4 samples: 15,360 tokens counted, 15,457
    fed)."""
    length, samples = cell["length"], params["samples"]
    if not params["share_cache"]:
        return [Forward(length, count=samples + 1)]
    shared = int(cell["depth"] * length)
    return [Forward(max(1, shared)), Forward(max(1, length - shared), keys=length, count=samples), Forward(length)]


def _multikey(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    return prompts_at(cell["length"], params["samples"], params["share_cache"])


def _positions(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    return prompts_at(cell["length"], len(params["positions"]), params["share_cache"])


def _injected(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    roles = len(params.get("roles") or ()) if _has_chat_template(ctx) else 0
    length, places = cell["length"], len(params["places"])
    work = prompts_at(length, places + 1, params["share_cache"])
    if not roles:
        return work
    if not params["share_cache"]:
        return [*work, Forward(length, count=roles * places)]
    # a role's prompts start with their own turn: one full forward each, then its other prompts share it
    return [*work, Forward(length, count=roles), Forward(max(1, length // 2), keys=length, count=roles * (places - 1))]


def _has_chat_template(ctx: Any) -> bool:
    """Whether the retrieval prompts are in chat format (the planted instruction then also comes in other roles)."""
    from modelcard.probe.prompt_format import format_of
    from modelcard.probe.retrieval import preflight

    codec, _ = preflight(ctx)
    if codec is None:
        return False
    try:
        return format_of(ctx, codec).mode == "chat"
    except ValueError:
        return False


def _samples_apart(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    """`samples` prompts whose own text starts early (a chain's worked example, a needle after a short lead), so
    they share little: each a full forward, plus the check's."""
    return [Forward(cell["length"], count=params["samples"] + 1)]


def _frequent_words(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    return [Forward(cell["length"], count=2)]


def _nonliteral(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    """The literal and the non-literal prompt share their context up to the needle."""
    return prompts_at(cell["length"], 2, params["share_cache"])




def _quantization_drift(ctx: Any, params: dict[str, Any]) -> Work:
    """Nothing without --base-model; with it, each text through both models, and the passkey grid of both (each
    cell's prompts sharing their prefix)."""
    if not getattr(ctx, "reference", None):
        return []
    declared = ctx.max_length()
    length = min(params["max_length"], declared) if declared else params["max_length"]
    work = [Forward(length, count=2 * params["samples"])]
    for n in params["grid_lengths"]:
        if n <= length:
            for _ in params["grid_depths"]:
                work += [*prompts_at(n, params["grid_samples"]), *prompts_at(n, params["grid_samples"])]
    return work


def _copy(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> Work:
    return [Forward(2 * cell["distance"], count=params["samples"])]


register("mask-leak", whole=_mask_leak)
register("window-reach", cell=_window_reach)
register("kv-layout", whole=_kv_layout)
register("cache-consistency", whole=_cache_consistency)
register("kernel-agreement", whole=_kernel_agreement)
register("scaling", whole=_scaling)
register("passkey-grid", cell=_passkey, skipped=retrieval_skipped)
register("multikey-distractors", cell=_multikey, skipped=retrieval_skipped)
register("position-sensitivity", cell=_positions, skipped=retrieval_skipped)
register("injected-instruction", cell=_injected, skipped=retrieval_skipped)
register("copy-distance", cell=_copy, skipped=retrieval_skipped)
register("variable-tracking", cell=_samples_apart, skipped=retrieval_skipped)
register("frequent-words", cell=_frequent_words, skipped=retrieval_skipped)
register("nonliteral-needle", cell=_nonliteral, skipped=retrieval_skipped)
register("window-boundary", cell=_samples_apart, skipped=retrieval_skipped)
register("quantization-drift", whole=_quantization_drift)
