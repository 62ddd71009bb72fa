"""`copy-distance`: a sequence of d tokens, then the same sequence again: every token of the second copy can be
read off the token d positions back. The accuracy (teacher-forced argmax) and the loss of the second copy, by
distance d, show how far back the model can find and copy what it saw. Each distance is a cell
(modelcard.probe.cells).

The tokens are ones the model's own tokenizer really produces, so a real language model copies them as it
copies a repeated passage (ids no text ever produces would measure something else: an untrained embedding row is
not copied, and SmolLM2 "failed" at 16 tokens back that way). The source, recorded in `details.source`:

- `vocabulary`: with a tokenizer that decodes single ids (the model's, found as the text probes find it),
  tokens that decode to a plain lower-case alphabetic word piece of three letters or more, word-initial (with a
  leading space) where there are enough of those, and that re-encode to exactly themselves; the first 3,000
  of them by id (the frequent ones), drawn from the seed without repeats while the pool lasts (a token that
  occurs twice has two successors: its copy would be ambiguous, not hard);
- `characters`: with a character- or byte-level tokenizer (too few word pieces), the ids that decode to one
  printable character and re-encode to themselves, drawn the same way;
- `words`: with a tokenizer that only encodes (a custom module's), ordinary English words, encoded one by one
  (with a leading space) and cut to exactly d tokens;
- `random-ids`: without a tokenizer (a custom module with none), ids drawn over the whole vocabulary less the
  special tokens, as before.

The sequence starts as a text starts (`details.source.start`): with the BOS token when the tokenizer adds one
to what it encodes, else after a line break (see `start_of_text`); with a tokenizer the copy starts on a new
line (`details.source.separator`), as a repeated passage does, and the sequence is shortened by the separator
so that every token's copy stands exactly d positions after it. Every accuracy
carries its 95% Wilson interval over the answer tokens (the tokens of one sequence are not independent trials,
so the interval is a lower bound on the uncertainty), and the longest distance is judged with those intervals
(modelcard.probe.effective_context)."""

from __future__ import annotations

import time
from typing import Any

from modelcard.probe.cells import Cells
from modelcard.probe.context import ProbeContext
from modelcard.probe.effective_context import describe, effective_context
from modelcard.probe.intervals import rate
from modelcard.probe.outcome import Outcome, finding, skipped
from modelcard.probe.prompt_format import adds_bos, bos_id
from modelcard.probe.registry import probe
from modelcard.probe.retrieval import (
    FILLER_ADJECTIVES,
    FILLER_NOUNS,
    FILLER_PLACES,
    KEY_ANIMALS,
    KEY_COLOURS,
    Codec,
    Prompt,
    exact_lengths,
    preflight,
    rng_for,
)
from modelcard.probe.retrieval_cells import Merged, measure_length, nothing_ran
from modelcard.probe.shared import claimed_windows

SPECIAL_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id", "unk_token_id", "sep_token_id", "cls_token_id",
                "mask_token_id")
# A vocabulary pool smaller than this repeats tokens so often inside one sequence that copying is ambiguous.
MIN_POOL = 256
MIN_CHARACTERS = 32  # a character-level tokenizer's printable characters (a byte-level one has 94)
# The pool keeps the first (lowest-id) pieces: BPE and SentencePiece vocabularies put frequent pieces first, so
# these are ordinary words rather than rare fragments.
POOL = 3000
WORDS = (FILLER_NOUNS + FILLER_ADJECTIVES + FILLER_PLACES + KEY_COLOURS + KEY_ANIMALS
         + ("apple", "button", "cloud", "dinner", "engine", "feather", "guitar", "island", "jacket", "ladder",
            "mirror", "needle", "pillow", "rabbit", "saddle", "ticket", "umbrella", "wagon", "yellow", "zebra"))


def special_ids(ctx: ProbeContext) -> set[int]:
    """The config's special token ids."""
    config = ctx.adapter.config
    ids = set()
    for key in SPECIAL_KEYS:
        value = getattr(config, key, None) if config is not None else None
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, int) and not isinstance(item, bool):
                ids.add(item)
    return ids


