"""What an attention kernel's mask lets through, whatever the weights: call the model's own kernel with the query
and the key zeroed, so that every score is 0 and the softmax is uniform over exactly the positions its mask
(causal, sliding, chunked, padding, sinks, softcap: whatever the kernel and the mask it is given do) lets
through, and with values that mark a few key positions, so that the output at a query is non-zero in a marked
position's column exactly when that query sees it.

transformers' attention layers reach their kernel through the attention interface
(`ALL_ATTENTION_FUNCTIONS.get_interface(config._attn_implementation, eager_attention_forward)`, or an index into
it), with the modeling module's own `eager_attention_forward` as the eager path. `wrapped_kernels` wraps both
for the length of a `with` block and restores them afterwards; `kernel_visibility` reads, in one forward, which
of the marked positions every query of every block's kernel sees. The model's forward itself is unchanged: each
kernel call also runs as the model made it, and its output is what the model gets.

A block whose forward never reaches a kernel this way (linear or state-space layers, custom modules, modeling
code that calls its own attention) is not read here; the caller measures it another way."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

WRAPPED = "_modelcard_wrapped_kernel"
KERNEL_ARGUMENTS = ("module", "query", "key", "value")
EAGER_NAME = "eager_attention_forward"
# Score terms that are not the mask: zeroed like the scores they add to (T5's relative bias, an ALiBi bias).
SCORE_BIAS_ARGUMENTS = ("position_bias",)


@dataclass
class KernelSight:
    """What one block's kernel calls showed: `visible[q][i]` is True when query q saw marked position i."""

    calls: int = 0
    visible: Any = None  # torch.BoolTensor (length, positions), OR over calls, batch rows and heads
    unread: list[str] = field(default_factory=list)  # calls whose shapes could not be read, and why


def _modeling_modules(model: Any) -> list[Any]:
    """The Python modules that define the model's classes (its modeling files)."""
    names = {type(module).__module__ for module in model.modules()}
    return [sys.modules[name] for name in sorted(names) if name in sys.modules]


