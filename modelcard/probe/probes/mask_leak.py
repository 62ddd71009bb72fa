"""`mask-leak`: does any position see later ones? Replace every token from position p on and watch the
positions before p: they must not move under a causal mask. Doing this for every p finds the real mask."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.registry import probe

# Earlier outputs must be bit-identical in exact arithmetic; allow fp noise relative to the output's scale.
RELATIVE_TOLERANCE = 1e-5


def classify(seen: dict[int, list[int]], length: int) -> dict[str, Any]:
    """`seen[p]`: the positions before p whose output changed when tokens p.. changed."""
    lookahead = max((p - q for p, qs in seen.items() for q in qs), default=0)
    if lookahead == 0:
        return {"mask": "causal", "lookahead": 0, "prefix": None}
    full = {p: len(qs) == p for p, qs in seen.items()}
    if all(full.values()):
        return {"mask": "bidirectional", "lookahead": lookahead, "prefix": None}
    prefix = min(p for p, complete in full.items() if not complete)
    if all(full[p] for p in seen if p < prefix) and not any(seen[p] for p in seen if p >= prefix):
        return {"mask": "prefix", "lookahead": lookahead, "prefix": prefix}
    return {"mask": "leaky", "lookahead": lookahead, "prefix": None}


def stack_of(ctx: ProbeContext) -> tuple[str, str | None]:
    stacks = (ctx.facts.get("masking") or {}).get("stacks") or {}
    if stacks:
        name = next(iter(stacks))
        return name, stacks[name]["mask"]
    return "decoder", ctx.declared.get("masking")


@probe("mask-leak", "Does any position see later positions", version=1)
def mask_leak(ctx: ProbeContext, length: int = 24, batch: int = 2) -> Outcome:
    import torch

    stacks = (ctx.facts.get("masking") or {}).get("stacks") or {}
    if len(stacks) > 1:
        return skipped(f"several stacks ({', '.join(stacks)}): this probe drives single-stack models only")
    stack, declared = stack_of(ctx)
    base_ids = ctx.random_ids(length, batch=batch, salt=11)
    base = ctx.adapter.outputs(base_ids).float()
    tolerance = RELATIVE_TOLERANCE * float(base.abs().max())
    seen: dict[int, list[int]] = {}
    for p in range(1, length):
        changed_ids = base_ids.clone()
        replacement = ctx.random_ids(length - p, batch=batch, salt=100 + p)
        # Every replaced token must differ from the one it replaces.
        replacement = torch.where(replacement == changed_ids[:, p:], (replacement + 1) % ctx.adapter.vocab_size,
                                  replacement)
        changed_ids[:, p:] = replacement
        moved = (ctx.adapter.outputs(changed_ids).float() - base).abs().amax(dim=-1).amax(dim=0) > tolerance
        seen[p] = [q for q in range(p) if bool(moved[q])]
    result = classify(seen, length)
    leaks = {str(p): qs for p, qs in seen.items() if qs}
    outcome = Outcome(status="pass", metric="lookahead", value=result["lookahead"], unit="tokens", threshold=0,
                      details={"stack": stack, "declared": declared, "measured": result["mask"], "length": length,
                               "prefix": result["prefix"], "earlier_positions_changed": leaks})
    pointer = f"/masking/stacks/{stack}/mask"
    if result["mask"] in ("causal", "bidirectional", "prefix"):
        if stacks:
            outcome.measured[pointer] = result["mask"]
        else:
            outcome.measured[f"/masking/stacks/{stack}"] = {"mask": result["mask"], "window": None, "chunk": None}
    if declared and declared != result["mask"]:
        # Whatever was declared: a mask that measures otherwise is the model not doing what its card says.
        outcome.status = "fail"
        what = result["mask"] if result["mask"] == "causal" else (
            f"{result['mask']}: a position sees up to {result['lookahead']} later tokens")
        message = (f"the {stack} stack is declared causal but its mask leaks: earlier outputs change with later "
                   "tokens" if declared == "causal" else
                   f"the {stack} stack is declared {declared} but measures {result['mask']}"
                   + (": no position sees a later one" if result["mask"] == "causal" else ""))
        outcome.findings.append(finding("error", pointer, declared, what, message))
    elif result["mask"] == "leaky":
        outcome.status = "fail"
        outcome.findings.append(finding(
            "error", pointer, None, f"leaky: a position sees up to {result['lookahead']} later tokens",
            f"the {stack} stack's mask is neither causal, bidirectional nor prefix: some positions see some later "
            "tokens"))
    return outcome
