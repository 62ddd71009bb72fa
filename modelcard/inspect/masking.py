"""`masking`: per stack, which positions a token may see."""

from __future__ import annotations

import re

from modelcard.inspect.architecture import stack_is_causal
from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

STACK_MASK = {"decoder-only": "causal", "encoder-only": "bidirectional", "vision-encoder": "bidirectional"}
# a causal language model whose code lets a prefix (image + prompt) attend both ways
PREFIX_MARKERS = ("is_prefix", "prefix_mask", "bidirectional_mask_function")
# transformers 5: PaliGemma makes every token of type 0 (image + prompt) one bidirectional block
PREFIX_BLOCK = re.compile(r"block_sequence_ids\W{0,8}\s*=\s*torch\.where\(\s*token_type_ids\s*==\s*0")


def stack_mask(view: ModelView, stack) -> str:
    if not stack_is_causal(stack, view):
        return "bidirectional"
    if stack.name == "text" and any(view.code_reads(marker) for marker in PREFIX_MARKERS) and \
            view.code_reads("token_type_ids"):
        return "prefix"
    if stack.name == "text" and PREFIX_BLOCK.search(view.modeling_source):
        return "prefix"
    return "causal"


@inspector("masking")
def inspect_masking(view: ModelView, facts: Facts) -> None:
    arch_class = facts.values["architecture"]["class"]
    layers = facts.values["attention"]["layers"]
    stacks_by_name = {stack.name: stack for stack in facts.structure.stacks}
    stacks: dict[str, dict] = {}
    for name in dict.fromkeys(layer["stack"] for layer in layers):
        stack_layers = [layer for layer in layers if layer["stack"] == name]
        windows = {layer["window"] for layer in stack_layers if layer["kind"] in ("sliding", "local-global")
                   and layer["window"]}
        chunks = {layer["window"] for layer in stack_layers if layer["kind"] == "chunked" and layer["window"]}
        if name in stacks_by_name:
            mask = stack_mask(view, stacks_by_name[name])
        elif name == "cross":
            mask = "bidirectional"  # a decoder token sees every encoder position
        else:
            declared = view.loaded.declared.get("masking") if view.loaded else None
            mask = declared or STACK_MASK.get(arch_class, "causal" if name == "decoder" else "bidirectional")
        stacks[name] = {"mask": mask, "window": min(windows) if windows else None,
                        "chunk": min(chunks) if chunks else None}
    facts.values["masking"] = {"stacks": stacks}
