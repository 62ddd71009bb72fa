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
from modelcard.probe.outcome import Outcome, finding
from modelcard.probe.retrieval import shortest_score

FAMILIES = ("retrieval", "multi-hop", "aggregation", "non-literal")
RULE_KEYS = ("rule", "statement", "fraction", "base_length", "base_score", "threshold", "holds_through", "lower_bound")


@dataclass(frozen=True)
class Measure:
    """What a family's score by length counts.

    Args:
        name: its name in the record and on the card (`exact match`).
        rate: the quantity, for the rule's statement (`exact-match accuracy`).
        items: for a share of an answer's items (names, words): what they are; None for exact match.
    """

    name: str
    rate: str
    items: str | None = None

    def right(self, task: str, score: float) -> str:
        """`variable tracking is right in 0% of prompts` or `... gets 33% of the names right`."""
        if self.items is None:
            return f"{task} is right in {score:.0%} of prompts"
        return f"{task} gets {score:.0%} of the {self.items} right"

    def short(self, score: float) -> str:
        """`0% right` or `33% of the names right`."""
        return f"{score:.0%} right" if self.items is None else f"{score:.0%} of the {self.items} right"


EXACT = Measure("exact match", "exact-match accuracy")


def share_of(items: str) -> Measure:
    """The share of an answer's items right, averaged over prompts: RULER's `string_match_all`, the score RULER
    gives its variable-tracking and word-extraction tasks, here teacher-forced.

    Args:
        items: what the answer's items are (`names`).

    Returns:
        The measure.
    """
    return Measure(f"share of {items} right", f"share of the answer's {items} right (RULER's string_match_all)",
                   items)


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
        scores: length -> score (by `measure`).
        findings: what the record gets.
        measure: what the scores count.
    """

    family: str
    status: str
    effective: dict[str, Any]
    shortest: dict[str, Any]
    summary: str
    cannot_do: bool
    scores: dict[int, float]
    findings: list[dict[str, Any]] = field(default_factory=list)
    measure: Measure = EXACT

    def outcome(self, params: Mapping[str, Any], details: dict[str, Any], metric: str | None = None,
                summary: str | None = None) -> Outcome:
        """The family probe's Outcome: its effective context (or, for a task it cannot do, its score at the
        shortest length), the verdict's summary, family row, effective result and shortest score in the details,
        and the verdict's findings.

        Args:
            params: the probe's parameters (`fraction`, `absolute`, `min_base`).
            details: the probe's own evidence.
            metric: the headline's name when the effective context is measured (default: the relative rule's).
            summary: the sentence for the card, when the probe says more than the verdict's.

        Returns:
            The Outcome.
        """
        shortest = self.shortest
        if self.cannot_do:
            metric = f"{self.measure.name} at {shortest['length']:,} tokens (cannot do the task)"
            value, unit = shortest["score"], None
        else:
            metric, value, unit = metric or "effective context (relative rule)", self.effective["value"], "tokens"
        return Outcome(status=self.status, metric=metric, value=value, unit=unit,
                       threshold={"fraction": params["fraction"], "absolute": params["absolute"],
                                  "min_base": params["min_base"]},
                       details={"summary": summary or self.summary, "family": self.as_dict(),
                                "effective": self.effective, "shortest": shortest, **details},
                       findings=list(self.findings))

    def as_dict(self) -> dict[str, Any]:
        """The family's row, as the record's details keep it."""
        return {"family": self.family, "value": self.effective["value"], "status": self.status,
                "cannot_do": self.cannot_do, "shortest": self.shortest, "summary": self.summary,
                "measure": self.measure.name,
                "scores": {str(n): round(score, 4) for n, score in sorted(self.scores.items())}}


def family_verdict(family: str, task: str, scores: Mapping[int, float], counts: Mapping[int, tuple[float, int]],
                   params: Mapping[str, Any], declared: int | None, measure: Measure = EXACT) -> FamilyVerdict:
    """Judge one family from its scores by length.

    Args:
        family: the family (one of FAMILIES).
        task: the probe's task in a few words, for the sentences (`variable tracking`).
        scores: length -> score at every tested length.
        counts: length -> (right, prompts) behind each score; for a share of items, `right` is the sum of the
            prompts' shares, and the Wilson interval over prompts is conservative for it (a score in [0, 1] with
            mean p has a variance of at most p(1 - p)).
        params: the probe's parameters (`fraction`, `absolute`, `min_base`).
        declared: the declared context window.
        measure: what the scores count (exact match unless given).

    Returns:
        The verdict.
    """
    lengths = sorted(scores)
    right, total = counts[lengths[0]]
    shortest = shortest_score(lengths[0], right, total)
    effective = effective_context(scores, params["fraction"], params["absolute"], params["min_base"], declared,
                                  what=measure.rate, counts=counts)
    findings: list[dict[str, Any]] = []
    if effective["value"] is None:
        score = shortest["score"] or 0.0
        summary = (f"cannot do the task: {measure.right(task, score)} already at the shortest tested "
                   f"length ({lengths[0]:,} tokens), so its scores say nothing about the context window")
        findings.append(finding("info", "/disclosures/known_failure_modes", None,
                                {"task": task, "length": lengths[0], "score": score},
                                f"the model cannot do {task}: {measure.short(score)} already at {lengths[0]:,} tokens "
                                "(a task limit, not a context limit)"))
        return FamilyVerdict(family, "fail", effective, shortest, summary, True, dict(scores), findings, measure)
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
    return FamilyVerdict(family, status, effective, shortest, summary, False, dict(scores), findings, measure)


def rule_of(probe_id: str, effective: Mapping[str, Any]) -> dict[str, Any]:
    """The effective-context rule as `context_window.effective_rule` states it, from one probe's result.

    Args:
        probe_id: the probe whose scores the rule read.
        effective: its effective-context result (modelcard.probe.effective_context.effective_context).

    Returns:
        The rule with its figures; `reason` when no length passed.
    """
    rule = {key: effective[key] for key in RULE_KEYS}
    rule.update(probe=probe_id, tested=effective["tested"], absolute=effective["absolute"])
    if effective["value"] is None:
        rule["reason"] = effective["reason"]
    return rule


def family_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per task family whose probe ran and concluded: passkey-grid for retrieval, and each family probe.

    Args:
        results: the suite's results ({record, findings, measured, derived}).

    Returns:
        Rows of {family, probe, measure, value, cannot_do, shortest, scores}, in FAMILIES order.
    """
    rows = []
    for result in results:
        record = result["record"]
        details = record.get("details") or {}
        if record["status"] not in ("pass", "fail") or record.get("twin"):
            continue
        if record["id"] == "passkey-grid" and isinstance(details.get("effective"), dict):
            effective = details["effective"]
            shortest = details.get("shortest") or {}
            rows.append({"family": "retrieval", "probe": record["id"], "measure": EXACT.name,
                         "value": effective.get("value"),
                         "cannot_do": effective.get("value") is None, "shortest": shortest,
                         "scores": details.get("scores") or {}, "effective": effective})
        elif isinstance(details.get("family"), dict) and isinstance(details.get("effective"), dict):
            family = details["family"]
            rows.append({"family": family["family"], "probe": record["id"],
                         "measure": family.get("measure", EXACT.name), "value": family["value"],
                         "cannot_do": family["cannot_do"], "shortest": family["shortest"],
                         "scores": family["scores"], "effective": details["effective"]})
    return sorted(rows, key=lambda row: FAMILIES.index(row["family"]) if row["family"] in FAMILIES else 99)


