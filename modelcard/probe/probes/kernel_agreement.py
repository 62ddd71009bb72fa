"""`kernel-agreement`: the same padded batch through every attention kernel the model can run here, each judged
over the non-pad positions by its own distance to a float64 reference.

Which kernels exist is transformers' answer (its attention registry and `is_*_available` checks; see
ModelAdapter.kernel_availability): a kernel is `unavailable` only where transformers says it is not installed
or cannot run on this device, `unsupported` where the model's own code does not implement it. A kernel that
is there and crashes is an `error` with its reason, never quietly left out.

The reference is a float64 copy of the model run with the eager kernel (the plain matmul-and-softmax path, its
softmax kept in float64), a path that cannot share a fast kernel's bug; where the model has no eager kernel, its
own kernel. Each kernel passes when its distance to the reference is within its dtype's tolerance (transformers'
own, from tiny models) or within NOISE_FACTOR times the rounding of the reference path itself: the same kernel
in the model's dtype against float64. Rounding that grows with depth is then allowed, and a kernel that computes
something else is not. A kernel that changes the top-1 token where the reference's top-1 leads by more than
twice that allowance changes the model's predictions: an error. Where no float64 copy can be made (it does not
fit, or the model has no float64 path), the details say why, the kernels are compared with the model's own
kernel without a tolerance that would not apply to them, and only a top-1 disagreement is a finding."""

from __future__ import annotations

from typing import Any

from modelcard.probe.adapter import NonFiniteOutput
from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import NotApplicable, Outcome, finding, skipped
from modelcard.probe.registry import probe
from modelcard.probe.shared import NOISE_FACTOR, float64_copy, float64_refusal, float64_softmax
from modelcard.probe.tolerances import compare, tolerance

REFERENCE_PATH = "eager"


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
        why_not = availability[kernel]
        if why_not is not None:
            not_run[kernel] = why_not
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


def float64_reference(adapter: Any, ids: Any, mask: Any) -> tuple[Any | None, dict[str, Any]]:
    """The float64 reference's outputs and how they were made, or None and why none could be made.

    Args:
        adapter: the model's adapter.
        ids: the token ids every kernel ran.
        mask: their attention mask (None without padding).

    Returns:
        (outputs or None, details: the path, whether it was built, and the reason where it was not).
    """
    import torch

    path = REFERENCE_PATH if REFERENCE_PATH in adapter.kernels() else adapter.kernel
    info: dict[str, Any] = {"kernel": path, "dtype": "float64"}
    if adapter.dtype_name == "float64":
        exact = adapter
    else:
        refusal = float64_refusal(adapter)
        if refusal is not None:
            return None, {**info, "built": False, "reason": refusal}
        exact = float64_copy(adapter)
    try:
        with exact.using(path), float64_softmax():
            truth = exact.outputs(ids, attention_mask=mask)
    except (RuntimeError, TypeError, ValueError, NotImplementedError) as error:  # grouped MoE matmuls: no float64
        return None, {**info, "built": False,
                      "reason": f"the float64 copy does not run: {' '.join(str(error).split())[:200]}"}
    finally:
        del exact
    if not bool(torch.isfinite(truth).all()):
        return None, {**info, "built": False, "reason": "the float64 copy's outputs are not finite"}
    return truth, {**info, "built": True}


