"""The memory check before a forward: a simple estimate of what a forward of L tokens adds, compared with what
the device has free; a forward that cannot fit is an `error` result with both numbers, and nothing is run."""

from __future__ import annotations

import pytest

from modelcard.probe import memcheck
from modelcard.probe.memcheck import InsufficientMemory, Shape, estimate_forward_bytes
from modelcard.probe.runner import run_suite
from modelcard.probe.suite import ProbeEntry, Suite


def _context(spec: str | None):
    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import LoadOptions, load_model
    from modelcard.probe.context import build_context

    loaded = load_model(spec, LoadOptions())
    return build_context(loaded, inspect_loaded(loaded), 0)


def test_the_estimate_counts_scores_hidden_states_logits_and_the_cache() -> None:
    shape = Shape(layers=4, heads=8, kv_heads=2, head_dim=16, hidden=128, intermediate=256, vocab=1000,
                  element_size=2)
    batch, new, total = 1, 100, 150
    scores = batch * 8 * new * total * (2 * 2 + 4) + batch * new * total * 2
    hidden = batch * new * (4 * 128 + 2 * 256) * 2
    logits = batch * new * 1000 * (2 + 4)  # half-precision logits and their float32 copy
    cache = 2 * 4 * batch * 2 * 16 * total * 2
    assert estimate_forward_bytes(shape, batch, new, total, quadratic=True) == scores + hidden + logits + cache
    assert estimate_forward_bytes(shape, batch, new, total, quadratic=False) == hidden + logits + cache


def test_only_kernels_that_hold_the_score_matrix_count_it() -> None:
    assert memcheck.materialises_scores("eager")
    assert memcheck.materialises_scores(None)  # a custom module that does not say
    for kernel in ("sdpa", "flash_attention_2", "flex_attention"):
        assert not memcheck.materialises_scores(kernel)


def test_shapes_from_a_config_and_from_a_custom_modules_tree() -> None:
    demo = _context(None).adapter.memory_shape()
    assert (demo.layers, demo.heads, demo.kv_heads, demo.head_dim, demo.element_size) == (4, 8, 2, 16, 4)
    tiny = _context("tinymodels:honest").adapter.memory_shape()
    assert (tiny.layers, tiny.hidden, tiny.vocab, tiny.element_size) == (2, 32, 64, 4)
    assert tiny.heads >= 1 and tiny.kv_heads == tiny.heads


def test_the_demo_is_never_refused_on_a_small_machine() -> None:
    """The longest forwards any built-in suite asks of the demo model (its probes stop at its 2,048-token context
    window; the long suite's 131,072 tokens are shown with its own sdpa kernel as well) fit in a few GiB."""
    shape = _context(None).adapter.memory_shape()
    assert estimate_forward_bytes(shape, 2, 2_048, 2_048, quadratic=True) < 2 ** 30  # eager, batch 2
    assert estimate_forward_bytes(shape, 1, 131_072, 131_072, quadratic=False) < 2 * 2 ** 30


def test_available_memory_is_known_on_this_machine() -> None:
    import torch

    available = memcheck.available_bytes(torch.device("cpu"))
    assert available is None or available > 0
    assert memcheck.available_bytes(torch.device("meta")) is None


def test_a_forward_that_cannot_fit_is_an_error_and_is_not_run(monkeypatch) -> None:
    monkeypatch.setattr(memcheck, "available_bytes", lambda device: 1024)
    ctx = _context("hostile:counting")
    suite = Suite(name="t", description="", probes=[ProbeEntry("mask-leak"), ProbeEntry("kv-layout")], path=None)
    result = run_suite(suite, lambda: ctx, seed=0)
    assert [r["status"] for r in result.records] == ["error", "error"]
    reason = result.records[0]["reason"]
    assert reason.startswith("out of memory (estimated ") and "needed, 1.0 KiB available on cpu)" in reason
    assert "the forward was not run" in reason
    assert ctx.adapter.model.calls == 0  # refused before the model ran


def test_scaling_stops_where_the_memory_runs_out(monkeypatch) -> None:
    ctx = _context("tinymodels:honest")
    shape = ctx.adapter.memory_shape()
    fits = estimate_forward_bytes(shape, 1, 256, 256, quadratic=memcheck.materialises_scores(ctx.adapter.kernel))
    monkeypatch.setattr(memcheck, "available_bytes", lambda device: fits)
    suite = Suite(name="t", description="", probes=[ProbeEntry("scaling", {"max_tokens": 512})], path=None)
    (record,) = run_suite(suite, lambda: ctx, seed=0).records
    assert record["status"] in ("pass", "fail")  # a verdict on the lengths that fit, not an error
    assert [p["tokens"] for p in record["details"]["points"]] == [64, 128, 256]
    assert record["details"]["stopped"] == "out of memory at 512 tokens"


def test_the_error_names_both_sizes() -> None:
    error = InsufficientMemory(3 * 2 ** 30, 2 ** 29, "cuda:0", 131_072)
    assert str(error) == ("out of memory (estimated 3.0 GiB needed, 512.0 MiB available on cuda:0) for a forward "
                          "of 131,072 tokens; the forward was not run")
    assert isinstance(error, MemoryError)


@pytest.mark.parametrize("cached", [None, [], [(object(),)]])
def test_cached_tokens_of_unusual_caches_is_zero(cached) -> None:
    assert memcheck.cached_tokens(cached) == 0