@contextlib.contextmanager
def wrapped_kernels(model: Any, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    """Make every attention kernel the model's code reaches return `wrap(kernel)` instead, then restore.

    Args:
        model: the transformers model whose modeling modules' `eager_attention_forward` are wrapped too.
        wrap: takes a kernel, returns the function to call in its place.

    Yields:
        Nothing; the wrapping holds inside the `with` block.
    """
    from transformers.modeling_utils import AttentionInterface

    def once(kernel: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(kernel) or getattr(kernel, WRAPPED, False):
            return kernel
        wrapped = wrap(kernel)
        setattr(wrapped, WRAPPED, True)
        return wrapped

    original_get_interface = AttentionInterface.get_interface
    had_getitem = "__getitem__" in AttentionInterface.__dict__
    original_getitem = AttentionInterface.__getitem__

    def get_interface(self: Any, attn_implementation: str, default: Callable[..., Any]) -> Callable[..., Any]:
        return once(original_get_interface(self, attn_implementation, default))

    def getitem(self: Any, key: str) -> Callable[..., Any]:
        return once(original_getitem(self, key))

    eager = [(module, getattr(module, EAGER_NAME)) for module in _modeling_modules(model)
             if callable(getattr(module, EAGER_NAME, None))]
    # Patched on the class for the duration of the context, and restored below: mypy forbids assigning to a method.
    AttentionInterface.get_interface = get_interface  # type: ignore[method-assign]
    AttentionInterface.__getitem__ = getitem  # type: ignore[method-assign]
    try:
        for module, kernel in eager:
            setattr(module, EAGER_NAME, once(kernel))
        yield
    finally:
        AttentionInterface.get_interface = original_get_interface  # type: ignore[method-assign]
        if had_getitem:
            AttentionInterface.__getitem__ = original_getitem  # type: ignore[method-assign]
        else:
            del AttentionInterface.__getitem__
        for module, kernel in eager:
            setattr(module, EAGER_NAME, kernel)


def _kernel_inputs(args: tuple, kwargs: dict) -> tuple[Any, Any, Any, Any] | None:
    """(module, query, key, value) of a kernel call, however they were passed; None when one is missing."""
    found = []
    for index, name in enumerate(KERNEL_ARGUMENTS):
        if index < len(args):
            found.append(args[index])
        elif name in kwargs:
            found.append(kwargs[name])
        else:
            return None
    return found[0], found[1], found[2], found[3]


def _marked_values(value: Any, positions: list[int]) -> Any:
    """Values that are 0 but for a 1 at each marked key position, in a column of its own."""
    marked = value.new_zeros(value.shape)
    for column, position in enumerate(positions):
        marked[..., position, column] = 1
    return marked


def _replace_inputs(args: tuple, kwargs: dict, replacements: dict[str, Any]) -> tuple[tuple, dict]:
    """The call's arguments with query, key and value replaced where they were passed, and score biases zeroed."""
    new_args, new_kwargs = list(args), dict(kwargs)
    for index, name in enumerate(KERNEL_ARGUMENTS):
        if name not in replacements:
            continue
        if index < len(new_args):
            new_args[index] = replacements[name]
        else:
            new_kwargs[name] = replacements[name]
    for name in SCORE_BIAS_ARGUMENTS:
        if hasattr(new_kwargs.get(name), "shape"):
            new_kwargs[name] = new_kwargs[name].new_zeros(new_kwargs[name].shape)
    return tuple(new_args), new_kwargs


def _uniform_call(kernel: Callable[..., Any], args: tuple, kwargs: dict, positions: list[int], length: int) -> Any:
    """Which marked position each query saw, as (batch, query positions, heads, len(positions)) booleans, from the
    kernel called with query and key zeroed, marked values and score biases zeroed; None when the output's
    layout is not transformers' (batch, seq, heads, head_dim)."""
    _, query, key, value = _kernel_inputs(args, kwargs)  # type: ignore[misc]  # checked by the caller
    args, kwargs = _replace_inputs(args, kwargs, {"query": query.new_zeros(query.shape),
                                                  "key": key.new_zeros(key.shape),
                                                  "value": _marked_values(value, positions)})
    output = kernel(*args, **kwargs)
    output = output[0] if isinstance(output, (tuple, list)) else output
    if getattr(output, "ndim", 0) != 4 or output.shape[1] != length:
        return None
    return output[..., :len(positions)] != 0


def kernel_visibility(adapter: Any, input_ids: Any, positions: list[int]) -> dict[int, KernelSight]:
    """Which of `positions` each query position sees, per block, read from the model's own attention kernels in
    one forward of `input_ids` (see the module's docstring).

    Args:
        adapter: the ModelAdapter of a transformers model.
        input_ids: (1, length) token ids; the forward runs without a cache, so keys are the input's positions.
        positions: key positions to mark, each below the input's length.

    Returns:
        A KernelSight for each block (index into adapter.blocks()) whose forward reached an attention kernel;
        blocks that reached none are absent.
    """
    import torch

    length = int(input_ids.shape[1])
    blocks = adapter.blocks()
    current: list[int] = []
    sights: dict[int, KernelSight] = {}

    def wrap(kernel: Callable[..., Any]) -> Callable[..., Any]:
        def probed(*args: Any, **kwargs: Any) -> Any:
            result = kernel(*args, **kwargs)
            if current:
                _read(kernel, args, kwargs, sights.setdefault(current[-1], KernelSight()))
            return result

        return probed

    def _read(kernel: Callable[..., Any], args: tuple, kwargs: dict, sight: KernelSight) -> None:
        sight.calls += 1
        inputs = _kernel_inputs(args, kwargs)
        if inputs is None:
            sight.unread.append("a kernel call without query, key and value")
            return
        _, query, key, value = inputs
        if query.shape[-2] != length or key.shape[-2] != length or value.shape[-2] != length:
            sight.unread.append(f"query/key/value of {query.shape[-2]}/{key.shape[-2]}/{value.shape[-2]} positions "
                                f"for a {length}-token input")
            return
        columns = int(value.shape[-1])
        for start in range(0, len(positions), columns):  # more marked positions than value columns: several calls
            group = positions[start:start + columns]
            seen = _uniform_call(kernel, args, kwargs, group, length)
            if seen is None:
                sight.unread.append("a kernel output not laid out (batch, seq, heads, head_dim)")
                return
            seen = seen.any(dim=0).any(dim=1).cpu()
            if sight.visible is None:
                sight.visible = torch.zeros(length, len(positions), dtype=torch.bool)
            sight.visible[:, start:start + len(group)] |= seen

    def enter(index: int) -> Callable[..., None]:
        return lambda *_: current.append(index)  # list.append gives None: the hook changes nothing

    def leave(*_: Any) -> None:
        current.pop()  # a forward hook that returned a value would replace the block's output

    handles = []
    for index, block in enumerate(blocks):
        handles.append(block.register_forward_pre_hook(enter(index)))
        handles.append(block.register_forward_hook(leave))
    try:
        with wrapped_kernels(adapter.model, wrap):
            adapter.outputs(input_ids)
    finally:
        for handle in handles:
            handle.remove()
    return {index: sight for index, sight in sights.items() if sight.visible is not None or sight.unread}
