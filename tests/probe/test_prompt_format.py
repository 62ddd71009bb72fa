"""Retrieval prompts in the model's own format: the BOS when the tokenizer adds one (once, also when the chat
template writes it), the chat template when there is one (`--prompt-format auto|base|chat`), and the record says
which. Tokenizers are trained here (a SentencePiece-style Unigram on the filler) and a tiny random Llama is saved
beside them, so the whole path from the command line to the probe's record runs without downloads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from modelcard.probe.prompt_format import PLAIN, adds_bos, build_format, chat_template, resolve_mode
from modelcard.probe.retrieval import ASK, CUE, NEEDLE, QUESTION, Codec, filler_sentences, rng_for

# A template that writes the BOS itself, as Llama-3's, Gemma's and Mistral's do.
WRITES_BOS = ("{{ bos_token }}{% for m in messages %}<|user|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
              "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
# One that does not (the tokenizer's BOS, when it adds one, must still come first, once).
NO_BOS = ("{% for m in messages %}<|user|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
SPECIALS = ["<|user|>", "<|assistant|>", "<|end|>"]


def make_tokenizer(add_bos: bool, template: str | None) -> Any:
    """A transformers tokenizer over a Unigram model trained on the filler; adds <s> when `add_bos`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.Unigram())
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", *SPECIALS],
                                      unk_token="<unk>")
    corpus = filler_sentences(rng_for(0, "prompt-format"), 3000) + [
        NEEDLE.format(key="amber-falcon", value=482913), QUESTION.format(key="teal-heron"), "0123456789 " * 4]
    raw.train_from_iterator(corpus, trainer)
    if add_bos:
        raw.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        additional_special_tokens=SPECIALS)
    if template is not None:
        tokenizer.chat_template = template
    return tokenizer


def test_the_bos_is_added_when_the_tokenizer_adds_one() -> None:
    adding, plain = make_tokenizer(True, None), make_tokenizer(False, None)
    assert adding.bos_token_id == 1 and adding.encode("x")[0] == 1
    assert adds_bos(adding) and not adds_bos(plain)
    fmt = build_format(Codec(adding, "unigram"))
    assert (fmt.mode, fmt.prefix, fmt.bos_tokens, fmt.bos_source) == ("base", (1,), 1, "tokenizer")
    assert build_format(Codec(plain, "unigram")).prefix == ()
    from transformers import ByT5Tokenizer

    assert not adds_bos(ByT5Tokenizer())  # it appends </s> and has no BOS: nothing goes before the text


@pytest.mark.parametrize("template,tokenizer_adds", [(WRITES_BOS, True), (WRITES_BOS, False), (NO_BOS, True)])
def test_a_chat_prompt_starts_with_exactly_one_bos(template: str, tokenizer_adds: bool) -> None:
    tokenizer = make_tokenizer(tokenizer_adds, template)
    codec = Codec(tokenizer, "unigram")
    fmt = build_format(codec)
    assert fmt.mode == "chat" and fmt.requested == "auto"
    assert fmt.prefix[0] == tokenizer.bos_token_id and fmt.prefix.count(tokenizer.bos_token_id) == 1
    assert fmt.bos_tokens == 1
    assert fmt.bos_source == ("chat template" if template == WRITES_BOS else "tokenizer")
    assert fmt.template_sha256 == hashlib.sha256(template.encode()).hexdigest()
    # the prompt's text is what the template renders around the user's text, with the cue after it
    question = fmt.question(codec, "teal-heron")
    text = tokenizer.decode([*fmt.prefix, *question], skip_special_tokens=False)
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": ASK.format(key="teal-heron")}],
                                             add_generation_prompt=True, tokenize=False)
    if not rendered.startswith("<s>"):
        rendered = "<s>" + rendered
    assert "".join(text.split()) == "".join((rendered + CUE.format(key="teal-heron")).split())


def test_auto_is_chat_with_a_template_and_base_without() -> None:
    assert resolve_mode("auto", "{{ x }}") == "chat" and resolve_mode("auto", None) == "base"
    assert resolve_mode("base", "{{ x }}") == "base"
    with pytest.raises(ValueError, match="no chat template"):
        resolve_mode("chat", None)
    with pytest.raises(ValueError, match="unknown prompt format"):
        resolve_mode("instruct", None)
    codec = Codec(make_tokenizer(False, None), "unigram")
    assert chat_template(codec.tokenizer) is None
    assert PLAIN.question(codec, "k") == codec.encode(QUESTION.format(key="k"))  # base: the text as it always was


# The whole path: a tiny random Llama saved with its tokenizer, probed from the command line.

@pytest.fixture(scope="module")
def chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with the Unigram tokenizer and a chat template that writes the BOS."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-chat")
    tokenizer = make_tokenizer(False, WRITES_BOS)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tokenizer), max_position_embeddings=4096,
                         bos_token_id=1, eos_token_id=2, pad_token_id=None)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


