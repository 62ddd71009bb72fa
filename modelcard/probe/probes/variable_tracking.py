"""`variable-tracking` (multi-hop tracing, after RULER's vt): chains of assignments spread through the filler,
`VAR QPWLK = 48213.` then `VAR HZRTE = VAR QPWLK.` and so on, `hops` links long, beside other chains that hold
other values; the question asks for every variable that holds the first chain's value. The answer is the
chain's names in order, scored teacher-forced (no sampling): a name is right when the argmax at each of its
tokens is the name's token. A prompt scores the share of its names right, as RULER scores vt
(`string_match_all`); exact match (every name right) is recorded beside it.

Each (length, hops) is a cell (modelcard.probe.cells); the chains of a sample are the same at every length
(their seeds name the hop count and the sample, not the length), so lengths compare like with like. A cell too
short for its chains (4 hops in 512 byte-level tokens) drops only itself, and the family's score at each length
averages the hop counts measured at every length. Reported: exact match and name accuracy by hop count and
length, each with its 95% Wilson interval; the family's effective context by the relative rule
(modelcard.probe.families), and its score at the shortest length, so that a model that cannot trace a chain at
all is said to be unable to do the task, not to lack context. Prompts are in the model's own format
(modelcard.probe.prompt_format)."""

from __future__ import annotations

import random
import string
from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.families import family_verdict, share_of
from modelcard.probe.intervals import rate
from modelcard.probe.outcome import Outcome
from modelcard.probe.prompt_format import PromptFormat
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import (
    Codec,
    FillerStream,
    Insert,
    Prompt,
    exact_lengths,
    haystack_prompt,
    interval,
    make_value,
    rng_for,
)
from modelcard.probe.retrieval_cells import Merged
from modelcard.probe.shared import claimed_windows
from modelcard.probe.text_retrieval import PieceTally, RetrievalTask, pieces_right, retrieval_cells

FIRST = " VAR {name} = {value}."
LINK = " VAR {name} = VAR {source}."
ASK = "\nQuestion: find every variable that is assigned the value {value} in the text above."
CUE = "Answer: the variables assigned the value {value} are:"
# One worked example before the text (RULER's vt does the same): it shows the answer's form, so that a miss is
# a failure to track the chain, not to guess how the answer is written.
EXAMPLE = "Example:{statements}\nQuestion: find every variable that is assigned the value {value}.\n{cue}{names}\n\n"
NAME_LETTERS = 5
NAMES = share_of("names")


def variable_names(rng: random.Random, count: int) -> list[str]:
    """`count` distinct names of five capital letters."""
    names: list[str] = []
    while len(names) < count:
        name = "".join(rng.choice(string.ascii_uppercase) for _ in range(NAME_LETTERS))
        if name not in names:
            names.append(name)
    return names


def chains_for(seed: int, hops: int, chains: int, sample: int, digits: int) -> list[tuple[str, list[str]]]:
    """The sample's chains: (value, names in assignment order); the first is the one asked for.

    Args:
        seed: the run's seed.
        hops: links per chain (a chain of `hops` links has `hops + 1` names).
        chains: chains in the prompt.
        sample: the sample's index.
        digits: digits of each value.

    Returns:
        The chains.
    """
    rng = rng_for(seed, "variable-tracking", hops, sample)
    names = variable_names(rng, chains * (hops + 1))
    values: list[str] = []
    for _ in range(chains):
        values.append(make_value(rng, digits, avoid=values))
    return [(values[c], names[c * (hops + 1):(c + 1) * (hops + 1)]) for c in range(chains)]


def example_insert(codec: Codec, seed: int, hops: int, sample: int, digits: int) -> Insert:
    """The worked example, first in the text: one chain of the same hop count with its answer."""
    value, names = chains_for(seed, hops, 1, -1 - sample, digits)[0]
    statements = FIRST.format(name=names[0], value=value) + "".join(
        LINK.format(name=names[step], source=names[step - 1]) for step in range(1, len(names)))
    text = EXAMPLE.format(statements=statements, value=value, cue=CUE.format(value=value),
                          names="".join(" " + name for name in names))
    return Insert(codec.encode(" " + text), 0.0)


def statement_inserts(codec: Codec, chains: list[tuple[str, list[str]]]) -> list[Insert]:
    """Every assignment as an insert, spread from depth 0.05 to 0.95, each chain's in its own order, the chains
    interleaved."""
    links = len(chains[0][1])
    slots = links * len(chains)
    inserts = []
    for step in range(links):
        for index, (value, names) in enumerate(chains):
            text = (FIRST.format(name=names[0], value=value) if step == 0
                    else LINK.format(name=names[step], source=names[step - 1]))
            depth = 0.05 + 0.9 * (step * len(chains) + index + 0.5) / slots
            inserts.append(Insert(codec.encode(text), round(depth, 4)))
    return inserts


