"""The stacks of a model: one for a decoder-only or encoder-only model, encoder and decoder for a
seq2seq model, and one per text / vision / audio sub-config of a composite model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelcard.inspect.configs import HIDDEN_KEYS, LAYER_KEYS, QUERY_HEAD_KEYS, read

# sub-config attribute (substring) -> stack name, most specific first
SUB_CONFIG_STACKS = (("vision", "vision"), ("image", "vision"), ("visual", "vision"), ("audio", "audio"),
                     ("speech", "audio"), ("text", "text"), ("encoder", "encoder"), ("decoder", "decoder"),
                     ("language", "text"), ("llm", "text"))
VISION_KEYS = ("image_size", "patch_size", "num_channels")
AUDIO_KEYS = ("num_mel_bins", "conv_dim", "feature_size", "sampling_rate")


@dataclass
class Stack:
    name: str  # decoder | encoder | vision | text | audio
    config: Any
    module: Any | None = None  # the submodule that implements the stack
    prefix: str = ""  # "encoder" / "decoder" where one config holds both stacks (BART, T5, Whisper)

    def get(self, *names: str, default: Any = None) -> Any:
        prefixed = [f"{self.prefix}_{name}" for name in names] if self.prefix else []
        return read(self.config, *prefixed, *names, default=default)

    @property
    def num_layers(self) -> int | None:
        if self.prefix == "encoder":
            value = read(self.config, "encoder_layers", "num_encoder_layers", "num_layers", *LAYER_KEYS)
        elif self.prefix == "decoder":
            value = read(self.config, "decoder_layers", "num_decoder_layers", "num_layers", *LAYER_KEYS)
        else:
            value = read(self.config, *LAYER_KEYS)
            depths = read(self.config, "depths")
            if value is None and isinstance(depths, (list, tuple)) and all(isinstance(d, int) for d in depths):
                value = sum(depths)
        return value if isinstance(value, int) else None

    @property
    def hidden_size(self) -> int | None:
        value = self.get(*HIDDEN_KEYS)
        return value if isinstance(value, int) else None

    @property
    def query_heads(self) -> Any:
        if self.prefix:
            return read(self.config, f"{self.prefix}_attention_heads", "num_heads", *QUERY_HEAD_KEYS)
        return read(self.config, *QUERY_HEAD_KEYS)


def sub_configs(config: Any) -> dict[str, Any]:
    found = {}
    for key in getattr(config, "sub_configs", None) or {}:
        value = read(config, key)
        if value is not None and hasattr(value, "to_dict"):
            found[key] = value
    return found


def stack_name(key: str) -> str | None:
    lowered = key.lower()
    for hint, name in SUB_CONFIG_STACKS:
        if hint in lowered:
            return name
    return None


def looks_like(config: Any, keys: tuple[str, ...]) -> bool:
    return sum(read(config, key) is not None for key in keys) >= 2 and read(config, "vocab_size") is None


def find_stacks(config: Any, model: Any, causal: bool) -> list[Stack]:
    """Stacks in the order a reader expects: encoder before decoder, towers before the language model."""
    subs = sub_configs(config)
    stacks: list[Stack] = []
    if getattr(config, "is_encoder_decoder", False) and not ({"encoder", "decoder"} <= set(subs)):
        stacks = [Stack("encoder", config, prefix="encoder"), Stack("decoder", config, prefix="decoder")]
    seen = {stack.name for stack in stacks}
    for key, sub in subs.items():
        name = stack_name(key)
        if name is None or name in seen or read(sub, *LAYER_KEYS, "depths", "encoder_layers") is None:
            continue
        seen.add(name)
        stacks.append(Stack(name, sub))
    if not stacks:
        if looks_like(config, VISION_KEYS):
            name = "vision"
        elif looks_like(config, AUDIO_KEYS):
            name = "audio"
        else:
            name = "decoder" if causal else "encoder"
        stacks = [Stack(name, config)]
    order = {"audio": 0, "vision": 1, "encoder": 2, "text": 3, "decoder": 4}
    stacks.sort(key=lambda stack: order[stack.name])
    for stack in stacks:
        stack.module = stack_module(stack, model)
    return stacks


def stack_module(stack: Stack, model: Any) -> Any:
    if stack.prefix:
        getter = getattr(model, f"get_{stack.prefix}", None)
        try:
            module = getter() if getter else None
        except (AttributeError, NotImplementedError, TypeError):
            module = None
        if module is not None and module is not model:
            return module
        named = [(name, m) for name, m in model.named_modules() if name.rsplit(".", 1)[-1] == stack.prefix]
        return min(named, key=lambda item: len(item[0]))[1] if named else model
    candidates = [(name, m) for name, m in model.named_modules() if getattr(m, "config", None) is stack.config]
    if candidates:
        return min(candidates, key=lambda item: len(item[0]))[1]
    return model
