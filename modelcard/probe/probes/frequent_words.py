"""`frequent-words` (aggregation, after RULER's fwe): a coded text of made-up words drawn from a Zipf
distribution (P(rank r) proportional to 1 / r^alpha, RULER's alpha = 2) fills the context; the question asks for
the `top` most frequent words, most frequent first. No single passage holds the answer: the model has to count
across the whole context. A worked example with its own words comes first and shows the answer's form.

The answer is scored teacher-forced (no sampling): a word is right when the argmax at each of its tokens is the
word's token. A prompt scores the share of its words right, as RULER scores fwe (`string_match_all`); exact
match (every word right) is recorded beside it. Each sample's text is one stream, cut at each length
(its seed names the sample, not the length), and the answer is counted on the text the prompt really holds;
a sample whose top words tie is drawn again from the next seed, so the answer is always unique.

Each (length, sample) is a cell. Reported: exact match and word accuracy by length with 95% Wilson intervals,
the family's effective context by the relative rule (modelcard.probe.families) and its score at the shortest
length, the counts behind each answer, and the prompt format."""

from __future__ import annotations

import random
import string
from collections import Counter
from typing import Any

from modelcard.probe.context import ProbeContext
from modelcard.probe.families import family_verdict, share_of
from modelcard.probe.intervals import rate
from modelcard.probe.outcome import Outcome
from modelcard.probe.prompt_format import PromptFormat
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import Codec, FillerStream, Prompt, rng_for
from modelcard.probe.retrieval_cells import Merged
from modelcard.probe.text_retrieval import (
    PieceTally,
    RetrievalTask,
    length_sample_cells,
    pieces_right,
    retrieval_cells,
)

ASK = "\nQuestion: what are the {top} most frequent words in the coded text above, after the example?"
CUE = "Answer: the {top} most frequent words are:"
EXAMPLE = ("Example of a coded text:{words}\nQuestion: what are the {top} most frequent words in it?\n{cue}{answer}"
           "\n\nThe coded text:")
EXAMPLE_WORDS = 12
WORDS = share_of("words")
MAX_DRAWS = 32  # seeds tried for a sample whose top words tie at every length


def coded_words(rng: random.Random, count: int) -> list[str]:
    """`count` distinct made-up lower-case words of 3 to 6 letters."""
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 6)))
        if word not in words:
            words.append(word)
    return words


def zipf_stream(rng: random.Random, vocabulary: list[str], alpha: float, count: int) -> list[str]:
    """`count` words drawn from `vocabulary` with P(rank r) proportional to 1 / r^alpha."""
    weights = [1.0 / (rank ** alpha) for rank in range(1, len(vocabulary) + 1)]
    return rng.choices(vocabulary, weights=weights, k=count)


def top_words(words: list[str], top: int) -> list[str] | None:
    """The `top` most frequent words, most frequent first; None when a tie makes the answer ambiguous."""
    counts = Counter(words).most_common(top + 1)
    ranked = [count for _, count in counts]
    if len(ranked) < top or any(ranked[i] <= ranked[i + 1] for i in range(min(top, len(ranked) - 1))):
        return None
    return [word for word, _ in counts[:top]]


def example_text(seed: int, sample: int, top: int) -> str:
    """The worked example: a short coded text of its own words, with its answer."""
    rng = rng_for(seed, "frequent-words-example", sample)
    words = coded_words(rng, top + 2)
    text = [words[i] for i in range(top + 2) for _ in range(top + 2 - i)][:EXAMPLE_WORDS]
    rng.shuffle(text)
    answer = top_words(text, top) or words[:top]
    return EXAMPLE.format(words="".join(" " + w for w in text), top=top, cue=CUE.format(top=top),
                          answer="".join(" " + w for w in answer))


