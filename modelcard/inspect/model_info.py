"""`model`: identity, size and provenance of the model being documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    facts.values["model"].update(file_identity(loaded))
    if facts.values["model"]["dtype"] is None:
        facts.null("/model/dtype", "the config declares no dtype (neither dtype nor torch_dtype) and no weights "
                                   "were loaded", UNKNOWN)
    if config is None:
        facts.null("/model/model_type", "a custom nn.Module has no transformers config", NOT_APPLICABLE)
        facts.null("/model/config_sha256", "a custom nn.Module has no config file", NOT_APPLICABLE)
    elif loaded.config_sha256 is None:
        facts.null("/model/config_sha256", "the config was derived from the GGUF file's metadata, not read from a "
                                           "config.json" if loaded.gguf else "the config was not read from a file")
    if loaded.revision is None:
        facts.null("/model/revision", "not a Hub model: no revision", NOT_APPLICABLE)


def file_identity(loaded: Any) -> dict[str, Any]:
    """The model's files with their SHA-256 (weights, tokenizer and templates), one digest of all its weights
    (the authenticity hash documentation forms ask for) and its chat template's digest; empty for a model that
    was not read from local files (a module factory).

    Args:
        loaded: the LoadedModel.

    Returns:
        {"files", "weights_sha256", "chat_template_sha256"}, or {}.
    """
    import hashlib
    import json

    from modelcard.inspect.gguf import chat_template_sha256
    from modelcard.load.digests import TOKENIZER_FILES, chat_template_digest, file_sha256
    from modelcard.load.weights import WEIGHT_SUFFIXES

    if loaded.gguf:
        weights = [header.path for header in loaded.gguf]
        tokenizer: list[Path] = []
        template_sha = chat_template_sha256(loaded.gguf[0].metadata.get("tokenizer.chat_template"))
    elif loaded.path is not None and Path(loaded.path).is_dir():
        folder = Path(loaded.path)
        weights = sorted(p for p in folder.iterdir() if p.name.endswith(WEIGHT_SUFFIXES) and p.is_file())
        tokenizer = [folder / name for name in TOKENIZER_FILES if (folder / name).is_file()]
        template_sha = chat_template_digest(folder)
    else:
        return {}
    files = [{"name": path.name, "role": role, "bytes": path.stat().st_size, "sha256": file_sha256(path)}
             for role, paths in (("weights", weights), ("tokenizer", tokenizer)) for path in paths]
    digests = {entry["name"]: entry["sha256"] for entry in files if entry["role"] == "weights"}
    return {"files": files,
            "weights_sha256": hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()
            if digests else None,
            "chat_template_sha256": template_sha}
