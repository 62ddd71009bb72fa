"""Bounded memory (issue 13, item 4): before a long-context cell runs, its peak is estimated from the record
(weights + KV cache at that length + activations for the kernel); a length that cannot fit is skipped with the
estimate in its reason, and a length that ran has its estimate beside the measured peak."""

from __future__ import annotations

from modelcard.probe import budget
from modelcard.probe.shared import bytes_at


def test_the_estimate_is_weights_plus_the_records_kv_cache_plus_activations(context) -> None:
    ctx = context(None)  # the trained demo
    estimate = budget.estimate_peak(ctx, 2048, chunk=512)
    assert estimate.weights == sum(p.numel() * p.element_size() for p in ctx.adapter.model.parameters()) + sum(
        b.numel() * b.element_size() for b in ctx.adapter.model.buffers())
    assert estimate.kv_source == "record"
    assert estimate.kv_cache == bytes_at(ctx.facts["kv_cache"]["layers"], 2048) == 2048 * 1024
    assert estimate.activations > 0
    assert estimate.total == estimate.weights + estimate.kv_cache + estimate.activations
    longer = budget.estimate_peak(ctx, 4096, chunk=512)
    assert longer.kv_cache == 2 * estimate.kv_cache
    # sdpa holds no score matrix, only its mask: 512 new tokens by 2,048 more keys, 4 bytes each
    assert longer.activations - estimate.activations == 512 * 2048 * 4


def test_a_length_that_cannot_fit_is_skipped_with_the_estimate_and_the_rest_ran_beside_its_peak(
        run_probe, monkeypatch) -> None:
    real = budget.free_bytes

    def tight(adapter):  # room for 512 tokens of this demo, not for 1,024
        free, where = real(adapter)
        return 5_000_000, where

    monkeypatch.setattr(budget, "free_bytes", tight)
    outcome = run_probe("passkey-grid", None, lengths=[256, 512, 1024], depths=[0.0, 1.0], samples=1)
    assert outcome.details["lengths"] == [256, 512]
    (skip,) = outcome.details["skipped_lengths"]
    assert skip["length"] == 1024
    assert skip["reason"].startswith("more than the device holds: estimated peak ")
    assert "(weights " in skip["reason"] and "KV cache at 1,024 tokens 1.0 MiB" in skip["reason"]
    assert "+ 4.8 MiB free)" in skip["reason"]
    assert skip["estimate"]["kv_cache"] == 1024 * 1024
    rows = outcome.details["memory"]
    assert [row["length"] for row in rows] == [256, 512]
    for row in rows:
        assert row["estimated_peak"] == row["estimate"]["total"] > 0
        assert row["measured_peak"] > row["estimate"]["weights"]  # measured while the cell ran, weights included
        assert row["measured_over_estimate"] == round(row["measured_peak"] / row["estimated_peak"], 3)
        assert row["cells"] == 2  # one per depth; the largest peak of the two
