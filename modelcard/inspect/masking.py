"""`masking`: per stack, which positions a token may see."""

from __future__ import annotations

from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import inspector
from modelcard.inspect.view import ModelView

STACK_MASK = {"decoder-only": "causal", "encoder-only": "bidirectional", "vision-encoder": "bidirectional"}


@inspector("masking")
def inspect_masking(view: ModelView, facts: Facts) -> None:
    arch_class = facts.values["architecture"]["class"]
    layers = facts.values["attention"]["layers"]
    stacks: dict[str, dict] = {}
    for stack in dict.fromkeys(layer["stack"] for layer in layers):
        stack_layers = [layer for layer in layers if layer["stack"] == stack]
        windows = {layer["window"] for layer in stack_layers if layer["kind"] == "sliding"}
        chunks = {layer["window"] for layer in stack_layers if layer["kind"] == "chunked"}
        declared = (view.loaded.declared.get("masking") if view.loaded and view.config is None else None)
        mask = declared or STACK_MASK.get(arch_class, "causal" if stack == "decoder" else "bidirectional")
        stacks[stack] = {
            "mask": mask,
            "window": min(windows) if windows else None,
            "chunk": min(chunks) if chunks else None,
        }
    facts.values["masking"] = {"stacks": stacks}
