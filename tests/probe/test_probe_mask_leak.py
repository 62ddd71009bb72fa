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
