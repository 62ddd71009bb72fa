"""`multikey-distractors`: the needle asked for among near-duplicate needles (same template, same animal,
another colour: "amber-falcon" among "azure-falcon", "teal-falcon", ...), each with its own value, at seeded
depths in the filler. The accuracy with 0, 1, 3, 7 distractors, and how often the answer is a distractor's value
(distractor confusion): one near-duplicate is known to hurt even strong models (Chroma's "Context Rot").

Every distractor's value is scored after the same prompt (the prefix scorer computes the prompt once), so the
result also says whether the model prefers the gold value over every distractor's by log-likelihood. Each
(length, distractor count) is a cell (modelcard.probe.cells). Prompts are in the model's own format
(modelcard.probe.prompt_format); every rate has its 95% Wilson interval, and `details.shortest` is the accuracy
without distractors at the shortest tested length."""

from __future__ import annotations

from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, finding
from modelcard.probe.prompt_format import PLAIN, PromptFormat
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import (
    ANSWER,
    NEEDLE,
    Codec,
    FillerStream,
    Insert,
    Prompt,
    haystack_prompt,
    interval,
    make_key,
    make_value,
    near_duplicates,
    rng_for,
    shortest_score,
)
from modelcard.probe.retrieval_cells import Merged
from modelcard.probe.text_retrieval import RetrievalTask, retrieval_cells


def build_prompts(codec: Any, stream: FillerStream, lengths: list[int], distractors: list[int], samples: int,
                  digits: int, seed: int, fmt: PromptFormat = PLAIN) -> tuple[list[Prompt], list[dict[str, Any]]]:
    """The probe's prompts: per length, distractor count and sample, the gold needle among near-duplicates.

    Args:
        codec: the model's tokenizer.
        stream: the filler stream.
        lengths: prompt lengths with the answer, in tokens.
        distractors: how many near-duplicates to plant.
        samples: prompts per (length, distractor count).
        digits: digits of each value.
        seed: the run's seed.
        fmt: the prompt format (BOS, chat template).

    Returns:
        The prompts, and the lengths too short for them with the reason.
    """
    prompts, too_short = [], []
    for length in lengths:
        made = []
        try:
            for count in distractors:
                for sample in range(samples):
                    rng = rng_for(seed, "multikey", length, count, sample)
                    gold = make_key(rng)
                    keys = [gold, *near_duplicates(rng, gold, count)]
                    values: list[str] = []
                    for _ in keys:
                        values.append(make_value(rng, digits, values))
                    depths = [rng.random() for _ in keys]
                    inserts = [Insert(codec.encode(NEEDLE.format(key=k, value=v)), d)
                               for k, v, d in zip(keys, values, depths, strict=True)]
                    answers = {"gold": codec.encode(ANSWER.format(value=values[0]))}
                    answers.update({f"distractor{n}": codec.encode(ANSWER.format(value=v))
                                    for n, v in enumerate(values[1:], 1)})
                    question = fmt.question(codec, gold)
                    hay = haystack_prompt(stream, length, inserts, question, len(answers["gold"]), fmt.prefix)
                    made.append(Prompt(hay.ids, answers, {
                        "length": length, "distractors": count, "sample": sample,
                        "tokens": len(hay.ids) + len(answers["gold"]), "gold_at": hay.starts[0],
                        "distractors_at": hay.starts[1:], "gold_depth": depths[0], "gold_depth_actual": hay.depths[0],
                        "distractor_depths": depths[1:], "distractor_depths_actual": hay.depths[1:]}))
        except ValueError as error:
            too_short.append({"length": length, "reason": str(error)})
            continue
        prompts.extend(made)
    return prompts, too_short


def tally(items: list[tuple[Prompt, dict[str, Any]]]) -> dict[str, Any]:
    accuracy = confused = preferred = 0
    for _, scores in items:
        gold = scores["gold"]
        others = [score for name, score in scores.items() if name != "gold"]
        accuracy += gold.exact
        confused += any(o.exact for o in others)  # greedy decoding would write that distractor's value
        preferred += all(gold.logprob > o.logprob for o in others)
    n = len(items)
    return {"accuracy": round(accuracy / n, 4), "accuracy_interval": interval(accuracy, n),
            "confusion": round(confused / n, 4), "confusion_interval": interval(confused, n),
            "prefers_gold": round(preferred / n, 4), "prefers_gold_interval": interval(preferred, n), "samples": n,
            "successes": accuracy}


