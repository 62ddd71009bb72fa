"""Inspect: a `LoadedModel` in; `Facts` out: what its config and module tree say (architecture class, heads,
layers and their kinds, masking, position encoding, context window, KV cache, config keys the code never
reads), read statically, without running the model; on the `meta` device when there are no weights."""

from __future__ import annotations

from modelcard.inspect import (  # noqa: F401  (each module registers its inspector on import)
    architecture,
    attention,
    config_keys,
    context,
    gguf,
    kv_cache,
    masking,
    model_info,
    position,
)
from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import INSPECTORS
from modelcard.inspect.view import ModelView
from modelcard.load.loader import LoadedModel

# Each inspector may read what the ones before it found, so the order is explicit, not import order.
ORDER = ("model", "gguf", "architecture", "attention", "masking", "position", "context_window", "kv_cache",
         "config_keys")


def inspect_loaded(loaded: LoadedModel) -> Facts:
    """Read a loaded model's static facts.

    Args:
        loaded: the model from `modelcard.load.load_model`, with or without weights.

    Returns:
        The facts every registered inspector contributed, run in `ORDER` so that each may read what the ones
        before it found.
    """
    unordered = set(INSPECTORS) - set(ORDER)
    if unordered:
        raise RuntimeError(f"inspectors missing from ORDER: {sorted(unordered)}")
    view = ModelView(model=loaded.model, config=loaded.config, loaded=loaded)
    facts = Facts()
    for name in ORDER:
        INSPECTORS[name](view, facts)
    return facts