SUITE = ("name: retrieval-format\ndescription: the four text retrieval probes, tiny\nprobes:\n"
         "  - id: passkey-grid\n    params: {lengths: [256, 512], depths: [0.0, 0.5, 1.0], samples: 2}\n"
         "  - id: multikey-distractors\n    params: {lengths: [256], distractors: [0, 1], samples: 2}\n"
         "  - id: position-sensitivity\n    params: {lengths: [512], needles: 3, samples: 1}\n"
         "  - id: injected-instruction\n    params: {lengths: [256], samples: 2}\n")


@pytest.mark.parametrize("mode", ["auto", "base", "chat"])
def test_the_cli_threads_the_prompt_format_to_every_retrieval_probe(run_cli, chat_model: Path, tmp_path: Path,
                                                                    mode: str) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    result = run_cli("probe", chat_model, "--suite", suite, "--prompt-format", mode, "-o", tmp_path / "out",
                     "--format", "json")
    report = json.loads((tmp_path / "out" / "probes.json").read_text())
    digest = hashlib.sha256(WRITES_BOS.encode()).hexdigest()
    for record in report["probes"]:
        assert record["status"] in ("pass", "fail", "skipped"), (record["id"], record["reason"], result.err)
        stated = record["details"]["prompt_format"]
        want = "base" if mode == "base" else "chat"
        assert stated["mode"] == want and stated["requested"] == mode, record["id"]
        assert stated["chat_template_sha256"] == (digest if want == "chat" else None)
        assert stated["bos_tokens"] == (1 if want == "chat" else 0)
        shortest = record["details"]["shortest"]
        assert shortest["length"] == 256 if record["id"] != "position-sensitivity" else shortest["length"] == 512
        low, high = shortest["interval"]
        assert 0 <= low <= shortest["score"] <= high <= 1


def test_chat_on_a_model_without_a_template_is_skipped_with_the_reason(context, tmp_path: Path) -> None:
    """The oracle's byte tokenizer has no template: asking for chat skips every text probe, saying why."""
    from modelcard.probe.registry import get_probe

    ctx = dataclasses.replace(context("test_retrieval_probes:oracle"), prompt_format="chat", memo={})
    for probe_id in ("passkey-grid", "multikey-distractors", "position-sensitivity", "injected-instruction"):
        probe = get_probe(probe_id)
        outcome = probe.run(ctx, **probe.params({"lengths": [256], "samples": 1}, "test"))
        assert outcome.status == "skipped" and "no chat template" in outcome.reason, probe_id


def test_chat_prompts_still_share_the_haystack(context, chat_model: Path) -> None:
    """Every chat prompt starts with the same template prefix and filler: the scorer shares it within a cell as it
    does for base prompts (a shallow needle leaves little to share, a deep one nearly all)."""
    from modelcard.probe.registry import get_probe

    probe = get_probe("passkey-grid")
    params = probe.params({"lengths": [512], "depths": [0.0, 0.5, 1.0], "samples": 4}, "test")
    chat = probe.run(context(str(chat_model)), **params)
    base = probe.run(dataclasses.replace(context(str(chat_model)), prompt_format="base", memo={}), **params)
    assert chat.details["prompt_format"]["mode"] == "chat" and base.details["prompt_format"]["mode"] == "base"
    shared, alone = chat.details["compute"], base.details["compute"]
    assert shared["sharing"] == "crop" and shared["ratio"] <= alone["ratio"] + 0.02, (shared, alone)
    assert shared["ratio"] < 0.75
    prefix = chat.details["prompt_format"]["prefix_tokens"]
    for cell in chat.details["cells"]:
        assert cell["tokens"] == [512]
        assert all(at >= prefix for at in cell["needle_at"])


def test_generate_states_the_format_in_the_card(run_cli, chat_model: Path, tmp_path: Path) -> None:
    """`modelcard generate --prompt-format base` on a model with a template: the card's retrieval probe says
    base, and the record validates."""
    from modelcard.record.validate import validate_record

    suite = tmp_path / "suite.yaml"
    suite.write_text("name: grid\ndescription: one retrieval probe, tiny\nprobes:\n"
                     "  - id: passkey-grid\n    params: {lengths: [256], depths: [0.0, 1.0], samples: 1}\n",
                     encoding="utf-8")
    result = run_cli("generate", chat_model, "--suite", suite, "--prompt-format", "base", "-o", tmp_path / "card")
    record = json.loads((tmp_path / "card" / "card.json").read_text())
    assert validate_record(record) == [], result.err
    (grid,) = [p for p in record["probes"] if p["id"] == "passkey-grid"]
    stated = grid["details"]["prompt_format"]
    assert stated["mode"] == "base" and stated["requested"] == "base"
