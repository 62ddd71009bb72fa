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
    assert outcome.measured["/attention/layers/24/window"] == 4096
    assert outcome.measured["/attention/layers/25/kind"] == "full"


def test_chunked_twin_at_8192(run_probe, config_only) -> None:
    outcome = run_probe("window-reach", config_only("chunked"))
    assert outcome.status == "pass", outcome.findings
    assert outcome.details["blocks"]["0"]["kind"] == "chunked"
    assert outcome.details["blocks"]["0"]["window"] == 8192
    # from position 1 a chunk of 8192 reaches 8191 tokens, from position 4 only 8188: a chunk, not a slide
    assert outcome.details["blocks"]["0"]["reach"] == {1: 8191, 4: 8188}
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
])
def test_classification(ends, kind, window) -> None:
    from modelcard.probe.probes.window_reach import classify

    result = classify(ends, 64)
    assert (result["kind"], result["window"]) == (kind, window)
