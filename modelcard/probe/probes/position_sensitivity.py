"""`position-sensitivity`: lost in the middle. Several needles with distinct keys (no colour or animal shared)
spread evenly through the filler; the question asks for the one at the start, a quarter, the middle, three
quarters or the end. Accuracy by position, and a U-shape index: (mean accuracy at the two ends - mean accuracy
in between) / mean accuracy at the ends; 0 is flat, 1 means the middle is lost entirely, negative means the ends
are worse. All questions of one sample follow the same context, which the prefix scorer computes once."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.prefix_scoring import PrefixScorer
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import (
    ANSWER,
    NEEDLE,
    QUESTION,
    FillerStream,
    Insert,
    Prompt,
    distinct_keys,
    haystack,
    make_value,
    plan_lengths,
    preflight,
    rng_for,
    score_within_memory,
)


def build_prompts(codec: Any, stream: FillerStream, lengths: list[int], positions: list[float], needles: int,
                  samples: int, digits: int, seed: int) -> tuple[list[Prompt], list[dict[str, Any]]]:
    prompts, too_short = [], []
    asked = sorted({round(p * (needles - 1)) for p in positions})
    for length in lengths:
        made = []
        try:
            for sample in range(samples):
                rng = rng_for(seed, "position", length, sample)
                keys = distinct_keys(rng, needles)
                values: list[str] = []
                for _ in keys:
                    values.append(make_value(rng, digits, values))
                inserts = [Insert(codec.encode(NEEDLE.format(key=k, value=v)), i / (needles - 1))
                           for i, (k, v) in enumerate(zip(keys, values, strict=True))]
                questions = {i: codec.encode(QUESTION.format(key=keys[i])) for i in asked}
                answers = {i: codec.encode(ANSWER.format(value=values[i])) for i in asked}
                reserve = max(len(questions[i]) + len(answers[i]) for i in asked)
                context, starts, used = haystack(stream, length, inserts, reserve)
                for i in asked:
                    # Questions differ in length by a few tokens: filler makes up the difference, so every prompt
                    # is exactly `length` tokens with its answer and all share the context before it.
                    pad = stream.ids[used:used + reserve - len(questions[i]) - len(answers[i])]
                    ids = context + pad + questions[i]
                    made.append(Prompt(ids, {"value": answers[i]}, {
                        "length": length, "position": i / (needles - 1), "index": i, "sample": sample,
                        "tokens": len(ids) + len(answers[i]), "gold_at": starts[i]}))
        except ValueError as error:
            too_short.append({"length": length, "reason": str(error)})
            continue
        prompts.extend(made)
    return prompts, too_short


def u_index(accuracy: list[float]) -> float | None:
    """(ends - middle) / ends, from accuracies ordered by position; None when the ends are never right."""
    ends = (accuracy[0] + accuracy[-1]) / 2
    middle = sum(accuracy[1:-1]) / max(1, len(accuracy) - 2)
    return round((ends - middle) / ends, 4) if ends > 0 and len(accuracy) > 2 else None


@probe("position-sensitivity", "Lost in the middle: accuracy by position of the gold item")
def position_sensitivity(ctx: ProbeContext, lengths: tuple[int, ...] = (512, 2048),
                         positions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0), needles: int = 9,
                         samples: int = 8, digits: int = 6, filler: str = "varied", fraction: float = 0.85,
                         min_base: float = 0.5, chunk: int = 4096, share_cache: bool = True) -> Outcome:
    codec, why = preflight(ctx)
    if codec is None:
        return skipped(why or "no tokenizer")
    if not 3 <= needles <= 24:
        return skipped(f"needles must be between 3 and 24 (distinct keys), not {needles}")
    tested, skipped_lengths = plan_lengths(ctx, sorted({int(n) for n in lengths}), chunk)
    if not tested:
        return skipped("no length can run: " + "; ".join(f"{s['length']:,}: {s['reason']}" for s in skipped_lengths),
                       skipped_lengths=skipped_lengths)
    stream = FillerStream.build(codec, max(tested), ctx.seed, filler)
    prompts, too_short = build_prompts(codec, stream, tested, [float(p) for p in positions], needles, samples,
                                       digits, ctx.seed)
    skipped_lengths += too_short
    if not prompts:
        return skipped("every length is too short for the needles and the question", skipped_lengths=skipped_lengths)
    scores, prompts, scorer = score_within_memory(
        lambda: PrefixScorer(ctx.adapter, share=share_cache, chunk=chunk), prompts, skipped_lengths)
    if not prompts:
        return skipped("no length fits in the device's memory", skipped_lengths=skipped_lengths)
    by_length: dict[str, dict[str, Any]] = {}
    for length in sorted({p.info["length"] for p in prompts}):
        marks = sorted({p.info["position"] for p in prompts if p.info["length"] == length})
        accuracy = []
        for mark in marks:
            exact = [s["value"].exact for p, s in zip(prompts, scores, strict=True)
                     if p.info["length"] == length and p.info["position"] == mark]
            accuracy.append(round(sum(exact) / len(exact), 4))
        ends = (accuracy[0] + accuracy[-1]) / 2
        by_length[str(length)] = {"positions": [round(m, 4) for m in marks], "accuracy": accuracy,
                                  "u_index": u_index(accuracy), "ends": round(ends, 4),
                                  "middle_min": min(accuracy[1:-1]) if len(accuracy) > 2 else None,
                                  "samples": samples}
    dips = {n: row for n, row in by_length.items() if row["ends"] >= min_base and row["middle_min"] is not None
            and row["middle_min"] < fraction * row["ends"]}
    indices = [row["u_index"] for row in by_length.values() if row["u_index"] is not None]
    headline = max(indices) if indices else None
    if dips:
        n, row = max(dips.items(), key=lambda item: item[1]["ends"] - item[1]["middle_min"])
        summary = (f"lost in the middle at {int(n):,} tokens: {row['middle_min']:.0%} in the middle against "
                   f"{row['ends']:.0%} at the ends (U-shape index {row['u_index']:.2f})")
    else:
        parts = [f"{int(n):,} tokens: {', '.join(f'{a:.0%}' for a in row['accuracy'])}"
                 for n, row in by_length.items()]
        summary = "no middle dip; accuracy from start to end at " + "; ".join(parts)
    outcome = Outcome(status="fail" if dips else "pass", metric="U-shape index (largest over lengths)",
                      value=headline, unit=None, threshold={"fraction_of_ends": fraction, "min_base": min_base},
                      details={"summary": summary, "by_length": by_length, "needles": needles,
                               "skipped_lengths": skipped_lengths, "tokenizer": codec.name, "filler": filler,
                               "compute": scorer.stats.as_dict()})
    if dips:
        outcome.findings.append(finding(
            "warning", "/disclosures/known_failure_modes", None,
            {"length": int(n), "middle": row["middle_min"], "ends": row["ends"], "u_index": row["u_index"]},
            f"{summary[0].upper()}{summary[1:]}: facts placed mid-context are missed"))
    weak = [n for n, row in by_length.items() if row["ends"] < min_base]
    if len(weak) == len(by_length):
        outcome.status = "skipped"
        outcome.reason = (f"retrieval at the start and the end is under {min_base:.0%} at every tested length: too "
                          "weak to tell a middle dip from not retrieving at all")
    elif weak:
        outcome.details["note"] = (f"at {', '.join(f'{int(n):,}' for n in weak)} tokens retrieval at the ends is "
                                   f"under {min_base:.0%}: too weak to tell a middle dip from failing to retrieve")
    return outcome