def judge_against_float64(outputs: dict[str, Any], truth: Any, path: str, keep: Any, atol: float,
                          rtol: float) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each kernel's distance to the float64 reference, judged against its dtype's tolerance or NOISE_FACTOR
    times the reference path's own rounding (`path` in the model's dtype against float64), and its top-1 tokens
    against the reference's where the reference's lead is larger than any rounding the allowance admits.

    Returns:
        (per kernel: compare()'s fields against float64 plus the verdict; the allowance and its sources).
    """
    import torch

    kept = keep.to(truth.device)
    exact = truth[kept]
    rounding = float((outputs[path].double() - truth)[kept].abs().max()) if path in outputs else None
    tolerance_width = float((atol + rtol * exact.abs()).max()) if exact.numel() else atol
    budget = NOISE_FACTOR * rounding if rounding is not None else None
    allowance = max(tolerance_width, budget or 0.0)
    top2 = exact.topk(2, dim=-1).values if exact.shape[-1] > 1 else None
    decisive = (top2[:, 0] - top2[:, 1] > 2 * allowance) if top2 is not None else torch.ones(
        exact.shape[0], dtype=torch.bool, device=exact.device)
    results = {}
    for kernel, output in outputs.items():
        result = compare(truth, output.to(truth.dtype), kept, atol, rtol)
        result["distance_to_float64"] = result.pop("max_abs_diff")
        same = exact.argmax(dim=-1) == output.to(truth.device)[kept].argmax(dim=-1)
        result["top1_flips_at_decisive_positions"] = int((~same & decisive).sum())
        result["top1_flips_at_near_ties"] = int((~same & ~decisive).sum())
        result["top1_agreement_at_decisive_positions"] = (float(same[decisive].float().mean())
                                                          if bool(decisive.any()) else None)
        result["within_rounding"] = budget is not None and result["distance_to_float64"] <= budget
        result["agrees"] = result["within_tolerance"] or result["within_rounding"]
        results[kernel] = result
    allowed = {"reference_path_rounding": rounding, "source": f"{path} in the model's dtype against {path} in "
               "float64", "noise_factor": NOISE_FACTOR, "rounding_budget": budget, "dtype_tolerance": tolerance_width,
               "decisive_margin": 2 * allowance, "decisive_positions": int(decisive.sum()),
               "positions": int(exact.shape[0])}
    return results, allowed


def judge_without_float64(outputs: dict[str, Any], reference: str, keep: Any, atol: float,
                          rtol: float) -> dict[str, dict[str, Any]]:
    """No float64 reference: each kernel against the model's own, its dtype's tolerance recorded but not
    applied (a deep or trained model exceeds it on rounding alone); only top-1 tokens are judged."""
    results = {}
    for kernel, output in outputs.items():
        if kernel == reference:
            continue
        result = compare(outputs[reference], output, keep.to(output.device), atol, rtol)
        result["tolerance_applied"] = False
        result["agrees"] = True
        results[kernel] = result
    return results


def _finding(kernel: str, against: str, result: dict[str, Any], changes_predictions: bool, atol: float,
             rtol: float, allowance: dict[str, Any] | None) -> dict[str, Any]:
    distance = result.get("distance_to_float64", result.get("max_abs_diff"))
    top1 = result.get("top1_agreement_at_decisive_positions", result["top1_agreement"])
    bound = f"atol {atol:g} + rtol {rtol:g}"
    if allowance and allowance.get("rounding_budget") is not None:
        bound += f", or {NOISE_FACTOR}x the reference path's own rounding ({allowance['reference_path_rounding']:.3g})"
    message = (f"the {kernel} kernel is {distance:.3g} from {against} (over {bound}; top-1 agreement {top1:.0%})"
               if allowance is not None else
               f"the {kernel} kernel changes the top-1 token against {against} (top-1 agreement {top1:.0%}; "
               f"max abs diff {distance:.3g})")
    return finding("error" if changes_predictions else "warning", "/attention/implementation",
                   f"{kernel} computes what {against} computes",
                   {"kernel": kernel, "max_abs_diff": distance, "top1_agreement": top1},
                   message + (": it changes the model's predictions" if changes_predictions else ""))


def _crash_reason(kernel: str, why: str) -> str:
    name, _, message = why.partition(": ")
    if name == NonFiniteOutput.__name__:
        return f"the {kernel} kernel's outputs are not finite: {message}"
    return f"the {kernel} kernel crashed: {why}"


def run_kernels(adapter: Any, candidates: list[str], ids: Any, mask: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Each kernel's outputs on the batch, and the kernels that crashed with their reason."""
    outputs, crashed = {}, {}
    for kernel in candidates:
        try:
            with adapter.using(kernel):
                outputs[kernel] = adapter.outputs(ids, attention_mask=mask)
        except NotApplicable:  # the architecture, not the kernel: the runner records the probe as skipped
            raise
        except Exception as error:  # a kernel that is there and fails is the result, not a reason to skip it
            crashed[kernel] = f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
    return outputs, crashed


@probe("kernel-agreement", "Every available attention kernel gives the same output", version=2)
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
    outputs, crashed = run_kernels(adapter, candidates, ids, mask)
    if outputs:
        truth, built = float64_reference(adapter, ids, mask)
    else:
        truth, built = None, {"built": False, "reason": "no kernel ran"}
    path = built.get("kernel")  # float64_reference names it whether or not it built the reference
    if truth is not None:
        assert path is not None
        if path not in outputs and path not in crashed:  # the reference path's own rounding
            outputs_path, crashed_path = run_kernels(adapter, [path], ids, mask)
            extra = {**outputs, **outputs_path}
            results, allowance = judge_against_float64(extra, truth, path, keep, atol, rtol)
            results[path]["reference_path_only"] = True
            crashed.update(crashed_path)
        else:
            results, allowance = judge_against_float64(outputs, truth, path, keep, atol, rtol)
    else:
        allowance = None
        results = judge_without_float64(outputs, reference, keep, atol, rtol) if reference in outputs else {}
    details = {"reference": f"{path} in float64" if truth is not None else reference, "float64": built,
               "kernels": results, "crashed": crashed, "not_run": not_run, "padded": mask is not None,
               "length": length, "batch": batch}
    if allowance is not None:
        details["allowance"] = allowance
    threshold = {"atol": atol, "rtol": rtol, "min_top1": min_top1,
                 **({"rounding_budget": allowance["rounding_budget"]} if allowance else {})}
    distances: list[float] = [r["distance_to_float64"] if "distance_to_float64" in r else r["max_abs_diff"]
                              for r in results.values()]
    metric = ("max distance to the float64 reference" if truth is not None else
              f"max abs diff vs {reference} (no float64 reference: {built.get('reason')})")
    outcome = Outcome(status="pass", metric=metric, value=max(distances, default=None), unit=None,
                      threshold=threshold, kernel=",".join(outputs) or None, details=details)
    against = f"the float64 {path} reference" if truth is not None else reference
    for kernel, result in results.items():
        top1 = (result["top1_agreement_at_decisive_positions"] if truth is not None else result["top1_agreement"])
        changes_predictions = top1 is not None and top1 < min_top1
        if result["agrees"] and not changes_predictions:
            continue
        outcome.status = "fail"
        outcome.findings.append(_finding(kernel, against, result, changes_predictions, atol, rtol, allowance))
    if crashed:
        outcome.status = "error"
        outcome.reason = "; ".join(_crash_reason(kernel, why) for kernel, why in crashed.items())
    return outcome
