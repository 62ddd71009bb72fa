"""Teacher-forced scoring of many prompts that share leading tokens, through one KV cache.

Every (prompt, answer) sequence goes into a prefix tree. A depth-first walk feeds each edge of the tree to the
model once, through the model's own cache (the adapter's `step`), and reads the log-probability and the argmax
at every position that predicts an answer token. Before it descends into a second branch the walk puts the
cache back to the branch point, in one of two ways:

- `crop`, only where crop can undo an extension exactly. transformers' `is_croppable` flag is not trusted: in
  transformers 5.2x it is set on sliding-window layers (whose `crop` past the window raises unless past
  recording is on, and whose recording a nested crop undoes) and on linear-attention layers (whose recurrent
  state is not kept per position). Crop is used when every layer of the cache is one that keeps each position
  it was fed as its own slice (`DynamicLayer`, `DynamicIndexedLayer`: full attention, MLA, sparse attention)
  and holds all the positions fed so far; and the rollbacks of the scorer's first path down the tree (until
  one has been checked) are each compared with a copy of the cache taken before it (every tensor equal). A
  crop that does not restore the cache exactly is put back from that copy and the scorer copies from then on,
  saying why (`sharing_reason`).
- `copy`: a deep copy of the cache at the branch point for each branch but the last (sliding, chunked, hybrid,
  recurrent, quantized layers, a custom module's own cache).

So the haystack prefix shared by the prompts of a cell is computed once, and only what follows each needle is
computed per prompt. No sampling and no `generate`: an answer is right when the argmax at each of its positions
is its token (exact match), and its score is its summed log-likelihood. A model whose forward takes no cache
gets one full forward per sequence (`sharing` says `none`).

Verification: after scoring, one sequence (the one whose cache went through the most rollbacks or copies) is
run again as one full forward with no cache (`adapter.outputs`), a path that shares neither the crop, the copy
nor the chunking. Its answer positions' log-probabilities and argmax are compared with the shared ones. The two
paths do the same arithmetic in another order, so they may differ by the dtype's rounding only:

    tolerance = NOISE_FACTOR (4) x sqrt(layers) x sqrt(tokens) x eps(dtype) x max(|logit|, |log-probability|)

over the compared positions (a log-probability is a logit minus a log-sum-exp of logits, so its rounding is
eps times the larger of the two per rounding; independent roundings accumulated over the layers, and over the
attention sums of `tokens` terms that the two paths add in another order, grow as the square root of their
number: without the length term the demo's 2,048-token prompts differed by up to 5e-5 nats against a tolerance
of 1.5e-5, plain float32 reordering). A broken cache (a dropped or shifted position) moves log-probabilities by
tenths of a nat or more, far above it.
Measured on SmolLM2-135M (30 layers, max |logit| 34), a cache split at 900 of 1,024 tokens against one full
forward: 1.1e-5 nats in float32 (tolerance 2.9e-3) and 0.26 in bfloat16 (tolerance 180: in bfloat16 the
check catches only gross breakage, and the argmax test below carries it). An argmax may differ
only where the full forward's own top two are within twice the tolerance. A difference beyond that is a broken
cache, never a result: the scorer raises `SharingMismatch`, and the probe ends as an error with the figures
(transformers 5.25's Bamba is one: its cached continuation differs from its full forward by 5e-4 even in
float64). Without sharing, a sequence fed in one forward from an empty cache is not checked (nothing was
shared or chunked), and the record says so."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from modelcard.probe.retrieval import Prompt
from modelcard.probe.shared import NOISE_FACTOR

# transformers.cache_utils layers whose crop slices every per-position state they hold, and which keep every
# position they are fed (no window, no recurrent or quantized state).
EXACT_CROP_LAYERS = ("DynamicLayer", "DynamicIndexedLayer")
CACHE_MODULE = "transformers.cache_utils"


class SharingMismatch(Exception):  # noqa: N818 - the name says what was found
    """The shared-cache score of a prompt disagrees with its own full forward beyond rounding."""


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
    sharing_reason: str | None = None  # why the cache was copied rather than cropped
    verification: dict[str, Any] | None = None  # the check of one sequence against its own full forward

    def as_dict(self) -> dict[str, Any]:
        ratio = round(self.tokens / self.sequence_tokens, 4) if self.sequence_tokens else None
        return {"sharing": self.sharing, "tokens_processed": self.tokens, "tokens_without_sharing":
                self.sequence_tokens, "ratio": ratio, "forwards": self.forwards, "cache_copies": self.cache_copies,
                "sharing_reason": self.sharing_reason, "verification": self.verification}


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
    """Score answers after prompts; `share=False` feeds every sequence from its first token (for comparison);
    `verify` checks one sequence against its own full forward (see the module's docstring)."""

    def __init__(self, adapter: Any, share: bool = True, chunk: int = 4096, verify: bool = True) -> None:
        self.adapter, self.share, self.chunk, self.verify = adapter, share, max(1, chunk), verify
        self.stats = Stats()
        self._crop_checked = False  # the first rollback by crop has been compared with a copy
        self._crop_refused: str | None = None  # why crop is no longer used, once it failed that check

    def score(self, prompts: list[Prompt]) -> list[dict[str, Score]]:
        """Score every answer of every prompt.

        Args:
            prompts: the prompts, each with its answers.

        Returns:
            per prompt, answer name -> Score.

        Raises:
            SharingMismatch: the shared score of the verified sequence is not its full forward's.
        """
        import torch

        sequences, owners = self._sequences_of(prompts)
        self._sequences, self._owners = sequences, owners
        self._rows: dict[int, dict[int, tuple[float, int]]] = {i: {} for i in range(len(sequences))}
        self._restored: dict[int, int] = {}  # sequence -> rollbacks or copies its cache went through
        self.stats.sequences += len(sequences)
        self.stats.sequence_tokens += sum(len(s) for s in sequences)
        if self.adapter.cache_argument is None:
            self.stats.sharing = "none"
            for index, sequence in enumerate(sequences):
                self._full(index, sequence)
            self.stats.verification = {"checked": False, "reason": "the model takes no cache: every sequence had "
                                                                   "its own full forward"}
        else:
            order = sorted(range(len(sequences)), key=lambda i: sequences[i])
            self._modes: set[str] = set()
            with torch.no_grad():
                if self.share:
                    self._walk(_tree(sequences, order, 0), None, 0)
                else:
                    for index in order:
                        self._walk(_Node(0, len(sequences[index]), [index]), None, 0)
            if self.share:
                self.stats.sharing = "+".join(sorted(self._modes)) or "prefix"
            self.stats.verification = self._verification(order)
        return self._results(prompts)

    def _sequences_of(self, prompts: list[Prompt]) -> tuple[list[list[int]], list[tuple[int, str, int]]]:
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
        return sequences, owners

    def _results(self, prompts: list[Prompt]) -> list[dict[str, Score]]:
        results: list[dict[str, Score]] = [{} for _ in prompts]
        for index, (prompt, name, begin) in enumerate(self._owners):
            rows = self._rows[index]
            sequence = self._sequences[index]
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

    def _walk(self, node: _Node, cache: Any, restored: int) -> None:
        """Feed this edge, then each branch; `restored` counts the rollbacks and copies on the way here."""
        sequence = self._sequences[node.members[0]]
        if node.end > node.start:
            cache = self._feed(sequence[node.start:node.end], cache, node.start,
                               self._needed(node.members, node.start, node.end))
        for index in node.members:
            if len(self._sequences[index]) == node.end:
                self._restored[index] = restored
        children = node.children
        if cache is None or len(children) < 2:
            for child in children:
                self._walk(child, cache, restored)
            return
        blockers = self._crop_blockers(cache, node.end)
        self._modes.add("copy" if blockers else "crop")
        if blockers:
            self.stats.sharing_reason = self.stats.sharing_reason or blockers
        for position, child in enumerate(children):
            last = position == len(children) - 1
            if last:
                self._walk(child, cache, restored + (position > 0 and not blockers))
            elif blockers:
                self.stats.cache_copies += 1
                self._walk(child, copy.deepcopy(cache), restored + 1)
            else:
                self._walk_and_crop(child, cache, node.end, restored + (position > 0))
                if self._crop_refused:  # the crop failed its check: the rest of this branch point copies
                    blockers = self._crop_refused
                    self._modes.add("copy")

    def _crop_blockers(self, cache: Any, fed: int) -> str | None:
        """Why crop cannot put this cache back exactly, or None."""
        if self._crop_refused:
            return self._crop_refused
        return crop_blockers(cache, fed)

    def _walk_and_crop(self, child: _Node, cache: Any, keep: int, restored: int) -> None:
        """Walk `child`, then crop the cache back to `keep` positions; the first such crop of this scorer is
        compared with a copy taken before it, and a crop that does not restore the cache is undone from it."""
        if self._crop_checked:
            self._walk(child, cache, restored)
            _rollback(cache, keep)
            return
        before = copy.deepcopy(cache)
        self._walk(child, cache, restored)
        try:
            _rollback(cache, keep)
            difference = state_difference(before, cache)
        except Exception as error:  # a crop that raises is one that cannot restore this cache
            difference = f"crop raised {type(error).__name__}: {' '.join(str(error).split())[:200]}"
        self._crop_checked = True
        if difference is not None:
            cache.__dict__.update(copy.deepcopy(before).__dict__)
            self._crop_refused = (f"{type(cache).__name__}.crop did not restore the cache ({difference}); the cache "
                                  "is copied at each branch point instead")

    def _verification(self, order: list[int]) -> dict[str, Any]:
        """Check the sequence whose cache went through the most rollbacks or copies against its full forward."""
        if not self.verify:
            return {"checked": False, "reason": "verification switched off"}
        chunked = any(len(s) > self.chunk for s in self._sequences)
        if not self.share and not chunked:
            return {"checked": False, "reason": "nothing was shared or chunked: every sequence went through one "
                                                "forward from an empty cache"}
        index = max(reversed(order), key=lambda i: (self._restored.get(i, 0), len(self._sequences[i])))
        return verify_against_full_forward(self.adapter, self._sequences[index], self._owners[index][2],
                                           self._rows[index], self._restored.get(index, 0))

    def _full(self, index: int, sequence: list[int]) -> None:
        import torch

        logits = self.adapter.outputs(torch.tensor([sequence]))
        self.stats.tokens += len(sequence)
        self.stats.forwards += 1
        self._read(logits, 0, self._needed([index], 0, len(sequence)), 0, len(sequence))


def crop_blockers(cache: Any, fed: int) -> str | None:
    """Why `crop` cannot put `cache` back exactly after an extension past `fed` positions, or None when every
    layer keeps each position it was fed as its own slice and holds all `fed` of them.

    Args:
        cache: the cache the model returned.
        fed: the positions fed into it so far.

    Returns:
        a reason, or None.
    """
    if not callable(getattr(cache, "crop", None)):
        return f"{type(cache).__name__} has no crop"
    layers = getattr(cache, "layers", None)
    if not isinstance(layers, (list, tuple)) or not layers:
        return f"{type(cache).__name__} keeps no layers transformers' crop is known to restore"
    others = sorted({type(layer).__name__ for layer in layers
                     if type(layer).__module__ != CACHE_MODULE or type(layer).__name__ not in EXACT_CROP_LAYERS})
    if others:
        return (f"{', '.join(others)} layers keep a window, a recurrent or a quantized state rather than every "
                "position, so crop cannot bring back what they dropped (transformers marks some of them croppable, "
                "but their crop raises or loses state past the window)")
    for number, layer in enumerate(layers):
        keys = getattr(layer, "keys", None)
        if getattr(layer, "is_initialized", False) and keys is not None and keys.numel() and keys.shape[-2] != fed:
            return f"layer {number} holds {keys.shape[-2]} positions of the {fed} fed"
    return None


def state_difference(before: Any, after: Any, path: str = "cache", depth: int = 0) -> str | None:
    """Where two cache objects differ (tensors by value, numbers and structure), or None when they do not.

    Args:
        before: the cache (or part of it) as it was.
        after: the cache (or part) as it is.
        path: the name of this part, for the message.
        depth: recursion depth (state deeper than 6 levels is not compared).

    Returns:
        a short description of the first difference, or None.
    """
    import torch

    if depth > 6:
        return None
    if isinstance(before, torch.Tensor) or isinstance(after, torch.Tensor):
        if not (isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor)):
            return f"{path} is a tensor on one side only"
        if before.shape != after.shape:
            return f"{path} has shape {tuple(after.shape)}, not {tuple(before.shape)}"
        return None if torch.equal(before, after) else f"{path} holds other values"
    if isinstance(before, (list, tuple)):
        if not isinstance(after, (list, tuple)) or len(before) != len(after):
            return f"{path} changed length"
        return next((d for n, (a, b) in enumerate(zip(before, after, strict=True))
                     if (d := state_difference(a, b, f"{path}[{n}]", depth + 1))), None)
    if isinstance(before, dict):
        if not isinstance(after, dict) or set(before) != set(after):
            return f"{path} changed keys"
        return next((d for key in before if (d := state_difference(before[key], after[key], f"{path}.{key}",
                                                                    depth + 1))), None)
    if isinstance(before, (int, float, bool, str)) or before is None:
        return None if before == after else f"{path} is {after!r}, not {before!r}"
    if hasattr(before, "__dict__"):
        return state_difference(vars(before), vars(after) if hasattr(after, "__dict__") else None, path, depth + 1)
    return None


