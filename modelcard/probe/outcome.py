"""What a probe returns, and the SPEC.md probe record the runner makes of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "error", "skipped")


@dataclass
class Outcome:
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
    return Outcome(status="skipped", reason=reason, details=dict(details))


def finding(severity: str, pointer: str, declared: Any, measured: Any, message: str) -> dict[str, Any]:
    return {"severity": severity, "pointer": pointer, "declared": declared, "measured": measured, "message": message}
