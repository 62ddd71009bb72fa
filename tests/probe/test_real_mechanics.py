"""The mechanics probes on a real pretrained model, SmolLM2-135M-Instruct (tests/real_models.py): an honest
full-attention Llama passes every one with the quick suite's parameters (and the standard suite's where they
are affordable here: all but mask-leak), and a bug planted in its own attention kernel still fails."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.real

MECHANICS = ("mask-leak", "window-reach", "kv-layout", "cache-consistency", "kernel-agreement")
BY_KERNEL = "uniform attention through the model's kernel"


@pytest.fixture
def smollm2(context) -> Any:
    """The session's context of SmolLM2 (loaded once: conftest.probe_context caches it)."""
    from real_models import smollm2_folder

    return context(str(smollm2_folder()))


def _run(ctx: Any, probe_id: str, suite: str, **overrides: Any) -> Any:
    from modelcard.probe.registry import get_probe
    from modelcard.probe.suite import resolve_suite

    params = next((entry.params for entry in resolve_suite(suite).probes if entry.id == probe_id), {})
    probe = get_probe(probe_id)
    return probe.run(ctx, **probe.params({**params, **overrides}, suite))


_OUTCOMES: dict[tuple[str, str], Any] = {}


def _honest(ctx: Any, probe_id: str, suite: str) -> Any:
    """The probe's outcome on the unmodified model, run once for the module's tests."""
    if (probe_id, suite) not in _OUTCOMES:
        _OUTCOMES[probe_id, suite] = _run(ctx, probe_id, suite)
    return _OUTCOMES[probe_id, suite]


def _errors(outcome: Any) -> list[str]:
    return [f["message"] for f in outcome.findings if f["severity"] == "error"]


@pytest.mark.parametrize("probe_id", MECHANICS)
def test_every_mechanics_probe_passes_with_the_quick_suite(smollm2, probe_id: str) -> None:
    outcome = _honest(smollm2, probe_id, "quick")
    assert outcome.status == "pass", (outcome.reason, outcome.findings)
    assert not _errors(outcome)


# mask-leak's standard length (64 forwards of 64 tokens, about a minute here) is left to the quick suite's 24.
@pytest.mark.parametrize("probe_id", ["window-reach", "kv-layout", "cache-consistency", "kernel-agreement"])
def test_the_mechanics_probes_pass_with_the_standard_suite(smollm2, probe_id: str) -> None:
    outcome = _honest(smollm2, probe_id, "standard")
    assert outcome.status == "pass", (outcome.reason, outcome.findings)
    assert not _errors(outcome)


def test_every_layer_is_read_through_its_kernel_as_full_attention(smollm2) -> None:
    """The trained weights measured 21 of 30 layers "irregular" (sinks, sharp heads); the mask is full causal."""
    outcome = _honest(smollm2, "window-reach", "quick")
    rows = outcome.details["layers"]
    assert len(rows) == 30
    assert {row["method"] for row in rows} == {BY_KERNEL}
    assert {tuple(row["measured"]) for row in rows} == {("full", None)}
    assert all(not block["sees_later_positions"] for block in outcome.details["blocks"].values())
    assert "redrawn_weights" not in outcome.details


def test_each_kernel_is_judged_by_its_distance_to_float64(smollm2) -> None:
    """eager and sdpa differ by ~1e-3 in float32 through 30 layers, far over atol 1e-6 + rtol 1e-4: rounding, which
    the float64 reference now tells from a bug."""
    outcome = _honest(smollm2, "kernel-agreement", "quick")
    assert outcome.details["float64"]["built"] is True
    assert outcome.details["float64"]["kernel"] == "eager"
    allowance = outcome.details["allowance"]
    assert allowance["reference_path_rounding"] > 0
    for kernel, result in outcome.details["kernels"].items():
        assert 0 < result["distance_to_float64"] <= allowance["rounding_budget"], kernel
        assert result["top1_flips_at_decisive_positions"] == 0
    assert outcome.status == "pass"


def _scaled_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """transformers' sdpa with scores scaled by 1/d instead of 1/sqrt(d)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    kwargs["scaling"] = 1 / query.shape[-1]
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _windowed_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """transformers' sdpa that also applies a sliding window of 16 the model does not declare."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    queries = torch.arange(key.shape[-2] - query.shape[-2], key.shape[-2], device=query.device)[:, None]
    keys = torch.arange(key.shape[-2], device=query.device)[None, :]
    window = (keys <= queries) & (keys > queries - 16)
    if attention_mask is not None:
        window = window & (attention_mask if attention_mask.dtype == torch.bool else attention_mask == 0)
    return sdpa_attention_forward(module, query, key, value, window[None, None] if window.ndim == 2 else window,
                                  **{**kwargs, "is_causal": False})


def test_a_kernel_bug_on_the_real_model_still_fails(smollm2, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.modeling_utils import AttentionInterface

    monkeypatch.setitem(AttentionInterface._global_mapping, "sdpa", _scaled_sdpa)
    outcome = _run(smollm2, "kernel-agreement", "quick")
    assert outcome.status == "fail"
    sdpa = outcome.details["kernels"]["sdpa"]
    assert sdpa["distance_to_float64"] > outcome.details["allowance"]["rounding_budget"]
    assert outcome.details["kernels"]["eager"]["agrees"] is True
    assert [f["measured"]["kernel"] for f in outcome.findings] == ["sdpa"]


def test_a_window_the_kernel_applies_and_the_model_does_not_declare_is_an_error(
        smollm2, monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.modeling_utils import AttentionInterface

    assert smollm2.adapter.kernel == "sdpa"
    monkeypatch.setitem(AttentionInterface._global_mapping, "sdpa", _windowed_sdpa)
    outcome = _run(smollm2, "window-reach", "quick")
    assert outcome.status == "fail"
    assert {tuple(row["measured"]) for row in outcome.details["layers"]} == {("sliding", 16)}
    assert len(_errors(outcome)) == 30
    assert "claims full attention but measures sliding window 16" in _errors(outcome)[0]
