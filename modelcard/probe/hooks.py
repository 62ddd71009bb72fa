"""Watch and perturb one block's input and output: how per-layer probes see a single layer at work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class StopForward(Exception):
    """Raised from a hook once the watched block has run: the layers above it are not needed."""


def first_tensor(value: Any) -> Any:
    return value[0] if isinstance(value, (tuple, list)) else value


@contextlib.contextmanager
def capture(blocks: list[Any], store: dict[int, Any], stop_after: int | None = None) -> Iterator[None]:
    """Record each block's output hidden states in `store[index]`; stop the forward after `stop_after`."""
    handles = []
    for index, block in enumerate(blocks):
        def hook(module: Any, args: Any, output: Any, index: int = index) -> None:
            store[index] = first_tensor(output).detach().clone()
            if index == stop_after:
                raise StopForward

        handles.append(block.register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def perturb_input(block: Any, position: int, delta: Any) -> Iterator[None]:
    """Add `delta` to the block's input hidden states at `position` (every batch row)."""

    def pre_hook(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if args:
            hidden = args[0].clone()
            hidden[:, position] += delta.to(hidden.dtype)
            return (hidden, *args[1:]), kwargs
        hidden = kwargs["hidden_states"].clone()
        hidden[:, position] += delta.to(hidden.dtype)
        return args, {**kwargs, "hidden_states": hidden}

    handle = block.register_forward_pre_hook(pre_hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()


def run_until(adapter: Any, input_ids: Any) -> None:
    """A forward that may be cut short by StopForward."""
    with contextlib.suppress(StopForward):
        adapter.outputs(input_ids)
