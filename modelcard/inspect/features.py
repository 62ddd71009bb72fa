"""`attention.features`: cross-attention, attention sinks, logit softcapping, QK-norm, ALiBi, KV sharing,
each from the module tree or from a config key that the architecture's code reads."""

from __future__ import annotations

import re

from modelcard.inspect.configs import read
from modelcard.inspect.facts import Facts
from modelcard.inspect.modules import attention_modules, is_cross
from modelcard.inspect.view import ModelView

QK_NORM_NAMES = {("q_norm", "k_norm"), ("q_layernorm", "k_layernorm"), ("query_layernorm", "key_layernorm"),
                 ("q_ln", "k_ln"), ("norm_q", "norm_k")}
SOFTCAP_KEYS = ("attn_logit_softcapping", "attention_logit_softcapping", "attn_softcapping")


def kv_shared_layers(view: ModelView) -> list[int]:
    """Layers that read another layer's KV cache instead of keeping their own."""
    config = view.text_config
    modes = read(config, "kv_sharing_modes")
    if isinstance(modes, (list, tuple)) and view.code_reads("kv_sharing_modes"):
        return [index for index, mode in enumerate(modes) if mode == "reuse"]
    shared = read(config, "num_kv_shared_layers")
    layers = read(config, "num_hidden_layers")
    if isinstance(shared, int) and shared > 0 and isinstance(layers, int) and view.code_reads("num_kv_shared_layers"):
        return list(range(layers - shared, layers))
    return []


def uses_alibi(view: ModelView) -> bool:
    """ALiBi where the code builds it: always (Bloom), or behind a config flag that the code reads (Falcon, MPT)."""
    if view.get("position_embedding_type") == "alibi":
        return True
    if not re.search(r"def build_\w*alibi", view.modeling_source):
        return False
    if re.search(r"config\.(attn_config\.)?(use_)?alibi\b|\[.alibi.\]", view.modeling_source):
        return bool(view.get("alibi", "attn_config.alibi", "use_alibi"))
    return True


def features(view: ModelView, facts: Facts) -> list[str]:
    found: list[str] = []
    modules = attention_modules(view.model) if view.model is not None else []
    names = {name.rsplit(".", 1)[-1] for name, _ in view.model.named_modules()}
    parameters = {name.rsplit(".", 1)[-1] for name, _ in view.model.named_parameters()}
    if any(is_cross(name, module) for name, module in modules) or read(view.config, "add_cross_attention"):
        found.append("cross-attention")
    if "sinks" in parameters or "attention_sinks" in parameters or "sink" in parameters:
        found.append("attention-sinks")
    softcap = view.get(*SOFTCAP_KEYS)
    if softcap is not None and any(view.code_reads(key) for key in SOFTCAP_KEYS):
        found.append("logit-softcapping")
    if any(set(pair) <= names for pair in QK_NORM_NAMES):
        found.append("qk-norm")
    if uses_alibi(view):
        found.append("alibi")
    facts.structure.kv_shared = kv_shared_layers(view)
    if facts.structure.kv_shared:
        found.append("kv-sharing")
    return found
