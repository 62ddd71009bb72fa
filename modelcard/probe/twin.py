"""A shrunken, random-init twin of a config-only model: the same architecture class with the attention facts
that matter kept at their real values (layer pattern with one layer of each kind, windows and chunk sizes,
GQA ratio, RoPE and masks) and every width made tiny, so behavioural probes run in seconds on a CPU."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

HEAD_DIM = 16
TINY_VOCAB = 256
# Width keys and the tiny value each takes when the config has it.
TINY = {
    "intermediate_size": 64, "moe_intermediate_size": 32, "shared_expert_intermediate_size": 32,
    "ffn_hidden_size": 64, "intermediate_size_mlp": 64, "block_ff_dim": 64, "expert_hidden_size": 32,
    "kv_lora_rank": 16, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 16,
    "linear_key_head_dim": 16, "linear_value_head_dim": 16, "linear_num_key_heads": 1, "linear_num_value_heads": 2,
    "mamba_d_state": 8, "mamba_d_head": 16, "mamba_n_heads": 4, "mamba_headdim": 16, "mamba_n_groups": 1,
    "mamba_dt_rank": 8, "state_size": 8, "ssm_state_size": 8, "num_experts": 4, "num_local_experts": 4,
    "n_routed_experts": 4, "n_shared_experts": 1, "n_group": 1, "topk_group": 1, "first_k_dense_replace": 0,
}
AT_MOST = {"num_experts_per_tok": 2, "moe_topk": 2, "q_lora_rank": 16}
TOKEN_ID_KEYS = ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id", "mask_token_id")


@dataclass
class Twin:
    model: Any  # torch.nn.Module, fp32, random weights
    config: Any
    layer_map: list[int]  # original layer index -> twin layer index
    kept: list[int]  # original indices of the twin's layers


def twin_layers(layer_types: list[str] | None, num_layers: int) -> list[int]:
    """Original indices to keep: the first layer of each kind, in order (at least two layers when the
    model has them, so that a layer's input is another layer's output)."""
    kept = sorted({layer_types.index(kind) for kind in dict.fromkeys(layer_types)}) if layer_types else [0]
    if len(kept) < 2 and num_layers >= 2:
        kept = sorted({*kept, next(i for i in range(num_layers) if i not in kept)})
    return kept


def layer_map_for(layer_types: list[str] | None, kept: list[int], num_layers: int) -> list[int]:
    if not layer_types:
        return [min(index, len(kept) - 1) for index in range(num_layers)]
    by_kind = {layer_types[original]: twin for twin, original in enumerate(kept)}
    return [by_kind[kind] for kind in layer_types]


class TwinError(RuntimeError):
    """The shrunken twin of a config-only model cannot be built (or its config cannot be shrunk)."""


# Mamba-2 style mixers: (heads key, head-width key, expand key, inner-width key); transformers requires
# heads x head width = expand x hidden size (or the inner width, where the config names one).
MAMBA_HEADS = (
    ("num_heads", "head_dim", "expand", None),  # mamba2
    ("mamba_n_heads", "mamba_d_head", "mamba_expand", "mamba_d_ssm"),  # bamba, falcon_h1, granitemoehybrid
    ("n_mamba_heads", "mamba_headdim", "mamba_expand", None),  # zamba2
    ("mamba_num_heads", "mamba_head_dim", "expand", None),  # nemotron_h
)
MAMBA_GROUP_KEYS = ("n_groups", "mamba_n_groups", "mamba_ngroups")
EXPERT_COUNT_KEYS = ("n_routed_experts", "num_experts", "num_local_experts", "moe_num_experts")
# Per-stack head counts of encoder-decoder configs, kept equal to the twin's query heads.
STACK_HEAD_KEYS = ("encoder_attention_heads", "decoder_attention_heads")


def twin_config(config: Any) -> tuple[Any, list[int], list[int]]:
    """The tiny config, the kept original indices and the layer map."""
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    data = copy.deepcopy(text.to_dict())
    aliases = dict(getattr(type(text), "attribute_map", None) or {})

    def key(name: str) -> str:
        """The key the config really stores `name` under (GPT-2's `n_head` for `num_attention_heads`)."""
        return aliases.get(name, name)

    num_layers = getattr(text, "num_hidden_layers", None) or data.get(key("num_hidden_layers")) or 1
    _check_routing(text, data, num_layers)
    layer_types = _list(data.get(key("layer_types"))) or _list(getattr(text, "layer_types", None))
    kept = twin_layers(layer_types, num_layers)
    for name, value in list(data.items()):
        if isinstance(value, list) and len(value) == num_layers and num_layers > 1:
            data[name] = [value[index] for index in kept]
    data[key("num_hidden_layers")] = len(kept)
    query = getattr(text, "num_attention_heads", None) or 4
    key_value = getattr(text, "num_key_value_heads", None) or query
    ratio = query // key_value if key_value and query % key_value == 0 else 1
    twin_kv = 2 if ratio == 1 else 1
    twin_q = min(ratio, 16) * twin_kv
    data[key("num_attention_heads")] = twin_q
    if key("num_key_value_heads") in data and key("num_key_value_heads") != key("num_attention_heads"):
        data[key("num_key_value_heads")] = twin_kv
    for name in STACK_HEAD_KEYS:  # also where only the class default sets them (Whisper's decoder view)
        if data.get(name) is not None or isinstance(getattr(text, name, None), int):
            data[name] = twin_q
    hidden = max(32, twin_q * HEAD_DIM)
    data[key("hidden_size")] = hidden
    if data.get(key("head_dim")) is not None:
        data[key("head_dim")] = HEAD_DIM
    for name, value in TINY.items():
        if data.get(key(name)) is not None:
            data[key(name)] = value
    for name, value in AT_MOST.items():
        if data.get(key(name)) is not None:
            data[key(name)] = min(data[key(name)], value)
    if data.get("kv_lora_rank"):
        data["head_dim"] = data.get("qk_rope_head_dim")
    _shrink_mamba_heads(data, hidden)
    data[key("vocab_size")] = TINY_VOCAB
    for name in TOKEN_ID_KEYS:
        value = data.get(name)
        if isinstance(value, int) and value >= TINY_VOCAB or isinstance(value, list):
            data[name] = None
    data["dtype"] = "float32"
    data["use_cache"] = True
    data.pop("architectures", None)
    wanted = [layer_types[index] for index in kept] if layer_types else None
    if wanted and key("layer_types") not in data and "attn_layer_period" in data:
        # Jamba-style configs derive layer_types from a period and an offset.
        data["attn_layer_period"] = len(kept)
        data["attn_layer_offset"] = next((i for i, kind in enumerate(wanted) if "attention" in kind
                                          and kind != "linear_attention"), 0)
        data["expert_layer_period"], data["expert_layer_offset"] = 1, 0
    _drop_derived(type(text), data)
    tiny = type(text).from_dict(data)
    if wanted and list(getattr(tiny, "layer_types", wanted)) != wanted:
        raise ValueError(f"cannot shrink {type(text).__name__} and keep its layer pattern {wanted}")
    return tiny, kept, layer_map_for(layer_types, kept, num_layers)


def _check_routing(text: Any, data: dict[str, Any], num_layers: int) -> None:
    """A mixture of experts that picks None experts per token (DeepSeek-V2's default config) cannot run at any
    size: say so rather than let the twin fail inside torch.topk."""
    experts = next(((name, data[name]) for name in EXPERT_COUNT_KEYS
                    if isinstance(data.get(name), int) and data[name] > 0), None)
    if experts and "num_experts_per_tok" in data and data["num_experts_per_tok"] is None \
            and (data.get("first_k_dense_replace") or 0) < num_layers:
        raise TwinError(f"{type(text).__name__} has {experts[0]}={experts[1]} experts and num_experts_per_tok=None: "
                        "its mixture-of-experts layers cannot pick experts, so transformers cannot run this config "
                        "at any size (not only the shrunken twin); set num_experts_per_tok in config.json")


def _drop_derived(cls: type, data: dict[str, Any]) -> None:
    """Drop the full-size values of keys that the config's `__post_init__` derives from its fields (Zamba2's
    attention_hidden_size, mamba_headdim, hybrid_layer_ids): a value passed in would override the derivation,
    so they are derived again from the tiny widths."""
    import dataclasses

    if not dataclasses.is_dataclass(cls):
        return
    fields = {field.name for field in dataclasses.fields(cls)}
    try:
        bare = cls(**{name: value for name, value in data.items() if name in fields})
    except Exception:  # a config that validates only with its extra keys keeps them all
        return
    for name in [name for name in data if name not in fields and name in vars(bare)]:
        del data[name]


def _shrink_mamba_heads(data: dict[str, Any], hidden: int) -> None:
    """Keep a Mamba-2 mixer consistent with the tiny hidden size: heads x head width = expand x hidden."""
    for heads, width, expand, inner in MAMBA_HEADS:
        if not all(isinstance(data.get(name), (int, float)) for name in (heads, expand)) or width not in data:
            continue
        size = int(data[expand] * hidden)
        data[heads], data[width] = max(1, size // HEAD_DIM), min(HEAD_DIM, size)
        if inner and data.get(inner) is not None:
            data[inner] = size
        for groups in MAMBA_GROUP_KEYS:
            if data.get(groups) is not None:
                data[groups] = 1


def build_twin(config: Any, attn_implementation: str | None = None, seed: int = 0, device: str = "cpu",
               model_class: Any = None) -> Twin:
    """`model_class`: the class the documented model was built with (kept when the config is a text model)."""
    import torch
    import transformers

    try:
        tiny, kept, layer_map = twin_config(config)
        text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
        if model_class is None or text is not config:
            model_class = _causal_class(config, tiny)
        kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = model_class._from_config(tiny, dtype=torch.float32, **kwargs)
    except TwinError:
        raise
    except Exception as error:  # transformers' config validators raise their own exception types
        cause = " ".join(str(error).split())
        raise TwinError(f"cannot build a shrunken twin of {type(config).__name__}: {type(error).__name__}: "
                        f"{cause}") from error
    transformers.logging.set_verbosity_error()
    model.to(device)
    model.eval()
    return Twin(model=model, config=model.config, layer_map=layer_map, kept=kept)


def _causal_class(config: Any, tiny: Any) -> Any:
    """The architecture's own class when the twin keeps its config type; for composite models, the
    language model that the text config builds."""
    import transformers

    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    if text is config:
        for name in getattr(config, "architectures", None) or []:
            cls = getattr(transformers, name, None)
            if cls is not None:
                return cls
    for auto in (transformers.AutoModelForCausalLM, transformers.AutoModel):
        if type(tiny) in auto._model_mapping:
            return auto._model_mapping[type(tiny)]
    raise ValueError(f"transformers has no model class for {type(tiny).__name__}")


def _list(value: Any) -> list[str] | None:
    return list(value) if isinstance(value, (list, tuple)) else None
