"""`context_window`: the longest input the model accepts by its own definition, and before RoPE scaling."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.architecture import main_stack
from modelcard.inspect.configs import as_int, read
from modelcard.inspect.facts import NOT_APPLICABLE, NOT_MEASURED, Facts
from modelcard.inspect.position import LEARNED_NAMES
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length",
                "max_target_positions", "n_ctx", "max_seq_length", "model_max_length")
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


def stated_length(facts: Facts, view: ModelView) -> Any:
    stacks = facts.scratch["stacks"]
    config = main_stack(stacks).config if stacks else view.text_config
    value = as_int(read(config, *CONTEXT_KEYS))
    return value if value and value > 0 else None  # XLNet states -1: no limit


@inspector("context_window")
def inspect_context(view: ModelView, facts: Facts) -> None:
    position = facts.values.get("position") or {}
    declared = stated_length(facts, view)
    if declared is None and view.loaded is not None:
        declared = as_int(view.loaded.declared.get("context_window"))
    scaling = (position.get("rope") or {}).get("scaling")
    original = None
    if scaling:
        original = as_int(scaling.get("original_context"))
        factor = scaling.get("factor")
        # Released long-context configs usually fold the scaling into max_position_embeddings already;
        # scale only a config that still states the original length (vLLM scaled twice: PR #53634).
        if original and factor and declared == original:
            declared = int(original * factor)
    stacks = facts.scratch["stacks"]
    if declared and position.get("kind") == "learned-absolute" and stacks:
        declared -= padding_offset(view, main_stack(stacks).module or view.model)
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
        facts.null("/context_window/original", "no RoPE scaling: nothing was extended", NOT_APPLICABLE)
    facts.null("/context_window/effective", "no long-context retrieval probe ran", NOT_MEASURED)
