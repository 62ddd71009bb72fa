"""Teacher-forced scoring of many prompts that share leading tokens, through one KV cache.

Every (prompt, answer) sequence goes into a prefix tree. A depth-first walk feeds each edge of the tree to the
model once, through the model's own cache (the adapter's `step`), and reads the log-probability and the argmax
at every position that predicts an answer token. Before it descends into a second branch the walk puts the
cache back to the branch point: with `crop` where the cache can undo an extension exactly (transformers'
`is_croppable`: full-attention layers), else from a copy taken at the branch point (sliding or recurrent
layers, a custom module's own cache). So the haystack prefix shared by the cells of a depth x length grid is
computed once, and only what follows each needle is computed per cell. No sampling and no `generate`: an answer
is right when the argmax at each of its positions is its token (exact match), and its score is its summed
log-likelihood.

A model whose forward takes no cache gets one full forward per sequence (`sharing` says `none`)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from modelcard.probe.retrieval import Prompt


@dataclass
class Score:
    """How the model scores one answer after its prompt."""

    logprob: float  # summed log-likelihood of the answer tokens, nats
    tokens: int
    exact: bool  # the argmax at every answer position is the answer's token
    correct: int  # answer positions whose argmax is the answer's token
    predicted: list[int]  # the argmax at each answer position

    def as_dict(self) -> dict[str, Any]:
        return {"logprob": round(self.logprob, 4), "exact": self.exact, "correct": self.correct,
                "tokens": self.tokens}


@dataclass
class Stats:
    sharing: str = "none"  # how the cache went back to a branch point: crop, copy (or both); none: no sharing
    tokens: int = 0  # tokens fed through the model
    forwards: int = 0
    sequences: int = 0
    sequence_tokens: int = 0  # what one full forward per sequence would feed
    cache_copies: int = 0

    def as_dict(self) -> dict[str, Any]:
        ratio = round(self.tokens / self.sequence_tokens, 4) if self.sequence_tokens else None
        return {"sharing": self.sharing, "tokens_processed": self.tokens, "tokens_without_sharing":
                self.sequence_tokens, "ratio": ratio, "forwards": self.forwards, "cache_copies": self.cache_copies}


@dataclass
class _Node:
    start: int
    end: int
    members: list[int]  # sequences whose prefix runs through this edge
    children: list[_Node] = field(default_factory=list)


def _tree(sequences: list[list[int]], members: list[int], start: int) -> _Node:
    """A radix tree over `members` (sorted by their sequences) from position `start`."""
    first, last = sequences[members[0]], sequences[members[-1]]
    end = start
    limit = min(len(first), len(last))
    while end < limit and first[end] == last[end]:
        end += 1
    node = _Node(start, end, members)
    groups: dict[int, list[int]] = {}
    for index in members:
        if len(sequences[index]) > end:
            groups.setdefault(sequences[index][end], []).append(index)
    node.children = [_tree(sequences, group, end) for group in groups.values()]
    return node


class PrefixScorer:
    """Score answers after prompts; `share=False` feeds every sequence from its first token (for comparison)."""

    def __init__(self, adapter: Any, share: bool = True, chunk: int = 4096) -> None:
        self.adapter, self.share, self.chunk = adapter, share, max(1, chunk)
        self.stats = Stats()

    def score(self, prompts: list[Prompt]) -> list[dict[str, Score]]:
        import torch

        sequences: list[list[int]] = []
        owners: list[tuple[int, str, int]] = []  # (prompt index, answer name, answer start)
        for index, prompt in enumerate(prompts):
            for name, answer in prompt.answers.items():
                if not answer:
                    raise ValueError(f"answer {name!r} of prompt {index} has no tokens")
                if not prompt.ids:
                    raise ValueError(f"prompt {index} has no tokens before its answer")
                sequences.append(list(prompt.ids) + list(answer))
                owners.append((index, name, len(prompt.ids)))
        self._sequences, self._owners = sequences, owners
        self._rows: dict[int, dict[int, tuple[float, int]]] = {i: {} for i in range(len(sequences))}
        self.stats.sequences += len(sequences)
        self.stats.sequence_tokens += sum(len(s) for s in sequences)
        uses_cache = self.adapter.cache_argument is not None
        if not uses_cache:
            self.stats.sharing = "none"
            for index, sequence in enumerate(sequences):
                self._full(index, sequence)
        else:
            order = sorted(range(len(sequences)), key=lambda i: sequences[i])
            self._modes: set[str] = set()
            with torch.no_grad():
                if self.share:
                    self._walk(_tree(sequences, order, 0), None)
                else:
                    for index in order:
                        self._walk(_Node(0, len(sequences[index]), [index]), None)
            if self.share:
                self.stats.sharing = "+".join(sorted(self._modes)) or "prefix"
        results: list[dict[str, Score]] = [{} for _ in prompts]
        for index, (prompt, name, begin) in enumerate(owners):
            rows = self._rows[index]
            sequence = sequences[index]
            targets = sequence[begin:]
            logprob = sum(rows[p][0] for p in range(begin - 1, len(sequence) - 1))
            predicted = [rows[p][1] for p in range(begin - 1, len(sequence) - 1)]
            correct = sum(int(a == b) for a, b in zip(predicted, targets, strict=True))
            results[prompt][name] = Score(logprob, len(targets), correct == len(targets), correct, predicted)
        return results

    def _needed(self, members: list[int], start: int, end: int) -> dict[int, list[int]]:
        """Position -> sequences that need the log-probability of their next token there."""
        needed: dict[int, list[int]] = {}
        for index in members:
            begin = self._owners[index][2]
            last = len(self._sequences[index]) - 1
            for position in range(max(start, begin - 1), min(end, last)):
                needed.setdefault(position, []).append(index)
        return needed

    def _read(self, logits: Any, offset: int, needed: dict[int, list[int]], start: int, end: int) -> None:
        import torch

        positions = [p for p in needed if start <= p < end]
        if not positions:
            return
        rows = logits[0, torch.tensor([p - offset for p in positions])].float().log_softmax(dim=-1)
        best = rows.argmax(dim=-1).tolist()
        for row, position in enumerate(positions):
            for index in needed[position]:
                target = self._sequences[index][position + 1]
                self._rows[index][position] = (float(rows[row, target]), int(best[row]))

    def _feed(self, ids: list[int], cache: Any, offset: int, needed: dict[int, list[int]]) -> Any:
        """Feed `ids` (starting at position `offset`) in chunks through the cache; read the needed rows."""
        import torch

        for begin in range(0, len(ids), self.chunk):
            piece = ids[begin:begin + self.chunk]
            logits, cache = self.adapter.step(torch.tensor([piece]), cache)
            self.stats.tokens += len(piece)
            self.stats.forwards += 1
            self._read(logits, offset + begin, needed, offset + begin, offset + begin + len(piece))
        return cache

    def _walk(self, node: _Node, cache: Any) -> None:
        sequence = self._sequences[node.members[0]]
        if node.end > node.start:
            cache = self._feed(sequence[node.start:node.end], cache, node.start,
                               self._needed(node.members, node.start, node.end))
        children = node.children
        crop = cache is not None and len(children) > 1 and _croppable(cache)
        if cache is not None and len(children) > 1:
            self._modes.add("crop" if crop else "copy")
        for position, child in enumerate(children):
            if cache is None or position == len(children) - 1:
                self._walk(child, cache)
            elif crop:
                self._walk(child, cache)
                _rollback(cache, node.end)
            else:
                self.stats.cache_copies += 1
                self._walk(child, copy.deepcopy(cache))

    def _full(self, index: int, sequence: list[int]) -> None:
        import torch

        logits = self.adapter.outputs(torch.tensor([sequence]))
        self.stats.tokens += len(sequence)
        self.stats.forwards += 1
        self._read(logits, 0, self._needed([index], 0, len(sequence)), 0, len(sequence))


def _croppable(cache: Any) -> bool:
    return bool(getattr(cache, "is_croppable", False)) and callable(getattr(cache, "crop", None))


def _rollback(cache: Any, keep: int) -> None:
    """Put a croppable cache back to its first `keep` positions."""
    held = int(cache.get_seq_length())
    if held > keep:
        cache.crop(keep - held)  # a negative count removes that many positions (transformers >= 4.4x and 5.x)
    if int(cache.get_seq_length()) != keep:
        raise RuntimeError(f"{type(cache).__name__}.crop left {cache.get_seq_length()} positions, not {keep}")
