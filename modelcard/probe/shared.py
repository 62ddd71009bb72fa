"""What several probes share, in one place (no probe imports another probe): the windows a probe has to reach
past, where each documented layer runs (the block that stands for it, measured or derived), and what a cache
costs in bytes.

Windows come from what inspection decided each layer does (attention.layers, masking.stacks, the KV-cache
formula) and from what a custom module's author declares, never from a raw config key. A key that the model's
attention ignores is tested only where the runtime may still act on it: when the config object the model runs
with keeps the value (transformers' cache builds sliding layers from a stray `sliding_window` on a Llama
config). A key its config class discards (Qwen2's `sliding_window` with `use_sliding_window: false` becomes
None) drives nothing. A window at least as wide as the longest input the model accepts never binds, so no probe
runs to it."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

WINDOWED = ("sliding", "chunked")
# Config and declaration keys that claim a window, and the kind of window each claims.
WINDOW_KEYS = {"sliding_window": "sliding", "attention_chunk_size": "chunked", "window": "sliding"}


@dataclass(frozen=True)
class WindowClaim:
    tokens: int
    kind: str  # sliding | chunked
    source: str  # where the claim comes from, for the probe's details


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def runtime_config_value(adapter: Any, key: str) -> Any:
    """`key` on the config object the model runs with (its text config for a composite model), or None."""
    config = getattr(adapter, "config", None)
    if config is None:
        return None
    configs = [config]
    if hasattr(config, "get_text_config"):
        with contextlib.suppress(Exception):  # a composite config that cannot name its text part
            configs.append(config.get_text_config(decoder=True))
    for candidate in configs:
        try:
            value = getattr(candidate, key, None)
        except Exception:  # a config property that raises
            value = None
        if value is not None:
            return value
    return None


def ignored_window_keys(ctx: Any) -> list[dict[str, Any]]:
    """The ignored config keys that claim a window, each with `live`: whether the runtime config keeps it."""
    keys = []
    for item in ctx.ignored_config_keys:
        kind, tokens = WINDOW_KEYS.get(item.get("key")), _int(item.get("value"))
        if kind is None or tokens is None:
            continue
        live = runtime_config_value(ctx.adapter, item["key"]) == tokens
        keys.append({"key": item["key"], "value": tokens, "kind": kind, "live": live})
    return keys


def window_claims(ctx: Any) -> list[WindowClaim]:
    """Every window claimed for the documented model, wherever it is claimed (see the module's docstring)."""
    claims: list[WindowClaim] = []
    for layer in ctx.layers():
        tokens = _int(layer.get("window"))
        if tokens and layer.get("kind") in WINDOWED:
            claims.append(WindowClaim(tokens, layer["kind"], f"/attention/layers/{layer['index']}"))
    for stack, masking in ((ctx.facts.get("masking") or {}).get("stacks") or {}).items():
        for key, kind in (("window", "sliding"), ("chunk", "chunked")):
            tokens = _int((masking or {}).get(key))
            if tokens:
                claims.append(WindowClaim(tokens, kind, f"/masking/stacks/{stack}/{key}"))
    for layer in (ctx.facts.get("kv_cache") or {}).get("layers") or []:
        cap = _int(layer.get("max_tokens"))
        if cap and layer.get("kind") in WINDOWED:  # a cache of W - 1 past tokens serves a window of W
            claims.append(WindowClaim(cap + 1, layer["kind"], f"/kv_cache/layers/{layer['index']}/max_tokens"))
    for key, kind in WINDOW_KEYS.items():
        tokens = _int(ctx.declared.get(key))
        if tokens:
            claims.append(WindowClaim(tokens, kind, f"declared {key}"))
    for item in ignored_window_keys(ctx):
        if item["live"]:
            claims.append(WindowClaim(item["value"], item["kind"], f"config key {item['key']} (the attention "
                                                                   "ignores it; the runtime config keeps it)"))
    return claims


def claimed_windows(ctx: Any) -> list[int]:
    """The windows a probe has to reach past: every claim narrower than the longest input the model accepts."""
    limit = ctx.max_length()
    return sorted({claim.tokens for claim in window_claims(ctx) if not limit or claim.tokens < limit})


def windows_beyond_context(ctx: Any) -> list[int]:
    """Claimed windows at least as wide as the longest input the model accepts: they never bind."""
    limit = ctx.max_length()
    return sorted({claim.tokens for claim in window_claims(ctx) if limit and claim.tokens >= limit})


# Where each documented layer runs.

def block_of(adapter: Any, index: int, blocks: int) -> int | None:
    """The block (an index into adapter.blocks()) that stands for documented layer `index`, or None."""
    layer_map = adapter.layer_map
    if layer_map is not None:
        if not 0 <= index < len(layer_map):
            return None
        block = layer_map[index]
    else:
        block = index
    return block if 0 <= block < blocks else None


def is_measured_layer(adapter: Any, index: int) -> bool:
    """On a twin only the layers it kept were measured; a kept layer's result copied onto the other layers of
    its kind is derived. Without a twin every layer runs itself."""
    if not adapter.twin or adapter.layer_map is None:
        return True
    kept = adapter.twin_kept
    if kept is None:  # a twin that did not say which layers it kept: the first layer of each block
        kept = [adapter.layer_map.index(block) for block in sorted(set(adapter.layer_map))]
    return index in kept


def put(outcome: Any, adapter: Any, index: int, pointer: str, value: Any) -> None:
    """Record a per-layer value as measured on the layer that ran, derived on the layers it stands for."""
    (outcome.measured if is_measured_layer(adapter, index) else outcome.derived)[pointer] = value


# Byte costing.

def bytes_at(layers: list[dict[str, Any]], tokens: int) -> int | None:
    """Cache bytes at `tokens` of context: per-token bytes up to each layer's cap, plus constant state; None when
    a layer's per-token bytes are unknown."""
    total = 0
    for layer in layers:
        per_token = layer.get("bytes_per_token")
        if per_token is None:
            return None
        cap = layer.get("max_tokens")
        total += per_token * (min(tokens, cap) if cap is not None else tokens) + (layer.get("state_bytes") or 0)
    return total


def bytes_per_token(before: int, after: int, tokens: int) -> int:
    """What one more token adds, from two readings `tokens` tokens apart."""
    return (after - before) // tokens if tokens > 0 else 0


# Rechecks of a rounding-sized difference.

# A path that only reorders rounding stays within a few times the noise of a path that cannot share its bug;
# transformers' dtype tolerances come from tiny models, and deep or trained models exceed them on rounding alone.
NOISE_FACTOR = 4

# A copy of the model (float64, or with redrawn weights) is made only where it fits in this share of the memory
# free on the model's device; the rest is left to the copy's forward and to everything else running there.
COPY_MEMORY_SHARE = 0.8
# Where the free memory cannot be told, only models up to this size are copied.
COPY_PARAMETERS_UNKNOWN_MEMORY = 50_000_000


def copy_bytes(adapter: Any, element_size: int) -> int:
    """The peak a copy of the model with `element_size`-byte floats adds: the deep copy in the model's own dtype,
    cast tensor by tensor, so at worst both at once."""
    own = adapter.memory_shape().element_size
    elements = sum(t.numel() for t in (*adapter.model.parameters(), *adapter.model.buffers()))
    return elements * (own + (element_size if element_size != own else 0))


def copy_refusal(adapter: Any, element_size: int) -> str | None:
    """Why no copy of the model with `element_size`-byte floats is made here, or None when one fits.

    Args:
        adapter: the ModelAdapter of the model to copy.
        element_size: bytes per float of the copy (8 for float64; the model's own for a redrawn copy).

    Returns:
        None, or the reason: a model sharded over ranks is never copied; otherwise the copy must fit in
        COPY_MEMORY_SHARE of the memory free on the model's device (every rank's smallest figure under tensor
        parallelism), or, where that cannot be told, the model must have at most COPY_PARAMETERS_UNKNOWN_MEMORY
        parameters.
    """
    from modelcard.probe.memcheck import available_bytes, size

    if adapter.tp_size > 1:
        return f"sharded over {adapter.tp_size} ranks (tensor parallel): not copied"
    available = available_bytes(adapter.device)
    if getattr(adapter, "agree", None) is not None:
        available = adapter.agree(-1 if available is None else available)
        available = None if available < 0 else available
    if available is None:
        parameters = sum(p.numel() for p in adapter.model.parameters())
        if parameters > COPY_PARAMETERS_UNKNOWN_MEMORY:
            return (f"the free memory on {adapter.device} cannot be told, and the model has {parameters:,} parameters "
                    f"(over {COPY_PARAMETERS_UNKNOWN_MEMORY:,})")
        return None
    needed = copy_bytes(adapter, element_size)
    if needed > COPY_MEMORY_SHARE * available:
        return (f"a copy needs about {size(needed)}, over {COPY_MEMORY_SHARE:.0%} of the {size(available)} free on "
                f"{adapter.device}")
    return None


def float64_refusal(adapter: Any) -> str | None:
    """Why no float64 copy of the model is made here (see copy_refusal), or None when one fits."""
    return copy_refusal(adapter, 8)


def float64_copy(adapter: Any) -> Any | None:
    """The same model in float64, where the copy fits in memory (see float64_refusal); None otherwise."""
    if float64_refusal(adapter) is not None:
        return None
    return dataclasses.replace(adapter, model=detached_copy(adapter).double(), agree=None)


@contextlib.contextmanager
def float64_softmax() -> Iterator[None]:
    """Let a float64 softmax stay float64: transformers' eager kernels ask for a float32 softmax whatever the
    model's dtype, which would leave a float64 reference only float32-exact in its attention weights."""
    import torch

    original: Callable[..., Any] = torch.nn.functional.softmax  # called with whatever arguments its callers pass

    def softmax(input: Any, *args: Any, dtype: Any = None, **kwargs: Any) -> Any:  # noqa: A002 - torch's name
        if dtype is not None and getattr(input, "dtype", None) == torch.float64:
            dtype = torch.float64
        return original(input, *args, dtype=dtype, **kwargs)

    torch.nn.functional.softmax = softmax
    try:
        yield
    finally:
        torch.nn.functional.softmax = original


def detached_copy(adapter: Any) -> Any:
    """A copy of the model to change freely (redraw its weights, cast it): a deep copy; or, for a model that
    accelerate spread over several devices or offloaded (device_map), a fresh instance of its class holding
    every weight read back (accelerate's get_state_dict_offloaded_model), whole on the adapter's device and
    without accelerate's hooks, which would otherwise load the offloaded weights over the copy's own."""
    model = adapter.model
    placed = getattr(model, "hf_device_map", None) or {}
    offloaded = any(p.device.type == "meta" for p in model.parameters())
    if len(set(placed.values())) <= 1 and not offloaded:
        return copy.deepcopy(model)
    from accelerate.utils.modeling import (  # type: ignore[import-untyped]  # accelerate ships no type hints
        get_state_dict_offloaded_model,
    )

    state = get_state_dict_offloaded_model(model)
    clone = type(model)._from_config(model.config, dtype=adapter.dtype)
    clone.load_state_dict(state, strict=True)
    return clone.to(adapter.device).eval()
