"""`kernel-agreement`: the same padded batch through every attention kernel the model can run here, compared over
the non-pad positions with transformers' own tolerances, plus top-1 agreement.

Which kernels exist is transformers' answer (its attention registry and `is_*_available` checks; see
ModelAdapter.kernel_availability): a kernel is `unavailable` only where transformers says it is not installed
or cannot run on this device, `unsupported` where the model's own code does not implement it. A kernel that
is there and crashes is an `error` with its reason, never quietly left out. Kernels that disagree are a
finding, unless it is within the reference kernel's own rounding, measured against a float64 copy of a small
model."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import NotApplicable, Outcome, finding, skipped
from modelcard.probe.registry import probe
from modelcard.probe.shared import NOISE_FACTOR, float64_copy
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


def choose(ctx: ProbeContext, kernels: list[str] | None, exclude: list[str] | None,
           defer: list[str] | None) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The kernels to run, and why each other one is not run. `exclude`: never run; `defer`: run only when fewer
    than two other kernels can (flex_attention compiles for tens of seconds on a CPU), unless it is the model's
    own kernel."""
    availability = ctx.adapter.kernel_availability()
    not_run: dict[str, dict[str, str]] = {}
    for kernel in kernels or []:
        if kernel not in availability:
            not_run[kernel] = {"status": "unavailable", "reason": "transformers has no such attention kernel"
                               if ctx.adapter.is_transformers else "the module does not list it"}
    wanted = [k for k in (kernels or list(availability)) if k in availability]
    runnable = []
    for kernel in wanted:
        if availability[kernel] is not None:
            not_run[kernel] = availability[kernel]
        elif kernel in (exclude or []):
            not_run[kernel] = {"status": "excluded", "reason": "left out by the suite (exclude)"}
        else:
            runnable.append(kernel)
    own = ctx.adapter.kernel  # the kernel the card's other probes ran is never deferred
    primary = [k for k in runnable if k not in (defer or []) or k == own]
    deferred = [k for k in runnable if k not in primary]
    if len(primary) >= 2:
        for kernel in deferred:
            not_run[kernel] = {"status": "deferred", "reason": f"deferred by the suite: {len(primary)} other kernels "
                                                               "ran (the standard suite runs it)"}
        return primary, not_run
    return primary + deferred, not_run


def judge_by_rounding(adapter: Any, reference: str, outputs: dict[str, Any], results: dict[str, dict[str, Any]],
                      ids: Any, mask: Any, keep: Any) -> None:
    """A kernel outside its dtype's tolerance is judged again against the reference kernel's own rounding: how far
    the reference is, in this dtype, from the same kernel on a float64 copy of a small model (a trained model's
    larger logits round further than transformers' tiny-model tolerances allow). A difference within
    NOISE_FACTOR times that is rounding; the float64 path is the reference kernel's, so it cannot share a bug of
    the kernel under test. (Rerunning the kernel itself in float64 would not do: transformers' eager softmax
    runs in float32 whatever the model's dtype.)"""
    import torch

    missed = [kernel for kernel, result in results.items() if not result["within_tolerance"]]
    if not missed or adapter.dtype_name == "float64" or reference not in outputs:
        return
    exact = float64_copy(adapter)
    if exact is None:
        return
    try:
        with exact.using(reference):
            truth = exact.outputs(ids, attention_mask=mask)
    except (RuntimeError, TypeError, ValueError) as error:  # a model with no float64 path keeps its first verdict
        for kernel in missed:
            results[kernel]["rounding_noise"] = {"error": " ".join(str(error).split())[:200]}
        return
    kept = keep.to(truth.device)
    noise = float((outputs[reference].double() - truth)[kept].abs().max())
    if not torch.isfinite(torch.tensor(noise)):
        for kernel in missed:
            results[kernel]["rounding_noise"] = {"error": "not a number in the float64 reference's outputs"}
        return
    for kernel in missed:
        within = results[kernel]["max_abs_diff"] <= NOISE_FACTOR * noise
        results[kernel]["rounding_noise"] = {"value": noise, "factor": NOISE_FACTOR, "source": f"{reference} in "
                                             f"{adapter.dtype_name} against {reference} in float64"}
        results[kernel]["within_rounding_noise"] = within


@probe("kernel-agreement", "Every available attention kernel gives the same output")
def kernel_agreement(ctx: ProbeContext, kernels: list[str] | None = None, exclude: list[str] | None = None,
                     defer: list[str] | None = None, length: int = 32, batch: int = 2, pad: int = 5,
                     min_top1: float = 1.0, atol: float | None = None, rtol: float | None = None) -> Outcome:
    adapter = ctx.adapter
    candidates, not_run = choose(ctx, kernels, exclude, defer)
    if len(candidates) < 2:
        return skipped(f"fewer than two kernels can run here ({', '.join(candidates) or 'none'}); "
                       + "; ".join(f"{k}: {v['reason']}" for k, v in not_run.items()), not_run=not_run)
    reference = adapter.kernel if adapter.kernel in candidates else candidates[0]
    candidates = [reference, *(k for k in candidates if k != reference)]
    ids, mask, keep = padded_batch(ctx, length, batch, pad)
    atol, rtol = tolerance(adapter.dtype_name, atol, rtol)
    outputs, crashed = {}, {}
    for kernel in candidates:
        try:
            with adapter.using(kernel):
                outputs[kernel] = adapter.outputs(ids, attention_mask=mask)
        except NotApplicable:  # the architecture, not the kernel: the runner records the probe as skipped
            raise
        except Exception as error:  # a kernel that is there and fails is the result, not a reason to skip it
            crashed[kernel] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
    results = ({k: compare(outputs[reference], out, keep.to(out.device), atol, rtol)
                for k, out in outputs.items() if k != reference} if reference in outputs else {})
    judge_by_rounding(adapter, reference, outputs, results, ids, mask, keep)
    details = {"reference": reference, "kernels": results, "crashed": crashed, "not_run": not_run,
               "padded": mask is not None, "length": length, "batch": batch}
    threshold = {"atol": atol, "rtol": rtol, "min_top1": min_top1}
    worst = max((r["max_abs_diff"] for r in results.values()), default=None)
    outcome = Outcome(status="pass", metric=f"max abs diff vs {reference}", value=worst, unit=None,
                      threshold=threshold, kernel=",".join(outputs) or None, details=details)
    for kernel, result in results.items():
        if (result["within_tolerance"] or result.get("within_rounding_noise")) and result["top1_agreement"] >= min_top1:
            continue
        outcome.status = "fail"
        changes_predictions = result["top1_agreement"] < min_top1
        outcome.findings.append(finding(
            "error" if changes_predictions else "warning", "/attention/implementation",
            f"{kernel} computes what {reference} computes",
            {"kernel": kernel, "max_abs_diff": result["max_abs_diff"], "top1_agreement": result["top1_agreement"]},
            f"the {kernel} kernel disagrees with {reference} (max abs diff {result['max_abs_diff']:.3g}, over "
            f"atol {atol:g} + rtol {rtol:g}; top-1 agreement {result['top1_agreement']:.0%})"
            + (": it changes the model's predictions" if changes_predictions else "")))
    if crashed:
        outcome.status = "error"
        outcome.reason = "; ".join(f"the {k} kernel crashed: {why}" for k, why in crashed.items())
    return outcome
