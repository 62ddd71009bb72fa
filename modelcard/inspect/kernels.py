"""Which attention kernels transformers can run on this machine, for a given model: transformers' own answers."""

from __future__ import annotations

from typing import Any

FLASH_VERSIONS = {"flash_attention_2": 2, "flash_attention_3": 3, "flash_attention_4": 4}


def transformers_kernels(model: Any, device: Any, dtype: str) -> dict[str, dict[str, str] | None]:
    """transformers' own answers: its attention registry names the kernels, its `is_*_available` checks say which
    are installed, and the model class's `_supports_*` flags which its code implements."""
    import torch
    import transformers.utils as utils
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    names = ["eager", *(k for k in ALL_ATTENTION_FUNCTIONS.valid_keys() if "|" not in k)]  # paged: no plain forward
    cls = type(model).__name__
    result: dict[str, dict[str, str] | None] = {}
    for kernel in dict.fromkeys(names):
        version = FLASH_VERSIONS.get(kernel)
        installed = {"sdpa": lambda: hasattr(torch.nn.functional, "scaled_dot_product_attention"),
                     "flex_attention": utils.is_torch_flex_attn_available}.get(kernel)
        if version is not None:
            installed = getattr(utils, f"is_flash_attn_{version}_available", lambda: False)
        if installed is not None and not installed():
            what = f"flash-attn {version} package or CUDA device" if version else f"{kernel} in this torch"
            result[kernel] = {"status": "unavailable", "reason": f"transformers finds no {what}"}
            continue
        flag = {"sdpa": "_supports_sdpa", "flex_attention": "_supports_flex_attn"}.get(
            kernel, "_supports_flash_attn" if version else None)
        if kernel != "eager" and kernel != getattr(model.config, "_attn_implementation", None):
            if flag and not getattr(model, flag, True):
                result[kernel] = {"status": "unsupported",
                                  "reason": f"{cls} does not implement {kernel} ({flag} is False in transformers)"}
                continue
            can_set = getattr(type(model), "_can_set_attn_implementation", None)
            if callable(can_set) and not can_set():
                result[kernel] = {"status": "unsupported",
                                  "reason": f"{cls} cannot switch its attention kernel at runtime (transformers)"}
                continue
        if version is not None and getattr(device, "type", str(device)) != "cuda":
            result[kernel] = {"status": "unavailable",
                              "reason": f"flash attention runs on CUDA; the model is on {device}"}
            continue
        if version is not None and dtype not in ("float16", "bfloat16"):
            result[kernel] = {"status": "unsupported",
                              "reason": f"flash attention runs float16 and bfloat16 only; the model runs {dtype}"}
            continue
        result[kernel] = None
    return result


def available_kernels(model: Any = None, device: Any = None, dtype: str | None = None) -> list[str]:
    """The kernels usable here for `model` (all installed ones when no model is given): installed per
    transformers' `is_*_available` checks and implemented by the model class. `device` defaults to this machine's
    accelerator (a model on the meta device is being inspected, not run)."""
    import torch

    if device is None:
        device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if model is None or getattr(model, "config", None) is None:  # a custom nn.Module: what is installed
        from types import SimpleNamespace

        model = SimpleNamespace(config=SimpleNamespace(_attn_implementation=None))
    dtype = dtype or "bfloat16"
    return [kernel for kernel, problem in transformers_kernels(model, device, dtype).items() if problem is None]
