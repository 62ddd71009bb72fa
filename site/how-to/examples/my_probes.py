"""A custom probe: the largest absolute logit on random input (a numeric-range check)."""

from modelcard.probe import Outcome, ProbeContext, finding, probe


@probe("logit-range", "The largest absolute logit on random input", version=1)
def logit_range(ctx: ProbeContext, length: int = 32, batch: int = 2, limit: float = 1e4) -> Outcome:
    ids = ctx.random_ids(length, batch=batch, salt=7)  # seeded: the same input on every run
    largest = float(ctx.adapter.outputs(ids).float().abs().max())
    outcome = Outcome(status="pass" if largest <= limit else "fail", metric="max abs logit", value=largest,
                      unit=None, threshold=limit, details={"length": length, "batch": batch})
    if largest > limit:
        outcome.findings.append(finding("warning", "/probes", None, largest,
                                        f"logits reach {largest:.3g}, beyond {limit:g}"))
    return outcome
