"""Reading configs the way real checkpoints spell them: dotted names into nested dicts, heterogeneous
(per-layer) configs, and the many names of the same fact."""

from __future__ import annotations

from typing import Any

_MISSING = object()

LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "num_blocks")
HIDDEN_KEYS = ("hidden_size", "n_embd", "d_model", "dim", "embed_dim", "hidden_dim")
QUERY_HEAD_KEYS = ("num_attention_heads", "n_head", "num_heads", "n_heads", "attn_config.n_heads",
                   "encoder_attention_heads", "num_attention_head")
KV_HEAD_KEYS = ("num_key_value_heads", "num_kv_heads", "n_head_kv", "n_kv_heads", "multi_query_group_num",
                "attn_config.kv_n_heads", "num_kv_heads_per_layer")


def _attribute(config: Any, name: str) -> Any:
    if isinstance(config, dict):
        return config.get(name, _MISSING)
    try:
        return getattr(config, name, _MISSING)
    except RuntimeError:  # a heterogeneous config refuses an ambiguous global read: take the global value
        raw = getattr(config, "_getattr_without_heterogeneous_validation", None)
        return raw(name) if raw else _MISSING


def read(config: Any, *names: str, default: Any = None) -> Any:
    """The first of `names` that `config` sets to a non-None value; `a.b` reads a nested dict or sub-config."""
    if config is None:
        return default
    for name in names:
        value: Any = config
        for part in name.split("."):
            value = _attribute(value, part)
            if value is _MISSING or value is None:
                break
        if value is not _MISSING and value is not None:
            return value
    return default


def layer_config(config: Any, index: int) -> Any:
    """The config that layer `index` sees: the per-layer view of a heterogeneous config, else the config."""
    if is_heterogeneous(config):
        try:
            return config.per_layer_config[index]
        except (IndexError, RuntimeError, TypeError, KeyError):
            pass
    return config


def is_heterogeneous(config: Any) -> bool:
    try:
        return bool(getattr(config, "is_heterogeneous", False))
    except RuntimeError:
        return True


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