def random_sequence(ctx: ProbeContext, length: int, salt: int) -> list[int]:
    """Ids over the whole vocabulary less the special ones (for a model without a tokenizer)."""
    import torch

    vocab = ctx.adapter.vocab_size
    allowed = [i for i in range(vocab) if i not in special_ids(ctx)] or list(range(vocab))
    picks = torch.randint(0, len(allowed), (length,), generator=ctx.generator(salt))
    return [allowed[i] for i in picks.tolist()]


def _encode_many(codec: Codec, texts: list[str]) -> list[list[int]]:
    tokenizer = codec.tokenizer
    try:
        return [list(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    except Exception:  # a tokenizer that is not a transformers one: one text at a time
        return [codec.encode(text) for text in texts]


def _single_tokens(codec: Codec, vocab: int, excluded: set[int]) -> list[tuple[int, str]]:
    """(id, its text decoded alone) for every id of the vocabulary but `excluded`; empty when the tokenizer cannot
    decode single ids (the callers then fall back to words)."""
    tokenizer = codec.tokenizer
    decode = getattr(tokenizer, "batch_decode", None)
    try:
        ids = [i for i in range(min(vocab, len(tokenizer) if hasattr(tokenizer, "__len__") else vocab))
               if i not in excluded]
        texts = decode([[i] for i in ids]) if callable(decode) else [tokenizer.decode([i]) for i in ids]
    except Exception:  # no single-id decoding
        return []
    return list(zip(ids, texts, strict=True))


def vocabulary_pool(codec: Codec, vocab: int, excluded: set[int]) -> list[int]:
    """Ids that decode to a plain alphabetic word piece and re-encode to themselves: the word-initial ones (with a
    leading space) when there are at least MIN_POOL of them, else all such pieces; empty when the tokenizer
    cannot decode single ids.

    Args:
        codec: the model's tokenizer.
        vocab: the model's vocabulary size (ids past it are never drawn).
        excluded: special ids.

    Returns:
        the ids, ascending.
    """
    pieces = [(i, t) for i, t in _single_tokens(codec, vocab, excluded)
              if t.strip().isascii() and t.strip().isalpha() and t.strip().islower() and len(t.strip()) >= 3
              and t == t.rstrip()]
    initial = [(i, t) for i, t in pieces if t.startswith(" ") and not t.startswith("  ")]
    chosen = initial if len(initial) >= MIN_POOL else pieces
    encoded = _encode_many(codec, [t for _, t in chosen])
    return [i for (i, _), again in zip(chosen, encoded, strict=True) if again == [i]][:POOL]


def character_pool(codec: Codec, vocab: int, excluded: set[int]) -> list[int]:
    """For a character- or byte-level tokenizer (too few word pieces for `vocabulary_pool`): the ids that decode to
    one printable ASCII character other than a space and re-encode to themselves, the text such a tokenizer
    produces; empty when the tokenizer cannot decode single ids.

    Args:
        codec: the model's tokenizer.
        vocab: the model's vocabulary size.
        excluded: special ids.

    Returns:
        the ids, ascending.
    """
    chosen = [(i, t) for i, t in _single_tokens(codec, vocab, excluded)
              if len(t) == 1 and t.isascii() and t.isprintable() and not t.isspace()]
    encoded = _encode_many(codec, [t for _, t in chosen])
    return [i for (i, _), again in zip(chosen, encoded, strict=True) if again == [i]]


def start_of_text(codec: Codec | None) -> list[int]:
    """How the sequence starts: [the BOS id] when the tokenizer adds it to what it encodes (encode("x") with
    special tokens starts with it); else a line break, as a plain text starts (without a start token the first
    position is the model's attention sink, and a random word there cost SmolLM2 about 20 points of copy
    accuracy at 16 tokens back: 0.69 against 0.90 over 6 samples); [] without a tokenizer."""
    tokenizer = getattr(codec, "tokenizer", None)
    if codec is None or tokenizer is None:
        return []
    bos = bos_id(tokenizer)
    if bos is not None and adds_bos(tokenizer):  # adds_bos is False without a BOS id
        return [bos]
    return codec.encode("\n")


def copy_source(ctx: ProbeContext) -> dict[str, Any]:
    """Where the copied tokens come from (see the module's docstring), computed once per context."""
    memo = ctx.memo
    if "copy-distance-source" in memo:
        return memo["copy-distance-source"]
    started = time.perf_counter()
    codec, why = preflight(ctx)
    source: dict[str, Any] = {"kind": "random-ids", "pool": None, "start": [], "separator": [], "why": why,
                              "ids": None}
    if codec is not None:
        excluded = special_ids(ctx) | codec.special_ids()
        pool = vocabulary_pool(codec, ctx.adapter.vocab_size, excluded)
        source["start"] = start_of_text(codec)
        # The copy starts on a new line, as a repeated passage does: without it SmolLM2 missed the second token of
        # the copy 8 times in 10 (it had not yet seen that the text repeats), with it once.
        source["separator"] = codec.encode("\n")
        characters = character_pool(codec, ctx.adapter.vocab_size, excluded) if len(pool) < MIN_POOL else []
        if len(pool) >= MIN_POOL:
            source.update(kind="vocabulary", pool=len(pool), ids=pool, why=None, tokenizer=codec.name,
                          examples=[_decode(codec, i) for i in pool[:: max(1, len(pool) // 8)][:8]])
        elif len(characters) >= MIN_CHARACTERS:
            source.update(kind="characters", pool=len(characters), ids=characters, tokenizer=codec.name,
                          why=f"{len(pool)} single tokens decode to a word piece: a character-level vocabulary, "
                              "whose printable characters are copied",
                          examples=[_decode(codec, i) for i in characters[:: max(1, len(characters) // 8)][:8]])
        else:
            words = [codec.encode(" " + word) for word in WORDS]
            source.update(kind="words", pool=len(WORDS), words=words, tokenizer=codec.name,
                          why=f"{len(pool)} single tokens decode to a word piece and re-encode to themselves, "
                              f"under the {MIN_POOL} needed: ordinary words are copied instead")
    source["seconds"] = round(time.perf_counter() - started, 3)
    memo["copy-distance-source"] = source
    return source


def _decode(codec: Codec, token: int) -> str:
    try:
        return str(codec.tokenizer.decode([token]))
    except Exception:  # an encode-only tokenizer
        return str(token)


def copy_sequence(ctx: ProbeContext, source: dict[str, Any], length: int, salt: int) -> list[int]:
    """`length` tokens from the source, fixed by the seed and the salt."""
    if source["kind"] == "random-ids":
        return random_sequence(ctx, length, salt)
    rng = rng_for(ctx.seed, "copy-distance", salt)
    sequence: list[int] = []
    if source["kind"] in ("vocabulary", "characters"):
        # No token twice while the pool lasts: a token seen twice before the copy has two successors, and
        # copying it would be ambiguous, not hard. Past the pool's size each pass through it is reshuffled.
        pool = source["ids"]
        while len(sequence) < length:
            sequence.extend(rng.sample(pool, min(len(pool), length - len(sequence))))
        return sequence
    while len(sequence) < length:
        sequence.extend(source["words"][rng.randrange(len(source["words"]))])
    return sequence[:length]


def source_record(source: dict[str, Any]) -> dict[str, Any]:
    """The source as the record states it (without the pool itself)."""
    return {key: value for key, value in source.items() if key not in ("ids", "words", "seconds")}


def split_copy(ctx: ProbeContext, params: dict[str, Any]) -> list[dict[str, Any]] | Outcome:
    _, why = preflight(ctx, text=False)
    if why:
        return skipped(why)
    distances = exact_lengths(params["distances"], params["min_distance"], params["max_distance"], None,
                              windows=claimed_windows(ctx))
    return [{"distance": d} for d in distances]


def measure_copy(ctx: ProbeContext, params: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    distance = cell["distance"]
    source = copy_source(ctx)
    start, separator = list(source["start"]), list(source["separator"])
    length = max(2, distance - len(separator))  # each token's copy stands `distance` positions after it

    def build() -> tuple[list[Prompt], list[dict[str, Any]]]:
        prompts = []
        for sample in range(params["samples"]):
            sequence = copy_sequence(ctx, source, length, salt=7_000 + 31 * distance + sample)
            # The first token of the second copy cannot be told from what precedes it; the rest can.
            prompts.append(Prompt(start + sequence + separator + sequence[:1], {"copy": sequence[1:]},
                                  {"distance": len(sequence) + len(separator), "sample": sample}))
        return prompts, []

    tokens = len(start) + 2 * length + len(separator)  # the length checked is the whole sequence
    return measure_length(ctx, distance, tokens, params["chunk"], False, build, what="distance",
                          extra={"tokens": tokens})


def distance_rows(merged: Merged, start: int,
                  separator: int) -> tuple[list[dict[str, Any]], dict[int, float], dict[int, tuple]]:
    """Per distance: accuracy with its interval, loss, counts; the accuracy and the counts by distance."""
    rows: list[dict[str, Any]] = []
    by_distance: dict[int, float] = {}
    counts: dict[int, tuple[int, int]] = {}
    for distance in merged.values("distance"):
        items = [s["copy"] for p, s in zip(merged.prompts, merged.scores, strict=True)
                 if p.info["distance"] == distance]
        tokens = sum(s.tokens for s in items)
        correct = sum(s.correct for s in items)
        by_distance[distance], counts[distance] = correct / tokens, (correct, tokens)
        accuracy = rate(correct, tokens)
        rows.append({"distance": distance, "tokens": 2 * distance + start - separator, "accuracy": accuracy["value"],
                     "interval": [accuracy["low"], accuracy["high"]], "correct": correct, "answer_tokens": tokens,
                     "loss": round(-sum(s.logprob for s in items) / tokens, 4), "samples": len(items),
                     "exact_sequences": rate(sum(s.exact for s in items), len(items))})
    return rows, by_distance, counts


def conclude_copy(ctx: ProbeContext, params: dict[str, Any], partials: list[dict[str, Any]]) -> Outcome:
    merged = Merged(partials, what="distance")
    if not merged.prompts:
        return skipped(nothing_ran(merged, "distance"), skipped_distances=merged.skipped)
    fraction, absolute, min_base = params["fraction"], params["absolute"], params["min_base"]
    declared = ctx.max_length()
    source = copy_source(ctx)
    rows, by_distance, counts = distance_rows(merged, len(source["start"]), len(source["separator"]))
    effective = effective_context(by_distance, fraction, absolute, min_base, declared // 2 if declared else None,
                                  what="copy accuracy", counts=counts)
    summary = describe(effective, None, by_distance, what="copying").replace(" tokens", " tokens back", 1)
    outcome = Outcome(status="pass", metric="longest copy distance (relative rule)", value=effective["value"],
                      unit="tokens", threshold={"fraction": fraction, "absolute": absolute, "min_base": min_base},
                      details={"summary": summary, "distances": rows, "effective": effective,
                               "source": source_record(source), "skipped_distances": merged.skipped,
                               "vocabulary": ctx.adapter.vocab_size, "excluded_ids": sorted(special_ids(ctx)),
                               "compute": merged.compute, "memory": merged.memory})
    what = {"vocabulary": "a sequence of ordinary vocabulary tokens", "words": "a sequence of ordinary words",
            "characters": "a sequence of printable characters", "random-ids": "a random token sequence"}[source["kind"]]
    if effective["value"] is None:
        outcome.status = "fail"
        outcome.findings.append(finding(
            "warning", "/context_window/declared", declared, {"accuracy": effective["base_score"],
                                                              "distance": effective["base_length"]},
            f"the model cannot copy {what} even {effective['base_length']:,} tokens back: {summary}"))
    elif effective["collapse"] is not None:
        outcome.status = "fail"
        collapse = effective["collapse"]
        outcome.findings.append(finding(
            "warning", "/context_window/declared", declared,
            {"holds_through": effective["holds_through"], "distance": collapse["length"],
             "accuracy": collapse["score"]},
            f"{summary[0].upper()}{summary[1:]}" + (f" (declared window {declared:,} tokens)" if declared else "")))
    return outcome


COPY_CELLS = Cells(split=split_copy, measure=measure_copy, conclude=conclude_copy,
                   cost=lambda cell: 2.0 * cell["distance"])


@probe("copy-distance", "Copying a sequence of the model's own tokens, by distance", cells=COPY_CELLS, version=2)
def copy_distance(ctx: ProbeContext, distances: list[int] | None = None, min_distance: int = 16,
                  max_distance: int = 2048, samples: int = 2, fraction: float = 0.85, absolute: float = 0.85,
                  min_base: float = 0.5, chunk: int = 4096) -> Outcome:
    params = {name: value for name, value in locals().items() if name != "ctx"}  # exactly the parameters
    return COPY_CELLS.run_all(ctx, params)
