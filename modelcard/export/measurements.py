"""The measured results of a record as rows a standard can carry: each probe's headline figure, and its scores
by length with their 95% intervals where the probe gives them (the slices)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    probe: str
    metric: str
    value: float
    unit: str | None
    status: str
    interval: tuple[float, float] | None = None
    slice: str | None = None  # "length=2048", for a score at one length

    @property
    def name(self) -> str:
        return f"{self.probe}: {self.metric}" + (f" ({self.slice})" if self.slice else "")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def measurements(record: dict[str, Any]) -> list[Measurement]:
    """Every probe that ran: its headline value, then its scores by length with their intervals.

    Args:
        record: a validated record.

    Returns:
        The measurements, in the record's probe order.
    """
    rows = []
    for probe in record.get("probes") or []:
        if probe.get("status") not in ("pass", "fail") or not _number(probe.get("value")):
            continue
        rows.append(Measurement(probe["id"], probe.get("metric") or "value", float(probe["value"]), probe.get("unit"),
                                probe["status"]))
        details = probe.get("details") or {}
        scores, intervals = details.get("scores") or {}, details.get("score_intervals") or {}
        if not isinstance(scores, dict):
            continue
        family = details.get("family")
        measure = family.get("measure") if isinstance(family, dict) else None
        measure = measure if isinstance(measure, str) and measure else "exact match"
        for length, score in scores.items():
            bounds = intervals.get(length) if isinstance(intervals, dict) else None
            if _number(score):
                rows.append(Measurement(probe["id"], measure, float(score), None, probe["status"],
                                        tuple(bounds) if isinstance(bounds, list) and len(bounds) == 2 else None,
                                        f"length={length}"))
    return rows
