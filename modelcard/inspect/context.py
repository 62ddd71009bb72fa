"""`context_window`: the longest input the model accepts by its own definition."""

from __future__ import annotations

from modelcard.inspect.facts import NOT_APPLICABLE, NOT_MEASURED, Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "max_sequence_length",
                "max_target_positions")


@inspector("context_window")
def inspect_context(view: ModelView, facts: Facts) -> None:
    declared = view.get(*CONTEXT_KEYS)
    if declared is None and view.loaded is not None:
        declared = view.loaded.declared.get("context_window")
    scaling = ((facts.values.get("position") or {}).get("rope") or {}).get("scaling")
    original = None
    if scaling:
        original = scaling.get("original_context")
        factor = scaling.get("factor")
        # Released long-context configs usually fold the scaling into max_position_embeddings already;
        # scale only a config that still states the original length (vLLM scaled twice: PR #53634).
        if original and factor and declared == original:
            declared = int(original * factor)
    facts.values["context_window"] = {"declared": declared, "original": original, "effective": None}
    if declared is None:
        facts.null("/context_window/declared", "the config states no maximum length")
    if original is None:
        facts.null("/context_window/original", "no RoPE scaling: nothing was extended", NOT_APPLICABLE)
    facts.null("/context_window/effective", "no long-context retrieval probe ran", NOT_MEASURED)
