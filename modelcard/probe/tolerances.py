"""Agreement tolerances by dtype, as transformers' own eager-vs-sdpa tests use them: (atol, rtol)."""

from __future__ import annotations

from typing import Any

TOLERANCES = {"float32": (1e-6, 1e-4), "float64": (1e-10, 1e-8), "float16": (5e-3, 5e-3), "bfloat16": (1e-2, 1e-2)}


def tolerance(dtype: str, atol: float | None = None, rtol: float | None = None) -> tuple[float, float]:
    default_atol, default_rtol = TOLERANCES.get(dtype, TOLERANCES["bfloat16"])
    return (default_atol if atol is None else atol, default_rtol if rtol is None else rtol)


def compare(reference: Any, other: Any, keep: Any, atol: float, rtol: float) -> dict[str, Any]:
    """Compare two (batch, seq, dim) outputs over the positions `keep` (batch, seq) marks."""
    reference, other = reference.float()[keep], other.float()[keep]
    difference = (reference - other).abs()
    excess = difference - (atol + rtol * reference.abs())
    positions_off = (excess > 0).any(dim=-1)
    top1 = (reference.argmax(dim=-1) == other.argmax(dim=-1)).float().mean()
    return {
        "max_abs_diff": float(difference.max()) if difference.numel() else 0.0,
        "within_tolerance": not bool(positions_off.any()),
        "positions_off": int(positions_off.sum()),
        "first_position_off": int(positions_off.nonzero()[0][0]) if positions_off.any() else None,
        "top1_agreement": float(top1),
    }