def rounding_tolerance(dtype: Any, layers: int, scale: float, tokens: int = 1) -> tuple[float, str]:
    """The largest difference rounding can explain between a full and a cached or chunked forward.

    Args:
        dtype: the model's floating dtype.
        layers: its number of layers.
        scale: the largest |logit| or |log-probability| over the compared positions.
        tokens: the sequence's length (the terms of the longest attention sum).

    Returns:
        (tolerance in nats, how it was computed).
    """
    import torch

    eps = torch.finfo(dtype).eps if dtype.is_floating_point else torch.finfo(torch.float32).eps
    depth = max(1, layers)
    length = max(1, tokens)
    value = NOISE_FACTOR * math.sqrt(depth) * math.sqrt(length) * eps * max(scale, 1e-6)
    return value, (f"dtype rounding: {NOISE_FACTOR} x sqrt({depth} layers) x sqrt({length:,} tokens) x "
                   f"eps({str(dtype).removeprefix('torch.')}) {eps:.3g} x max |logit or logprob| {scale:.3g}")


def verify_against_full_forward(adapter: Any, sequence: list[int], begin: int, rows: dict[int, tuple[float, int]],
                                restored: int) -> dict[str, Any]:
    """Compare the cached scores of `sequence`'s answer (from position `begin`) with one full forward of it.

    Args:
        adapter: the model.
        sequence: prompt and answer token ids.
        begin: where the answer starts.
        rows: position -> (log-probability of the next token, argmax) as the cached path read them.
        restored: rollbacks or copies the cached path went through.

    Returns:
        the record of the check: max abs log-probability difference, argmax agreement, tolerance and its source.

    Raises:
        SharingMismatch: a difference beyond the tolerance, or an argmax that rounding cannot have swapped.
    """
    import torch

    logits = adapter.outputs(torch.tensor([sequence]))[0, begin - 1:len(sequence) - 1].float()
    full = logits.log_softmax(dim=-1)
    targets = torch.tensor(sequence[begin:])
    positions = range(begin - 1, len(sequence) - 1)
    shared = torch.tensor([rows[p][0] for p in positions])
    shared_best = torch.tensor([rows[p][1] for p in positions])
    difference = (full.gather(1, targets[:, None])[:, 0] - shared).abs()
    scale = max(float(logits.abs().max()), float(full.gather(1, targets[:, None]).abs().max()))
    tolerance, source = rounding_tolerance(adapter.dtype, len(adapter.blocks()), scale, len(sequence))
    full_best = full.argmax(dim=-1)
    margin = full.gather(1, full_best[:, None])[:, 0] - full.gather(1, shared_best[:, None])[:, 0]
    swapped = int((margin > 2 * tolerance).sum())
    record: dict[str, Any] = {"checked": True, "tokens": len(sequence), "answer_positions": len(targets),
              "restorations": restored, "max_abs_logprob_difference": float(difference.max()),
              "argmax_agreement": float((full_best == shared_best).float().mean()), "tolerance": tolerance,
              "tolerance_source": source, "reference": "one full forward of the whole sequence, no cache"}
    if record["max_abs_logprob_difference"] > tolerance or swapped:
        raise SharingMismatch(
            f"the shared-cache scores disagree with a full forward of the same {len(sequence):,}-token sequence: max "
            f"|logprob difference| {record['max_abs_logprob_difference']:.3g} nats against a tolerance of "
            f"{tolerance:.3g} ({source}); argmax agreement {record['argmax_agreement']:.0%}"
            + (f", {swapped} beyond rounding" if swapped else "") + f"; {restored} cache rollbacks or copies")
    return record


def _rollback(cache: Any, keep: int) -> None:
    """Put a croppable cache back to its first `keep` positions."""
    held = int(cache.get_seq_length())
    if held > keep:
        cache.crop(keep - held)  # a negative count removes that many positions (transformers >= 4.4x and 5.x)
    if int(cache.get_seq_length()) != keep:
        raise RuntimeError(f"{type(cache).__name__}.crop left {cache.get_seq_length()} positions, not {keep}")
