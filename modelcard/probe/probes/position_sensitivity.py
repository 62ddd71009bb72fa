"""`position-sensitivity`: lost in the middle. Several needles with distinct keys (no colour or animal shared)
spread evenly through the filler; the question asks for the one at the start, a quarter, the middle, three
quarters or the end. Accuracy by position, and a U-shape index: (mean accuracy at the two ends - mean accuracy
in between) / mean accuracy at the ends; 0 is flat, 1 means the middle is lost entirely, negative means the ends
are worse. A position whose accuracy is under a fraction of the best position's is lost, wherever it is: the
middle (the U of "lost in the middle") or an end (a model that only reads its most recent tokens loses the
start). All questions of one sample follow the same context, which the prefix scorer computes once: each (length,
sample) is a cell (modelcard.probe.cells). Prompts are in the model's own format (modelcard.probe.prompt_format);
each accuracy has its 95% Wilson interval, and `details.shortest` is the accuracy over every position at the
shortest tested length."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.intervals import wilson as wilson_counts
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.prompt_format import PLAIN, PromptFormat
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import (
    ANSWER,
    NEEDLE,
    Codec,
    FillerStream,
    Insert,
    Prompt,
    distinct_keys,
    haystack,
    interval,
    make_value,
    rng_for,
    shortest_score,
)
from modelcard.probe.retrieval_cells import Merged
from modelcard.probe.text_retrieval import RetrievalTask, length_sample_cells, retrieval_cells


def build_prompts(codec: Any, stream: FillerStream, lengths: list[int], positions: list[float], needles: int,
                  samples: int, digits: int, seed: int, only: int | None = None, fmt: PromptFormat = PLAIN
                  ) -> tuple[list[Prompt], list[dict[str, Any]]]:
    """The probe's prompts: per length and sample, one context with `needles` needles spread evenly, then one
    question per asked position.

    Args:
        codec: the model's tokenizer.
        stream: the filler stream.
        lengths: prompt lengths with the answer, in tokens.
        positions: the relative positions asked for (0: the first needle, 1: the last).
        needles: needles in each context.
        samples: contexts per length.
        digits: digits of each value.
        seed: the run's seed.
        only: build that sample alone (the same prompts: every seed names its sample).
        fmt: the prompt format (BOS, chat template).

    Returns:
        The prompts, and the lengths too short for them with the reason.
    """
    prompts, too_short = [], []
    asked = sorted({round(p * (needles - 1)) for p in positions})
    for length in lengths:
        made = []
        try:
            for sample in range(samples) if only is None else [only]:
                rng = rng_for(seed, "position", length, sample)
                keys = distinct_keys(rng, needles)
                values: list[str] = []
                for _ in keys:
                    values.append(make_value(rng, digits, values))
                inserts = [Insert(codec.encode(NEEDLE.format(key=k, value=v)), i / (needles - 1))
                           for i, (k, v) in enumerate(zip(keys, values, strict=True))]
                questions = {i: fmt.question(codec, keys[i]) for i in asked}
                answers = {i: codec.encode(ANSWER.format(value=values[i])) for i in asked}
                reserve = max(len(questions[i]) + len(answers[i]) for i in asked)
                hay = haystack(stream, length, inserts, len(fmt.prefix) + reserve)
                context = [*fmt.prefix, *hay.ids]
                for i in asked:
                    # Questions differ in length by a few tokens: filler makes up the difference, so every prompt
                    # is exactly `length` tokens with its answer and all share the context before it.
                    pad = stream.ids[hay.fill:hay.fill + reserve - len(questions[i]) - len(answers[i])]
                    ids = context + pad + questions[i]
                    made.append(Prompt(ids, {"value": answers[i]}, {
                        "length": length, "position": i / (needles - 1), "index": i, "sample": sample,
                        "tokens": len(ids) + len(answers[i]), "gold_at": len(fmt.prefix) + hay.starts[i],
                        "gold_depth_actual": hay.depths[i]}))
        except ValueError as error:
            too_short.append({"length": length, "reason": str(error)})
            continue
        prompts.extend(made)
    return prompts, too_short


CONSEQUENCE = {"middle": "facts placed mid-context are missed",
               "start": "facts placed at the start of the context are missed",
               "end": "facts placed at the end of the context are missed"}


def _where(position: float) -> str:
    return "start" if position == 0 else "end" if position == 1 else "middle"


def _position_words(position: float) -> str:
    return {0.0: "at the start", 0.25: "a quarter in", 0.5: "in the middle", 0.75: "three quarters in",
            1.0: "at the end"}.get(position, f"{position:.0%} in")


def wilson(rate: float, samples: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a success rate over `samples` trials (modelcard.probe.intervals)."""
    return wilson_counts(rate * samples, samples)


