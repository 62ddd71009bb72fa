"""`quantization-drift`: what a GGUF file's quantization costs, measured against the float model it came from
(`--base-model`, a transformers folder of the same model). Both models read the same filler text (the retrieval
probes' filler, in the model's own format), up to the longest length the suite runs; at every position the
probe takes the KL divergence of the quantized model's next-token distribution from the float one's, and
whether their top-1 tokens agree. Reported by position bucket (0-63, 64-255, 256-1,023, ... tokens), with a 95%
Wilson interval on each agreement rate. Beside it, the passkey grid of both models at the same lengths and
depths, side by side.

The float model is the reference, a path that cannot share the quantization's error. Quantization error that
grows with context is a finding: top-1 agreement in the last bucket whose interval lies wholly below that of
the earlier bucket that agrees best (not always the first: its positions have the least context to go on), or
a passkey score of the quantized model below the float one's by more than their intervals allow. The
positions of one text are not independent, so the agreement intervals are narrower than a fresh sample of texts
would give; the verdict asks for intervals wholly apart before it accuses."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.prompt_format import format_of
from modelcard.probe.registry import get_probe, probe
from modelcard.probe.retrieval import FillerStream, interval, preflight

FIRST_BUCKET = 64


def buckets(length: int) -> list[tuple[int, int]]:
    """Position buckets [start, end): 0-63, 64-255, 256-1,023, ..., each 4 times the one before, up to `length`."""
    edges = [0, FIRST_BUCKET]
    while edges[-1] < length:
        edges.append(edges[-1] * 4)
    edges[-1] = length
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if a < length]


def reference_context(ctx: ProbeContext) -> ProbeContext:
    """The float model's probe context, loaded once per run on the quantized model's device and dtype."""
    if "quantization-reference" not in ctx.memo:
        from modelcard.inspect import inspect_loaded
        from modelcard.load.loader import LoadOptions, load_model
        from modelcard.probe.context import build_context

        adapter = ctx.adapter
        loaded = load_model(ctx.reference, LoadOptions(device=str(adapter.device), dtype=adapter.dtype_name))
        if not loaded.has_weights:
            raise ValueError(f"--base-model {ctx.reference} has no weights to compare with")
        ctx.memo["quantization-reference"] = build_context(loaded, inspect_loaded(loaded), ctx.seed,
                                                           device=str(adapter.device), prompt_format=ctx.prompt_format)
    return ctx.memo["quantization-reference"]


def drift(quantized: Any, reference: Any) -> tuple[Any, Any]:
    """Per-position KL(reference || quantized) in nats and top-1 agreement, from two `(seq, vocab)` logits."""
    import torch

    q = torch.log_softmax(quantized.double(), dim=-1)
    f = torch.log_softmax(reference.double(), dim=-1)
    kl = (f.exp() * (f - q)).sum(-1).clamp_min(0.0)
    return kl.cpu(), (quantized.argmax(-1) == reference.argmax(-1)).cpu()


def grid_side_by_side(ctx: ProbeContext, reference: ProbeContext, params: dict[str, Any]) -> dict[str, Any]:
    """The passkey grid of both models at the same lengths and depths."""
    grid = get_probe("passkey-grid")
    settings = {"lengths": list(params["grid_lengths"]), "depths": list(params["grid_depths"]),
                "samples": params["grid_samples"]}
    shown: dict[str, Any] = {}
    for name, context in (("quantized", ctx), ("float", reference)):
        outcome = grid.run(context, **grid.params(settings, "quantization-drift"))
        shown[name] = {"status": outcome.status, "scores": (outcome.details or {}).get("scores"),
                       "score_intervals": (outcome.details or {}).get("score_intervals"),
                       "reason": outcome.reason}
    return shown


@probe("quantization-drift", "What quantization costs against the float model, by position", version=1)
def quantization_drift(ctx: ProbeContext, max_length: int = 2048, samples: int = 2, filler: str = "varied",
                       grid_lengths: tuple[int, ...] = (512, 2048), grid_depths: tuple[float, ...] = (0.25, 0.75),
                       grid_samples: int = 4) -> Outcome:
    import torch

    if not ctx.reference:
        return skipped("no --base-model: there is no float model to compare the quantized weights with")
    codec, why = preflight(ctx)
    if codec is None:
        return skipped(why or "no tokenizer")
    reference = reference_context(ctx)
    if reference.adapter.vocab_size != ctx.adapter.vocab_size:
        raise ValueError(f"--base-model has a vocabulary of {reference.adapter.vocab_size:,} tokens, the GGUF "
                         f"{ctx.adapter.vocab_size:,}: not the same model")
    fmt = format_of(ctx, codec)
    declared = ctx.max_length()
    length = min(max_length, declared) if declared else max_length
    kls, agreements = [], []
    for sample in range(samples):
        stream = FillerStream.build(codec, length, ctx.seed * 7919 + sample, filler)
        ids = torch.tensor([[*fmt.prefix, *stream.ids][:length]])
        kl, agree = drift(ctx.adapter.outputs(ids)[0], reference.adapter.outputs(ids)[0])
        kls.append(kl)
        agreements.append(agree)
    kl_all, agree_all = torch.stack(kls), torch.stack(agreements)
    rows: list[dict[str, Any]] = []
    for start, end in buckets(length):
        kl_part, agree_part = kl_all[:, start:end].reshape(-1), agree_all[:, start:end].reshape(-1)
        right, total = int(agree_part.sum()), agree_part.numel()
        rows.append({"positions": [start, end - 1], "tokens": total,
                     "kl_mean": round(float(kl_part.mean()), 6), "kl_p95": round(float(kl_part.quantile(0.95)), 6),
                     "kl_max": round(float(kl_part.max()), 6), "top1_agreement": round(right / total, 4),
                     "top1_agreement_interval": interval(right, total)})
    grid = grid_side_by_side(ctx, reference, {"grid_lengths": [n for n in grid_lengths if n <= length] or [length],
                                              "grid_depths": grid_depths, "grid_samples": grid_samples})
    findings = []
    first, last = rows[0], rows[-1]
    best = max(rows[:-1], key=lambda row: row["top1_agreement"], default=last)  # the first has the least context
    if best is not last and last["top1_agreement_interval"][1] < best["top1_agreement_interval"][0]:
        findings.append(finding(
            "warning", "/model/gguf", {"top1_agreement": best["top1_agreement"], "positions": best["positions"]},
            {"top1_agreement": last["top1_agreement"], "positions": last["positions"]},
            f"quantization error grows with context: top-1 agreement with the float model falls from "
            f"{best['top1_agreement']:.1%} at positions {best['positions'][0]:,}-{best['positions'][1]:,} to "
            f"{last['top1_agreement']:.1%} at {last['positions'][0]:,}-{last['positions'][1]:,}"))
    lost = _passkey_lost(grid)
    for where, ours, theirs in lost:
        findings.append(finding("warning", "/model/gguf", {"float": theirs}, {"quantized": ours},
                                f"the quantized model retrieves the passkey less often than the float one at "
                                f"{where} tokens: {ours:.0%} against {theirs:.0%}"))
    summary = (f"top-1 agreement {first['top1_agreement']:.1%} at positions 0-{first['positions'][1]}, "
               f"{last['top1_agreement']:.1%} at {last['positions'][0]:,}-{last['positions'][1]:,}; mean KL "
               f"{first['kl_mean']:.4f} to {last['kl_mean']:.4f} nats")
    outcome = Outcome(status="fail" if findings else "pass", metric="top-1 agreement, last position bucket",
                      value=last["top1_agreement"], unit=None,
                      threshold={"rule": "the last bucket's agreement interval wholly below the best earlier "
                                         "bucket's, or a passkey score below the float model's beyond both "
                                         "intervals"},
                      details={"summary": summary, "buckets": rows, "length": length, "samples": samples,
                               "reference": str(ctx.reference), "passkey_grid": grid, "tokenizer": codec.name,
                               "prompt_format": fmt.as_dict(),
                               "note": "positions of one text are not independent: the intervals are narrower "
                                       "than a fresh sample of texts would give"})
    outcome.findings.extend(findings)
    return outcome


def _passkey_lost(grid: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(length, quantized score, float score) where the quantized interval lies wholly below the float one."""
    ours, theirs = grid["quantized"], grid["float"]
    lost = []
    for length, score in (theirs.get("scores") or {}).items():
        mine = (ours.get("scores") or {}).get(length)
        low_theirs = ((theirs.get("score_intervals") or {}).get(length) or [0, 0])[0]
        high_ours = ((ours.get("score_intervals") or {}).get(length) or [1, 1])[1]
        if mine is not None and high_ours < low_theirs:
            lost.append((length, mine, score))
    return lost
