"""`model`: identity, size and provenance of the model being documented."""

from __future__ import annotations

from modelcard.inspect.facts import NOT_APPLICABLE, Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView


def parameter_count(model) -> int:
    """Exact, also on the meta device; tied weights count once."""
    seen: set[int] = set()
    total = 0
    for parameter in model.parameters():
        if id(parameter) not in seen:
            seen.add(id(parameter))
            total += parameter.numel()
    return total


def dtype_name(dtype) -> str:
    return str(dtype).removeprefix("torch.")


def model_dtype(view: ModelView) -> str:
    loaded = view.loaded
    if loaded is not None and loaded.has_weights:
        for parameter in view.model.parameters():
            if parameter.is_floating_point():
                return dtype_name(parameter.dtype)
    declared = view.get("dtype", config=view.config) if view.config is not None else None
    return dtype_name(declared) if declared is not None else "float32"


@inspector("model")
def inspect_model_identity(view: ModelView, facts: Facts) -> None:
    import torch
    import transformers

    loaded = view.loaded
    config = view.config
    facts.values["model"] = {
        "id": loaded.model_id,
        "source": loaded.source,
        "model_type": getattr(config, "model_type", None),
        "class_name": type(view.model).__name__,
        "parameters": parameter_count(view.model),
        "dtype": model_dtype(view),
        "revision": loaded.revision,
        "config_sha256": loaded.config_sha256,
        "weights": loaded.has_weights,
        "library": {"transformers": transformers.__version__, "torch": torch.__version__.split("+")[0]},
    }
    if config is None:
        facts.null("/model/model_type", "a custom nn.Module has no transformers config", NOT_APPLICABLE)
        facts.null("/model/config_sha256", "a custom nn.Module has no config file", NOT_APPLICABLE)
    elif loaded.config_sha256 is None:
        facts.null("/model/config_sha256", "the config was not read from a file")
    if loaded.revision is None:
        facts.null("/model/revision", "not a Hub model: no revision", NOT_APPLICABLE)
