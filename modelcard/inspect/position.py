"""`position`: how the model encodes token positions, and RoPE scaling."""

from __future__ import annotations

from typing import Any

from modelcard.inspect.facts import NOT_APPLICABLE, Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView


def rope_parameters(view: ModelView) -> dict[str, Any] | None:
    """transformers 5 folds `rope_scaling` and `rope_theta` into `rope_parameters`, which may be keyed by
    layer type; the full-attention entry describes the model's long-range positions."""
    params = view.get("rope_parameters")
    if not params:
        legacy = view.get("rope_scaling") or {}
        theta = view.get("rope_theta")
        if theta is None and not legacy:
            return None
        params = {**legacy, "rope_theta": theta}
    if isinstance(params, dict) and params and all(isinstance(v, dict) for v in params.values()):
        params = params.get("full_attention") or next(iter(params.values()))
    return dict(params)


def rope_scaling(params: dict[str, Any], view: ModelView) -> dict[str, Any] | None:
    rope_type = params.get("rope_type") or params.get("type") or "default"
    if rope_type == "default":
        return None
    original = params.get("original_max_position_embeddings") or view.get("original_max_position_embeddings")
    return {"type": rope_type, "factor": params.get("factor"), "original_context": original}


def uses_rope(view: ModelView) -> bool:
    names = {type(module).__name__ for module in view.model.modules()}
    return any("Rotary" in name for name in names) or view.code_reads("apply_rotary_pos_emb")


@inspector("position")
def inspect_position(view: ModelView, facts: Facts) -> None:
    params = rope_parameters(view)
    if params is not None and uses_rope(view):
        partial = view.get("partial_rotary_factor", default=params.get("partial_rotary_factor", 1.0))
        rope = {"theta": params.get("rope_theta"), "partial_rotary_factor": partial,
                "scaling": rope_scaling(params, view)}
        if rope["scaling"] is None:
            facts.null("/position/rope/scaling", "no RoPE scaling", NOT_APPLICABLE)
        no_rope = view.get("no_rope_layers")
        nope = [index for index, flag in enumerate(no_rope) if not flag] if no_rope else []
        facts.values["position"] = {"kind": "rope", "rope": rope, "nope_layers": nope}
        return
    facts.values["position"] = {"kind": "none", "rope": None, "nope_layers": []}
    facts.null("/position/rope", "the model does not use RoPE", NOT_APPLICABLE)
