"""`nonliteral-needle` (after NoLiMa): a needle and a question that share no content word, linked by one step
of world knowledge. The needle names a landmark ("Actually, Yuki lives next to the Semper Opera."), the question
the city it stands in ("Which character has been to Dresden?"), and the answer is the character's name. Beside
it, the literal variant of the same needle names the city itself ("Actually, Yuki lives in Dresden."), so the
card can say how much of the model's retrieval was word matching: the gap between the two.

The pairs are modelcard's own (modelcard/probe/data/landmarks.yaml, Apache-2.0; NoLiMa's set is under a
non-commercial licence and is not used): each landmark is in exactly one city and shares no word with its
name, and no two pairs name one city. Each sample draws its pair and its character from the seed; its depth
cycles through `depths`. Scored teacher-forced (no sampling), exact match on the name, with 95% Wilson
intervals. Each (length, sample) is a cell, both variants in it sharing their context up to the needle. The
family's effective context is judged on the non-literal variant (modelcard.probe.families); a model that does
not retrieve even the literal needle at the shortest length cannot do the task."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from modelcard.probe.context import ProbeContext
from modelcard.probe.families import family_verdict
from modelcard.probe.outcome import Outcome
from modelcard.probe.prompt_format import PromptFormat
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import Codec, FillerStream, Insert, Prompt, haystack_prompt, interval, rng_for
from modelcard.probe.retrieval_cells import Merged
from modelcard.probe.text_retrieval import RetrievalTask, length_sample_cells, retrieval_cells

NONLITERAL = " Actually, {name} lives next to {landmark}."
LITERAL = " Actually, {name} lives in {city}."
ASK = "\nQuestion: which character has been to {city}?"
CUE = "Answer: the character is"
ANSWER = " {name}"
VARIANTS = {"nonliteral": NONLITERAL, "literal": LITERAL}


@lru_cache(maxsize=1)
def landmarks() -> tuple[list[dict[str, str]], list[str]]:
    """The shipped pairs and character names (modelcard/probe/data/landmarks.yaml)."""
    from importlib.resources import files

    text = files("modelcard.probe").joinpath("data").joinpath("landmarks.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return list(data["pairs"]), list(data["names"])


def build_prompts(codec: Codec, stream: FillerStream, params: dict[str, Any], cell: dict[str, Any], seed: int,
                  fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    """One sample's two prompts, non-literal and literal, with the same character, city and depth.

    Args:
        codec: the model's tokenizer.
        stream: the filler stream.
        params: the probe's parameters (`depths`).
        cell: the length and the sample.
        seed: the run's seed.
        fmt: the prompt format.

    Returns:
        The prompts, and the length with the reason when it is too short for them.
    """
    pairs, names = landmarks()
    sample, length = cell["sample"], cell["length"]
    rng = rng_for(seed, "nonliteral-needle", sample)
    pair, name = rng.choice(pairs), rng.choice(names)
    depth = float(params["depths"][sample % len(params["depths"])])
    question = fmt.ask(codec, ASK.format(city=pair["city"]), CUE)
    answer = codec.encode(ANSWER.format(name=name))
    prompts = []
    for variant, template in VARIANTS.items():
        needle = codec.encode(template.format(name=name, **pair))
        try:
            hay = haystack_prompt(stream, length, [Insert(needle, depth)], question, len(answer), fmt.prefix)
        except ValueError as error:
            return [], [{"length": length, "reason": str(error)}]
        prompts.append(Prompt(hay.ids, {"value": answer}, {
            "length": length, "sample": sample, "variant": variant, "depth": depth, "depth_actual": hay.depths[0],
            "needle_at": hay.starts[0], "landmark": pair["landmark"], "city": pair["city"], "name": name,
            "tokens": len(hay.ids) + len(answer)}))
    return prompts, []


def conclude_nonliteral(ctx: ProbeContext, params: dict[str, Any], merged: Merged, codec: Codec,
                        fmt: PromptFormat) -> Outcome:
    tallies: dict[tuple[int, str], list[int]] = {}
    for prompt, score in zip(merged.prompts, merged.scores, strict=True):
        tally = tallies.setdefault((prompt.info["length"], prompt.info["variant"]), [0, 0])
        tally[0] += score["value"].exact
        tally[1] += 1
    lengths = sorted({length for length, _ in tallies})
    rows = []
    for n in lengths:
        row: dict[str, Any] = {"length": n}
        for variant in VARIANTS:
            right, total = tallies[n, variant]
            row[variant] = round(right / total, 4)
            row[f"{variant}_interval"] = interval(right, total)
            row["samples"] = total
        row["word_matching_gap"] = round(row["literal"] - row["nonliteral"], 4)
        rows.append(row)
    scores = {n: tallies[n, "nonliteral"][0] / tallies[n, "nonliteral"][1] for n in lengths}
    counts = {n: (tallies[n, "nonliteral"][0], tallies[n, "nonliteral"][1]) for n in lengths}
    verdict = family_verdict("non-literal", "non-literal retrieval", scores, counts, params, ctx.max_length())
    literal_first = tallies[lengths[0], "literal"]
    gap = rows[0]["word_matching_gap"]
    summary = (f"{verdict.summary}; the literal needle scores {rows[0]['literal']:.0%} against "
               f"{rows[0]['nonliteral']:.0%} non-literal at {lengths[0]:,} tokens (a gap of {gap:.0%} is what word "
               "matching carried)")
    return verdict.outcome(params, {
        "by_length": rows,
        "literal_shortest": {"length": lengths[0], "score": round(literal_first[0] / literal_first[1], 4),
                             "interval": interval(*literal_first)},
        "scores": {str(n): round(s, 4) for n, s in sorted(scores.items())},
        "skipped_lengths": merged.skipped, "tokenizer": codec.name, "prompt_format": fmt.as_dict(),
        "templates": {**VARIANTS, "ask": ASK, "cue": CUE}, "pairs": len(landmarks()[0]),
        "compute": merged.compute, "memory": merged.memory},
        metric="effective context (relative rule, non-literal)", summary=summary)


NONLITERAL_CELLS = retrieval_cells(RetrievalTask(cells=lambda ctx, params: length_sample_cells(params),
                                                 build=build_prompts, conclude=conclude_nonliteral,
                                                 cost=lambda cell: 2.0 * cell["length"]))


@probe("nonliteral-needle", "Retrieval when the question shares no word with the needle", cells=NONLITERAL_CELLS,
       version=1)
def nonliteral_needle(ctx: ProbeContext, lengths: tuple[int, ...] = (512, 2048), samples: int = 8,
                      depths: tuple[float, ...] = (0.25, 0.5, 0.75), filler: str = "varied", fraction: float = 0.85,
                      absolute: float = 0.85, min_base: float = 0.5, chunk: int = 4096,
                      share_cache: bool = True) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return NONLITERAL_CELLS.run_all(ctx, params)
