"""Probes on weights that behave like trained ones: attention sharp enough to hide a visible position below float
precision, and logits large enough to round past transformers' tiny-model tolerances. Found on the trained demo
model, whose last layer measured "irregular" and whose eager kernel "disagreed" with sdpa by 9.5e-6."""

from __future__ import annotations

from pathlib import Path

import pytest


def sharpened_llama(folder: Path, query_key_scale: float = 1.0, logit_scale: float = 1.0) -> str:
    """A tiny Llama with weights: its last layer's queries and keys scaled (sharper attention), its logits scaled."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.layers[-1].self_attn.q_proj.weight.mul_(query_key_scale)
        model.model.layers[-1].self_attn.k_proj.weight.mul_(query_key_scale)
        model.lm_head.weight.mul_(logit_scale)
    model.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def sharp_attention(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sharpened_llama(tmp_path_factory.mktemp("sharp"), query_key_scale=30.0)


@pytest.fixture(scope="module")
def large_logits(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sharpened_llama(tmp_path_factory.mktemp("logits"), logit_scale=300.0)


def test_sharp_attention_is_read_through_the_kernel_not_the_weights(run_probe, sharp_attention: str) -> None:
    """A transformers model's layers are read through its own kernel with the query and key zeroed: the sharpened
    layer's weights cannot hide a position, and no copy of the model is made."""
    outcome = run_probe("window-reach", sharp_attention)
    blocks = outcome.details["blocks"]
    assert {b["method"] for b in blocks.values()} == {"uniform attention through the model's kernel"}
    assert blocks["1"]["kind"] == "full" and "redrawn_weights" not in outcome.details
    assert outcome.status == "pass" and not outcome.findings


def test_hidden_reach_of_a_custom_module_is_measured_again_with_fresh_weights(run_probe) -> None:
    outcome = run_probe("window-reach", "reach_models:sharp_attention")
    blocks = outcome.details["blocks"]
    # the sharpened layer's own weights hide far positions: no window's pattern, so it is measured again
    assert blocks["1"]["trained_weights"]["kind"] == "irregular"
    assert outcome.details["redrawn_weights"]["blocks"] == [1] and outcome.details["redrawn_weights"]["done"]
    assert blocks["1"]["kind"] == "full" and "trained_weights" not in blocks["0"]
    assert outcome.status == "pass" and not outcome.findings


def test_redrawing_never_hides_a_real_window(run_probe) -> None:
    """A window of 3 is a window's pattern on the module's own weights: nothing is measured again, and the
    window stands as measured."""
    outcome = run_probe("window-reach", "planted:window_of_3")
    assert "redrawn_weights" not in outcome.details
    assert {(b["kind"], b["window"]) for b in outcome.details["blocks"].values()} == {("sliding", 3)}


def test_a_twin_is_not_redrawn(run_probe, config_only) -> None:
    outcome = run_probe("window-reach", config_only("sliding"))
    assert "redrawn_weights" not in outcome.details


def test_rounding_of_large_logits_is_not_a_kernel_disagreement(run_probe, large_logits: str) -> None:
    outcome = run_probe("kernel-agreement", large_logits)
    sdpa = outcome.details["kernels"]["sdpa"]
    assert sdpa["within_tolerance"] is False  # over atol 1e-6 + rtol 1e-4 of the float64 reference ...
    allowance = outcome.details["allowance"]
    assert allowance["source"] == "eager in the model's dtype against eager in float64"
    # ... and within the reference path's own rounding
    assert sdpa["distance_to_float64"] <= allowance["noise_factor"] * allowance["reference_path_rounding"]
    assert sdpa["within_rounding"] is True
    assert outcome.status == "pass" and not outcome.findings


def test_a_scaled_kernel_is_still_caught(run_probe) -> None:
    """The rounding rule does not excuse a kernel that computes something else (sdpa scaled by 1/d)."""
    outcome = run_probe("kernel-agreement", "tinymodels:disagreeing_kernel")
    sdpa = outcome.details["kernels"]["sdpa"]
    assert sdpa["distance_to_float64"] > outcome.details["allowance"]["rounding_budget"]
    assert sdpa["within_rounding"] is False and outcome.status == "fail"
