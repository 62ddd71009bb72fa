"""`inspection.ignored_config_keys`: attention- and position-related keys of the config.json that the
architecture's code does not act on, each with the reason, and a warning finding where such a key claims a
behaviour (a window, a chunk, RoPE, per-layer kinds, multi-token-prediction layers) that the model does not
have. Runs last: it judges the keys against what the other inspectors found the model does."""

from __future__ import annotations

import re
from typing import Any

from modelcard.inspect.facts import Facts
from modelcard.inspect.layer_kinds import LAYER_TYPE_KINDS
from modelcard.inspect.position import applies_rope
from modelcard.inspect.registry import inspector
from modelcard.inspect.state import main_stack
from modelcard.inspect.view import ModelView

# config keys that would announce a layer kind, and the kind they announce
WINDOW_KEYS = {"sliding_window": "sliding", "sliding_window_size": "sliding", "attention_window_size": "sliding",
               "local_window_size": "sliding", "attention_chunk_size": "chunked", "attention_window": "local-global"}
# keys that only choose which layers slide: without a sliding layer they have nothing to act on
WINDOW_LAYOUT_KEYS = ("sliding_window_pattern", "max_window_layers")
ROPE_KEYS = ("rope_theta", "rope_scaling", "rope_parameters", "partial_rotary_factor", "rotary_pct", "rotary_dim",
             "rotary_emb_base", "rotary_emb_fraction", "rope_local_base_freq", "rope_type")
MTP_KEY = re.compile(r"^(num_nextn_predict_layers|num_mtp_modules|use_mtp|n_mtp\w*|mtp_\w+)$")
# the keys that say there are MTP layers at all (the others describe them, and transformers writes their defaults)
MTP_COUNT = re.compile(r"^(num_nextn_predict_layers|num_mtp_modules|use_mtp|n_mtp_layers|mtp_num_\w+|"
                       r"\w*mtp\w*_layers)$")
MTP_MODULE = re.compile(r"mtp|nextn|multi_token", re.IGNORECASE)
KIND_NOUNS = {"sliding": "a sliding window", "chunked": "chunked attention", "local-global": "local attention"}


def listed(keys: dict[str, Any]) -> str:
    """`config key a` / `config keys a, b`, ready for a verb in the matching number."""
    return f"config key{'s' if len(keys) > 1 else ''} {', '.join(keys)}"


def verb(keys: dict[str, Any], singular: str, plural: str) -> str:
    return plural if len(keys) > 1 else singular


def raw_keys(view: ModelView) -> dict[str, Any]:
    """The config.json's keys with a value, the text config's beside the top level's (the top level wins)."""
    raw = view.raw_config
    text = nested if isinstance(nested := raw.get("text_config"), dict) else {}
    return {key: value for key, value in {**text, **raw}.items() if value is not None and value is not False}


def raw_flag(view: ModelView, key: str) -> Any:
    raw = view.raw_config
    text = nested if isinstance(nested := raw.get("text_config"), dict) else {}
    return raw.get(key, text.get(key))


def layers_phrase(layers: list[dict[str, Any]]) -> str:
    """`21 × sliding (4,096), 21 × full`: what the layers of the main stack are."""
    counts: dict[str, int] = {}
    for layer in layers:
        label = layer["kind"] + (f" ({layer['window']:,})" if layer.get("window") else "")
        counts[label] = counts.get(label, 0) + 1
    if len(counts) == 1:
        return f"{next(iter(counts))} attention on every layer"
    return ", ".join(f"{count} × {label}" for label, count in counts.items())


def window_keys(view: ModelView, facts: Facts, keys: dict[str, Any], layers: list[dict[str, Any]]) -> None:
    kinds = {layer["kind"] for layer in layers}
    model_class = type(view.model).__name__
    for key, kind in WINDOW_KEYS.items():
        if key not in keys or facts.is_ignored(key):
            continue
        value = keys[key]
        if not view.code_reads(key) and not view.config_reads(key):
            why = f"{model_class}'s modeling code never reads {key}"
            claim = True
        elif kind in kinds:
            continue
        elif key == "sliding_window" and raw_flag(view, "use_sliding_window") is False:
            why, claim = "use_sliding_window is false, so no layer slides", False
        else:  # the code reads it (perhaps inside another kind of layer): listed, not contradicted
            why, claim = f"no layer of {model_class} is built as {kind} attention", False
        facts.ignored(key, value, why)
        if claim:
            facts.finding("warning", "/attention/layers", {key: value}, layers_phrase(layers),
                          f"config key {key}={value} claims {KIND_NOUNS[kind]}, but {why}")
    for key in WINDOW_LAYOUT_KEYS:
        if key in keys and not facts.is_ignored(key) and "sliding" not in kinds:
            facts.ignored(key, keys[key], f"no layer of {model_class} slides, so {key} has nothing to act on")
    layer_types = keys.get("layer_types")
    if layer_types and not view.code_reads("layer_types"):
        why = f"{model_class}'s modeling code never reads layer_types"
        facts.ignored("layer_types", layer_types, why)
        claimed = sorted({str(value) for value in layer_types if LAYER_TYPE_KINDS.get(str(value), (None,))[0] in
                          KIND_NOUNS}) if isinstance(layer_types, list) else []
        if claimed:
            facts.finding("warning", "/attention/layers", {"layer_types": claimed}, layers_phrase(layers),
                          f"config key layer_types claims {', '.join(claimed)} layers, but {why}")


def rope_keys(view: ModelView, facts: Facts, keys: dict[str, Any]) -> None:
    present = {key: keys[key] for key in ROPE_KEYS if key in keys}
    position = facts.values.get("position") or {}
    if not present or position.get("rope") or "rope" in (position.get("stacks") or {}).values() or \
            applies_rope(view.model):
        return
    kind = position.get("kind")
    why = f"no layer of {type(view.model).__name__} applies rotary position embeddings (position: {kind})"
    for key, value in present.items():
        facts.ignored(key, value, why)
    facts.finding("warning", "/position/kind", present, kind,
                  f"{listed(present)} {verb(present, 'claims', 'claim')} RoPE, but {why}")


def mtp_keys(view: ModelView, facts: Facts, keys: dict[str, Any]) -> None:
    present = {key: value for key, value in keys.items() if MTP_KEY.match(key) and value not in (0, [], {}, "")}
    if not any(MTP_COUNT.match(key) for key in present) or \
            any(MTP_MODULE.search(name) for name, _ in view.model.named_modules()):
        return
    layers = (facts.values.get("architecture") or {}).get("num_layers")
    why = (f"{type(view.model).__name__} builds no multi-token-prediction (MTP) module: the released checkpoint's MTP "
           f"weights are not counted in the layers, parameters or KV cache of this card")
    for key, value in present.items():
        facts.ignored(key, value, why)
    facts.finding("warning", "/architecture/num_layers", present, layers,
                  f"{listed(present)} {verb(present, 'declares', 'declare')} MTP layers, but {why}")


@inspector("config_keys")
def inspect_config_keys(view: ModelView, facts: Facts) -> None:
    if not facts.structure.stacks:
        return  # a custom module has no config.json to read past
    keys = raw_keys(view)
    main = main_stack(facts.structure.stacks).name
    layers = [layer for layer in facts.values["attention"]["layers"] if layer["stack"] == main]
    window_keys(view, facts, keys, layers)
    rope_keys(view, facts, keys)
    mtp_keys(view, facts, keys)
