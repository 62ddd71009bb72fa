"""What a probe returns, and the SPEC.md probe record the runner makes of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "error", "skipped")


@dataclass
class Outcome:
    """What a probe found; the runner adds the id, parameters, seed, kernel, device, dtype and timing.

    Args:
        status: `pass`, `fail`, `error` or `skipped`.
        metric: what `value` is (`max abs logit`).
        value: the headline figure.
        unit: its unit (`tokens`), or None.
        threshold: what `value` was judged against.
        details: the evidence, as JSON (a probe's whole measurement, not a summary).
        reason: why it is `skipped` or an `error`.
        kernel: the attention kernel it ran, when not the model's own.
        measured: JSON pointer -> a value the probe measured; it replaces the detected one in the record.
        derived: JSON pointer -> a value computed from measured ones (provenance `derived`).
        findings: contradictions and failure modes found, each from `finding()`.
    """

    status: str
    metric: str | None = None
    value: Any = None
    unit: str | None = None
    threshold: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    kernel: str | None = None  # when the probe ran kernels other than the model's own
    measured: dict[str, Any] = field(default_factory=dict)  # JSON pointer -> measured value (it wins)
    derived: dict[str, Any] = field(default_factory=dict)  # JSON pointer -> value computed from measured ones
    findings: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown probe status {self.status!r}")


class NotApplicable(Exception):  # noqa: N818 - a verdict, not a failure: the runner records `skipped`
    """Raised where a probe asks the model for something its architecture does not do (a decoder-only forward of
    an encoder-decoder, the cache of an encoder); the runner records the probe as `skipped` with this reason."""


def skipped(reason: str, **details: Any) -> Outcome:
    """A probe that cannot be meaningful for this model.

    Args:
        reason: why, in one sentence a reader of the card understands.
        **details: what was measured before it was decided, kept in the record.

    Returns:
        An Outcome with status `skipped`.
    """
    return Outcome(status="skipped", reason=reason, details=dict(details))


def finding(severity: str, pointer: str, declared: Any, measured: Any, message: str) -> dict[str, Any]:
    """A finding for the record: what a probe found that contradicts or qualifies what is claimed.

    Args:
        severity: `error` (fails the CI gate), `warning` or `info`.
        pointer: the JSON pointer of the record value it concerns (`/context_window/effective`).
        declared: what the config or the authors claim there.
        measured: what the probe measured.
        message: one sentence for the card.

    Returns:
        The finding as the record stores it.
    """
    return {"severity": severity, "pointer": pointer, "declared": declared, "measured": measured, "message": message}
