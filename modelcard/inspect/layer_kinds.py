"""The kind and window of every token-mixing layer of one stack, from the config keys that the
architecture's code reads (layer_types, hybrid block lists and periods, windows, chunks) and from the
mixers that the module tree holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelcard.inspect.configs import as_int, layer_config, read
from modelcard.inspect.modules import attention_modules, layer_list, mixer_kind
from modelcard.inspect.stacks import Stack

# transformers' layer_types values -> (record kind, whether the layer also keeps a recurrent state)
LAYER_TYPE_KINDS: dict[str, tuple[str | None, bool]] = {
    "full_attention": ("full", False), "attention": ("full", False), "global": ("full", False),
    "global_attention": ("full", False), "full": ("full", False),
    "sliding_attention": ("sliding", False), "sliding": ("sliding", False), "local": ("sliding", False),
    "window_attention": ("sliding", False), "local_attention": ("sliding", False),
    "reference_sliding_attention": ("sliding", False), "hybrid_sliding": ("sliding", True),
    "chunked_attention": ("chunked", False),
    "linear_attention": ("linear", False), "mamba": ("state-space", False), "mamba2": ("state-space", False),
    "conv": ("state-space", False), "recurrent": ("state-space", False), "ssm": ("state-space", False),
    "hybrid": ("full", True),
    "indexed_attention": ("block-sparse", False), "deepseek_sparse_attention": ("block-sparse", False),
    "compressed_sparse_attention": ("block-sparse", False), "heavily_compressed_attention": ("block-sparse", False),
    "moe": (None, False), "mlp": (None, False), "dummy": (None, False),
}
# the config keys a layer's window is read from, by kind, in the order they are tried
WINDOW_SPELLINGS = {"sliding": ("sliding_window", "attention_window_size", "window_size", "local_window_size"),
                    "chunked": ("attention_chunk_size",)}
NEMOTRON_PATTERN = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}


@dataclass
class Layer:
    index: int
    stack: str
    kind: str
    window: int | None = None
    state: bool = False  # keeps a constant recurrent state (state-space, linear and hybrid layers)
    mixer: Any = None  # the module that mixes tokens, when the tree shows it


def _window(config: Any, index: int, kind: str, stack: Stack) -> int | None:
    if kind in WINDOW_SPELLINGS:
        return as_int(read(layer_config(config, index), *WINDOW_SPELLINGS[kind]))
    return None


def window_key(config: Any, index: int, kind: str) -> str:
    """The config key that layer `index`'s window of `kind` was read from."""
    own = layer_config(config, index)
    return next((key for key in WINDOW_SPELLINGS[kind] if read(own, key) is not None), WINDOW_SPELLINGS[kind][0])


def declared_types(stack: Stack, count: int, code_reads: Any) -> list[str] | None:
    """Per-layer type names from whichever key the architecture uses, or None."""
    config = stack.config
    layer_types = read(config, "layer_types")
    if isinstance(layer_types, (list, tuple)) and len(layer_types) >= count and code_reads("layer_types"):
        return [str(value) for value in layer_types[:count]]
    block_type = read(config, "layers_block_type")
    if isinstance(block_type, (list, tuple)) and len(block_type) >= count:
        return [str(value) for value in block_type[:count]]
    pattern = read(config, "hybrid_override_pattern")
    if isinstance(pattern, str) and len(pattern) >= count:
        return [NEMOTRON_PATTERN.get(char, "mlp") for char in pattern[:count]]
    block_types = read(config, "block_types")
    if isinstance(block_types, (list, tuple)) and block_types and code_reads("block_types"):
        return [str(block_types[index % len(block_types)]) for index in range(count)]
    attn_type_list = read(config, "attn_type_list")
    if isinstance(attn_type_list, (list, tuple)) and len(attn_type_list) >= count:
        return ["full_attention" if value else "linear_attention" for value in attn_type_list[:count]]
    full_idxs = read(config, "full_attn_idxs")
    if isinstance(full_idxs, (list, tuple)) and code_reads("full_attn_idxs"):
        return ["full_attention" if index in full_idxs else "conv" for index in range(count)]
    hybrid_ids = read(config, "hybrid_layer_ids")
    if isinstance(hybrid_ids, (list, tuple)) and code_reads("hybrid_layer_ids"):
        return ["hybrid" if index in hybrid_ids else "mamba" for index in range(count)]
    period, offset = read(config, "attn_layer_period"), read(config, "attn_layer_offset")
    if isinstance(period, int) and isinstance(offset, int) and code_reads("attn_layer_period"):
        return ["attention" if index % period == offset else "mamba" for index in range(count)]
    return None


