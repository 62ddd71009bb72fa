"""kernel-agreement compares kernels within transformers' tolerances; scaling shows memory growth per kernel."""

from __future__ import annotations


def test_a_kernel_that_disagrees_is_caught(run_probe) -> None:
    outcome = run_probe("kernel-agreement", "tinymodels:disagreeing_kernel")
    assert outcome.status == "fail"
    # judged against a float64 eager reference, the kernel with the planted bug (sdpa's 1/d scale) is the one off
    assert outcome.details["kernels"]["sdpa"]["within_tolerance"] is False
    assert outcome.details["kernels"]["eager"]["within_tolerance"] is True


def test_honest_kernels_agree(run_probe) -> None:
    outcome = run_probe("kernel-agreement", "tinymodels:honest")
    assert outcome.status == "pass"
    assert outcome.kernel == "sdpa,eager"


def test_demo_eager_and_sdpa_agree_over_non_pad_positions(run_probe) -> None:
    outcome = run_probe("kernel-agreement", None, exclude=["flex_attention"])
    assert outcome.status == "pass"
    assert outcome.details["padded"] is True
    assert outcome.details["kernels"]["eager"]["top1_agreement"] == 1.0
    assert outcome.threshold["atol"] == 1e-6


def test_sdpa_memory_is_linear_and_eager_is_quadratic(run_probe) -> None:
    sdpa = run_probe("scaling", None, max_tokens=2048)
    assert sdpa.status == "pass"
    assert sdpa.value < 1.3
    assert sdpa.details["points"][-1]["kv_cache_bytes"] == 2048 * 1024
    low, high = sdpa.details["memory_exponent_interval"]
    assert low <= sdpa.value <= high < 1.3
    eager = run_probe("scaling", None, attn_implementation="eager", max_tokens=2048)
    assert eager.value > 1.7
    assert eager.status == "fail"
    assert eager.details["memory_exponent_interval"][0] > eager.threshold  # failed on its whole interval
