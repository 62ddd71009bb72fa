"""The skeleton every text-retrieval probe shares (passkey-grid, multikey-distractors, position-sensitivity,
injected-instruction and the harder probes that follow them), so that each states only what is its own: its
cells, the prompts of one cell, and its verdict on the merged scores.

The skeleton does the rest, the same way for each:
- split: no tokenizer, or a prompt format the model cannot take (chat asked of a model without a template), is
  `skipped` with the reason before any cell is listed;
- measure: the cell's prompts are built over the one seeded filler stream, in the model's own prompt format, and
  scored by `retrieval_cells.measure_length` (window and memory checks, prefix sharing, the check against a full
  forward, the peak memory);
- conclude: the cells are merged back in order, and a probe none of whose lengths ran is `skipped` with why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelcard.probe.cells import Cells
from modelcard.probe.context import ProbeContext
from modelcard.probe.outcome import Outcome, skipped
from modelcard.probe.prompt_format import PromptFormat, format_of
from modelcard.probe.retrieval import Codec, FillerStream, Prompt, interval, preflight
from modelcard.probe.retrieval_cells import Merged, measure_length, nothing_ran, stream_of

Built = tuple[list[Prompt], list[dict[str, Any]]]  # the prompts, and the lengths too short for them with why


@dataclass(frozen=True)
class RetrievalTask:
    """What one text-retrieval probe adds to the skeleton.

    Args:
        cells: `cells(ctx, params)` lists the probe's cells (each with its `length` in tokens), or returns a
            skipped Outcome for parameters that cannot run; called once the tokenizer and format are known.
        build: `build(codec, stream, params, cell, seed, fmt)` makes one cell's prompts, exactly as the whole
            probe would make them.
        conclude: `conclude(ctx, params, merged, codec, fmt)` judges the merged scores of every cell that ran.
        cost: a cell's relative cost, for the time plan and the split across ranks.
        unit: keys that name a cell finer than its length (`hops`), when a cell too long for its length drops
            only its own prompts (retrieval_cells.Merged); empty: it drops the whole length.
    """

    cells: Callable[[ProbeContext, dict[str, Any]], list[dict[str, Any]] | Outcome]
    build: Callable[[Codec, FillerStream, dict[str, Any], dict[str, Any], int, PromptFormat], Built]
    conclude: Callable[[ProbeContext, dict[str, Any], Merged, Codec, PromptFormat], Outcome]
    cost: Callable[[dict[str, Any]], float]
    unit: tuple[str, ...] = ()


def retrieval_cells(task: RetrievalTask) -> Cells:
    """The probe's `Cells`: the skeleton around `task`.

    Args:
        task: what the probe adds.

    Returns:
        Cells to register with `@probe(..., cells=...)`.
    """

    def split(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]] | Outcome:
        codec, why = preflight(ctx)
        if codec is None:
            return skipped(why or "no tokenizer")
        try:
            format_of(ctx, codec)
        except ValueError as error:
            return skipped(str(error))
        return task.cells(ctx, params)

    def measure(ctx: ProbeContext, params: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
        codec = _codec(ctx)
        length = cell["length"]

        def build() -> Built:
            stream = stream_of(ctx, codec, length, params.get("filler", "varied"))
            prompts, too_short = task.build(codec, stream, params, cell, ctx.seed, format_of(ctx, codec))
            for prompt in prompts:
                longest = max(prompt.answers.values(), key=len, default=[])
                text = codec.decode([*prompt.ids, *longest])
                prompt.info["characters"] = len(text) if text is not None else None
            return prompts, too_short

        return measure_length(ctx, length, length, params["chunk"], params["share_cache"], build,
                              extra={name: cell[name] for name in task.unit})  # a skip names its own unit

    def conclude(ctx: ProbeContext, params: dict[str, Any], partials: list[dict[str, Any]]) -> Outcome:
        codec = _codec(ctx)
        merged = Merged(partials, unit=task.unit)
        if not merged.prompts:
            return skipped(nothing_ran(merged), skipped_lengths=merged.skipped)
        outcome = task.conclude(ctx, params, merged, codec, format_of(ctx, codec))
        outcome.details.setdefault("characters", characters_by_length(merged))
        return outcome

    return Cells(split=split, measure=measure, conclude=conclude, cost=task.cost)


def characters_by_length(merged: Merged) -> dict[str, Any]:
    """Each tested length in characters as well as tokens (the mean over its prompts, with the answer), so that
    two tokenizers can be compared; None for a tokenizer that cannot decode."""
    counts: dict[int, list[int]] = {}
    for prompt in merged.prompts:
        characters = prompt.info.get("characters")
        if characters is not None:
            counts.setdefault(prompt.info["length"], []).append(characters)
    return {"unit": "characters of the prompt with its answer, the format's special tokens included (mean)",
            "by_length": {str(n): round(sum(c) / len(c), 1) for n, c in sorted(counts.items())}}


def pieces_right(prompt: Prompt, predicted: list[int]) -> list[bool]:
    """For an answer of several pieces (names, words), whether the argmax got every token of each.

    Args:
        prompt: a prompt whose info holds the answer's token ids (`answer`) and each piece's length (`spans`).
        predicted: the argmax at each answer position.

    Returns:
        One flag per piece, in order.
    """
    answer, right, start = prompt.info["answer"], [], 0
    for span in prompt.info["spans"]:
        right.append(predicted[start:start + span] == answer[start:start + span])
        start += span
    return right


@dataclass
class PieceTally:
    """The answers of several prompts whose answer is several pieces (names, words), as `pieces_right` judges
    them: prompts wholly right, pieces right, and the sum of each prompt's share of pieces right."""

    prompts: int = 0
    exact: int = 0
    pieces: int = 0
    right: int = 0
    share: float = 0.0

    def add(self, right: list[bool]) -> None:
        """Count one prompt's answer (one flag per piece)."""
        self.prompts += 1
        self.exact += all(right)
        self.pieces += len(right)
        self.right += sum(right)
        self.share += sum(right) / len(right)

    def absorb(self, other: PieceTally) -> None:
        """Count another tally's prompts too."""
        self.prompts += other.prompts
        self.exact += other.exact
        self.pieces += other.pieces
        self.right += other.right
        self.share += other.share

    def row(self, piece: str) -> dict[str, Any]:
        """Exact match and `<piece>_accuracy`, each with its 95% Wilson interval, and the prompts behind them."""
        return {"exact_match": round(self.exact / self.prompts, 4),
                "exact_match_interval": interval(self.exact, self.prompts),
                f"{piece}_accuracy": round(self.right / self.pieces, 4),
                f"{piece}_accuracy_interval": interval(self.right, self.pieces), "samples": self.prompts}


def length_sample_cells(params: dict[str, Any]) -> list[dict[str, Any]]:
    """One cell per (length, sample), for a probe whose samples of one length are independent prompts.

    Args:
        params: the probe's parameters, with `lengths` and `samples`.

    Returns:
        The cells, shortest length first.
    """
    return [{"length": n, "sample": sample} for n in sorted({int(n) for n in params["lengths"]})
            for sample in range(params["samples"])]


def _codec(ctx: ProbeContext) -> Codec:
    """The tokenizer of a model whose cells were listed (split skips a model without one)."""
    codec, why = preflight(ctx)
    if codec is None:
        raise RuntimeError(f"a retrieval cell ran without a tokenizer: {why}")
    return codec
