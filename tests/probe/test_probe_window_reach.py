"""window-reach measures each layer's window; a declared window that is not enforced is an error, and
config-only twins confirm sliding, alternating, chunked and hybrid layouts at their real sizes."""

from __future__ import annotations

import pytest


def test_enforced_window_is_confirmed(run_probe) -> None:
    outcome = run_probe("window-reach", "tinymodels:windowed")
    assert outcome.status == "pass"
    assert [row["measured"] for row in outcome.details["layers"]] == [["sliding", 8], ["sliding", 8]]
    assert outcome.measured["/attention/layers/0/window"] == 8
    assert outcome.derived["/masking/stacks/decoder/window"] == 8


def test_declared_window_that_the_code_ignores_is_an_error(run_probe) -> None:
    outcome = run_probe("window-reach", "tinymodels:window_not_enforced")
    assert outcome.status == "fail"
    assert {f["pointer"] for f in outcome.findings} == {"/attention/layers/0/window", "/attention/layers/1/window"}
    assert all(f["severity"] == "error" and f["declared"] == "sliding window 8" for f in outcome.findings)
    assert outcome.measured["/attention/layers/0/kind"] == "full"
    assert outcome.measured["/attention/layers/0/window"] is None
    assert outcome.derived["/masking/stacks/decoder/window"] is None


def test_full_attention_demo_reaches_everything(run_probe) -> None:
    outcome = run_probe("window-reach", None)
    assert outcome.status == "pass"
    assert {row["measured"][0] for row in outcome.details["layers"]} == {"full"}


def _measured(outcome) -> list:
    return [row["measured"] for row in outcome.details["layers"]]


def test_sliding_twin_at_4096(run_probe, config_only) -> None:
    outcome = run_probe("window-reach", config_only("sliding"))
    assert outcome.status == "pass", outcome.findings
    assert outcome.details["length"] > 4096
    assert set(map(tuple, _measured(outcome))) == {("sliding", 4096)}


def test_alternating_twin_at_4096(run_probe, config_only) -> None:
    outcome = run_probe("window-reach", config_only("alternating"))
    assert outcome.status == "pass", outcome.findings
    layers = _measured(outcome)
    assert len(layers) == 26
    assert layers[0] == ["sliding", 4096] and layers[1] == ["full", None]
    assert outcome.measured["/attention/layers/0/window"] == 4096
    assert outcome.derived["/attention/layers/24/window"] == 4096  # the twin's layer 0 stands for layer 24
    assert outcome.derived["/attention/layers/25/kind"] == "full"


def test_chunked_twin_at_8192(run_probe, config_only) -> None:
    outcome = run_probe("window-reach", config_only("chunked"))
    assert outcome.status == "pass", outcome.findings
    assert outcome.details["blocks"]["0"]["kind"] == "chunked"
    assert outcome.details["blocks"]["0"]["window"] == 8192
    # from position 0 a chunk of 8192 reaches 8192 tokens, from position 1 only 8191: a chunk, not a slide
    assert outcome.details["blocks"]["0"]["reach"] == {0: 8192, 1: 8191, 2: 8190, 3: 8189, 5: 8187, 8: 8184}
    assert outcome.details["blocks"]["1"]["kind"] == "full"


def test_hybrid_twin_attention_layers_are_full(run_probe, config_only) -> None:
    outcome = run_probe("window-reach", config_only("hybrid"))
    assert outcome.status == "pass", outcome.findings
    kinds = {row["declared"][0] for row in outcome.details["layers"]}
    assert kinds == {"linear", "full"}
    assert all(row["measured"][0] == "full" for row in outcome.details["layers"] if row["declared"][0] == "full")


def test_ignored_sliding_window_key_is_full_attention_with_a_warning(run_probe, config_only) -> None:
    outcome = run_probe("window-reach", config_only("ignored-window"))
    assert outcome.status == "pass"
    assert outcome.details["length"] > 4096
    assert {row["measured"][0] for row in outcome.details["layers"]} == {"full"}
    (warning,) = outcome.findings
    assert warning["severity"] == "warning"
    assert warning["declared"] == {"sliding_window": 4096}


