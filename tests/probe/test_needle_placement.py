"""Needles sit where their depth says: within one sentence of the requested point of the haystack's filler, at
every length up to 128K tokens, on three kinds of real tokenizer (SmolLM2's byte-level BPE, a SentencePiece-style
Unigram with a Metaspace pre-tokenizer trained here on the filler, and ByT5's bytes). The old placement looked
only at the 64 sentence boundaries before the end of the haystack, so a needle of depth 0.25 at 4K sat near 0.46
(BPE) or 0.87 (SentencePiece)."""

from __future__ import annotations

import bisect
import time
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from modelcard.probe.retrieval import (
    ANSWER,
    NEEDLE,
    QUESTION,
    Codec,
    FillerStream,
    Insert,
    filler_sentences,
    haystack,
    haystack_prompt,
    make_key,
    make_value,
    rng_for,
)

LONGEST = 131_072


def sentencepiece_tokenizer() -> Any:
    """A SentencePiece-style tokenizer: a Unigram model with a Metaspace pre-tokenizer, trained on the filler."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>")
    corpus = filler_sentences(rng_for(0, "test-corpus"), 4000) + [NEEDLE.format(key="amber-falcon", value=482913)]
    tokenizer.train_from_iterator(corpus, trainer)
    return tokenizer


def smollm2_tokenizer() -> Any:
    from real_models import smollm2_folder
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(smollm2_folder(), local_files_only=True)


def byte_tokenizer() -> Any:
    from transformers import ByT5Tokenizer

    return ByT5Tokenizer()


TOKENIZERS = {"bpe": smollm2_tokenizer, "sentencepiece": sentencepiece_tokenizer, "byte": byte_tokenizer}
_STREAMS: dict[str, tuple[Codec, FillerStream]] = {}


def stream_for(name: str) -> tuple[Codec, FillerStream]:
    """The tokenizer's codec and a filler stream of at least 128K tokens, built once per session."""
    if name not in _STREAMS:
        codec = Codec(TOKENIZERS[name](), name)
        _STREAMS[name] = codec, FillerStream.build(codec, LONGEST, seed=0)
    return _STREAMS[name]


KINDS = [pytest.param("bpe", marks=pytest.mark.real), "sentencepiece", "byte"]


def sentence_around(stream: FillerStream, point: float, fill: int) -> tuple[int, int]:
    """The filler sentence (start, end) that holds `point`, cut at `fill`."""
    index = bisect.bisect_right(stream.boundaries, point) - 1
    start = stream.boundaries[max(index, 0)]
    end = stream.boundaries[index + 1] if index + 1 < len(stream.boundaries) else len(stream.ids)
    return start, min(end, fill)


def assert_within_one_sentence(stream: FillerStream, depth: float, cut: int, fill: int) -> None:
    point = depth * fill
    start, end = sentence_around(stream, point, fill)
    assert cut in (0, fill) or cut in stream.boundaries, "an insert goes in at a sentence boundary"
    assert abs(cut - point) <= max(end - start, 1), (depth, cut, point, (start, end))


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=60, deadline=None)
@given(length=st.integers(min_value=256, max_value=LONGEST), depth=st.floats(min_value=0.0, max_value=1.0),
       sample=st.integers(min_value=0, max_value=50))
@example(length=4096, depth=0.25, sample=0)
@example(length=32_768, depth=0.5, sample=0)
@example(length=LONGEST, depth=0.75, sample=1)
def test_a_needle_sits_within_one_sentence_of_its_depth(kind: str, length: int, depth: float, sample: int) -> None:
    codec, stream = stream_for(kind)
    key = f"amber-falcon{sample}"
    needle, question = codec.encode(NEEDLE.format(key=key, value=482913 + sample)), codec.encode(
        QUESTION.format(key=key))
    answer = codec.encode(ANSWER.format(value=482913 + sample))
    prefix = [7, 8, 9]  # a format's prefix shifts where the needle starts in the prompt, not its depth
    hay = haystack_prompt(stream, length, [Insert(needle, depth)], question, len(answer), prefix)
    assert len(hay.ids) + len(answer) == length
    start = hay.starts[0]
    assert hay.ids[start:start + len(needle)] == needle
    cut = start - len(prefix)  # filler tokens before the needle: it is the only insert
    assert hay.depths[0] == round(cut / hay.fill, 4)
    assert_within_one_sentence(stream, depth, cut, hay.fill)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=25, deadline=None)
@given(length=st.integers(min_value=1024, max_value=LONGEST), needles=st.integers(min_value=3, max_value=12))
def test_several_needles_each_sit_at_their_depth(kind: str, length: int, needles: int) -> None:
    """Position-sensitivity's layout: needles spread evenly, each within one sentence of its own point."""
    codec, stream = stream_for(kind)
    inserts = [Insert(codec.encode(NEEDLE.format(key=f"k{i}", value=100000 + i)), i / (needles - 1))
               for i in range(needles)]
    hay = haystack(stream, length, inserts, reserve=30)
    assert len(hay.ids) == length - 30
    before = 0
    for index, insert in enumerate(inserts):  # they are in depth order, so inserts before n are 0..n-1
        start = hay.starts[index]
        assert hay.ids[start:start + len(insert.ids)] == insert.ids
        cut = start - before
        before += len(insert.ids)
        assert hay.depths[index] == round(cut / hay.fill, 4)
        assert_within_one_sentence(stream, insert.depth, cut, hay.fill)


@pytest.mark.parametrize("kind", KINDS)
def test_a_128k_stream_builds_fast(kind: str) -> None:
    """Sentences are tokenized once each (the codec caches them), so 128K tokens of filler take well under a
    second or two even through a slow tokenizer."""
    codec = Codec(TOKENIZERS[kind](), kind)
    began = time.perf_counter()
    stream = FillerStream.build(codec, LONGEST, seed=1)
    assert len(stream.ids) >= LONGEST
    assert time.perf_counter() - began < 10


def test_the_grid_records_requested_and_actual_depth() -> None:
    """passkey-grid's prompts at 4,096 tokens: the depth asked for and the depth the needle has, close."""
    from modelcard.probe.probes.passkey_grid import build_prompts

    codec, stream = stream_for("sentencepiece")
    prompts, too_short = build_prompts(codec, stream, [4096], [0.0, 0.25, 0.5, 0.75, 1.0], 2, 6, seed=0)
    assert too_short == []
    depths = [0.0, 0.25, 0.5, 0.75, 1.0]
    for prompt in prompts:
        info = prompt.info
        rng = rng_for(0, "passkey-grid", info["sample"], depths.index(info["depth"]))
        key, value = make_key(rng), make_value(rng, 6)
        needle = codec.encode(NEEDLE.format(key=key, value=value))
        assert prompt.ids[info["needle_at"]:info["needle_at"] + len(needle)] == needle
        assert info["depth_actual"] == round(info["needle_at"] / info["filler_tokens"], 4)
        assert_within_one_sentence(stream, info["depth"], info["needle_at"], info["filler_tokens"])
        assert abs(info["depth_actual"] - info["depth"]) < 0.01  # a sentence is ~15 of 4,000 filler tokens