def position_losses(by_length: dict[str, dict[str, Any]], fraction: float,
                    min_base: float) -> dict[str, dict[str, Any]]:
    """Where retrieval is lost, by region (start, middle, end): a position whose accuracy is under `fraction` of
    the best position's at the same length, by more than sampling can explain (their 95% Wilson intervals do not
    overlap), at lengths where the best reaches `min_base` (below it nothing can be told from failing to
    retrieve at all). For each region, the length and position with the largest gap."""
    losses: dict[str, dict[str, Any]] = {}
    for n, row in by_length.items():
        best = row["best"]
        if best < min_base:
            continue
        best_position = row["positions"][row["accuracy"].index(best)]
        for position, accuracy in zip(row["positions"], row["accuracy"], strict=True):
            if accuracy >= fraction * best or wilson(accuracy, row["samples"])[1] >= wilson(best, row["samples"])[0]:
                continue
            where = _where(position)
            if where in losses and best - accuracy <= losses[where]["best"] - losses[where]["accuracy"]:
                continue
            label = "lost in the middle" if where == "middle" else f"lost at the {where}"
            losses[where] = {"length": int(n), "position": position, "accuracy": accuracy, "best": best,
                             "best_position": best_position,
                             "summary": f"{label} at {int(n):,} tokens: {accuracy:.0%} for the item "
                                        f"{_position_words(position)} against {best:.0%} "
                                        f"{_position_words(best_position)}"}
    return losses


def u_index(accuracy: list[float]) -> float | None:
    """(ends - middle) / ends, from accuracies ordered by position; None when the ends are never right."""
    ends = (accuracy[0] + accuracy[-1]) / 2
    middle = sum(accuracy[1:-1]) / max(1, len(accuracy) - 2)
    return round((ends - middle) / ends, 4) if ends > 0 and len(accuracy) > 2 else None


def position_cells(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]] | Outcome:
    if not 3 <= params["needles"] <= 24:
        return skipped(f"needles must be between 3 and 24 (distinct keys), not {params['needles']}")
    return length_sample_cells(params)


