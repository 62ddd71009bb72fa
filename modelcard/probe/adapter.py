"""The one narrow interface probes talk to (STYLE.md 8): forward with the model's own kernel or a chosen one,
forward through a cache, the token-mixing blocks, and the cache read back as per-layer tensors. A transformers
model and a custom nn.Module (SPEC.md protocol) are probed by the same code."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from modelcard.inspect.kernels import transformers_kernels
from modelcard.probe.memcheck import cached_tokens, check_forward, model_shape
from modelcard.probe.outcome import NotApplicable

CACHE_ARGUMENTS = ("cache", "past_key_values")
ENCODERS = ("encoder-only", "vision-encoder")
# transformers' own cached forward of a cache with no attention layer (an all-Mamba Bamba or GraniteMoeHybrid
# config) asks that cache for a token count that only attention layers keep.
NO_ATTENTION_LAYER = "can only be called on Attention layers"


class NonFiniteOutput(RuntimeError):
    """The model's outputs hold NaN or infinite values: nothing a probe measures on them means anything, so the
    probe ends as an error (the runner records the exception) instead of comparing NaN with NaN."""


def require_finite(output: Any, forward: str) -> Any:
    """`output` unchanged when every value is finite; otherwise raise NonFiniteOutput naming what was found.

    Args:
        output: the logits (or hidden states) of one forward, (batch, seq, dim).
        forward: what ran, for the message ("a forward of 24 tokens").

    Returns:
        `output`.
    """
    import torch

    # A NaN or an infinity makes the sum non-finite; the sum allocates nothing the size of the logits.
    if not output.is_floating_point() or bool(torch.isfinite(output.sum(dtype=torch.float32))):
        return output
    nan = int(torch.isnan(output).sum())
    infinite = int(torch.isinf(output).sum())
    if not nan and not infinite:  # finite values whose float32 sum overflowed
        return output
    where = (~torch.isfinite(output)).nonzero()[0].tolist()
    at = f"batch row {where[0]}, position {where[1]}" if len(where) >= 2 else f"index {where}"
    kinds = " and ".join(part for part in (f"{nan:,} NaN" if nan else "", f"{infinite:,} infinite" if infinite else "")
                         if part)
    raise NonFiniteOutput(f"the model's outputs hold {kinds} value(s) of {output.numel():,} after {forward} (first at "
                          f"{at}): nothing can be measured on them")


@dataclass
class CacheLayer:
    """One layer of a cache as the runtime stores it."""

    class_name: str
    tokens: int | None  # positions held in keys/values, None for a layer that stores none
    kv_bytes: int
    state_bytes: int


@dataclass
class ModelAdapter:
    """The model behind the narrow interface every probe drives, the same for a transformers model and a
    custom `nn.Module`: forwards with and without a cache, its token-mixing blocks and cache layers, and its
    attention kernels. Every forward is checked against the free memory first, and raises on NaN or inf.

    Args:
        model: the `torch.nn.Module` (its weights, or a twin's).
        config: its transformers config; None for a custom module.
        twin: the model is a shrunken random-init twin of a config-only model.
        layer_map: on a twin, the documented model's layer index -> the index in `blocks()`.
        declared: a custom module's `modelcard_declared`.
        architecture: the documented model's architecture class (SPEC.md), when inspection knew it.
        twin_kept: on a twin, the documented layers its blocks stand for (one per kind).
        agree: under tensor parallelism, how the ranks agree on a figure (their minimum).
        tp_size: the ranks the weights are sharded over.
    """

    model: Any  # torch.nn.Module
    config: Any | None = None
    twin: bool = False
    layer_map: list[int] | None = None  # documented model's layer index -> index in `blocks()`
    declared: dict[str, Any] = field(default_factory=dict)
    architecture: str | None = None  # the documented model's architecture class (SPEC.md), when inspection knew it
    twin_kept: list[int] | None = None  # on a twin: the documented layers its blocks are (one per kind)
    # Under tensor parallelism every rank runs every forward together: a decision from free memory must be the same
    # on every rank, so it is taken on the smallest figure of all (modelcard.probe.distributed.Comm.minimum).
    agree: Any = field(default=None, repr=False, compare=False)
    tp_size: int = 1  # ranks the weights are sharded over; each rank's cache then holds 1/tp_size of the KV heads
    _shape: Any = field(default=None, init=False, repr=False, compare=False)  # memcheck.Shape, computed once

    def _require_decoder_forward(self) -> None:
        """Probes drive one stack: token ids in, logits out. An encoder-decoder needs two inputs."""
        if self.architecture == "encoder-decoder":
            raise NotApplicable("an encoder-decoder model: this probe drives a single decoder-only stack "
                                "(token ids in, logits out), and the model needs an encoder input and a decoder "
                                "input; its stacks are documented by static inspection only")

    def memory_shape(self) -> Any:
        """The widths the memory check before each forward needs (modelcard.probe.memcheck.Shape)."""
        if self._shape is None:
            self._shape = model_shape(self)
        return self._shape

    def _require_cache(self) -> None:
        if self.architecture in ENCODERS:
            raise NotApplicable(f"an {self.architecture} model keeps no KV cache: it reads its whole input in one "
                                "forward and never decodes token by token, so there is no cache to probe")

    @property
    def is_transformers(self) -> bool:
        from transformers import PreTrainedModel

        return isinstance(self.model, PreTrainedModel)

    @property
    def device(self) -> Any:
        """Where inputs go: the first device that holds weights (a weight offloaded to disk is on `meta`)."""
        first = None
        for parameter in self.model.parameters():
            if parameter.device.type != "meta":
                return parameter.device
            first = first or parameter.device
        return first

    @property
    def devices(self) -> list[Any]:
        """Every device that holds weights, in the order of the parameters: one, or several under a device map
        (weights offloaded to disk are on none)."""
        found = list(dict.fromkeys(p.device for p in self.model.parameters() if p.device.type != "meta"))
        return found or [self.device]

    @property
    def dtype(self) -> Any:
        import torch

        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch.float32)

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    @property
    def vocab_size(self) -> int:
        embeddings = self.model.get_input_embeddings() if hasattr(self.model, "get_input_embeddings") else None
        if embeddings is None:
            import torch

            embeddings = next((m for m in self.model.modules() if isinstance(m, torch.nn.Embedding)), None)
        if embeddings is None:
            return int(getattr(self.model, "vocab_size", 256))
        return int(embeddings.num_embeddings)

    @property
    def kernel(self) -> str | None:
        """The attention kernel in effect: transformers' own setting, or a custom module's `attn_implementation`."""
        if self.is_transformers:
            return getattr(self.model.config, "_attn_implementation", None)
        return getattr(self.model, "attn_implementation", None)

    def kernels(self) -> list[str]:
        """Kernels this model can run here (see kernel_availability)."""
        return [kernel for kernel, why in self.kernel_availability().items() if why is None]

    def kernel_availability(self) -> dict[str, dict[str, str] | None]:
        """Every attention kernel transformers knows, mapped to None where this model can run it here, or to
        {status, reason}: `unavailable` where transformers says the kernel is not installed or cannot run on this
        device, `unsupported` where the model's own code (or its dtype) cannot use it. A custom module runs the
        kernels its `modelcard_kernels` lists (a single unnamed kernel otherwise)."""
        if not self.is_transformers:
            return {kernel: None for kernel in
                    list(getattr(self.model, "modelcard_kernels", None) or ([self.kernel] if self.kernel else []))}
        return transformers_kernels(self.model, self.device, self.dtype_name)

    @contextlib.contextmanager
    def using(self, kernel: str | None) -> Iterator[None]:
        """Run the block with another attention kernel, then restore the model's own.

        Args:
            kernel: a kernel name from `kernels()` (`eager`, `sdpa`, ...); None keeps the current one.
        """
        original = self.kernel
        if kernel is None or kernel == original:
            yield
            return
        setter = getattr(self.model, "set_attn_implementation", None)
        if setter is None:
            raise ValueError(f"{type(self.model).__name__} cannot switch its attention kernel")
        setter(kernel)
        try:
            if self.kernel != kernel:
                raise ValueError(f"asked for {kernel}, the model runs {self.kernel}")
            yield
        finally:
            setter(original)

    def _accepts(self, name: str) -> bool:
        try:
            parameters = inspect.signature(self.model.forward).parameters
        except (TypeError, ValueError):
            return False
        return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values()) and self.is_transformers

    @property
    def supports_padding(self) -> bool:
        return self._accepts("attention_mask")

    @property
    def cache_argument(self) -> str | None:
        try:
            parameters = inspect.signature(self.model.forward).parameters
        except (TypeError, ValueError):
            return None
        if self.is_transformers:  # transformers >= 5.2x spells it `cache`, earlier releases `past_key_values`
            return "cache" if "cache" in parameters else "past_key_values"
        return next((name for name in CACHE_ARGUMENTS if name in parameters), None)

    def outputs(self, input_ids: Any, attention_mask: Any = None) -> Any:
        """One full forward, without a cache.

        Args:
            input_ids: `(batch, seq)` token ids, on any device.
            attention_mask: an optional `(batch, seq)` padding mask.

        Returns:
            The logits (the last hidden states for a model without a head), `(batch, seq, dim)`.

        Raises:
            InsufficientMemory: the forward would not fit in the free memory (checked before it starts).
            NotApplicable: an encoder-decoder, which needs two inputs.
        """
        import torch

        self._require_decoder_forward()
        kwargs: dict[str, Any] = {}
        if attention_mask is not None:
            kwargs["attention_mask"] = attention_mask
        if self.is_transformers:
            kwargs["use_cache"] = False
        check_forward(self, input_ids)  # refuse a forward that cannot fit before it allocates
        with torch.no_grad():
            output = _main_output(self.model(input_ids.to(self.device), **kwargs))
        real = attention_mask.bool().to(output.device) if getattr(attention_mask, "ndim", 0) == 2 else None
        require_finite(output if real is None else output[real][None], f"a forward of {input_ids.shape[-1]:,} tokens"
                       + ("" if real is None else " (pad positions, which no probe reads, left out)"))
        return output

    def step(self, input_ids: Any, cache: Any = None) -> tuple[Any, Any]:
        """A forward through the model's own cache.

        Args:
            input_ids: `(batch, new)` token ids that follow what `cache` holds.
            cache: the cache a previous `step` returned; None starts one.

        Returns:
            `(outputs, cache)`: the logits of the new tokens, and the cache after them.

        Raises:
            InsufficientMemory: the forward would not fit (checked before it starts).
            NotApplicable: a model that keeps no cache (an encoder).
        """
        import torch

        self._require_decoder_forward()
        self._require_cache()
        argument = self.cache_argument
        if argument is None:
            raise ValueError(f"{type(self.model).__name__}.forward takes no cache")
        kwargs: dict[str, Any] = {argument: cache}
        if self.is_transformers or self._accepts("use_cache"):
            kwargs["use_cache"] = True
        past = cached_tokens(cache)
        check_forward(self, input_ids, past)
        try:
            with torch.no_grad():
                result = self.model(input_ids.to(self.device), **kwargs)
        except ValueError as error:
            if NO_ATTENTION_LAYER not in str(error):
                raise
            import transformers

            raise ValueError(
                f"{type(self.model).__name__} cannot run a forward with a cache in transformers "
                f"{transformers.__version__}: none of its layers is an attention layer, and the model's own forward "
                f"asks the cache how many tokens it holds, which only attention layers record ({error})") from error
        output = require_finite(_main_output(result), f"a forward of {input_ids.shape[-1]:,} tokens after "
                                                      f"{past:,} cached")
        return output, _returned_cache(result)

    def blocks(self) -> list[Any]:
        """The stack of token-mixing blocks.

        Returns:
            The blocks of the `ModuleList` that holds most of the parameters, in order.
        """
        import torch

        best, best_size = None, -1
        for module in self.model.modules():
            if isinstance(module, torch.nn.ModuleList) and len(module) > 0:
                size = sum(p.numel() for p in module.parameters())
                if size > best_size:
                    best, best_size = module, size
        return list(best) if best is not None else []

    def cache_layers(self, cache: Any) -> list[CacheLayer]:
        layers = getattr(cache, "layers", None)
        if layers is None and isinstance(cache, (list, tuple)):
            layers = cache
        if layers is None:
            raise ValueError(f"cannot read a {type(cache).__name__} layer by layer")
        read = [_cache_layer(layer) for layer in layers]
        if self.tp_size > 1:  # tensor parallelism splits the KV heads evenly across the ranks: the whole cache
            read = [dataclasses.replace(layer, kv_bytes=layer.kv_bytes * self.tp_size) for layer in read]
        # MiniMaxCache keeps its lightning-attention states in `linear_cache`, one slot per layer beside `layers`
        # (which holds only the attention layers, or empty placeholders in the linear layers' places).
        linear = getattr(cache, "linear_cache", None)
        if isinstance(linear, list) and any(_tensors(state) for state in linear):
            empty = CacheLayer("none", None, 0, 0)
            read += [empty] * (len(linear) - len(read))
            for index, state in enumerate(linear):
                if _tensors(state):
                    read[index] = CacheLayer(f"{type(cache).__name__}.linear_cache", None, 0,
                                             sum(t.nbytes for t in _tensors(state)))
        return read


def _main_output(result: Any) -> Any:
    import torch

    if isinstance(result, torch.Tensor):
        return result
    if isinstance(result, tuple):
        return result[0]
    for name in ("logits", "last_hidden_state"):
        value = getattr(result, name, None)
        if value is not None:
            return value
    raise ValueError(f"the model returned {type(result).__name__}, with neither logits nor hidden states")


def _returned_cache(result: Any) -> Any:
    if isinstance(result, tuple) and len(result) > 1:
        return result[1]
    for name in CACHE_ARGUMENTS:
        value = getattr(result, name, None)
        if value is not None:
            return value
    raise ValueError(f"the model returned {type(result).__name__} without a cache")


def _tensors(value: Any) -> list[Any]:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _cache_layer(layer: Any) -> CacheLayer:
    if isinstance(layer, (list, tuple)):
        keys, values, states = layer[0], layer[1], []
    else:
        keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
        states = _tensors(getattr(layer, "conv_states", None)) + _tensors(getattr(layer, "recurrent_states", None))
    kv = [t for t in (keys, values) if t is not None and hasattr(t, "shape") and t.numel() > 0]
    return CacheLayer(
        class_name=type(layer).__name__,
        tokens=int(kv[0].shape[-2]) if kv else None,
        kv_bytes=sum(t.nbytes for t in kv),
        state_bytes=sum(t.nbytes for t in states),
    )