def build_prompts(codec: Codec, stream: FillerStream, length: int, hops: int, params: dict[str, Any], seed: int,
                  fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    """One cell's prompts: `samples` prompts of `length` tokens with chains of `hops` links.

    Args:
        codec: the model's tokenizer.
        stream: the filler stream.
        length: the prompt's length with its answer, in tokens.
        hops: links per chain.
        params: the probe's parameters (`chains`, `samples`, `digits`).
        seed: the run's seed.
        fmt: the prompt format.

    Returns:
        The prompts, and the length with the reason when it is too short for them.
    """
    prompts = []
    for sample in range(params["samples"]):
        chains = chains_for(seed, hops, params["chains"], sample, params["digits"])
        value, names = chains[0]
        pieces = [codec.encode(" " + name) for name in names]
        answer = [token for piece in pieces for token in piece]
        question = fmt.ask(codec, ASK.format(value=value), CUE.format(value=value))
        try:
            inserts = [example_insert(codec, seed, hops, sample, params["digits"]), *statement_inserts(codec, chains)]
            hay = haystack_prompt(stream, length, inserts, question, len(answer), fmt.prefix)
        except ValueError as error:
            return [], [{"length": length, "hops": hops, "reason": f"chains of {hops} hops: {error}"}]
        prompts.append(Prompt(hay.ids, {"value": answer}, {
            "length": length, "hops": hops, "sample": sample, "names": names, "spans": [len(p) for p in pieces],
            "answer": answer,
            "statements_at": hay.starts[1:], "tokens": len(hay.ids) + len(answer), "filler_tokens": hay.fill}))
    return prompts, []


def vt_cells(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]]:
    lengths = exact_lengths(params["lengths"], params["min_length"], params["max_length"], ctx.max_length(),
                            windows=claimed_windows(ctx))
    return [{"length": n, "hops": int(h)} for n in lengths for h in sorted({int(h) for h in params["hops"]})]


def vt_prompts(codec: Codec, stream: FillerStream, params: dict[str, Any], cell: dict[str, Any], seed: int,
               fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    return build_prompts(codec, stream, cell["length"], cell["hops"], params, seed, fmt)


def conclude_vt(ctx: ProbeContext, params: dict[str, Any], merged: Merged, codec: Codec,
                fmt: PromptFormat) -> Outcome:
    rows: dict[tuple[int, int], PieceTally] = {}
    for prompt, score in zip(merged.prompts, merged.scores, strict=True):
        rows.setdefault((prompt.info["length"], prompt.info["hops"]), PieceTally()).add(
            pieces_right(prompt, score["value"].predicted))
    table = [{"length": length, "hops": hops, **row.row("name")} for (length, hops), row in sorted(rows.items())]
    compared = compared_hops(rows) or {hops for _, hops in rows}  # none in common: every length on what it has
    by_length: dict[int, PieceTally] = {}
    for (length, hops), row in rows.items():
        if hops in compared:
            by_length.setdefault(length, PieceTally()).absorb(row)
    scores = {n: row.share / row.prompts for n, row in by_length.items()}
    counts = {n: (row.share, row.prompts) for n, row in by_length.items()}
    verdict = family_verdict("multi-hop", "variable tracking", scores, counts, params, ctx.max_length(),
                             measure=NAMES)
    longest = max(scores)
    return verdict.outcome(params, {
        "cells": table, "scores": {str(n): round(s, 4) for n, s in sorted(scores.items())},
        "score_intervals": {str(n): interval(*counts[n]) for n in sorted(counts)},
        "exact_match": {str(n): rate(row.exact, row.prompts) for n, row in sorted(by_length.items())},
        "longest": {"length": longest, "score": round(scores[longest], 4)},
        "hops_compared": sorted(compared), "skipped_lengths": merged.skipped, "tokenizer": codec.name,
        "prompt_format": fmt.as_dict(),
        "templates": {"first": FIRST, "link": LINK, "ask": ASK, "cue": CUE, "example": EXAMPLE},
        "chains": params["chains"], "hops": sorted({int(h) for h in params["hops"]}), "filler": params["filler"],
        "compute": merged.compute, "memory": merged.memory})


def compared_hops(rows: dict[tuple[int, int], Any]) -> set[int]:
    """The hop counts measured at every length that ran: the family's score at each length averages these only,
    so that a length too short for the longest chains (4 hops in 512 byte-level tokens) still compares like with
    like instead of being dropped.

    Args:
        rows: (length, hops) -> the cell's tally.

    Returns:
        The hop counts common to every length.
    """
    lengths = {length for length, _ in rows}
    return {hops for _, hops in rows if all((length, hops) in rows for length in lengths)}


VT_CELLS = retrieval_cells(RetrievalTask(cells=vt_cells, build=vt_prompts, conclude=conclude_vt,
                                         cost=lambda cell: float(cell["length"]), unit=("hops",)))


@probe("variable-tracking", "Multi-hop: every variable a chain of assignments gives one value", cells=VT_CELLS,
       version=1)
def variable_tracking(ctx: ProbeContext, lengths: list[int] | None = None, min_length: int = 256,
                      max_length: int = 4096, hops: tuple[int, ...] = (1, 2, 4), chains: int = 2, samples: int = 4,
                      digits: int = 5, filler: str = "varied", fraction: float = 0.85, absolute: float = 0.85,
                      min_base: float = 0.5, chunk: int = 4096, share_cache: bool = True) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return VT_CELLS.run_all(ctx, params)
