"""kv-layout reads the cache the runtime builds; cache-consistency compares cached decoding with a full pass."""

from __future__ import annotations


def test_demo_cache_matches_the_formula(run_probe) -> None:
    outcome = run_probe("kv-layout", None)
    assert outcome.status == "pass"
    assert outcome.value == outcome.details["formula_bytes_per_token"] == 4 * 2 * 2 * 16 * 4
    assert outcome.measured["/kv_cache/source"] == "measured"
    assert outcome.derived["/kv_cache/bytes_at"][-1] == {"tokens": 4096, "bytes": 4096 * 1024}


def test_sliding_twin_cache_stops_at_window_minus_one(run_probe, config_only) -> None:
    outcome = run_probe("kv-layout", config_only("alternating"))
    assert outcome.status == "pass", outcome.details
    sliding, full = outcome.details["layers"]
    assert (sliding["class"], sliding["max_tokens"]) == ("DynamicSlidingWindowLayer", 4095)
    assert full["max_tokens"] is None
    assert outcome.measured["/kv_cache/layers/0/max_tokens"] == 4095  # the layers the twin kept: measured
    assert outcome.measured["/kv_cache/layers/1/max_tokens"] is None
    assert outcome.derived["/kv_cache/layers/24/max_tokens"] == 4095  # the layers they stand for: derived
    assert outcome.derived["/kv_cache/layers/25/max_tokens"] is None


def test_hybrid_twin_has_constant_state_layers(run_probe, config_only) -> None:
    outcome = run_probe("kv-layout", config_only("hybrid"))
    assert outcome.status == "pass", outcome.details
    linear, attention = outcome.details["layers"]
    assert linear["kind"] == "state" and linear["bytes_per_token"] == 0 and linear["state_bytes"] > 0
    assert attention["kind"] == "full" and attention["bytes_per_token"] > 0


def test_a_cache_that_drops_a_token_is_caught(run_probe) -> None:
    consistency = run_probe("cache-consistency", "tinymodels:drops_cache_token")
    assert consistency.status == "fail"
    assert consistency.details["decode"]["first_position_off"] is not None
    layout = run_probe("kv-layout", "tinymodels:drops_cache_token")
    assert layout.status == "fail"
    assert layout.details["layers_dropping_tokens"] == [0, 1]


def test_honest_caches_agree_with_a_full_forward(run_probe, config_only) -> None:
    assert run_probe("cache-consistency", "tinymodels:honest").status == "pass"
    assert run_probe("cache-consistency", "tinymodels:windowed").status == "pass"
    demo = run_probe("cache-consistency", None)
    assert demo.status == "pass" and demo.value < 1e-4  # trained logits up to ~13: fp32 rounding ~1e-5


def test_sliding_cache_is_exercised_past_its_window(run_probe, config_only) -> None:
    outcome = run_probe("cache-consistency", config_only("sliding"))
    assert outcome.status == "pass", outcome.details
    assert outcome.details["length"] > 4096 + outcome.details["decoded_tokens"]


def test_rounding_noise_alone_is_not_a_cache_bug(run_probe) -> None:
    outcome = run_probe("cache-consistency", "tinymodels:length_dependent_rounding")
    assert outcome.status == "pass", outcome.details
    for path in ("decode", "chunked_prefill"):
        assert outcome.details[path]["within_rounding_noise"] is True
        assert outcome.details[path]["noise_floor"] > 1e-3 and not outcome.findings
    dropped = run_probe("cache-consistency", "tinymodels:drops_cache_token")
    assert dropped.status == "fail" and dropped.details["decode"]["noise_floor"] < 1e-5
    assert [f["pointer"] for f in dropped.findings] == ["/kv_cache"]


def test_chunked_prefill_that_ignores_the_cache_is_a_warning_not_an_error(run_probe) -> None:
    outcome = run_probe("cache-consistency", "tinymodels:chunked_prefill_forgets_cache")
    assert outcome.status == "fail"
    assert outcome.details["decode"]["consistent"] is True
    assert outcome.details["chunked_prefill"]["consistent"] is False
    assert [(f["severity"], f["pointer"]) for f in outcome.findings] == [("warning", "/kv_cache")]


def test_float64_tells_rounding_from_a_cache_bug(run_probe) -> None:
    """Rounding vanishes in float64; a token the cache dropped stays missing there too."""
    dropped = run_probe("cache-consistency", "tinymodels:drops_cache_token")
    assert dropped.details["decode"]["float64"]["consistent"] is False
    assert dropped.details["decode"]["rounding_only"] is False