def position_prompts(codec: Codec, stream: FillerStream, params: dict[str, Any], cell: dict[str, Any], seed: int,
                     fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    return build_prompts(codec, stream, [cell["length"]], [float(p) for p in params["positions"]], params["needles"],
                         params["samples"], params["digits"], seed, only=cell["sample"], fmt=fmt)


def conclude_positions(ctx: ProbeContext, params: dict[str, Any], merged: Merged, codec: Codec,
                       fmt: PromptFormat) -> Outcome:
    fraction, min_base, filler = params["fraction"], params["min_base"], params["filler"]
    needles, samples = params["needles"], params["samples"]
    prompts, scores, skipped_lengths = merged.prompts, merged.scores, merged.skipped
    by_length: dict[str, dict[str, Any]] = {}
    for length in sorted({p.info["length"] for p in prompts}):
        marks = sorted({p.info["position"] for p in prompts if p.info["length"] == length})
        accuracy, intervals = [], []
        for mark in marks:
            exact = [s["value"].exact for p, s in zip(prompts, scores, strict=True)
                     if p.info["length"] == length and p.info["position"] == mark]
            accuracy.append(round(sum(exact) / len(exact), 4))
            intervals.append(interval(sum(exact), len(exact)))
        ends = (accuracy[0] + accuracy[-1]) / 2
        by_length[str(length)] = {"positions": [round(m, 4) for m in marks], "accuracy": accuracy,
                                  "accuracy_intervals": intervals,
                                  "u_index": u_index(accuracy), "ends": round(ends, 4),
                                  "middle_min": min(accuracy[1:-1]) if len(accuracy) > 2 else None,
                                  "best": max(accuracy), "samples": samples}
    losses = position_losses(by_length, fraction, min_base)
    indices = [row["u_index"] for row in by_length.values() if row["u_index"] is not None]
    headline = max(indices) if indices else None
    parts = [f"{int(n):,} tokens: {', '.join(f'{a:.0%}' for a in row['accuracy'])}" for n, row in by_length.items()]
    trail = "accuracy from start to end at " + "; ".join(parts)
    within_noise = [n for n, row in by_length.items()
                    if row["best"] >= min_base and min(row["accuracy"]) < fraction * row["best"]]
    clear = ("no position is lost by more than its sample can tell from noise (95% intervals overlap the best "
             f"position's at {', '.join(f'{int(n):,}' for n in within_noise)} tokens: more samples would settle it)"
             if within_noise else "no position is lost")
    summary = ("; ".join(loss["summary"] for loss in losses.values()) + f" ({trail})") if losses else (
        f"{clear}; {trail}")
    outcome = Outcome(status="fail" if losses else "pass", metric="U-shape index (largest over lengths)",
                      value=headline, unit=None, threshold={"fraction_of_best": fraction, "min_base": min_base},
                      details={"summary": summary, "by_length": by_length, "needles": needles, "losses": losses,
                               "shortest": shortest_of(prompts, scores), "skipped_lengths": skipped_lengths,
                               "tokenizer": codec.name, "prompt_format": fmt.as_dict(),
                               "filler": filler,
                               "compute": merged.compute, "memory": merged.memory})
    for where, loss in losses.items():
        outcome.findings.append(finding(
            "warning", "/disclosures/known_failure_modes", None,
            {"length": loss["length"], "position": loss["position"], "accuracy": loss["accuracy"],
             "best": loss["best"], "best_position": loss["best_position"],
             "u_index": by_length[str(loss["length"])]["u_index"]},
            f"{loss['summary'][0].upper()}{loss['summary'][1:]}: {CONSEQUENCE[where]}"))
    weak = [n for n, row in by_length.items() if row["best"] < min_base]
    if len(weak) == len(by_length):
        outcome.status = "skipped"
        outcome.reason = (f"retrieval is under {min_base:.0%} at every position of every tested length: too weak "
                          "to tell a position effect from not retrieving at all")
    elif weak:
        outcome.details["note"] = (f"at {', '.join(f'{int(n):,}' for n in weak)} tokens retrieval is under "
                                   f"{min_base:.0%} at every position: too weak to tell a position effect from "
                                   "failing to retrieve")
    return outcome


def shortest_of(prompts: list[Prompt], scores: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy over every asked position at the shortest tested length, with its interval."""
    length = min(p.info["length"] for p in prompts)
    exact = [s["value"].exact for p, s in zip(prompts, scores, strict=True) if p.info["length"] == length]
    return shortest_score(length, sum(exact), len(exact))


POSITION_CELLS = retrieval_cells(RetrievalTask(cells=position_cells, build=position_prompts,
                                               conclude=conclude_positions, cost=lambda cell: float(cell["length"])))


@probe("position-sensitivity", "Lost in the middle: accuracy by position of the gold item", cells=POSITION_CELLS,
       version=2)
def position_sensitivity(ctx: ProbeContext, lengths: tuple[int, ...] = (512, 2048),
                         positions: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0), needles: int = 9,
                         samples: int = 8, digits: int = 6, filler: str = "varied", fraction: float = 0.85,
                         min_base: float = 0.5, chunk: int = 4096, share_cache: bool = True) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return POSITION_CELLS.run_all(ctx, params)