@pytest.mark.parametrize("ends, kind, window", [
    ({1: 63, 4: 63}, "full", None),
    ({1: 8, 4: 11}, "sliding", 8),
    ({1: 15, 4: 15}, "chunked", 16),
    ({0: 2, 1: 3, 2: 4, 3: 5, 5: 7, 8: 10}, "sliding", 3),
    ({0: 3, 1: 3, 2: 3, 3: 3, 5: 7, 8: 11}, "chunked", 4),
    ({0: 1, 1: 1, 2: 3, 3: 3, 5: 5, 8: 9}, "chunked", 2),
    ({0: 0, 1: 1, 2: 2, 3: 3, 5: 5, 8: 8}, "sliding", 1),
    ({0: 63, 1: 3, 2: 4, 3: 5, 5: 7, 8: 10}, "irregular", None),  # a sink at 0 beside a window of 3
    ({0: 60, 1: 61, 2: 62, 3: 63, 5: 63, 8: 63}, "sliding", 61),  # reaches clipped by the input's end
])
def test_classification(ends, kind, window) -> None:
    from modelcard.probe.probes.window_reach import classify

    result = classify(ends, 64)
    assert (result["kind"], result["window"]) == (kind, window)


def test_a_reach_shorter_than_declared_is_confirmed_on_fresh_weights_and_an_error(run_probe) -> None:
    """Measured through a custom module's weights, a reach shorter than declared is not proof (weights can hide a
    visible position): it is measured again on redrawn weights, and then it is."""
    outcome = run_probe("window-reach", "reach_models:undeclared_chunks")
    assert outcome.details["redrawn_weights"]["done"] is True
    assert {row["method"] for row in outcome.details["layers"]} == {"redrawn weights"}
    assert [row["measured"] for row in outcome.details["layers"]] == [["chunked", 4], ["chunked", 4]]
    assert outcome.status == "fail"
    assert {(f["severity"], f["declared"]) for f in outcome.findings} == {("error", "full attention")}


def test_a_shorter_reach_seen_only_through_trained_weights_is_a_warning(context) -> None:
    """Where no redrawn copy can be made (here: weights sharded over ranks), a reach shorter than declared
    stands as measured, as a warning: not proof."""
    import dataclasses

    from modelcard.probe.registry import get_probe

    ctx = context("reach_models:undeclared_chunks")
    sharded = dataclasses.replace(ctx, adapter=dataclasses.replace(ctx.adapter, tp_size=2, agree=lambda n: n),
                                  memo={})
    probe = get_probe("window-reach")
    outcome = probe.run(sharded, **probe.params({}, "test"))
    assert outcome.details["redrawn_weights"]["done"] is False
    assert "tensor parallel" in outcome.details["redrawn_weights"]["reason"]
    assert {row["method"] for row in outcome.details["layers"]} == {"trained weights"}
    assert outcome.status == "pass"
    assert {f["severity"] for f in outcome.findings} == {"warning"}
    assert all("not proof" in f["message"] for f in outcome.findings)


def test_the_kernels_are_restored_after_reading_them(config_folder, tmp_path) -> None:
    """The uniform-attention reading wraps transformers' attention interface and the modeling module's eager kernel
    for one forward only, even when that forward raises."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_utils import AttentionInterface
    from transformers.models.mistral import modeling_mistral

    from modelcard.probe.adapter import ModelAdapter
    from modelcard.probe.uniform_attention import kernel_visibility, wrapped_kernels

    config = AutoConfig.for_model("mistral", hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                  num_attention_heads=2, num_key_value_heads=1, vocab_size=64, sliding_window=4)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()
    before = (AttentionInterface.get_interface, modeling_mistral.eager_attention_forward,
              "__getitem__" in AttentionInterface.__dict__)
    sights = kernel_visibility(ModelAdapter(model=model, config=config), torch.arange(12)[None], [0, 1, 5])
    assert [sights[block].visible[:, 0].nonzero().flatten().tolist() for block in (0, 1)] == [[0, 1, 2, 3]] * 2
    assert sights[0].visible[:, 2].nonzero().flatten().tolist() == [5, 6, 7, 8]
    with pytest.raises(RuntimeError, match="planted"), wrapped_kernels(model, lambda kernel: kernel):
        raise RuntimeError("planted")
    after = (AttentionInterface.get_interface, modeling_mistral.eager_attention_forward,
             "__getitem__" in AttentionInterface.__dict__)
    assert after == before
