"""`scaling` on a real pretrained model (SmolLM2-135M-Instruct): two runs agree within their intervals, and the
memory above the weights grows linearly with sdpa (the logits and activations; no length x length matrix)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.real


@pytest.fixture(scope="module")
def smollm2_context() -> Any:
    from real_models import smollm2_folder

    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import LoadOptions, load_model
    from modelcard.probe.context import build_context

    loaded = load_model(str(smollm2_folder()), LoadOptions())
    return build_context(loaded, inspect_loaded(loaded), 0)


def test_two_runs_on_smollm2_agree_within_their_intervals(smollm2_context) -> None:
    from modelcard.probe.registry import get_probe

    spec = get_probe("scaling")
    params = spec.params({"min_tokens": 32, "max_tokens": 128, "warmup": 1}, "test")  # three short lengths
    first, second = (spec.run(smollm2_context, **params) for _ in range(2))
    for run in (first, second):
        assert run.status == "pass", run.details
        assert [p["tokens"] for p in run.details["points"]] == [32, 64, 128]
        assert run.details["capped"] is None  # inside the declared 8,192 tokens
    low, high = first.details["memory_exponent_interval"]
    assert low <= second.value <= high
    assert 0.9 < first.value < 1.1
    latency_1, latency_2 = first.details["latency_exponent_interval"], second.details["latency_exponent_interval"]
    assert latency_1[0] <= latency_2[1] and latency_2[0] <= latency_1[1]
