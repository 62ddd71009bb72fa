"""`position`: how the model encodes token positions, per stack; RoPE and its scaling; NoPE layers."""

from __future__ import annotations

import re
from typing import Any

from modelcard.inspect.configs import as_int, read
from modelcard.inspect.facts import Facts
from modelcard.inspect.heads import self_attention
from modelcard.inspect.modules import forward_source
from modelcard.inspect.registry import inspector
from modelcard.inspect.stacks import Stack
from modelcard.inspect.state import main_stack
from modelcard.inspect.view import ModelView
from modelcard.record.vocabulary import NOT_APPLICABLE

LEARNED_NAMES = ("position_embeddings", "wpe", "embed_positions", "position_embedding", "pos_embed",
                 "embed_pos", "positional_embedding", "pos_embedding")
RELATIVE_NAMES = ("relative_attention_bias", "rel_embeddings", "distance_embedding", "relative_position_bias_table",
                  "rel_pos_bias", "relative_position_bias", "rel_pos_h")
# a module that rotates positions, by its class (LlamaRotaryEmbedding) or by the attribute that holds it
# (Idefics: `self.rotary_emb = IdeficsEmbedding(...)`); built only where the config turns RoPE on
ROPE_CLASS = re.compile(r"Rotary|RoPE|Rope")
ROPE_ATTRIBUTE = re.compile(r"rotary|^rope|_rope", re.IGNORECASE)
# `if self.<flag>...:` directly guarding the rotary call in an attention forward (Cohere2, Llama 4, SmolLM3)
ROPE_GUARD = re.compile(r"if self\.(\w+)(?: is not None)?:\s*\n\s*[^\n]*apply_rotary")


def rope_parameters(config: Any) -> dict[str, Any] | None:
    """transformers 5 folds `rope_scaling` and `rope_theta` into `rope_parameters`, which may be keyed by
    layer type; the full-attention entry describes the model's long-range positions."""
    params = read(config, "rope_parameters")
    if not params:
        legacy = read(config, "rope_scaling") or {}
        theta = read(config, "rope_theta")
        if theta is None and not legacy:
            return None
        params = {**legacy, "rope_theta": theta}
    if isinstance(params, dict) and params and all(isinstance(v, dict) for v in params.values()):
        params = params.get("full_attention") or next(iter(params.values()))
    return dict(params) if isinstance(params, dict) else None


def per_layer_type(config: Any) -> dict[str, Any] | None:
    params = read(config, "rope_parameters")
    if isinstance(params, dict) and len(params) > 1 and all(isinstance(v, dict) for v in params.values()):
        return {key: {"theta": value.get("rope_theta"), "factor": value.get("factor"),
                      "type": value.get("rope_type") or value.get("type") or "default"}
                for key, value in params.items()}
    return None


def rope_scaling(params: dict[str, Any], config: Any) -> dict[str, Any] | None:
    rope_type = params.get("rope_type") or params.get("type") or "default"
    if rope_type == "default":
        return None
    original = params.get("original_max_position_embeddings") or read(config, "original_max_position_embeddings")
    factor = params.get("factor")
    return {"type": rope_type, "factor": float(factor) if factor is not None else None, "original_context": original}


def partial_rotary(config: Any, params: dict[str, Any]) -> float | None:
    factor = read(config, "partial_rotary_factor", "rotary_pct") or params.get("partial_rotary_factor")
    if factor is None:
        rotary_dim = read(config, "rotary_dim", "rotary_emb_base_dim")
        head_dim = read(config, "head_dim")
        if isinstance(rotary_dim, int) and isinstance(head_dim, int) and head_dim:
            factor = rotary_dim / head_dim
    if isinstance(factor, (int, float)) and 0 < factor <= 1:
        return float(factor)
    return None if factor else 1.0  # a factor outside (0, 1] means something else in that architecture


def applies_rope(module: Any) -> bool:
    """Whether the module tree holds a module that rotates positions (by its class or its attribute name)."""
    return any(ROPE_CLASS.search(type(child).__name__) or ROPE_ATTRIBUTE.search(name.rsplit(".", 1)[-1])
               for name, child in module.named_modules() if name or ROPE_CLASS.search(type(child).__name__))


def position_tables(module: Any) -> list[Any]:
    """The nn.Embedding tables that add absolute positions in `module` (a stack)."""
    import torch

    return [child for name, child in module.named_modules()
            if name.rsplit(".", 1)[-1] in LEARNED_NAMES and isinstance(child, torch.nn.Embedding)]


def is_fixed_table(table: Any, view: ModelView) -> bool:
    """A position table that the code freezes and fills with sinusoids (Whisper's encoder: an nn.Embedding with
    requires_grad off, initialised from `sinusoids`): fixed positions, not learned ones."""
    weight = getattr(table, "weight", None)
    return weight is not None and not weight.requires_grad and "sinusoid" in view.modeling_source.lower()


