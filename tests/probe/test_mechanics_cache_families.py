"""The mechanics probes on tiny random models with real weights, one per cache family: full attention with a
latent cache (DeepSeek-V3's MLA), sliding (Mistral, window 16), hybrid 5 sliding : 1 full (Gemma-3), chunked
(Llama-4 text, chunks of 16), linear attention beside full (Qwen3-Next) and state-space beside full
(GraniteMoeHybrid). Each is built from transformers' own config with tiny widths, saved with save_pretrained
and loaded as any checkpoint (the probes run the model itself, not a twin), with inputs longer than its
windows. An honest model passes every probe; a kernel that ignores the window it is given is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TINY = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 256, "max_position_embeddings": 512, "head_dim": 16}
WINDOW = 16
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {
    "mla": ("deepseek_v3", {"num_hidden_layers": 2, "num_key_value_heads": 4, "n_routed_experts": 4,
                            "num_experts_per_tok": 2, "moe_intermediate_size": 32, "first_k_dense_replace": 1,
                            "n_group": 1, "topk_group": 1, "q_lora_rank": 32, "kv_lora_rank": 16,
                            "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 16, "head_dim": 8}),
    "sliding": ("mistral", {"num_hidden_layers": 2, "sliding_window": WINDOW}),
    "hybrid-5-to-1": ("gemma3_text", {"num_hidden_layers": 6, "sliding_window": WINDOW, "sliding_window_pattern": 6}),
    "chunked": ("llama4_text", {"num_hidden_layers": 4, "attention_chunk_size": WINDOW, "num_local_experts": 2,
                                "intermediate_size_mlp": 128}),
    "linear-hybrid": ("qwen3_next", {"num_hidden_layers": 4, "num_experts": 4, "num_experts_per_tok": 2,
                                     "moe_intermediate_size": 32, "shared_expert_intermediate_size": 32,
                                     "linear_num_value_heads": 2, "linear_num_key_heads": 2,
                                     "linear_key_head_dim": 16, "linear_value_head_dim": 16}),
    "state-space-hybrid": ("granitemoehybrid", {"num_hidden_layers": 4, "layer_types": ["mamba", "attention"] * 2,
                                                "mamba_n_heads": 4, "mamba_d_head": 32, "mamba_d_state": 16,
                                                "mamba_n_groups": 1, "num_local_experts": 0,
                                                "shared_intermediate_size": 128, "position_embedding_type": "rope"}),
}
# What each family's attention layers are, in order ("linear" and "state-space" layers: reach only reported).
LAYERS = {
    "mla": [("full", None)] * 2,
    "sliding": [("sliding", WINDOW)] * 2,
    "hybrid-5-to-1": [("sliding", WINDOW)] * 5 + [("full", None)],
    "chunked": [("chunked", WINDOW)] * 3 + [("full", None)],
    "linear-hybrid": [("linear", None)] * 3 + [("full", None)],
    "state-space-hybrid": [("state-space", None), ("full", None)] * 2,
}
MECHANICS = ("mask-leak", "window-reach", "kv-layout", "cache-consistency", "kernel-agreement")
BY_KERNEL = "uniform attention through the model's kernel"


@pytest.fixture(scope="module")
def family_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every family saved once as a checkpoint with seeded random weights."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    folders = {}
    for name, (model_type, overrides) in FAMILIES.items():
        torch.manual_seed(0)
        config = AutoConfig.for_model(model_type, **{**TINY, **overrides})
        folder = tmp_path_factory.mktemp(name)
        AutoModelForCausalLM.from_config(config).save_pretrained(folder)
        folders[name] = str(folder)
    return folders


def _quick(probe_id: str) -> dict[str, Any]:
    from modelcard.probe.suite import resolve_suite

    return next((entry.params for entry in resolve_suite("quick").probes if entry.id == probe_id), {})


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("probe_id", MECHANICS)
def test_an_honest_model_of_every_family_passes(run_probe, family_folders, family: str, probe_id: str) -> None:
    outcome = run_probe(probe_id, family_folders[family], **_quick(probe_id))
    assert outcome.status == "pass", (outcome.reason, outcome.findings)
    assert not [f for f in outcome.findings if f["severity"] == "error"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_attention_layer_measures_what_it_declares(run_probe, family_folders, family: str) -> None:
    outcome = run_probe("window-reach", family_folders[family], **_quick("window-reach"))
    assert outcome.details["length"] > WINDOW
    rows = outcome.details["layers"]
    assert [tuple(row["declared"]) for row in rows] == LAYERS[family]
    for row in rows:
        if row["declared"][0] in ("full", "sliding", "chunked"):
            assert row["method"] == BY_KERNEL and row["measured"] == row["declared"], row
    assert outcome.findings == []


def test_windowed_caches_hold_one_token_less_than_the_window(run_probe, family_folders) -> None:
    for family in ("sliding", "hybrid-5-to-1", "chunked"):
        outcome = run_probe("kv-layout", family_folders[family], **_quick("kv-layout"))
        caps = [row["max_tokens"] for row in outcome.details["layers"]]
        assert caps == [None if kind == "full" else WINDOW - 1 for kind, _ in LAYERS[family]], family


def _ignores_the_window(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """transformers' sdpa, but plain causal: the sliding mask and window it is given are dropped."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    kwargs.pop("sliding_window", None)
    return sdpa_attention_forward(module, query, key, value, None, **{**kwargs, "is_causal": True})


@pytest.mark.parametrize("family", ["sliding", "hybrid-5-to-1", "chunked"])
def test_a_kernel_that_ignores_the_window_is_an_error(run_probe, family_folders, family: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from transformers.modeling_utils import AttentionInterface

    monkeypatch.setitem(AttentionInterface._global_mapping, "sdpa", _ignores_the_window)
    outcome = run_probe("window-reach", family_folders[family], attn_implementation=None, **_quick("window-reach"))
    assert outcome.status == "fail"
    windowed = [i for i, (kind, _) in enumerate(LAYERS[family]) if kind != "full"]
    errors = [f for f in outcome.findings if f["severity"] == "error"]
    assert [f["pointer"] for f in errors] == [f"/attention/layers/{i}/window" for i in windowed]
    assert all("but sees the whole" in f["message"] for f in errors)


def test_the_probes_run_the_saved_model_itself(context, family_folders) -> None:
    for folder in family_folders.values():
        assert (Path(folder) / "model.safetensors").is_file()
        assert context(folder).adapter.twin is False
