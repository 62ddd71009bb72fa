"""`copy-distance`: tokenizer-free retrieval. A random token sequence of d tokens, then the same sequence again:
every token of the second copy can be read off the token d positions back. The accuracy (teacher-forced argmax)
and the loss of the second copy, by distance d, show how far back the model can find and copy what it saw. Token
ids are drawn from the seed over the whole vocabulary (less the config's special tokens), so any causal LM runs
it, custom modules included. Each distance is a cell (modelcard.probe.cells)."""

from __future__ import annotations

from typing import Any

from modelcard.probe.cells import Cells
from modelcard.probe.context import ProbeContext
from modelcard.probe.effective_context import describe, effective_context
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import Prompt, exact_lengths, preflight
from modelcard.probe.retrieval_cells import Merged, measure_length, nothing_ran

SPECIAL_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id", "sep_token_id", "cls_token_id",
                "mask_token_id")


def special_ids(ctx: ProbeContext) -> set[int]:
    config = ctx.adapter.config
    ids = set()
    for key in SPECIAL_KEYS:
        value = getattr(config, key, None) if config is not None else None
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, int) and not isinstance(item, bool):
                ids.add(item)
    return ids


def random_sequence(ctx: ProbeContext, length: int, salt: int) -> list[int]:
    import torch

    vocab = ctx.adapter.vocab_size
    allowed = [i for i in range(vocab) if i not in special_ids(ctx)] or list(range(vocab))
    picks = torch.randint(0, len(allowed), (length,), generator=ctx.generator(salt))
    return [allowed[i] for i in picks.tolist()]


def split_copy(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]] | Outcome:
    _, why = preflight(ctx, text=False)
    if why:
        return skipped(why)
    distances = exact_lengths(params["distances"], params["min_distance"], params["max_distance"], None)
    return [{"distance": d} for d in distances]


def measure_copy(ctx: ProbeContext, params: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    distance = cell["distance"]

    def build() -> tuple[list[Prompt], list[dict[str, Any]]]:
        prompts = []
        for sample in range(params["samples"]):
            sequence = random_sequence(ctx, distance, salt=7_000 + 31 * distance + sample)
            # The first token of the second copy cannot be told from what precedes it; the rest can.
            prompts.append(Prompt(sequence + sequence[:1], {"copy": sequence[1:]},
                                  {"distance": distance, "sample": sample}))
        return prompts, []

    # A distance d needs 2d tokens: the length checked is the whole sequence.
    return measure_length(ctx, distance, 2 * distance, params["chunk"], False, build, what="distance",
                          extra={"tokens": 2 * distance})


def conclude_copy(ctx: ProbeContext, params: dict[str, Any], partials: list[dict[str, Any]]) -> Outcome:
    merged = Merged(partials, what="distance")
    if not merged.prompts:
        return skipped(nothing_ran(merged, "distance"), skipped_distances=merged.skipped)
    fraction, absolute, min_base = params["fraction"], params["absolute"], params["min_base"]
    declared = ctx.max_length()
    prompts, scores = merged.prompts, merged.scores
    tested = merged.values("distance")
    rows: list[dict[str, Any]] = []
    by_distance: dict[int, float] = {}
    for distance in tested:
        items = [s["copy"] for p, s in zip(prompts, scores, strict=True) if p.info["distance"] == distance]
        tokens = sum(s.tokens for s in items)
        accuracy = sum(s.correct for s in items) / tokens
        by_distance[distance] = accuracy
        rows.append({"distance": distance, "tokens": 2 * distance, "accuracy": round(accuracy, 4),
                     "loss": round(-sum(s.logprob for s in items) / tokens, 4), "samples": len(items),
                     "exact_sequences": sum(s.exact for s in items)})
    effective = effective_context(by_distance, fraction, absolute, min_base, declared // 2 if declared else None,
                                  what="copy accuracy")
    summary = describe(effective, None, by_distance, what="copying").replace(" tokens", " tokens back", 1)
    outcome = Outcome(status="pass", metric="longest copy distance (relative rule)", value=effective["value"],
                      unit="tokens", threshold={"fraction": fraction, "absolute": absolute, "min_base": min_base},
                      details={"summary": summary, "distances": rows, "effective": effective,
                               "skipped_distances": merged.skipped, "vocabulary": ctx.adapter.vocab_size,
                               "excluded_ids": sorted(special_ids(ctx)), "compute": merged.compute,
                               "memory": merged.memory})
    if effective["value"] is None:
        outcome.status = "fail"
        outcome.findings.append(finding(
            "warning", "/context_window/declared", declared, {"accuracy": effective["base_score"],
                                                              "distance": effective["base_length"]},
            f"the model cannot copy a random sequence even {effective['base_length']:,} tokens back: {summary}"))
    elif effective["collapse"] is not None:
        outcome.status = "fail"
        collapse = effective["collapse"]
        outcome.findings.append(finding(
            "warning", "/context_window/declared", declared,
            {"holds_through": effective["holds_through"], "distance": collapse["length"],
             "accuracy": collapse["score"]},
            f"{summary[0].upper()}{summary[1:]}" + (f" (declared window {declared:,} tokens)" if declared else "")))
    return outcome


COPY_CELLS = Cells(split=split_copy, measure=measure_copy, conclude=conclude_copy,
                   cost=lambda cell: 2.0 * cell["distance"])


@probe("copy-distance", "Copying a random token sequence, by distance", cells=COPY_CELLS)
def copy_distance(ctx: ProbeContext, distances: list[int] | None = None, min_distance: int = 16,
                  max_distance: int = 2048, samples: int = 2, fraction: float = 0.85, absolute: float = 0.85,
                  min_base: float = 0.5, chunk: int = 4096) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return COPY_CELLS.run_all(ctx, params)
