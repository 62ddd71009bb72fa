"""`architecture`: the class of network, its stacks and its size."""

from __future__ import annotations

import inspect as pyinspect
from typing import Any

from modelcard.inspect.configs import HIDDEN_KEYS, LAYER_KEYS, read
from modelcard.inspect.facts import Facts
from modelcard.inspect.heads import self_attention, stack_heads
from modelcard.inspect.layer_kinds import WINDOW_SPELLINGS, Layer, stack_layers, window_key
from modelcard.inspect.lengths import context_length
from modelcard.inspect.modules import attention_modules, causal_flags, forward_source, is_attention, mixer_kind
from modelcard.inspect.registry import inspector
from modelcard.inspect.stacks import Stack, find_stacks
from modelcard.inspect.state import Structure, main_stack
from modelcard.inspect.view import ModelView

STACK_MODALITY = {"vision": "image", "audio": "audio"}
GENERATING_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")
RECURRENT_KINDS = ("linear", "state-space")
CAUSAL_MASK_BUILDERS = ("create_causal_mask", "_prepare_4d_causal_attention_mask", "_make_causal_mask")
# in a stack's forward: the mask depends on the config (T5Stack serves both sides), or is bidirectional
CACHE_ARGUMENTS = ("past_key_values", "past_key_value", "cache", "cache_params", "layer_past", "use_cache")
CONDITIONAL_MASK_MARKERS = ("is_decoder", "is_causal=self", "create_bidirectional_mask", "_prepare_4d_attention_mask",
                            "bidirectional_mask", "_expand_mask")


def model_is_causal(view: ModelView) -> bool:
    """Whether the model as built masks causally: its attention modules say so, or its class generates."""
    modules = attention_modules(view.model)
    flags = causal_flags(modules)
    if flags:
        return True in flags
    name = type(view.model).__name__
    if name.endswith(GENERATING_SUFFIXES) or read(view.text_config, "is_decoder"):
        return True
    if not modules and any(mixer_kind(module) for module in view.model.modules()):
        return True  # a recurrence reads only the past
    if "config.is_decoder" in view.modeling_source:
        return False  # the architecture masks causally only when configured as a decoder, and it is not
    return any(view.code_reads(name) for name in CAUSAL_MASK_BUILDERS)


def takes_a_cache(module: Any) -> bool:
    """Whether a stack's forward accepts a cache at all (CLIP's and SigLIP's text towers do not: they encode)."""
    try:
        parameters = pyinspect.signature(type(module).forward).parameters
    except (TypeError, ValueError):
        return True
    return any(name in parameters for name in CACHE_ARGUMENTS) or "past_key_values" in forward_source(module)


def forward_builds_causal_mask(stack: Stack) -> bool:
    """The stack's own forward (or that of a module under it holding the same config, attention modules aside)
    builds a causal mask whatever the config says: CLIP's text transformer calls create_causal_mask although
    its attention modules carry is_causal = False."""
    if stack.module is None:
        return False
    holders = [module for module in stack.module.modules()
               if (module is stack.module or getattr(module, "config", None) is stack.config)
               and not is_attention(module)]
    for module in holders[:8]:
        source = forward_source(module)
        causal = any(builder in source for builder in CAUSAL_MASK_BUILDERS) or "is_causal=True" in source
        if causal and not any(marker in source for marker in CONDITIONAL_MASK_MARKERS):
            return True
    return False


def stack_is_causal(stack: Stack, view: ModelView) -> bool:
    """What the stack's code does: a causal mask that its forward builds, else the `is_causal` its attention
    modules carry, else its role."""
    if stack.name in ("text", "encoder", "vision", "audio") and forward_builds_causal_mask(stack):
        return True
    flags = causal_flags(self_attention(stack))
    if flags:
        return flags == {True}
    if stack.name == "decoder":
        return True
    return stack.name == "text" and type(view.model).__name__.endswith(GENERATING_SUFFIXES)


def generates(stack: Stack, view: ModelView) -> bool:
    """A causal text stack that generates: the model's class says so, or the stack takes a cache (a causal text
    encoder such as VideoPrism's or CLIP's does neither)."""
    return type(view.model).__name__.endswith(GENERATING_SUFFIXES) or stack.module is None or \
        takes_a_cache(stack.module)


