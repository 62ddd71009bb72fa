"""What a reader needs beside a probe's number: the cause of a failure where the record shows it, and where a
value measured on a shrunken random-init twin could pass for the model's, the model's own figure beside it."""

from __future__ import annotations

from typing import Any

from modelcard.base.wording import number

CAPPED_KINDS = ("sliding", "chunked")


def _kernel(probe: dict[str, Any], record: dict[str, Any]) -> str | None:
    kernel = probe.get("kernel") or record["attention"].get("implementation")
    return kernel.split(",")[0] if isinstance(kernel, str) else None


def _caches_forget(record: dict[str, Any]) -> list[int]:
    """Layers whose cache keeps a window while their attention sees every earlier token."""
    full = {layer["index"] for layer in record["attention"].get("layers") or [] if layer.get("kind") == "full"}
    return [layer["index"] for layer in record["kv_cache"].get("layers") or []
            if layer.get("kind") in CAPPED_KINDS and layer.get("index") in full]


def cause(probe: dict[str, Any], record: dict[str, Any]) -> str | None:
    """Why a probe failed, when the record itself shows the reason; None when it does not."""
    if probe["status"] != "fail":
        return None
    if probe["id"] == "scaling" and _kernel(probe, record) == "eager":
        exponent = probe.get("value")
        shown = f" (exponent {number(exponent)})" if isinstance(exponent, (int, float)) else ""
        return (f"Cause: the configured eager kernel builds the whole length × length attention matrix, so memory "
                f"grows with the square of the length{shown}. This measures the kernel, not the architecture: "
                f"kernels that never build it (sdpa, flash attention, where the model supports them) grow "
                f"linearly.")
    if probe["id"] == "cache-consistency" and (layers := _caches_forget(record)):
        return (f"Cause: the cache keeps a window of past tokens on {len(layers)} layer(s) whose attention sees "
                f"every earlier token (see kv-layout), so decoding forgets tokens the model attends to.")
    return None


def twin_note(probe: dict[str, Any], record: dict[str, Any], real_kv: str) -> str | None:
    """Where a twin's figure could pass for the model's, the model's own beside it (or a word that it is not)."""
    if not probe.get("twin"):
        return None
    if probe["id"] == "kv-layout":
        return f"the model itself: {real_kv} per token"
    if probe["id"] == "scaling":
        return "the twin's memory and latency, not the model's"
    return None
