"""`context_window`: the longest input the model accepts by its own definition, and before RoPE scaling."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.configs import as_int, read
from modelcard.inspect.facts import Facts
from modelcard.inspect.lengths import CONTEXT_KEYS, scaled_length, stated_length
from modelcard.inspect.position import LEARNED_NAMES
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView
from modelcard.record.vocabulary import NOT_APPLICABLE, NOT_MEASURED

UNBOUNDED = {
    "relative-bias": "relative position buckets set no architectural limit on the input length",
    "alibi": "ALiBi biases set no architectural limit on the input length",
    "none": "no position encoding: the architecture sets no limit on the input length",
}


def padding_offset(view: ModelView, module: Any) -> int:
    """Learned positions that start after the padding index (RoBERTa: 514 rows, 512 usable)."""
    import torch

    for name, child in module.named_modules():
        if name.rsplit(".", 1)[-1] in LEARNED_NAMES and isinstance(child, torch.nn.Embedding):
            if child.padding_idx is not None and child.num_embeddings == read(view.text_config, *CONTEXT_KEYS):
                return child.padding_idx + 1
            return 0
    return 0


@inspector("context_window")
def inspect_context(view: ModelView, facts: Facts) -> None:
    position = facts.values.get("position") or {}
    main = facts.structure.main
    declared = stated_length(main.config if main else view.text_config)
    if declared is None and view.loaded is not None:
        declared = as_int(view.loaded.declared.get("context_window"))
    scaling = (position.get("rope") or {}).get("scaling")
    original = as_int(scaling.get("original_context")) if scaling else None
    declared = scaled_length(declared, scaling)
    if declared and main is not None and (position.get("stacks") or {}).get(main.name, position.get("kind")) == \
            "learned-absolute":
        declared -= padding_offset(view, main.module or view.model)
    facts.values["context_window"] = {"declared": declared, "original": original, "effective": None}
    if declared is None:
        kind = position.get("kind")
        kinds = {layer["kind"] for layer in facts.values["attention"]["layers"]}
        if kinds and kinds <= {"state-space", "linear"}:
            facts.null("/context_window/declared", "a recurrent (state-space / linear) model has no architectural "
                                                   "limit on the input length", NOT_APPLICABLE)
        elif kinds and "full" not in kinds and kinds <= {"state-space", "linear", "sliding", "chunked"}:
            facts.null("/context_window/declared", "every attention layer is local (sliding or chunked) and the "
                                                   "others recurrent: no architectural limit", NOT_APPLICABLE)
        elif kind in UNBOUNDED:
            facts.null("/context_window/declared", UNBOUNDED[kind], NOT_APPLICABLE)
        else:
            facts.null("/context_window/declared", "the config states no maximum length")
    if original is None and scaling:
        facts.null("/context_window/original", f"{scaling['type']} RoPE scaling states no original length")
    elif original is None:
        facts.null("/context_window/original", "no RoPE scaling, so nothing was extended", NOT_APPLICABLE)
    facts.null("/context_window/effective", "no long-context retrieval probe ran", NOT_MEASURED)