def build_prompt(codec: Codec, length: int, sample: int, params: dict[str, Any], seed: int,
                 fmt: PromptFormat) -> Prompt:
    """One prompt of exactly `length` tokens with its answer.

    Args:
        codec: the model's tokenizer.
        length: the prompt's length with its answer, in tokens.
        sample: the sample's index.
        params: the probe's parameters (`top`, `vocabulary`, `alpha`).
        seed: the run's seed.
        fmt: the prompt format.

    Returns:
        The prompt.

    Raises:
        ValueError: the length cannot hold the example, the question and the answer, or no draw gives a text
            whose top words are unique.
    """
    top = params["top"]
    head = codec.encode(" " + example_text(seed, sample, top))
    question = fmt.ask(codec, ASK.format(top=top), CUE.format(top=top))
    pad = codec.encode("\n")
    if len(pad) != 1:
        raise ValueError("the tokenizer has no single token for a newline, which pads the text to length")
    for draw in range(MAX_DRAWS):
        rng = rng_for(seed, "frequent-words", sample, draw)
        vocabulary = coded_words(rng, params["vocabulary"])
        stream = zipf_stream(rng, vocabulary, params["alpha"], 4 * length)
        budget_guess = max(8, top * 8)  # the answer's tokens, known once the text is cut
        ids, used = _cut(codec, stream, length - len(fmt.prefix) - len(head) - len(question) - budget_guess)
        answer_words = top_words(stream[:used], top)
        if answer_words is None:
            continue
        pieces = [codec.encode(" " + word) for word in answer_words]
        answer = [token for piece in pieces for token in piece]
        fill = length - len(fmt.prefix) - len(head) - len(question) - len(answer) - len(ids)
        if fill < 0:
            continue
        text = [*ids, *(pad * fill)]
        return Prompt([*fmt.prefix, *head, *text, *question], {"value": answer}, {
            "length": length, "sample": sample, "draw": draw, "words": used, "answer": answer,
            "spans": [len(piece) for piece in pieces], "top_words": answer_words,
            "counts": [Counter(stream[:used])[word] for word in answer_words],
            "tokens": len(fmt.prefix) + len(head) + len(text) + len(question) + len(answer)})
    raise ValueError(f"no draw of {MAX_DRAWS} gives {length:,} tokens of text whose top {top} words are unique")


def _cut(codec: Codec, words: list[str], tokens: int) -> tuple[list[int], int]:
    """The first words that fit in `tokens` tokens: their ids and how many words they are."""
    if tokens <= 0:
        raise ValueError("too short for the example, the question and the answer")
    ids: list[int] = []
    for used, word in enumerate(words):
        piece = codec.encode(" " + word)
        if len(ids) + len(piece) > tokens:
            return ids, used
        ids.extend(piece)
    return ids, len(words)


def fw_prompts(codec: Codec, stream: FillerStream, params: dict[str, Any], cell: dict[str, Any], seed: int,
               fmt: PromptFormat) -> tuple[list[Prompt], list[dict[str, Any]]]:
    try:
        return [build_prompt(codec, cell["length"], cell["sample"], params, seed, fmt)], []
    except ValueError as error:
        return [], [{"length": cell["length"], "reason": str(error)}]


def conclude_fw(ctx: ProbeContext, params: dict[str, Any], merged: Merged, codec: Codec,
                fmt: PromptFormat) -> Outcome:
    rows: dict[int, PieceTally] = {}
    for prompt, score in zip(merged.prompts, merged.scores, strict=True):
        rows.setdefault(prompt.info["length"], PieceTally()).add(pieces_right(prompt, score["value"].predicted))
    table = [{"length": n, **row.row("word")} for n, row in sorted(rows.items())]
    scores = {n: row.share / row.prompts for n, row in rows.items()}
    counts = {n: (row.share, row.prompts) for n, row in rows.items()}
    verdict = family_verdict("aggregation", "frequent-word counting", scores, counts, params, ctx.max_length(),
                             measure=WORDS)
    return verdict.outcome(params, {
        "by_length": table, "scores": {str(n): round(s, 4) for n, s in sorted(scores.items())},
        "exact_match": {str(n): rate(row.exact, row.prompts) for n, row in sorted(rows.items())},
        "answers": [{"length": p.info["length"], "sample": p.info["sample"], "top_words": p.info["top_words"],
                     "counts": p.info["counts"], "words": p.info["words"]} for p in merged.prompts],
        "skipped_lengths": merged.skipped, "tokenizer": codec.name, "prompt_format": fmt.as_dict(),
        "templates": {"ask": ASK, "cue": CUE, "example": EXAMPLE},
        "generator": {"vocabulary": params["vocabulary"], "alpha": params["alpha"], "top": params["top"]},
        "compute": merged.compute, "memory": merged.memory})


FW_CELLS = retrieval_cells(RetrievalTask(cells=lambda ctx, params: length_sample_cells(params), build=fw_prompts,
                                         conclude=conclude_fw, cost=lambda cell: float(cell["length"])))


@probe("frequent-words", "Aggregation: the most frequent words of a coded text", cells=FW_CELLS, version=1)
def frequent_words(ctx: ProbeContext, lengths: tuple[int, ...] = (512, 2048), samples: int = 4, top: int = 3,
                   vocabulary: int = 100, alpha: float = 2.0, fraction: float = 0.85, absolute: float = 0.85,
                   min_base: float = 0.5, chunk: int = 4096, share_cache: bool = True) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return FW_CELLS.run_all(ctx, params)
