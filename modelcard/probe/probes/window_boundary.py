"""`window-boundary`: for a model with sliding-window or chunked layers, how retrieval behaves as the needle
moves past the window. For each window W the layer pattern declares, one needle ("The magic number for
amber-falcon is: 482913.") sits at a distance of W - d, W, W + d, 2W and 4W tokens before the question (d = W/8),
after a short lead of filler; the distance is counted from the needle's first token to the last token of the
question, where the answer's first token is predicted. A layer with window W cannot see the needle from there
past W; the model can still answer through its layers that see further (global layers of a hybrid) or through
information passed on from layer to layer.

Scored as passkey-grid scores (teacher-forced exact match, no sampling), with 95% Wilson intervals. The verdict
compares the distances past the window (2W, 4W) with the one inside it (W - d): retrieval that survives past the
window passes and says so; retrieval that stops at W is a known failure mode (a finding); a model that does not
retrieve even inside the window cannot do the task, which is not a window effect. Each (window, distance) is a
cell; a distance over the declared context, or too short to hold the needle and the question, is skipped with
the reason. Prompts are in the model's own format (modelcard.probe.prompt_format)."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.prompt_format import PromptFormat
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import (
    ANSWER,
    NEEDLE,
    Codec,
    FillerStream,
    Prompt,
    interval,
    make_key,
    make_value,
    rng_for,
)
from modelcard.probe.retrieval_cells import Merged
from modelcard.probe.shared import claimed_windows
from modelcard.probe.text_retrieval import RetrievalTask, retrieval_cells

ALLOWANCE = 96  # tokens a cell's length estimate allows for the format, the needle, the question and the answer


def distances_for(window: int) -> list[int]:
    """The distances tested for one window: W - d, W, W + d, 2W and 4W, d = W/8 (at least 1)."""
    step = max(1, window // 8)
    return sorted({window - step, window, window + step, 2 * window, 4 * window})


def boundary_cells(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]] | Outcome:
    windows = [int(w) for w in params["windows"]] if params["windows"] else claimed_windows(ctx)
    if not windows:
        return skipped("no sliding-window or chunked layer: there is no window for a needle to cross")
    return [{"length": distance + params["lead"] + ALLOWANCE, "window": window, "distance": distance}
            for window in windows for distance in distances_for(window)]


def build_prompts(codec: Codec, stream: FillerStream, params: dict[str, Any], cell: dict[str, Any], seed: int,
                  fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    """The cell's prompts: one needle per sample, `distance` tokens before the last token of the question.

    Args:
        codec: the model's tokenizer.
        stream: the filler stream (its first sentences are the lead, the rest the gap).
        params: the probe's parameters (`samples`, `digits`, `lead`).
        cell: the window, the distance and the length estimate.
        seed: the run's seed.
        fmt: the prompt format.

    Returns:
        The prompts, and the cell's length with the reason when the distance cannot hold the needle and question.
    """
    distance, window = cell["distance"], cell["window"]
    lead = stream.boundary_near(params["lead"], params["lead"])
    prompts = []
    for sample in range(params["samples"]):
        rng = rng_for(seed, "window-boundary", sample)  # the same needle at every distance and window
        key, value = make_key(rng), make_value(rng, params["digits"])
        needle = codec.encode(NEEDLE.format(key=key, value=value))
        question = fmt.question(codec, key)
        answer = codec.encode(ANSWER.format(value=value))
        gap = distance - len(needle) - len(question) + 1
        if gap < 0:
            return [], [{"length": cell["length"], "window": window, "distance": distance,
                         "reason": f"a distance of {distance:,} tokens cannot hold the needle and the question "
                                   f"({len(needle) + len(question) - 1:,} tokens)"}]
        if lead + gap > len(stream.ids):
            raise ValueError(f"the filler stream has {len(stream.ids):,} tokens; {lead + gap:,} are needed")
        ids = [*fmt.prefix, *stream.ids[:lead], *needle, *stream.ids[lead:lead + gap], *question]
        needle_at = len(fmt.prefix) + lead
        prompts.append(Prompt(ids, {"value": answer}, {
            "length": cell["length"], "window": window, "distance": distance, "sample": sample,
            "needle_at": needle_at, "distance_actual": len(ids) - 1 - needle_at, "tokens": len(ids) + len(answer)}))
    return prompts, []


def rate_at(merged: Merged, window: int, distances: list[int]) -> tuple[int, int]:
    """(right, prompts) over the prompts of `window` at `distances`."""
    exact = [score["value"].exact for prompt, score in zip(merged.prompts, merged.scores, strict=True)
             if prompt.info["window"] == window and prompt.info["distance"] in distances]
    return sum(exact), len(exact)


def conclude_boundary(ctx: ProbeContext, params: dict[str, Any], merged: Merged, codec: Codec,
                      fmt: PromptFormat) -> Outcome:
    fraction, min_base = params["fraction"], params["min_base"]
    rows, verdicts, findings = [], [], []
    for window in sorted({p.info["window"] for p in merged.prompts}):
        tested = sorted({p.info["distance"] for p in merged.prompts if p.info["window"] == window})
        for distance in tested:
            right, total = rate_at(merged, window, [distance])
            rows.append({"window": window, "distance": distance, "past_window": round(distance / window, 4),
                         "exact_match": round(right / total, 4), "exact_match_interval": interval(right, total),
                         "samples": total})
        inside = [d for d in tested if d < window]
        beyond = [d for d in tested if d >= 2 * window]
        if not inside or not beyond:
            verdicts.append({"window": window, "verdict": "not measured",
                             "reason": "no distance inside the window or none at 2W or more could run"})
            continue
        right_in, total_in = rate_at(merged, window, inside)
        right_out, total_out = rate_at(merged, window, beyond)
        score_in, score_out = right_in / total_in, right_out / total_out
        upper_out = interval(right_out, total_out)[1]
        entry = {"window": window, "inside": round(score_in, 4), "inside_interval": interval(right_in, total_in),
                 "beyond": round(score_out, 4), "beyond_interval": interval(right_out, total_out),
                 "inside_distances": inside, "beyond_distances": beyond}
        if score_in < min_base:
            entry.update(verdict="cannot do the task", sentence=(
                f"retrieval is {score_in:.0%} even inside the {window:,}-token window: the model cannot do the "
                "task at these lengths, which says nothing about the window"))
        elif upper_out < fraction * score_in:
            entry.update(verdict="stops at the window", sentence=(
                f"retrieval stops at the {window:,}-token window: {score_in:.0%} inside it, {score_out:.0%} at "
                f"{'/'.join(f'{d:,}' for d in beyond)} tokens"))
            findings.append(finding("warning", "/disclosures/known_failure_modes", window,
                                    {"window": window, "inside": entry["inside"], "beyond": entry["beyond"]},
                                    f"window boundary: {entry['sentence']}; a needle farther back than the window "
                                    "is lost"))
        else:
            entry.update(verdict="survives past the window", sentence=(
                f"retrieval survives past the {window:,}-token window: {score_in:.0%} inside it, {score_out:.0%} "
                f"at {'/'.join(f'{d:,}' for d in beyond)} tokens (through layers that see further)"))
        verdicts.append(entry)
    judged = [v for v in verdicts if "inside" in v]
    status = "fail" if any(v["verdict"] == "stops at the window" for v in judged) else "pass"
    if judged and all(v["verdict"] == "cannot do the task" for v in judged):
        status = "fail"
    summary = "; ".join(v.get("sentence", f"{v['window']:,}: {v['verdict']}") for v in verdicts)
    worst = min(judged, key=lambda v: v["beyond"], default=None)
    outcome = Outcome(status=status, metric="exact match at 2W and beyond", value=worst["beyond"] if worst else None,
                      unit=None, threshold={"fraction_of_inside": fraction, "min_base": min_base},
                      details={"summary": summary, "windows": verdicts, "cells": rows,
                               "skipped_lengths": merged.skipped, "tokenizer": codec.name,
                               "prompt_format": fmt.as_dict(), "lead_tokens": params["lead"],
                               "distance": "tokens from the needle's first token to the question's last token, "
                                           "where the answer's first token is predicted",
                               "compute": merged.compute, "memory": merged.memory})
    outcome.findings.extend(findings)
    return outcome


BOUNDARY_CELLS = retrieval_cells(RetrievalTask(cells=boundary_cells, build=build_prompts,
                                               conclude=conclude_boundary, cost=lambda cell: float(cell["length"])))


@probe("window-boundary", "Retrieval as the needle moves past each attention window", cells=BOUNDARY_CELLS,
       version=1)
def window_boundary(ctx: ProbeContext, windows: list[int] | None = None, samples: int = 8, digits: int = 6,
                    lead: int = 32, fraction: float = 0.85, min_base: float = 0.5, chunk: int = 4096,
                    share_cache: bool = True) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return BOUNDARY_CELLS.run_all(ctx, params)
