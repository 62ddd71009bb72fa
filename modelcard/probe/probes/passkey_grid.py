"""`passkey-grid`: one needle ("The magic number for amber-falcon is: 482913.") at a grid of depths x lengths
inside filler sized to the exact token count with the model's own tokenizer, then the question. A cell is
right when the teacher-forced argmax after the cue is the value at every one of its tokens (no sampling); its
log-likelihood is recorded beside. The grid's score by length gives the effective context
(modelcard.probe.effective_context), measured into `context_window.effective` with its rule. Prompts are in the
model's own format (modelcard.probe.prompt_format), stated in `details.prompt_format`; each cell keeps the
requested depth beside the needle's actual depth and position; every rate has its 95% Wilson interval, and
`details.shortest` is the score at the shortest tested length (failing there is failing the task, not the length).

Each (length, depth) of the grid is a cell (modelcard.probe.cells): the unit that is resumed and shared out across
ranks. Every prompt's haystack is a prefix of one filler stream, so within a cell the scorer computes the filler
before the needles once through the model's own cache (modelcard.probe.prefix_scoring); `details.compute` counts
the tokens against one forward per prompt, and `details.memory` the estimated peak of each length beside the
measured one."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.effective_context import describe, effective_context
from modelcard.probe.families import rule_of
from modelcard.probe.outcome import Outcome, finding
from modelcard.probe.prompt_format import PLAIN, PromptFormat
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import (
    ANSWER,
    NEEDLE,
    QUESTION,
    Codec,
    FillerStream,
    Insert,
    Prompt,
    exact_lengths,
    haystack_prompt,
    interval,
    make_key,
    make_value,
    rng_for,
    shortest_score,
)
from modelcard.probe.retrieval_cells import Merged
from modelcard.probe.shared import claimed_windows
from modelcard.probe.text_retrieval import RetrievalTask, retrieval_cells


def build_prompts(codec: Any, stream: FillerStream, lengths: list[int], depths: list[float], samples: int,
                  digits: int, seed: int, only: float | None = None,
                  fmt: PromptFormat = PLAIN) -> tuple[list[Prompt], list[dict[str, Any]]]:
    """The grid's prompts; a length too short for the needle and the question is returned as skipped.

    Args:
        codec: the model's tokenizer.
        stream: the filler stream.
        lengths: prompt lengths with the answer, in tokens.
        depths: requested needle depths.
        samples: needles per (length, depth).
        digits: digits of each value.
        seed: the run's seed.
        only: build that depth's column alone (the same prompts: every seed names its depth).
        fmt: the prompt format (BOS, chat template).

    Returns:
        The prompts, and the lengths too short for them with the reason.
    """
    needles = {}
    for sample in range(samples):
        for index, depth in enumerate(depths):
            if only is not None and depth != only:
                continue
            rng = rng_for(seed, "passkey-grid", sample, index)
            key, value = make_key(rng), make_value(rng, digits)
            needles[sample, index] = (codec.encode(NEEDLE.format(key=key, value=value)), fmt.question(codec, key),
                                      codec.encode(ANSWER.format(value=value)))
    prompts, too_short = [], []
    for length in lengths:
        made = []
        try:
            for (sample, index), (needle, question, answer) in needles.items():
                hay = haystack_prompt(stream, length, [Insert(needle, depths[index])], question, len(answer),
                                      fmt.prefix)
                made.append(Prompt(hay.ids, {"value": answer}, {
                    "length": length, "depth": depths[index], "sample": sample, "needle_at": hay.starts[0],
                    "depth_actual": hay.depths[0], "filler_tokens": hay.fill, "tokens": len(hay.ids) + len(answer),
                    "needle_tokens": len(needle), "question_tokens": len(question), "answer_tokens": len(answer),
                    "prefix_tokens": len(fmt.prefix)}))
        except ValueError as error:
            too_short.append({"length": length, "reason": str(error)})
            continue
        prompts.extend(made)
    return prompts, too_short


def grid_table(prompts: list[Prompt], scores: list[dict[str, Any]], lengths: list[int],
               depths: list[float]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, float]]:
    """Cells (per length and depth: exact-match rate with its interval, token accuracy, mean log-likelihood, the
    real token counts, where each needle is), the depth x length table, and the score by length."""
    cells: dict[tuple[int, float], list[tuple[Prompt, Any]]] = {}
    for prompt, score in zip(prompts, scores, strict=True):
        cells.setdefault((prompt.info["length"], prompt.info["depth"]), []).append((prompt, score["value"]))
    rows = []
    for (length, depth), items in sorted(cells.items()):
        exact = sum(s.exact for _, s in items)
        rows.append({"length": length, "depth": depth, "exact_match": round(exact / len(items), 4),
                     "exact_match_interval": interval(exact, len(items)),
                     "token_accuracy": round(sum(s.correct for _, s in items) / sum(s.tokens for _, s in items), 4),
                     "mean_logprob": round(sum(s.logprob for _, s in items) / len(items), 4),
                     "samples": len(items), "tokens": sorted({p.info["tokens"] for p, _ in items}),
                     "needle_at": [p.info["needle_at"] for p, _ in items],
                     "depth_actual": [p.info.get("depth_actual") for p, _ in items],
                     "filler_tokens": [p.info.get("filler_tokens") for p, _ in items]})
    tested = sorted({row["length"] for row in rows})
    table = []
    for depth in depths:
        mine = {row["length"]: row for row in rows if row["depth"] == depth}
        table.append({"depth": depth, "scores": {str(n): mine[n]["exact_match"] for n in tested},
                      "intervals": {str(n): mine[n]["exact_match_interval"] for n in tested}})
    by_length = {n: rate_of(prompts, scores, "length", n)[0] for n in tested}
    return rows, table, by_length


def rate_of(prompts: list[Prompt], scores: list[dict[str, Any]], key: str, value: Any) -> tuple[float, int, int]:
    """(exact-match rate, right answers, prompts) over the prompts whose info[key] is `value`."""
    exact = [score["value"].exact for prompt, score in zip(prompts, scores, strict=True) if prompt.info[key] == value]
    return sum(exact) / len(exact), sum(exact), len(exact)


def rates_by(prompts: list[Prompt], scores: list[dict[str, Any]], key: str, values: list[Any]) -> list[dict[str, Any]]:
    """Exact match with its 95% interval for each value of info[key] (length or depth) that was tested."""
    rows = []
    for value in values:
        if not any(p.info[key] == value for p in prompts):
            continue
        score, right, total = rate_of(prompts, scores, key, value)
        rows.append({key: value, "exact_match": round(score, 4), "exact_match_interval": interval(right, total),
                     "samples": total})
    return rows


def placement(prompts: list[Prompt]) -> dict[str, Any]:
    """What the needle positions mean, and how far the farthest needle sits from its requested depth."""
    gaps = [abs(p.info["depth_actual"] - p.info["depth"]) for p in prompts if p.info.get("depth_actual") is not None]
    return {"depth_actual": "filler tokens before the needle / filler tokens in the haystack (0: first, 1: just "
                            "before the question); the needle goes in at the sentence boundary nearest the requested "
                            "depth",
            "needle_at": "the needle's first token in the prompt, counting the format's prefix (BOS, chat template)",
            "max_depth_gap": round(max(gaps), 4) if gaps else None}


def grid_cells(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    lengths = exact_lengths(params["lengths"], params["min_length"], params["max_length"], ctx.max_length(),
                            windows=claimed_windows(ctx))
    return [{"length": n, "depth": d} for n in lengths for d in dict.fromkeys(map(float, params["depths"]))]


def grid_prompts(codec: Codec, stream: FillerStream, params: dict[str, Any], cell: dict[str, Any], seed: int,
                 fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    return build_prompts(codec, stream, [cell["length"]], [float(d) for d in params["depths"]], params["samples"],
                         params["digits"], seed, only=cell["depth"], fmt=fmt)


def conclude_grid(ctx: ProbeContext, params: dict[str, Any], merged: Merged, codec: Codec,
                  fmt: PromptFormat) -> Outcome:
    fraction, absolute, min_base = params["fraction"], params["absolute"], params["min_base"]
    declared = ctx.max_length()
    depths = [float(d) for d in params["depths"]]
    prompts, scores, skipped_lengths = merged.prompts, merged.scores, merged.skipped
    tested = merged.values()
    rows, table, by_length = grid_table(prompts, scores, tested, depths)
    _, right, total = rate_of(prompts, scores, "length", tested[0])
    counts = {n: rate_of(prompts, scores, "length", n)[1:] for n in tested}
    effective = effective_context(by_length, fraction, absolute, min_base, declared, counts=counts)
    summary = describe(effective, declared, by_length)
    example = prompts[0].info
    outcome = Outcome(
        status="pass", metric="effective context (relative rule)", value=effective["value"], unit="tokens",
        threshold={"fraction": fraction, "absolute": absolute, "min_base": min_base},
        details={"summary": summary, "scores": {str(n): round(s, 4) for n, s in by_length.items()},
                 "score_intervals": {str(row["length"]): row["exact_match_interval"]
                                     for row in rates_by(prompts, scores, "length", tested)},
                 "shortest": shortest_score(tested[0], right, total),
                 "by_depth": rates_by(prompts, scores, "depth", depths), "placement": placement(prompts),
                 "grid": table, "lengths": sorted(by_length), "depths": depths, "effective": effective,
                 "cells": rows, "skipped_lengths": skipped_lengths, "tokenizer": codec.name,
                 "prompt_format": fmt.as_dict(),
                 "filler": params["filler"], "needle_template": NEEDLE, "question_template": QUESTION,
                 "tokens": {k: example[k] for k in ("needle_tokens", "question_tokens", "answer_tokens")},
                 "compute": merged.compute, "memory": merged.memory})
    rule = rule_of("passkey-grid", effective)
    if effective["value"] is not None:
        outcome.measured["/context_window/effective"] = effective["value"]
    outcome.derived["/context_window/effective_rule"] = rule
    if effective["value"] is None:
        outcome.status = "fail"
        outcome.findings.append(finding(
            "warning", "/context_window/effective", declared,
            {"score": effective["base_score"], "length": effective["base_length"]},
            f"needle retrieval fails even at the shortest tested length: {summary}"))
    elif effective["collapse"] is not None:
        outcome.status = "fail"
        collapse = effective["collapse"]
        outcome.findings.append(finding(
            "warning", "/context_window/effective", declared,
            {"holds_through": effective["holds_through"], "length": collapse["length"], "score": collapse["score"],
             "effective": effective["value"]},
            f"{summary[0].upper()}{summary[1:]}: the model does not use the context it declares"
            if declared and collapse["length"] <= declared else summary))
    return outcome


GRID_CELLS = retrieval_cells(RetrievalTask(cells=grid_cells, build=grid_prompts, conclude=conclude_grid,
                                           cost=lambda cell: float(cell["length"])))


@probe("passkey-grid", "Needle retrieval over a depth x length grid", cells=GRID_CELLS, version=2)
def passkey_grid(ctx: ProbeContext, lengths: list[int] | None = None, min_length: int = 256, max_length: int = 4096,
                 depths: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0), samples: int = 4, digits: int = 6,
                 filler: str = "varied", fraction: float = 0.85, absolute: float = 0.85, min_base: float = 0.5,
                 chunk: int = 4096, share_cache: bool = True) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return GRID_CELLS.run_all(ctx, params)
