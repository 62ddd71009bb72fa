"""A probe that runs at a shorter length than it was asked for says so in its record: `details.capped` holds the
length requested, the length used and why (the declared context, memory, the probe's own max)."""

from __future__ import annotations

from typing import Any


def cap_length(requested: int, limits: list[tuple[int | None, str]]) -> tuple[int, dict[str, Any] | None]:
    """The length a probe uses: `requested`, or the tightest limit below it.

    Args:
        requested: the length the probe's parameters (or the windows it must pass) ask for.
        limits: (limit, why) pairs; a None limit does not apply. `why` names the limit for the record
            ("the declared context of 8,192 tokens").

    Returns:
        (used length, {"requested", "used", "why"} when it was capped, else None).
    """
    applicable = [(limit, why) for limit, why in limits if limit is not None and limit < requested]
    if not applicable:
        return requested, None
    used, why = min(applicable, key=lambda item: item[0])
    return used, {"requested": requested, "used": used, "why": why}


def declared_context(length: int | None) -> tuple[int | None, str]:
    """The (limit, why) pair of the model's declared context window (None when it declares none)."""
    return length, f"the model's declared context of {length:,} tokens" if length else "no declared context"
