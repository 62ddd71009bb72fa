"""Prefix sharing on every cache family, on tiny random transformers models saved to folders
(tests/probe/cache_families.py): the shared scores equal one forward per sequence, each family is put back by
the way that restores it (crop where every layer keeps each position, copies for sliding, chunked, hybrid and
recurrent caches), every cell is checked against its own full forward, and planted broken caches are caught."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch
from cache_families import FAMILIES, save_family

from modelcard.probe.adapter import ModelAdapter
from modelcard.probe.prefix_scoring import PrefixScorer, SharingMismatch
from modelcard.probe.retrieval import Prompt

CROPPED = {"full", "mla"}  # every layer keeps each position it is fed


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cache-families")
    return {name: save_family(name, root / name) for name in FAMILIES}


def adapter_of(folder: Path) -> ModelAdapter:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return ModelAdapter(model=model, config=model.config)


def branching_prompts(seed: int = 1) -> list[Prompt]:
    """Prompts that share 20, 40 and 55 leading tokens (past every family's window of 8 or 16) and then part."""
    rng = random.Random(seed)
    base = [rng.randrange(3, 259) for _ in range(60)]
    prompts = []
    for cut in (20, 40, 55):
        for _ in range(2):
            tail = [rng.randrange(3, 259) for _ in range(5)]
            prompts.append(Prompt(base[:cut] + tail, {"a": [rng.randrange(3, 259) for _ in range(3)], "b": [7, 8]}))
    return prompts


def assert_same_scores(one: list[dict[str, Any]], two: list[dict[str, Any]], tolerance: float) -> None:
    for a, b in zip(one, two, strict=True):
        for name in a:
            assert a[name].predicted == b[name].predicted
            assert abs(a[name].logprob - b[name].logprob) <= 3 * tolerance  # summed over up to 3 answer tokens


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_shared_scores_equal_unshared_ones_on_every_cache_family(folders: dict[str, Path], family: str) -> None:
    adapter = adapter_of(folders[family])
    prompts = branching_prompts()
    shared = PrefixScorer(adapter, share=True, chunk=16)
    alone = PrefixScorer(adapter, share=False, verify=False)
    one, two = shared.score(prompts), alone.score(prompts)
    check = shared.stats.verification
    assert check["checked"] and check["restorations"] >= 1
    assert check["max_abs_logprob_difference"] <= check["tolerance"] and check["argmax_agreement"] == 1.0
    assert "eps(float32)" in check["tolerance_source"]
    assert_same_scores(one, two, check["tolerance"])
    assert shared.stats.tokens < 0.3 * alone.stats.tokens
    if family in CROPPED:
        assert shared.stats.sharing == "crop" and shared.stats.cache_copies == 0
    else:
        assert shared.stats.sharing == "copy" and shared.stats.cache_copies > 0
        assert "crop cannot bring back" in shared.stats.sharing_reason


def test_transformers_marks_sliding_layers_croppable_but_their_crop_raises(folders: dict[str, Path]) -> None:
    """The bug this scorer avoids: the flag says croppable, the behaviour is a RuntimeError past the window."""
    adapter = adapter_of(folders["sliding"])
    _, cache = adapter.step(torch.tensor([list(range(3, 43))]))
    assert cache.is_croppable
    with pytest.raises(RuntimeError, match="does not track past states"):
        cache.crop(-5)


def test_a_crop_that_drops_the_wrong_positions_is_refused_and_copies_take_over(
        folders: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.cache_utils import DynamicLayer

    def crop_from_the_front(self: Any, tokens_to_remove: int) -> None:  # the planted bug
        if tokens_to_remove < 0 and self.is_initialized:
            self.keys, self.values = self.keys[..., -tokens_to_remove:, :], self.values[..., -tokens_to_remove:, :]

    adapter = adapter_of(folders["full"])
    prompts = branching_prompts()
    honest = PrefixScorer(adapter, share=False, verify=False).score(prompts)
    monkeypatch.setattr(DynamicLayer, "crop", crop_from_the_front)
    scorer = PrefixScorer(adapter, share=True, chunk=16)
    scores = scorer.score(prompts)
    assert scorer.stats.sharing == "copy+crop" and "did not restore the cache" in scorer.stats.sharing_reason
    assert_same_scores(scores, honest, scorer.stats.verification["tolerance"])


def corrupt_the_cached_values(monkeypatch: pytest.MonkeyPatch, layer: str = "DynamicSlidingWindowLayer") -> None:
    """Plant a cache layer that zeroes the values it holds each time it is extended (a silent corruption)."""
    from transformers import cache_utils

    kind = getattr(cache_utils, layer)
    honest_update = kind.update

    def update(self: Any, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
        if self.is_initialized and self.values.numel():
            self.values = torch.zeros_like(self.values)
        return honest_update(self, key_states, value_states, *args, **kwargs)

    monkeypatch.setattr(kind, "update", update)


def test_a_silently_corrupted_sliding_cache_is_an_error(folders: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = adapter_of(folders["sliding"])
    corrupt_the_cached_values(monkeypatch)
    with pytest.raises(SharingMismatch) as error:
        PrefixScorer(adapter, share=True, chunk=16).score(branching_prompts())
    assert "tolerance" in str(error.value) and "eps(float32)" in str(error.value)


@pytest.mark.parametrize("family", ["sliding", "hybrid"])
def test_passkey_grid_runs_on_windowed_models_and_records_its_check(folders: dict[str, Path], family: str,
                                                                    run_probe: Any) -> None:
    """The probe that errored on every sliding and hybrid model: it runs, copies the cache, and every cell's
    check against a full forward is in the record."""
    outcome = run_probe("passkey-grid", str(folders[family]), lengths=[256], depths=[0.5, 1.0], samples=2)
    assert outcome.status in ("pass", "fail"), outcome.reason
    compute = outcome.details["compute"]
    assert compute["sharing"] == "copy" and compute["sharing_reasons"]
    check = compute["verification"]
    assert check["cells_checked"] == 2 and check["worst_over_tolerance"] <= 1
    assert [cell["length"] for cell in check["cells"]] == [256, 256]


def test_the_probe_ends_in_error_on_a_corrupted_cache(folders: dict[str, Path], run_probe: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Full attention, so the answer sees the corrupted positions (on a window of 16 over 2 layers it would not,
    and its scores would rightly stand)."""
    corrupt_the_cached_values(monkeypatch, "DynamicLayer")
    with pytest.raises(SharingMismatch, match="disagree with a full forward"):
        run_probe("passkey-grid", str(folders["full"]), lengths=[256], depths=[0.5], samples=2)