def over_families(results: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`context_window.effective` over the task families that ran: the minimum of their effective contexts, with
    the family that set it; a family the model cannot do at all sets nothing (it is no context limit).

    Args:
        results: the suite's results.

    Returns:
        (measured, derived) to lay over what each probe stated; both empty when fewer than two families ran
        (passkey-grid's own statement then stands).
    """
    rows = family_rows(results)
    if len(rows) < 2:
        return {}, {}
    table = [{key: row[key] for key in ("family", "probe", "measure", "value", "cannot_do", "shortest", "scores")}
             for row in rows]
    candidates = [row for row in rows if row["value"] is not None and not row["cannot_do"]]
    if not candidates:
        setter = next((row for row in rows if row["family"] == "retrieval"), rows[0])
        rule = rule_of(setter["probe"], setter["effective"])
        rule.update(families=table, set_by=None,
                    reason=rule.get("reason") or "no task family measured an effective context")
        return {}, {"/context_window/effective_rule": rule}
    setter = min(candidates, key=lambda row: (row["value"], FAMILIES.index(row["family"])))
    rule = rule_of(setter["probe"], setter["effective"])
    rule.update(families=table, set_by=setter["family"],
                statement=(f"the shortest of the effective contexts of the task families that ran (each family's: "
                           f"{rule['statement']}); a family the model cannot do at all sets none"))
    return {"/context_window/effective": setter["value"]}, {"/context_window/effective_rule": rule}
