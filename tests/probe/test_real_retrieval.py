"""The retrieval prompts on a real instruct model, SmolLM2-135M-Instruct (tests/real_models.py): its chat template
(with the default system prompt it writes, and `<|im_start|>` as its BOS) is what the prompt is, token for token,
and the model retrieves a passkey at the shortest length in that format."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pytest

pytestmark = pytest.mark.real


@pytest.fixture
def smollm2(context) -> Any:
    """SmolLM2's probe context (loaded once per session by the probe tests' `context`)."""
    from real_models import smollm2_folder

    return context(str(smollm2_folder()))


def test_the_prompt_is_the_models_chat_template_token_for_token(smollm2) -> None:
    from modelcard.probe.probes.passkey_grid import build_prompts
    from modelcard.probe.prompt_format import format_of
    from modelcard.probe.retrieval import ANSWER, ASK, CUE, find_codec, make_key, make_value, rng_for
    from modelcard.probe.retrieval_cells import stream_of

    codec, _ = find_codec(smollm2.adapter)
    tokenizer = codec.tokenizer
    fmt = format_of(smollm2, codec)
    assert fmt.mode == "chat" and fmt.requested == "auto"
    assert fmt.bos_tokens == 1 and fmt.bos_source == "chat template" and fmt.prefix[0] == tokenizer.bos_token_id
    assert fmt.template_sha256 == hashlib.sha256(tokenizer.chat_template.encode()).hexdigest()
    assert "You are a helpful AI assistant named SmolLM" in tokenizer.decode(list(fmt.prefix))  # its default system

    stream = stream_of(smollm2, codec, 512, "varied")
    prompts, _ = build_prompts(codec, stream, [512], [0.5], 1, 6, smollm2.seed, fmt=fmt)
    (prompt,) = prompts
    rng = rng_for(smollm2.seed, "passkey-grid", 0, 0)
    key, value = make_key(rng), make_value(rng, 6)
    user = tokenizer.decode(prompt.ids[len(fmt.prefix):len(prompt.ids) - len(fmt.question(codec, key))])
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": user + ASK.format(key=key)}],
                                             add_generation_prompt=True, tokenize=False)
    assert tokenizer.decode(prompt.ids) == rendered + CUE.format(key=key)
    assert prompt.answers["value"] == codec.encode(ANSWER.format(value=value))
    assert len(prompt.ids) + len(prompt.answers["value"]) == 512


def test_base_format_has_no_bos_because_the_tokenizer_adds_none(smollm2) -> None:
    from modelcard.probe.prompt_format import format_of
    from modelcard.probe.retrieval import find_codec

    codec, _ = find_codec(smollm2.adapter)
    fmt = format_of(dataclasses.replace(smollm2, prompt_format="base", memo={}), codec)
    assert (fmt.mode, fmt.prefix, fmt.bos_tokens, fmt.template_sha256) == ("base", (), 0, None)


def test_smollm2_retrieves_a_passkey_at_the_shortest_length_in_its_own_format(smollm2) -> None:
    """The issue's acceptance at 256 tokens: exact match at least 0.9, every needle at its depth, and the
    shortest-length score stated with its interval."""
    from modelcard.probe.registry import get_probe

    probe = get_probe("passkey-grid")
    outcome = probe.run(smollm2, **probe.params({"lengths": [256], "depths": [0.0, 0.5, 1.0], "samples": 2}, "test"))
    details = outcome.details
    assert details["prompt_format"]["mode"] == "chat"
    shortest = details["shortest"]
    assert shortest["length"] == 256 and shortest["trials"] == 6
    assert shortest["score"] >= 0.9, details["cells"]
    assert shortest["interval"][0] <= shortest["score"] <= shortest["interval"][1]
    for cell in details["cells"]:
        sentence = 40 / min(cell["filler_tokens"])  # no filler sentence is near 40 tokens long
        assert all(abs(actual - cell["depth"]) < sentence for actual in cell["depth_actual"]), cell


def test_the_planted_instruction_arrives_in_each_role_the_chat_template_writes(smollm2) -> None:
    from modelcard.probe.probes.injected_instruction import build_prompts
    from modelcard.probe.prompt_format import format_of, role_layout
    from modelcard.probe.retrieval import find_codec
    from modelcard.probe.retrieval_cells import stream_of

    codec, _ = find_codec(smollm2.adapter)
    tokenizer = codec.tokenizer
    fmt = format_of(smollm2, codec)
    stream = stream_of(smollm2, codec, 512, "varied")
    prompts, too_short = build_prompts(codec, stream, [512], [0.5], 0.25, 1, 6, smollm2.seed, fmt=fmt,
                                       roles=("system", "tool"))
    assert not too_short
    by_role = {p.info.get("role"): p for p in prompts if p.info["planted_at"] is not None}
    assert set(by_role) == {"user", "system", "tool"}
    for role in ("system", "tool"):
        prompt = by_role[role]
        text = tokenizer.decode(prompt.ids)
        assert f"<|im_start|>{role}\n" in text
        head = list(role_layout(codec, role).head)
        assert prompt.ids[:len(head)] == head  # the template's own turn, token for token
        before_instruction = tokenizer.decode(prompt.ids[:prompt.info["instruction_at"]])
        assert before_instruction.count(f"<|im_start|>{role}") == 1  # the instruction is inside that turn
        assert before_instruction.rfind("<|im_end|>") < before_instruction.rfind(f"<|im_start|>{role}")
    assert all(p.info["tokens"] == 512 for p in prompts)


def test_injected_instruction_reports_each_role_on_smollm2(smollm2) -> None:
    from modelcard.probe.registry import get_probe

    probe = get_probe("injected-instruction")
    outcome = probe.run(smollm2, **probe.params({"lengths": [256], "samples": 2}, "test"))
    by_role = outcome.details["by_role"]
    assert set(by_role) == {"user", "system", "tool"} and outcome.details["roles_not_run"] == {}
    for table in by_role.values():
        assert set(table["by_depth"]) == {"0.5", "1"}
        assert 0.0 <= table["all"]["follow_rate"] <= 1.0 and len(table["all"]["follow_rate_interval"]) == 2
    assert "by role" in outcome.details["summary"]