def table_offset(table: Any, view: ModelView) -> int:
    """Rows of a learned table before the first position: BART / OPT add a fixed `offset` (2) to every position
    id; RoBERTa-style embeddings count positions from padding_idx + 1."""
    offset = as_int(getattr(table, "offset", None))
    if offset and offset > 0:
        return offset
    if getattr(table, "padding_idx", None) is not None and view.code_reads("create_position_ids_from_input_ids"):
        return table.padding_idx + 1
    return 0


def stack_position(stack: Stack, view: ModelView, alibi: bool) -> str:
    """The position scheme that the stack's own modules apply: rotary modules, ALiBi, relative-position bias
    tables, sinusoidal modules or frozen sinusoid tables, learned tables; else none."""
    module = stack.module if stack.module is not None else view.model
    class_names = [type(m).__name__ for m in module.modules()]
    names = {name.rsplit(".", 1)[-1] for name, _ in module.named_modules()} | {
        name.rsplit(".", 1)[-1] for name, _ in module.named_parameters()}
    if applies_rope(module):
        return "rope"
    if alibi and stack.name in ("decoder", "text", "encoder"):
        return "alibi"
    if names & set(RELATIVE_NAMES) or str(read(stack.config, "position_embedding_type", default="")).startswith(
            "relative"):
        return "relative-bias"
    if any("Sinusoidal" in name for name in class_names):
        return "sinusoidal"
    tables = position_tables(module)
    if tables and all(is_fixed_table(table, view) for table in tables):
        return "sinusoidal"
    if names & set(LEARNED_NAMES):
        return "learned-absolute"
    return "none"


def top_kind(kinds: dict[str, str], main: Stack) -> str:
    """The encoder and decoder of one sequence model that encode positions differently (Whisper: fixed
    sinusoids in the encoder, a learned table in the decoder) make the model `mixed`; towers (vision, audio)
    beside a language model are listed per stack and leave the headline to the language model."""
    sequence = {kind for name, kind in kinds.items() if name in ("encoder", "decoder")}
    return "mixed" if len(sequence) > 1 else kinds[main.name]


def nope_layers(stack: Stack, view: ModelView) -> list[int]:
    """Layers whose attention skips RoPE: `no_rope_layers` (1 = RoPE), or a flag guarding the rotary call."""
    flags = read(stack.config, "no_rope_layers")
    if isinstance(flags, (list, tuple)) and view.code_reads("no_rope_layers"):
        return [index for index, flag in enumerate(flags) if not flag]
    found = []
    for index, (_, module) in enumerate(self_attention(stack)):
        source = forward_source(module)
        if not source:
            return []
        guard = ROPE_GUARD.search(source)
        if guard is None:
            return []
        if not getattr(module, guard.group(1), None):
            found.append(index)
    return found


@inspector("position")
def inspect_position(view: ModelView, facts: Facts) -> None:
    stacks = facts.structure.stacks
    alibi = "alibi" in facts.values["attention"]["features"]
    if not stacks:
        facts.values["position"] = {"kind": None, "rope": None, "nope_layers": []}
        facts.null("/position/kind", "a custom module: its position scheme is not visible statically")
        facts.null("/position/rope", "a custom module: RoPE is not visible statically")
        return
    kinds = {stack.name: stack_position(stack, view, alibi) for stack in stacks}
    main = main_stack(stacks)
    kind = kinds[main.name]
    record: dict[str, Any] = {"kind": top_kind(kinds, main), "rope": None, "nope_layers": []}
    params = rope_parameters(main.config) if kind == "rope" else None
    if kind == "rope" and params is not None:
        rope = {"theta": params.get("rope_theta"), "partial_rotary_factor": partial_rotary(main.config, params),
                "scaling": rope_scaling(params, main.config)}
        layered = per_layer_type(main.config)
        if layered:
            rope["per_layer_type"] = layered
        if rope["scaling"] is None:
            facts.null("/position/rope/scaling", "no RoPE scaling", NOT_APPLICABLE)
        record["rope"] = rope
        record["nope_layers"] = nope_layers(main, view)
        if record["nope_layers"]:
            record["kind"] = "mixed"
    elif kind == "rope":
        facts.null("/position/rope", "the model rotates positions but its config states no RoPE parameters")
    else:
        facts.null("/position/rope", f"the model does not use RoPE ({kind})", NOT_APPLICABLE)
    if len(stacks) > 1:
        record["stacks"] = kinds
    offsets = {}
    for stack in stacks:
        if kinds[stack.name] == "learned-absolute":
            found = {table_offset(table, view) for table in position_tables(stack.module or view.model)}
            if max(found, default=0):
                offsets[stack.name] = max(found)
    if offsets:
        record["offsets"] = offsets
    facts.values["position"] = record
