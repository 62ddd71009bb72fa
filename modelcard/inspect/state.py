"""What the architecture inspector finds for the ones after it: the stacks, the layers and heads of each,
and the layers that reuse another layer's cache. Typed working state, not part of the record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelcard.inspect.layer_kinds import Layer
from modelcard.inspect.stacks import Stack


def main_stack(stacks: list[Stack]) -> Stack:
    """The stack that the card's headline facts describe: the language model where there is one."""
    for name in ("decoder", "text", "encoder"):
        for stack in stacks:
            if stack.name == name:
                return stack
    return stacks[0]


@dataclass
class Structure:
    stacks: list[Stack] = field(default_factory=list)  # empty for a custom module without a config
    layers: dict[str, list[Layer]] = field(default_factory=dict)  # stack name -> its token-mixing layers
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)  # stack name -> record-shaped heads
    kv_shared: list[int] = field(default_factory=list)  # layers of the main stack that reuse another's cache
    dtype_assumed: bool = False  # model.dtype was not declared: the KV figures assume ASSUMED_DTYPE

    @property
    def main(self) -> Stack | None:
        return main_stack(self.stacks) if self.stacks else None

    def stack(self, name: str) -> Stack | None:
        return next((stack for stack in self.stacks if stack.name == name), None)
