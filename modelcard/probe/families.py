"""The verdict of a long-context task family (retrieval, multi-hop, aggregation, non-literal retrieval): its
effective context by NoLiMa's relative rule with intervals (modelcard.probe.effective_context), its score at the
shortest tested length, and what the card may say.

A family the model cannot do at the shortest length is reported as "cannot do the task", never as a context
limit: the relative rule would compare noise with noise. A family that holds at the shortest length and then
collapses inside the declared window is a context limit, and a finding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelcard.probe.effective_context import describe, effective_context
from modelcard.probe.outcome import finding
from modelcard.probe.retrieval import shortest_score

FAMILIES = ("retrieval", "multi-hop", "aggregation", "non-literal")


@dataclass
class FamilyVerdict:
    """What one family's scores by length say.

    Args:
        family: the family's name (one of FAMILIES).
        status: `pass`, or `fail` for a collapse inside the declared window or a task the model cannot do.
        effective: the effective-context result (value, rule, base score, intervals, dips).
        shortest: the score at the shortest tested length, with its interval.
        summary: one sentence for the card.
        cannot_do: the model fails the task at the shortest length already.
        scores: length -> exact-match rate.
        findings: what the record gets.
    """

    family: str
    status: str
    effective: dict[str, Any]
    shortest: dict[str, Any]
    summary: str
    cannot_do: bool
    scores: dict[int, float]
    findings: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The family's row, as the record's details keep it."""
        return {"family": self.family, "value": self.effective["value"], "status": self.status,
                "cannot_do": self.cannot_do, "shortest": self.shortest, "summary": self.summary,
                "scores": {str(n): round(score, 4) for n, score in sorted(self.scores.items())}}


def family_verdict(family: str, task: str, scores: Mapping[int, float], counts: Mapping[int, tuple[int, int]],
                   params: Mapping[str, Any], declared: int | None) -> FamilyVerdict:
    """Judge one family from its exact-match scores by length.

    Args:
        family: the family (one of FAMILIES).
        task: the probe's task in a few words, for the sentences (`variable tracking`).
        scores: length -> exact-match rate at every tested length.
        counts: length -> (right, prompts) behind each rate.
        params: the probe's parameters (`fraction`, `absolute`, `min_base`).
        declared: the declared context window.

    Returns:
        The verdict.
    """
    lengths = sorted(scores)
    right, total = counts[lengths[0]]
    shortest = shortest_score(lengths[0], right, total)
    effective = effective_context(scores, params["fraction"], params["absolute"], params["min_base"], declared,
                                  counts=counts)
    findings: list[dict[str, Any]] = []
    if effective["value"] is None:
        score = shortest["score"] or 0.0
        summary = (f"cannot do the task: {task} is right in {score:.0%} of prompts already at the shortest tested "
                   f"length ({lengths[0]:,} tokens), so its scores say nothing about the context window")
        findings.append(finding("info", "/disclosures/known_failure_modes", None,
                                {"task": task, "length": lengths[0], "score": score},
                                f"the model cannot do {task}: {score:.0%} right already at {lengths[0]:,} tokens "
                                "(a task limit, not a context limit)"))
        return FamilyVerdict(family, "fail", effective, shortest, summary, True, dict(scores), findings)
    summary = describe(effective, declared, dict(scores), what=task)
    status = "pass"
    collapse = effective["collapse"]
    if collapse is not None:
        status = "fail"
        inside = declared is None or collapse["length"] <= declared
        findings.append(finding(
            "warning", "/disclosures/known_failure_modes", declared,
            {"task": task, "holds_through": effective["holds_through"], "length": collapse["length"],
             "score": collapse["score"], "effective": effective["value"]},
            f"{task}: {summary}" + (": the model does not use the context it declares" if inside else "")))
    return FamilyVerdict(family, status, effective, shortest, summary, False, dict(scores), findings)