def multikey_cells(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"length": n, "distractors": count} for n in sorted({int(n) for n in params["lengths"]})
            for count in sorted({int(n) for n in params["distractors"]})]


def multikey_prompts(codec: Codec, stream: FillerStream, params: dict[str, Any], cell: dict[str, Any], seed: int,
                     fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    return build_prompts(codec, stream, [cell["length"]], [cell["distractors"]], params["samples"], params["digits"],
                         seed, fmt=fmt)


def conclude_multikey(ctx: ProbeContext, params: dict[str, Any], merged: Merged, codec: Codec,
                      fmt: PromptFormat) -> Outcome:
    counts = sorted({int(n) for n in params["distractors"]})
    fraction, min_base, filler = params["fraction"], params["min_base"], params["filler"]
    prompts, scores, skipped_lengths = merged.prompts, merged.scores, merged.skipped
    table: dict[str, dict[str, Any]] = {}
    for length in sorted({p.info["length"] for p in prompts}):
        table[str(length)] = {str(count): tally([(p, s) for p, s in zip(prompts, scores, strict=True)
                                                  if p.info["length"] == length and p.info["distractors"] == count])
                              for count in counts}
    most, least = str(counts[-1]), str(counts[0])
    first = min(table, key=int)
    first_row = table[first][least]  # the task without distractors at the shortest length
    eligible = [n for n in table if table[n][least]["accuracy"] >= min_base] or list(table)[:1]
    worst = min(eligible, key=lambda n: table[n][most]["accuracy"] - fraction * table[n][least]["accuracy"])
    row = table[worst]
    clean, crowded = row[least]["accuracy"], row[most]["accuracy"]
    summary = (f"with {most} near-duplicate needle{'s' if most != '1' else ''} at {int(worst):,} tokens, retrieval "
               f"is {crowded:.0%} against {clean:.0%} with {least}; {row[most]['confusion']:.0%} of the answers were "
               f"a distractor's value")
    outcome = Outcome(status="pass", metric=f"accuracy with {most} distractors", value=crowded, unit=None,
                      threshold={"fraction_of_clean": fraction, "min_base": min_base},
                      details={"summary": summary, "by_length": table, "worst_length": int(worst),
                               "shortest": shortest_score(int(first), first_row["successes"], first_row["samples"]),
                               "skipped_lengths": skipped_lengths, "tokenizer": codec.name,
                               "prompt_format": fmt.as_dict(), "filler": filler,
                               "compute": merged.compute, "memory": merged.memory})
    if clean < min_base:
        # Measured, but it cannot answer its question: a model that does not retrieve a lone needle cannot be
        # confused by near-duplicates of it. Skipped with the reason; the measurements stay in the details.
        outcome.status = "skipped"
        outcome.reason = (f"retrieval without distractors is {clean:.0%} at every tested length (under "
                          f"{min_base:.0%}): too weak to tell distractor confusion from not retrieving at all")
    elif crowded < fraction * clean:
        outcome.status = "fail"
        outcome.findings.append(finding(
            "warning", "/disclosures/known_failure_modes", None,
            {"length": int(worst), "distractors": int(most), "accuracy": crowded, "without": clean,
             "confusion": row[most]["confusion"]},
            f"distractor confusion: {summary}"))
    return outcome


MULTIKEY_CELLS = retrieval_cells(RetrievalTask(
    cells=multikey_cells, build=multikey_prompts, conclude=conclude_multikey,
    cost=lambda cell: float(cell["length"] * (1 + cell["distractors"]))))


@probe("multikey-distractors", "Retrieval among near-duplicate needles", cells=MULTIKEY_CELLS, version=2)
def multikey_distractors(ctx: ProbeContext, lengths: tuple[int, ...] = (512, 2048),
                         distractors: tuple[int, ...] = (0, 1, 3, 7), samples: int = 8, digits: int = 6,
                         filler: str = "varied", fraction: float = 0.85, min_base: float = 0.5,
                         chunk: int = 4096, share_cache: bool = True) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return MULTIKEY_CELLS.run_all(ctx, params)