def architecture_class(view: ModelView, stacks: list[Stack], layers: dict[str, list[Layer]]) -> str | None:
    config = view.config
    if config is None:
        masking = (view.loaded.declared if view.loaded else {}).get("masking")
        if masking is None:
            return None
        return {"causal": "decoder-only", "bidirectional": "encoder-only"}.get(masking)
    names = {stack.name for stack in stacks}
    if getattr(config, "is_encoder_decoder", False) and {"encoder", "decoder"} <= names:
        return "encoder-decoder"
    if names & {"vision", "audio"} and names & {"text", "decoder", "encoder"}:
        return "multimodal"
    if names == {"vision"}:
        return "vision-encoder"
    main = main_stack(stacks)
    kinds = {layer.kind for layer in layers.get(main.name, [])}
    if kinds and kinds <= set(RECURRENT_KINDS):
        return "state-space"
    if kinds & set(RECURRENT_KINDS) or any(layer.state for layer in layers.get(main.name, [])):
        return "hybrid"
    if main.name == "decoder" or (main.name == "text" and stack_is_causal(main, view) and generates(main, view)):
        return "decoder-only"
    return "encoder-only"


def stack_summary(stack: Stack, heads: dict[str, Any], layers: list[Layer], view: ModelView) -> dict[str, Any]:
    return {
        "model_type": read(stack.config, "model_type"),
        "num_layers": stack.num_layers,
        "hidden_size": stack.hidden_size,
        "heads": heads,
        "causal": stack_is_causal(stack, view),
        "layer_kinds": sorted({layer.kind for layer in layers}),
    }


def whole_context_windows(stack: Stack, layers: list[Layer], facts: Facts) -> None:
    """A sliding window or chunk at least as wide as the context covers every position a token can see: those
    layers are full attention (Phi-3-mini-128k: sliding_window 262,144 on a 131,072-token context), and the key
    is listed as having no effect."""
    limit = context_length(stack.config)
    if not limit:
        return
    for layer in layers:
        if layer.kind not in WINDOW_SPELLINGS or not layer.window or layer.window < limit:
            continue
        key = window_key(stack.config, layer.index, layer.kind)
        noun = "window" if layer.kind == "sliding" else "chunk"
        facts.ignored(key, layer.window, f"a {noun} of {layer.window:,} tokens is at least the context window "
                                         f"({limit:,} tokens): it covers every position, so those layers attend "
                                         f"to the full context and the key has no effect")
        layer.kind, layer.window = "full", None


@inspector("architecture")
def inspect_architecture(view: ModelView, facts: Facts) -> None:
    stacks = find_stacks(view.config, view.model, model_is_causal(view)) if view.config is not None else []
    layers = {stack.name: stack_layers(stack, view.code_reads) for stack in stacks}
    for stack in stacks:
        whole_context_windows(stack, layers[stack.name], facts)
    heads = {stack.name: stack_heads(stack) for stack in stacks}
    facts.structure = Structure(stacks=stacks, layers=layers, heads=heads)
    arch_class = architecture_class(view, stacks, layers)
    if arch_class is None:
        facts.null("/architecture/class", "a custom module without a declared masking; see the mask-leak probe")
    modalities = ["text"] if not stacks or any(s.name in ("text", "decoder", "encoder") for s in stacks) else []
    modalities += sorted({STACK_MODALITY[s.name] for s in stacks if s.name in STACK_MODALITY})
    main = main_stack(stacks) if stacks else None
    textual = main is None or main.name in ("decoder", "text", "encoder")
    record = {
        "class": arch_class,
        "num_layers": main.num_layers if main else None,
        "hidden_size": main.hidden_size if main else None,
        "vocab_size": read(main.config, "vocab_size") if main else None,
        "modalities": {"input": modalities or ["text"], "output": ["text"] if textual else []},
    }
    if main is None:
        record["num_layers"] = view.get(*LAYER_KEYS)
        record["hidden_size"] = view.get(*HIDDEN_KEYS)
    record["tied_embeddings"] = tied_embeddings(view)
    if len(stacks) > 1:
        record["stacks"] = {s.name: stack_summary(s, heads[s.name], layers[s.name], view) for s in stacks}
    for key in ("num_layers", "hidden_size", "vocab_size"):
        if record[key] is None:
            facts.null(f"/architecture/{key}", "the config does not state it and the module tree does not show it")
    facts.values["architecture"] = record


def tied_embeddings(view: ModelView) -> bool | None:
    """Whether the output projection is the input embedding itself: read from the module (one Parameter in
    both places, as transformers ties them even on the meta device), else from the config; None when neither
    says (a custom module without the accessors)."""
    model = view.model
    inputs = getattr(model, "get_input_embeddings", None)
    outputs = getattr(model, "get_output_embeddings", None)
    if callable(inputs) and callable(outputs):
        try:
            first, last = inputs(), outputs()
        except (AttributeError, NotImplementedError):
            first = last = None
        if first is not None and last is not None and hasattr(first, "weight") and hasattr(last, "weight"):
            return first.weight is last.weight
    declared = getattr(view.config, "tie_word_embeddings", None) if view.config is not None else None
    return declared if isinstance(declared, bool) else None
