"""`kernel-agreement`: the same padded batch through every available attention kernel, compared over the
non-pad positions with transformers' own tolerances, plus top-1 agreement."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, skipped
from modelcard.probe.registry import probe
from modelcard.probe.tolerances import compare, tolerance


def padded_batch(ctx: ProbeContext, length: int, batch: int, pad: int) -> tuple[Any, Any, Any]:
    """Token ids, the attention mask (None without padding) and the non-pad positions."""
    import torch

    ids = ctx.random_ids(length, batch=batch, salt=41)
    keep = torch.ones(batch, length, dtype=torch.bool)
    if not (pad and batch > 1 and ctx.adapter.supports_padding):
        return ids, None, keep
    keep[1:, :pad] = False  # left padding on every row but the first
    ids = ids.masked_fill(~keep, 0)
    return ids, keep.long(), keep


@probe("kernel-agreement", "Every available attention kernel gives the same output")
def kernel_agreement(ctx: ProbeContext, kernels: list[str] | None = None, exclude: list[str] | None = None,
                     length: int = 32, batch: int = 2, pad: int = 5, min_top1: float = 1.0,
                     atol: float | None = None, rtol: float | None = None) -> Outcome:
    adapter = ctx.adapter
    candidates = [k for k in (kernels or adapter.kernels()) if k not in (exclude or [])]
    if len(candidates) < 2:
        return skipped(f"fewer than two kernels to compare ({', '.join(candidates) or 'none'})")
    reference = adapter.kernel if adapter.kernel in candidates else candidates[0]
    candidates = [reference, *(k for k in candidates if k != reference)]
    ids, mask, keep = padded_batch(ctx, length, batch, pad)
    atol, rtol = tolerance(adapter.dtype_name, atol, rtol)
    outputs, unavailable = {}, {}
    for kernel in candidates:
        try:
            with adapter.using(kernel):
                outputs[kernel] = adapter.outputs(ids, attention_mask=mask)
        except (ValueError, ImportError, RuntimeError, NotImplementedError) as error:
            unavailable[kernel] = " ".join(str(error).split())[:200]
    if reference not in outputs or len(outputs) < 2:
        return skipped(f"fewer than two kernels ran; {unavailable}", unavailable=unavailable)
    results = {k: compare(outputs[reference], out, keep.to(out.device), atol, rtol)
               for k, out in outputs.items() if k != reference}
    agree = all(r["within_tolerance"] and r["top1_agreement"] >= min_top1 for r in results.values())
    worst = max(r["max_abs_diff"] for r in results.values())
    return Outcome(status="pass" if agree else "fail", metric=f"max abs diff vs {reference}", value=worst, unit=None,
                   threshold={"atol": atol, "rtol": rtol, "min_top1": min_top1}, kernel=",".join(outputs),
                   details={"reference": reference, "kernels": results, "unavailable": unavailable,
                            "padded": mask is not None, "length": length, "batch": batch})
