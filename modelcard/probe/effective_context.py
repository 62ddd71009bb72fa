"""The effective context from scores by length, and the rule that produced it, stated in the record.

The rule (NoLiMa's relative rule): the effective context is the longest tested length whose score is at least
`fraction` (0.85) of the model's own score at the shortest tested length. A model is measured against itself,
so a weak model that retrieves half the time at any length is not said to have no context, and a strong one
that drops from 100% to 80% is. Beside it the absolute variant (RULER-style): the longest tested length whose
score reaches a fixed threshold. Both read the scores at every tested length, so a length in the middle that
dips below the threshold while a longer one passes (noise, or a real dip) does not cut the value short; it is
listed under `dips`, and `holds_through` gives the longest length up to which every tested length passes.

Where the base score is below `min_base` the relative rule measures noise against noise: the value is null
with that reason, and only the absolute variant stands.

Judged with confidence intervals (when the caller gives the counts behind each score): every length's score
carries its 95% Wilson interval (modelcard.probe.intervals), and a length FAILS the relative rule only when its
evidence puts it under the bar:

    upper bound of the length's score  <  fraction x the base score

The bar is NoLiMa's (a fraction of the model's own score at the shortest length, as measured); the length is
the claim under test, so it is the length's interval that must clear it. A length whose point score is under the
bar but whose interval still reaches it passes and is listed under `uncertain`: the record and the sentence say
it could not be told from noise, so a card never accuses a model of a collapse its sample cannot show (3 of 4
against a bar of 0.85 is not a collapse), while a clear one is still called (0 of 4 after 4 of 4: the upper end,
0.49, is far under 0.85). Without counts the rule compares point scores, as before. The absolute variant stays a
point comparison (RULER's definition), with the intervals beside it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelcard.probe.intervals import rate

RELATIVE = 0.85
ABSOLUTE = 0.85
MIN_BASE = 0.5


def rule_statement(fraction: float, what: str = "exact-match accuracy", intervals: bool = False) -> str:
    """The relative rule in words."""
    text = (f"the longest tested length whose {what} is at least {fraction:g} x the model's own {what} at the "
            "shortest tested length (NoLiMa's relative rule)")
    if intervals:
        text += "; a length fails only when the upper end of its 95% Wilson interval is under that bar"
    return text


def absolute_statement(threshold: float, what: str = "exact-match accuracy") -> str:
    return f"the longest tested length whose {what} is at least {threshold:g} (RULER-style fixed threshold)"


def effective_context(scores: Mapping[int, float], fraction: float = RELATIVE, absolute: float = ABSOLUTE,
                      min_base: float = MIN_BASE, declared: int | None = None, what: str = "exact-match accuracy",
                      counts: Mapping[int, tuple[float, int]] | None = None) -> dict[str, Any]:
    """The effective context by the relative rule, judged with intervals where `counts` are given.

    Args:
        scores: length -> score in [0, 1] at every tested length.
        fraction: the relative rule's fraction of the base score.
        absolute: the absolute variant's threshold.
        min_base: the lowest base score the relative rule accepts.
        declared: the declared window (a value at the longest tested length under it is a lower bound).
        what: the score's name, for the statements.
        counts: length -> (successes, trials) behind each score; gives every length its 95% Wilson interval
            and the interval rule of the module's docstring.

    Returns:
        the rule's record: value (null with a reason where it cannot be told), holds_through, dips, uncertain,
        intervals, the absolute variant, and the first collapse.
    """
    lengths = sorted(scores)
    intervals = {n: rate(*counts[n]) for n in lengths} if counts else None
    result: dict[str, Any] = {
        "rule": "relative", "statement": rule_statement(fraction, what, intervals is not None), "fraction": fraction,
        "tested": lengths, "base_length": None, "base_score": None, "threshold": None, "value": None,
        "holds_through": None, "dips": [], "uncertain": [], "collapse": None, "lower_bound": False, "reason": None,
        "judged": "95% Wilson intervals" if intervals else "point scores (no counts given)",
        "intervals": {str(n): intervals[n] for n in lengths} if intervals else None,
        "absolute": {"statement": absolute_statement(absolute, what), "threshold": absolute,
                     "value": max((n for n in lengths if scores[n] >= absolute), default=None)},
    }
    if not lengths:
        result["reason"] = "no length could be tested"
        return result
    base = scores[lengths[0]]
    threshold = fraction * base
    result.update(base_length=lengths[0], base_score=round(base, 4), threshold=round(threshold, 4))
    if base < min_base:
        result["reason"] = (f"the score at the shortest tested length ({lengths[0]:,}) is {base:.0%}, under the "
                            f"{min_base:.0%} the relative rule needs")
        return result
    if intervals:
        failed = {n for n in lengths if intervals[n]["high"] < threshold}
    else:
        failed = {n for n in lengths if scores[n] < threshold}
    passing = [n for n in lengths if n not in failed]
    value = max(passing)
    holds = lengths[0]
    for n in lengths:
        if n in failed:
            break
        holds = n
    result.update(value=value, holds_through=holds, dips=[n for n in lengths if n < value and n in failed],
                  uncertain=[n for n in passing if scores[n] < threshold])
    failing = [n for n in lengths if n > holds]
    if failing:
        first = failing[0]
        result["collapse"] = {"length": first, "score": round(scores[first], 4)}
        if intervals:
            result["collapse"]["interval"] = [intervals[first]["low"], intervals[first]["high"]]
    result["lower_bound"] = value == lengths[-1] and (declared is None or lengths[-1] < declared)
    return result


def percent(score: float) -> str:
    return f"{score:.0%}"


def describe(result: dict[str, Any], declared: int | None, scores: dict[int, float], what: str = "retrieval") -> str:
    """One plain sentence: `retrieval holds to 512 tokens and falls to 3% at 1,024 (declared 4,096)`."""
    window = f" (declared {declared:,})" if declared else ""
    if result["value"] is None:
        return f"{what} is too weak to measure against itself: {result['reason']}{window}"
    base = f"{percent(result['base_score'])} at {result['base_length']:,}"
    longest = result["tested"][-1]
    noise = ""
    if result.get("uncertain"):
        noise = (f"; under the bar but within noise of it (95% interval) at "
                 f"{', '.join(f'{n:,}' for n in result['uncertain'])}")
    if result["holds_through"] == longest:
        more = " or more: the longest length tested" if result["lower_bound"] else ""
        return (f"{what} holds to {longest:,} tokens{more} ({base}, {percent(scores[longest])} at {longest:,})"
                f"{noise}{window}")
    collapse = result["collapse"]
    text = (f"{what} holds to {result['holds_through']:,} tokens ({base}) and falls to {percent(collapse['score'])} "
            f"at {collapse['length']:,}")
    if longest != collapse["length"]:
        text += f", {percent(scores[longest])} at {longest:,}"
    if result["dips"]:
        text += (f"; the effective context by the rule is {result['value']:,} tokens because a longer length "
                 f"passes again after a dip at {', '.join(f'{n:,}' for n in result['dips'])}")
    return text + noise + window
