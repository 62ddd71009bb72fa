"""Fixtures for the probe tests: tiny custom modules (honest and with planted bugs), config-only models of the
architectures with windows, and a helper that runs one probe on a model spec."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # for `tinymodels:<factory>` specs
    sys.path.append(str(HERE))


@pytest.fixture(scope="session")
def tiny_module_path() -> Path:
    return HERE


def write_config(folder: Path, model_type: str, architecture: str, **overrides: Any) -> Path:
    """A config-only model folder: config.json from transformers' defaults for `model_type`, plus overrides."""
    from transformers import AutoConfig

    config = AutoConfig.for_model(model_type, architectures=[architecture], **overrides)
    folder.mkdir(parents=True, exist_ok=True)
    data = config.to_dict()
    (folder / "config.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return folder


# Real window sizes; widths do not matter because the probes run on a twin.
CONFIG_ONLY = {
    "sliding": ("mistral", "MistralForCausalLM", {"sliding_window": 4096}),
    "alternating": ("gemma2", "Gemma2ForCausalLM", {"sliding_window": 4096}),
    "chunked": ("llama4_text", "Llama4ForCausalLM", {"attention_chunk_size": 8192}),
    "hybrid": ("qwen3_next", "Qwen3NextForCausalLM", {}),
    "ignored-window": ("llama", "LlamaForCausalLM", {"sliding_window": 4096, "max_position_embeddings": 8192}),
    # transformers' default configs that once broke the probes (tests/probe/test_probe_architectures.py)
    "gpt2": ("gpt2", "GPT2LMHeadModel", {}),
    "minimax": ("minimax", "MiniMaxForCausalLM", {}),
    "all-mamba": ("granitemoehybrid", "GraniteMoeHybridForCausalLM", {}),
    "mamba-attention": ("granitemoehybrid", "GraniteMoeHybridForCausalLM",
                        {"num_hidden_layers": 4, "layer_types": ["linear_attention", "attention"] * 2}),
    "t5": ("t5", "T5ForConditionalGeneration", {}),
    "bert": ("bert", "BertForMaskedLM", {}),
    "exaone4": ("exaone4", "Exaone4ForCausalLM", {}),  # sliding_window 4096 over a 2048-token context
    "deepseek_v2": ("deepseek_v2", "DeepseekV2ForCausalLM", {}),  # num_experts_per_tok None
}


@pytest.fixture(scope="session")
def config_only(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    made: dict[str, str] = {}

    def make(name: str) -> str:
        if name not in made:
            model_type, architecture, overrides = CONFIG_ONLY[name]
            made[name] = str(write_config(tmp_path_factory.mktemp(name), model_type, architecture, **overrides))
        return made[name]

    return make


_CONTEXTS: dict[tuple[str | None, int, str | None], Any] = {}


def probe_context(spec: str | None, seed: int = 0, attn_implementation: str | None = None) -> Any:
    """Load, inspect and prepare a model once per test session (the twin of a config-only one)."""
    key = (spec, seed, attn_implementation)
    if key not in _CONTEXTS:
        from modelcard.inspect import inspect_loaded
        from modelcard.load.loader import LoadOptions, load_model
        from modelcard.probe.context import build_context

        loaded = load_model(spec, LoadOptions(attn_implementation=attn_implementation))
        _CONTEXTS[key] = build_context(loaded, inspect_loaded(loaded), seed, attn_implementation)
    return _CONTEXTS[key]


@pytest.fixture
def run_probe() -> Callable[..., Any]:
    """run_probe(probe_id, spec, **params) -> Outcome."""
    from modelcard.probe.registry import get_probe

    def run(probe_id: str, spec: str | None, attn_implementation: str | None = None, **params: Any) -> Any:
        ctx = probe_context(spec, attn_implementation=attn_implementation)
        probe = get_probe(probe_id)
        return probe.run(ctx, **probe.params(params, "test"))

    return run


@pytest.fixture
def context() -> Callable[..., Any]:
    """context(spec, seed=0, attn_implementation=None) -> the session's ProbeContext of that model."""
    return probe_context


@pytest.fixture(scope="session")
def config_folder() -> Callable[..., Path]:
    """config_folder(folder, model_type, architecture, **overrides) -> a config-only model folder."""
    return write_config
