"""mask-leak finds the real mask, and a planted look-ahead is an error finding."""

from __future__ import annotations


def test_honest_causal_module_passes(run_probe) -> None:
    outcome = run_probe("mask-leak", "tinymodels:honest")
    assert outcome.status == "pass"
    assert outcome.value == 0
    assert outcome.details["measured"] == "causal"
    assert outcome.findings == []


def test_a_token_that_sees_the_next_one_is_caught(run_probe) -> None:
    outcome = run_probe("mask-leak", "tinymodels:leaks_next_token")
    assert outcome.status == "fail"
    assert outcome.value == 2  # one token per layer, two layers
    (error,) = outcome.findings
    assert error["severity"] == "error"
    assert error["pointer"] == "/masking/stacks/decoder/mask"
    assert error["declared"] == "causal"
    # perturbing tokens from p on moves exactly positions p-2 and p-1
    assert outcome.details["earlier_positions_changed"]["10"] == [8, 9]


def test_bidirectional_and_prefix_masks_are_measured(run_probe) -> None:
    assert run_probe("mask-leak", "tinymodels:bidirectional").details["measured"] == "bidirectional"
    prefix = run_probe("mask-leak", "tinymodels:prefix_lm")
    assert prefix.details["measured"] == "prefix"
    assert prefix.details["prefix"] == 6
    assert prefix.findings == []


def test_demo_model_is_causal_and_the_measurement_wins(run_probe) -> None:
    outcome = run_probe("mask-leak", None)
    assert outcome.status == "pass"
    assert outcome.measured == {"/masking/stacks/decoder/mask": "causal"}


def _sees_everything(module, query, key, value, attention_mask, **kwargs):
    """transformers' sdpa with the causal mask dropped: every position sees every other."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    return sdpa_attention_forward(module, query, key, value, None, **{**kwargs, "is_causal": False})


def test_a_kernel_that_drops_the_causal_mask_is_caught(run_probe, tmp_path, monkeypatch) -> None:
    """A tiny Llama with weights whose sdpa kernel ignores the mask: mask-leak measures it bidirectional against
    its declared causal mask, and window-reach, reading the same kernel, sees later positions."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_utils import AttentionInterface

    torch.manual_seed(0)
    config = AutoConfig.for_model("llama", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=1, vocab_size=64,
                                  max_position_embeddings=256)
    AutoModelForCausalLM.from_config(config).save_pretrained(tmp_path)
    honest = run_probe("mask-leak", str(tmp_path))
    assert honest.status == "pass" and honest.details["measured"] == "causal"
    monkeypatch.setitem(AttentionInterface._global_mapping, "sdpa", _sees_everything)
    outcome = run_probe("mask-leak", str(tmp_path))
    assert outcome.status == "fail"
    assert outcome.details["measured"] == "bidirectional"
    (error,) = outcome.findings
    assert (error["severity"], error["declared"]) == ("error", "causal")
    reach = run_probe("window-reach", str(tmp_path))
    assert all(block["sees_later_positions"] for block in reach.details["blocks"].values())
    assert reach.status == "fail"
    (leak,) = reach.findings
    assert (leak["severity"], leak["pointer"]) == ("error", "/masking/stacks/decoder/mask")
    assert leak["measured"] == {"layers_seeing_later_positions": [0, 1]}
