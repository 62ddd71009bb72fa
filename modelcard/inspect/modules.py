"""The module tree as evidence: which modules attend, how many layers a stack has, what shapes the
projections have. What the code builds beats what the config says."""

from __future__ import annotations

import contextlib
import functools
import inspect as pyinspect
import weakref
from typing import Any

QUERY_NAMES = ("q_proj", "query", "q", "wq", "to_q", "q_lin", "query_proj")
KEY_NAMES = ("k_proj", "key", "k", "wk", "to_k", "k_lin", "key_proj")
VALUE_NAMES = ("v_proj", "value", "v", "wv", "to_v", "v_lin", "value_proj")
FUSED_NAMES = ("qkv_proj", "query_key_value", "c_attn", "Wqkv", "qkv", "W_pack", "qkv_linear")
MLA_NAMES = ("kv_a_proj_with_mqa",)
CROSS_HINTS = ("cross", "encoder_attn", "encdecattention", "enc_dec")
STATE_SPACE_HINTS = ("mamba", "ssm", "hyena", "recurrent", "rglru", "xlstm", "mlstm", "slstm")
LINEAR_HINTS = ("linear_attn", "linearattention", "deltanet", "lightning", "rwkv", "retention")
CONV_HINTS = ("shortconv", "short_conv")


def forward_source(module: Any) -> str:
    """The source of the module class's forward ("" when it has none to read); read once per class."""
    cls: type = type(module)  # as `type`, which mypy knows is hashable (type[Any] it does not)
    return _class_forward_source(cls)


@functools.cache
def _class_forward_source(cls: type[Any]) -> str:
    try:
        return pyinspect.getsource(cls.forward)
    except (OSError, TypeError):
        return ""


def _children(module: Any) -> dict[str, Any]:
    return dict(module.named_children())


def out_features(module: Any) -> int | None:
    value = getattr(module, "out_features", None)
    if value is None and getattr(module, "weight", None) is not None and module.weight.dim() == 2:
        value = module.weight.shape[0]
    return int(value) if value is not None else None


def is_attention(module: Any) -> bool:
    """A module that computes attention itself: torch's MultiheadAttention, or one with q/k/v, fused qkv or
    MLA projections as direct children."""
    import torch

    if isinstance(module, torch.nn.MultiheadAttention):
        return True
    if mixer_kind(module) is not None:
        return False
    names = set(_children(module))
    if names & set(MLA_NAMES):
        return True
    if names & set(FUSED_NAMES) and "Attention" in type(module).__name__ + "".join(names):
        return True
    if names & set(FUSED_NAMES) and not isinstance(module, torch.nn.ModuleList):
        return any(name in names for name in ("out_proj", "o_proj", "c_proj", "dense", "proj", "out", "Wo", "wo"))
    return bool(names & set(QUERY_NAMES)) and bool(names & set(KEY_NAMES)) and bool(names & set(VALUE_NAMES))


_ATTENTION_MODULES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def attention_modules(root: Any) -> list[tuple[str, Any]]:
    """Innermost attention modules under `root`, in tree order, with their qualified names. Inspectors ask for
    them many times; the tree is walked once per root (DeepSeek-V3 has 8,500 modules)."""
    try:
        return list(_ATTENTION_MODULES[root])
    except (KeyError, TypeError):
        pass
    found = [(name, module) for name, module in root.named_modules() if is_attention(module)]
    names = [name for name, _ in found]
    innermost = [(name, module) for name, module in found
                 if not any(other != name and other.startswith(name + ".") for other in names)]
    with contextlib.suppress(TypeError):  # a root that cannot be weakly referenced is walked each time
        _ATTENTION_MODULES[root] = innermost
    return list(innermost)


def is_cross(name: str, module: Any) -> bool:
    text = (name.rsplit(".", 1)[-1] + type(module).__name__).lower()
    return any(hint in text for hint in CROSS_HINTS) or bool(getattr(module, "is_cross_attention", False))


def mixer_kind(module: Any, name: str = "") -> str | None:
    """state-space / linear / conv for a recurrent token mixer, from its class and attribute name."""
    text = (type(module).__name__ + "." + name.rsplit(".", 1)[-1]).lower().replace("_", "")
    if any(hint.replace("_", "") in text for hint in CONV_HINTS):
        return "conv"
    if any(hint.replace("_", "") in text for hint in LINEAR_HINTS):
        return "linear"
    if any(hint in text for hint in STATE_SPACE_HINTS):
        return "state-space"
    return None


def layer_list(root: Any, count: int | None = None) -> list[Any]:
    """The ModuleList of blocks: the first whose length is `count`, else the longest."""
    import torch

    lists = [module for _, module in root.named_modules() if isinstance(module, torch.nn.ModuleList) and len(module)]
    if count:
        for module in lists:
            if len(module) == count:
                return list(module)
    if not lists:
        return []
    longest = max(lists, key=len)
    return list(longest)


def projection(module: Any, names: tuple[str, ...]) -> Any | None:
    children = _children(module)
    for name in names:
        if name in children:
            return children[name]
    return None


def heads_from_projections(module: Any, head_dim: int | None, query: int | None) -> tuple[int | None, int | None]:
    """(query heads, KV heads) that an attention module's projection shapes imply, given the head size."""
    import torch

    if isinstance(module, torch.nn.MultiheadAttention):
        return module.num_heads, module.num_heads
    if not head_dim:
        return None, None
    q_proj, k_proj = projection(module, QUERY_NAMES), projection(module, KEY_NAMES)
    if q_proj is not None and k_proj is not None:
        q_out, k_out = out_features(q_proj), out_features(k_proj)
        if q_out and k_out and q_out % head_dim == 0 and k_out % head_dim == 0:
            return q_out // head_dim, k_out // head_dim
    fused = projection(module, FUSED_NAMES)
    if fused is not None and query:
        total = out_features(fused)
        if total and total % head_dim == 0 and (total // head_dim - query) % 2 == 0 and total // head_dim > query:
            return query, (total // head_dim - query) // 2
    return None, None


def causal_flags(modules: list[tuple[str, Any]]) -> set[bool]:
    """The `is_causal` (else `is_decoder`) that the self-attention modules carry; transformers sets it per module."""
    flags = set()
    for name, module in modules:
        if is_cross(name, module):
            continue
        value = getattr(module, "is_causal", None)
        if not isinstance(value, bool):
            value = getattr(module, "is_decoder", None)
        if isinstance(value, bool):
            flags.add(value)
    return flags