def window_types(stack: Stack, count: int, code_reads: Any) -> list[str]:
    """Window keys of configs that have no per-layer list, where the code reads them."""
    config = stack.config
    sliding = as_int(read(config, "sliding_window"))
    if sliding and code_reads("sliding_window") and read(config, "use_sliding_window", default=True):
        first_sliding = as_int(read(config, "max_window_layers")) if code_reads("max_window_layers") else None
        pattern = as_int(read(config, "sliding_window_pattern")) if code_reads("sliding_window_pattern") else None
        types = []
        for index in range(count):
            is_sliding = (first_sliding is None or index >= first_sliding) and (
                not pattern or (index + 1) % pattern != 0)
            types.append("sliding_attention" if is_sliding else "full_attention")
        return types
    if as_int(read(config, "attention_chunk_size")) and code_reads("attention_chunk_size"):
        return ["chunked_attention"] * count
    return ["full_attention"] * count


def stack_layers(stack: Stack, code_reads: Any) -> list[Layer]:
    count = stack.num_layers or 0
    blocks = layer_list(stack.module, count) if stack.module is not None else []
    types = declared_types(stack, count, code_reads)
    if types is None:
        recurrent = _recurrent_blocks(blocks)
        if recurrent and len(recurrent) == len(blocks) == count:
            return [Layer(index, stack.name, kind, None, True, mixer)
                    for index, (kind, mixer) in enumerate(recurrent)]
        special = _special_attention(stack, count, code_reads)
        if special is not None:
            return special
        types = window_types(stack, count, code_reads)
    layers = []
    for index, name in enumerate(types):
        kind, state = LAYER_TYPE_KINDS.get(name, ("full", False))
        if kind is None:
            continue
        mixer = None
        if kind in ("linear", "state-space") or state:
            found = _recurrent_blocks(blocks[index:index + 1]) if index < len(blocks) else []
            if found:
                mixer = found[0][1]
                if kind in ("linear", "state-space"):
                    kind = "linear" if found[0][0] == "linear" else "state-space"
            state = True
        layers.append(Layer(index, stack.name, kind, _window(stack.config, index, kind, stack), state, mixer))
    return layers


def _recurrent_blocks(blocks: list[Any]) -> list[tuple[str, Any]]:
    """(kind, mixer) for blocks whose token mixer is recurrent (no attention module inside)."""
    found = []
    for block in blocks:
        if attention_modules(block):
            mixers = [(mixer_kind(module, name), module) for name, module in block.named_modules() if name]
            mixers = [(kind, module) for kind, module in mixers if kind]
            if not mixers:
                return []
        else:
            mixers = [(mixer_kind(module, name), module) for name, module in block.named_modules()]
            mixers = [(kind, module) for kind, module in mixers if kind]
            if not mixers:
                return []
        kind, module = next((pair for pair in mixers if _holds_state(pair[1])), mixers[0])
        found.append(("linear" if kind == "linear" else "state-space", module))
    return found


def _holds_state(module: Any) -> bool:
    """The module that owns the recurrent state: an A_log parameter or a direct Conv1d child."""
    import torch

    return getattr(module, "A_log", None) is not None or any(
        isinstance(child, torch.nn.Conv1d) for child in module.children())


def _special_attention(stack: Stack, count: int, code_reads: Any) -> list[Layer] | None:
    """Longformer's per-layer attention_window (local + global tokens) and BigBird's block-sparse type."""
    config = stack.config
    window = read(config, "attention_window")
    if window is not None and code_reads("attention_window"):
        windows = list(window) if isinstance(window, (list, tuple)) else [window] * count
        return [Layer(index, stack.name, "local-global", as_int(windows[index]) or None) for index in range(count)]
    if read(config, "attention_type") == "block_sparse" and code_reads("block_sparse"):
        return [Layer(index, stack.name, "block-sparse", None) for index in range(count)]
    return None
