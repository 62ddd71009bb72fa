"""`architecture`: the class of network and its size."""

from __future__ import annotations

from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

SUB_CONFIG_MODALITIES = {"vision_config": "image", "audio_config": "audio", "speech_config": "audio"}


def architecture_class(view: ModelView) -> str | None:
    config = view.config
    if config is None:
        masking = (view.loaded.declared if view.loaded else {}).get("masking")
        return {"causal": "decoder-only", "bidirectional": "encoder-only"}.get(masking)
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    if any(getattr(config, key, None) is not None for key in SUB_CONFIG_MODALITIES):
        return "multimodal"
    if _is_causal(view):
        return "decoder-only"
    return "encoder-only"


def _is_causal(view: ModelView) -> bool:
    name = type(view.model).__name__
    if name.endswith(("ForCausalLM", "LMHeadModel")):
        return True
    return bool(getattr(view.text_config, "is_decoder", False))


@inspector("architecture")
def inspect_architecture(view: ModelView, facts: Facts) -> None:
    input_modalities = ["text"] + sorted(
        {modality for key, modality in SUB_CONFIG_MODALITIES.items() if getattr(view.config, key, None)}
    )
    arch_class = architecture_class(view)
    if arch_class is None:
        facts.null("/architecture/class", "a custom module without a declared masking; see the mask-leak probe")
    facts.values["architecture"] = {
        "class": arch_class,
        "num_layers": view.get("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
        "hidden_size": view.get("hidden_size", "n_embd", "d_model", "dim"),
        "vocab_size": view.get("vocab_size"),
        "modalities": {"input": input_modalities, "output": ["text"]},
    }
