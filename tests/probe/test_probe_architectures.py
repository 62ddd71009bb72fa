"""Probes on transformers' default configs of architectures that once broke them: a twin that cannot be built or
run gives per-probe errors with the reason, a probe that does not apply is skipped with the reason, and the
twin keeps every width that the architecture ties to another consistent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelcard.probe.outcome import NotApplicable


def _suite(folder: Path, probes: list) -> Path:
    import yaml

    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "test", "probes": probes}), encoding="utf-8")
    return path


def _twin_logits(model_type: str, **overrides: object) -> tuple:
    import torch
    from transformers import AutoConfig

    from modelcard.probe.twin import build_twin

    twin = build_twin(AutoConfig.for_model(model_type, **overrides))
    with torch.no_grad():
        return twin, twin.model(torch.randint(0, 256, (1, 8)), use_cache=False).logits


def test_context_that_fails_with_any_exception_gives_error_records_not_a_crash() -> None:
    """Transformers' config validators raise huggingface_hub's StrictDataclassClassValidationError, which is no
    ValueError: preparing the model must turn any exception into per-probe errors (bad input still raises)."""
    from modelcard.base.errors import BadInput
    from modelcard.probe.runner import run_suite
    from modelcard.probe.suite import ProbeEntry, Suite

    class Unforeseen(Exception):
        pass

    def fails() -> None:
        raise Unforeseen("hidden_size * expand must equal num_heads * head_dim")

    suite = Suite("test", "", [ProbeEntry("mask-leak"), ProbeEntry("kv-layout")], None)
    result = run_suite(suite, fails, seed=0)
    assert [r["status"] for r in result.records] == ["error", "error"]
    assert result.records[0]["reason"] == ("could not prepare the model: Unforeseen: hidden_size * expand must "
                                           "equal num_heads * head_dim")

    def bad_input() -> None:
        raise BadInput("model", "unknown model type")

    with pytest.raises(BadInput):
        run_suite(suite, bad_input, seed=0)


@pytest.mark.parametrize("model_type", ["mamba2", "bamba", "falcon_h1", "zamba2"])
def test_mamba2_twins_keep_heads_times_head_width_equal_to_expand_times_hidden(model_type: str) -> None:
    twin, logits = _twin_logits(model_type)
    assert logits.shape == (1, 8, 256)
    assert sum(p.numel() for p in twin.model.parameters()) < 1_000_000


def test_whisper_twin_keeps_the_decoder_heads_dividing_d_model() -> None:
    from transformers import AutoConfig

    from modelcard.probe.twin import build_twin

    twin = build_twin(AutoConfig.for_model("whisper"))
    assert twin.config.d_model % twin.config.decoder_attention_heads == 0


def test_aliased_keys_shrink_and_map_every_layer(run_probe, config_only) -> None:
    """GPT-2 stores n_layer / n_head / n_embd: the layer map must cover all 12 documented layers."""
    from transformers import AutoConfig

    from modelcard.probe.twin import twin_config

    tiny, kept, layer_map = twin_config(AutoConfig.for_model("gpt2"))
    assert (tiny.n_layer, tiny.n_embd, kept, len(layer_map)) == (2, 32, [0, 1], 12)
    outcome = run_probe("window-reach", config_only("gpt2"))
    assert outcome.status == "pass", outcome.details
    assert len(outcome.details["layers"]) == 12


def test_minimax_lightning_states_are_read_from_its_linear_cache(run_probe, config_only) -> None:
    outcome = run_probe("kv-layout", config_only("minimax"))
    assert outcome.status == "pass", outcome.details
    full, linear = outcome.details["layers"]
    assert (full["kind"], linear["kind"], linear["class"]) == ("full", "state", "MiniMaxCache.linear_cache")
    assert linear["state_bytes"] > 0 and full["bytes_per_token"] > 0
    assert outcome.derived["/kv_cache/layers/31/kind"] == "state"  # the twin's linear layer stands for layer 31


def test_a_cache_without_attention_layers_is_an_explained_error(run_probe, config_only) -> None:
    """transformers 5.24's own cached forward of an all-Mamba GraniteMoeHybrid asks the cache for a token count
    that only attention layers keep; with one attention layer the same model reads back fine."""
    with pytest.raises(ValueError, match="none of its layers is an attention layer"):
        run_probe("kv-layout", config_only("all-mamba"))
    outcome = run_probe("kv-layout", config_only("mamba-attention"))
    assert outcome.status == "pass", outcome.details
    assert [row["kind"] for row in outcome.details["layers"]] == ["state", "full"]


def test_encoder_decoder_skips_the_decoder_only_probes(run_cli, tmp_path: Path, config_only) -> None:
    result = run_cli("probe", config_only("t5"), "--suite", "quick", "-o", tmp_path / "out", "--format", "json")
    assert result.code == 0, result.err
    records = {p["id"]: p for p in json.loads(result.out)["probes"]}
    assert {p["status"] for p in records.values()} == {"skipped"}
    for probe_id in ("window-reach", "kv-layout", "cache-consistency", "kernel-agreement", "scaling"):
        assert records[probe_id]["reason"].startswith("an encoder-decoder model"), records[probe_id]


def test_encoder_only_has_no_cache_to_probe(run_cli, tmp_path: Path, config_only) -> None:
    suite = _suite(tmp_path, ["kv-layout", "cache-consistency", "window-reach"])
    result = run_cli("probe", config_only("bert"), "--suite", suite, "-o", tmp_path / "out", "--format", "json")
    assert result.code == 0, result.err
    records = json.loads(result.out)["probes"]
    assert [p["status"] for p in records] == ["skipped", "skipped", "pass"]
    assert records[0]["reason"].startswith("an encoder-only model keeps no KV cache")


def test_not_applicable_is_not_caught_as_an_unavailable_kernel() -> None:
    assert not isinstance(NotApplicable("x"), (ValueError, RuntimeError, ImportError, NotImplementedError))


def test_a_window_longer_than_the_context_is_untested_not_contradicted(run_probe, config_only) -> None:
    """EXAONE 4's default config: sliding_window 4096, max_position_embeddings 2048. Within the inputs the model
    accepts, a 4096 window sees everything (inspection may call those layers full or sliding); the runtime still
    builds sliding cache layers. No probe runs to the window, and none contradicts it."""
    reach = run_probe("window-reach", config_only("exaone4"))
    assert reach.status == "pass", reach.details
    assert reach.details["length"] < 2048  # the window that cannot bind does not set the length
    assert not [f for f in reach.findings if f["severity"] == "error"]
    beyond = reach.details.get("windows_beyond_input", {}).get("windows") or [
        item["value"] for item in reach.details["ignored_window_keys_untested"] if "cannot bind" in item["reason"]]
    assert beyond == [4096]
    layout = run_probe("kv-layout", config_only("exaone4"))
    assert layout.status == "pass", layout.details
    assert layout.details["layers"][0]["class"] == "DynamicSlidingWindowLayer"
    assert layout.details["layers"][0]["max_tokens"] is None  # no cap within the lengths the model accepts


def test_moe_config_that_routes_to_none_experts_is_an_explained_error(run_cli, tmp_path: Path, config_only) -> None:
    """DeepSeek-V2's default config has num_experts_per_tok None: no model of it can run, twin or full size."""
    from transformers import AutoConfig

    from modelcard.probe.twin import twin_config

    suite = _suite(tmp_path, ["mask-leak"])
    result = run_cli("probe", config_only("deepseek_v2"), "--suite", suite, "-o", tmp_path / "out",
                     "--format", "json")
    assert result.code == 1, result.err
    record = json.loads(result.out)["probes"][0]
    assert record["status"] == "error"
    assert "num_experts_per_tok=None" in record["reason"] and "at any size" in record["reason"]
    tiny, _, _ = twin_config(AutoConfig.for_model("deepseek_v2", num_experts_per_tok=6))
    assert tiny.num_experts_per_tok == 2
