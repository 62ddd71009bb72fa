"""copy-distance's source of tokens: the model's own vocabulary where its tokenizer decodes word pieces, words
with an encode-only tokenizer, random ids without one; every accuracy with its interval."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from cache_families import save_family


@pytest.fixture(scope="module")
def word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a word-level tokenizer of 1,000 three-letter words."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    folder = save_family("full", tmp_path_factory.mktemp("words"))
    words = ["".join(letters) for letters in itertools.product("abcdefghij", repeat=3)]
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{word: 4 + i for i, word in enumerate(words[:255])}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["vocab_size"] == 259
    return folder


def test_a_small_word_vocabulary_is_counted_and_words_are_copied(word_model: Path, run_probe: Any) -> None:
    """255 word tokens re-encode to themselves, under the 256 a pool needs: ordinary words, with the count."""
    outcome = run_probe("copy-distance", str(word_model), distances=[16, 32], samples=2)
    source = outcome.details["source"]
    assert source["kind"] == "words" and source["why"].startswith("255 single tokens")
    for row in outcome.details["distances"]:
        low, high = row["interval"]
        assert low <= row["accuracy"] <= high
        assert row["answer_tokens"] == 2 * (row["distance"] - len(source["separator"]) - 1)
    assert outcome.details["effective"]["judged"] == "95% Wilson intervals"


def test_a_byte_level_tokenizer_copies_its_printable_characters(run_probe: Any) -> None:
    outcome = run_probe("copy-distance", "test_retrieval_probes:oracle", distances=[16], samples=1)
    source = outcome.details["source"]
    assert source["kind"] == "characters" and "character-level vocabulary" in source["why"]
    assert source["pool"] == 94  # the printable ASCII characters but the space
    assert source["start"]  # no BOS from this tokenizer: a line break starts the text
