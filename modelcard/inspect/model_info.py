"""`model`: identity, size and provenance of the model being documented."""

from __future__ import annotations

from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView
from modelcard.record.vocabulary import NOT_APPLICABLE, UNKNOWN


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


def model_dtype(view: ModelView) -> str | None:
    """The weights' dtype; without weights, the dtype the config declares (`dtype`, or the older `torch_dtype`
    that transformers folds into it), in the config or its text config; None when nothing says. A custom
    module's parameters carry the dtype its author built them with, on the meta device too."""
    loaded = view.loaded
    if loaded is not None and (loaded.has_weights or view.config is None):
        for parameter in view.model.parameters():
            if parameter.is_floating_point():
                return dtype_name(parameter.dtype)
    if view.config is None:
        return "float32"  # a custom module without floating-point parameters: torch's default
    for config in (view.config, view.text_config):
        declared = view.get("dtype", config=config)
        if declared is not None and dtype_name(declared) != "auto":
            return dtype_name(declared)
    return None


@inspector("model")
def inspect_model_identity(view: ModelView, facts: Facts) -> None:
    import torch
    import transformers

    loaded = view.loaded
    assert loaded is not None, "inspect_loaded always gives the view its LoadedModel"
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
    if facts.values["model"]["dtype"] is None:
        facts.null("/model/dtype", "the config declares no dtype (neither dtype nor torch_dtype) and no weights "
                                   "were loaded", UNKNOWN)
    if config is None:
        facts.null("/model/model_type", "a custom nn.Module has no transformers config", NOT_APPLICABLE)
        facts.null("/model/config_sha256", "a custom nn.Module has no config file", NOT_APPLICABLE)
    elif loaded.config_sha256 is None:
        facts.null("/model/config_sha256", "the config was not read from a file")
    if loaded.revision is None:
        facts.null("/model/revision", "not a Hub model: no revision", NOT_APPLICABLE)
