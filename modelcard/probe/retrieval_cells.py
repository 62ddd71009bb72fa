"""The retrieval probes cell by cell (modelcard.probe.cells). A cell is one length (copy-distance: one distance)
and, where prompts of a length are independent, one depth, distractor count or sample of it. Measuring a cell:

1. a length over the declared window is skipped (a prompt is never truncated to fit);
2. the cell's peak memory is estimated from the record (modelcard.probe.budget) and a cell that cannot fit is
   skipped with the estimate in its reason;
3. its prompts are built exactly as the whole grid would build them (the filler stream is one seeded stream
   whatever length it was built to, and every seed names its length, depth and sample), scored through the
   prefix scorer (which shares the prefix within the cell) while its peak memory is measured; one prompt of the
   cell is then scored again by one full forward with no cache, and a difference beyond the dtype's rounding
   ends the probe as an error (modelcard.probe.prefix_scoring);
4. the partial result keeps every prompt's description and scores, the lengths skipped and why, the compute
   counts (with how the cache was shared and the check against the full forward) and the memory estimate beside
   the measured peak.

Merging puts the cells back in the order they were listed; a length any of whose cells was skipped is dropped
whole, so a length is either tested in full or listed as skipped, as in a run without cells. A probe whose cells
are finer units of a length (variable-tracking's hop counts) drops only the skipped unit and compares its lengths
on the units they share."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from modelcard.probe.budget import PeakMeter, estimate_peak, fits
from modelcard.probe.prefix_scoring import PrefixScorer, Score
from modelcard.probe.retrieval import Codec, FillerStream, Prompt, score_within_memory


def stream_of(ctx: Any, codec: Codec, tokens: int, kind: str) -> FillerStream:
    """The seeded filler stream, at least `tokens` long. A longer build extends a shorter one token for token, so
    one stream serves every cell."""
    key = ("retrieval-stream", kind)
    stream = ctx.memo.get(key)
    if stream is None or len(stream.ids) < tokens:
        stream = ctx.memo[key] = FillerStream.build(codec, tokens, ctx.seed, kind)
    return stream


def over_window_reason(declared: int) -> str:
    return (f"over the declared window of {declared:,} tokens; a prompt is never truncated to fit, so this length "
            "is not run")


def measure_length(ctx: Any, value: int, tokens: int, chunk: int, share: bool,
                   build: Callable[[], tuple[list[Prompt], list[dict[str, Any]]]], what: str = "length",
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One cell at one length: `value` is the length (or distance) the probe names, `tokens` how long its prompts
    are; `build()` makes the cell's prompts (and the lengths too short for them)."""
    extra = extra or {}
    partial: dict[str, Any] = {"skipped": [], "prompts": [], "compute": None, "memory": None}
    declared = ctx.max_length()
    if declared and tokens > declared:
        partial["skipped"].append({what: value, **extra, "reason": over_window_reason(declared)})
        return partial
    estimate = estimate_peak(ctx, tokens, chunk)
    reason = fits(ctx, estimate)
    if reason is not None:
        partial["skipped"].append({what: value, **extra, "reason": reason, "estimate": estimate.as_dict()})
        return partial
    prompts, too_short = build()
    partial["skipped"] += too_short
    if not prompts:
        return partial
    meter = PeakMeter(ctx.adapter)
    lost: list[dict[str, Any]] = []
    with meter.measuring():
        scores, prompts, scorer = score_within_memory(lambda: PrefixScorer(ctx.adapter, share=share, chunk=chunk),
                                                      prompts, lost, what=what)
    partial["skipped"] += [{**item, **extra} for item in lost]
    partial["prompts"] = [{"info": prompt.info, "scores": {name: _score_json(s) for name, s in score.items()}}
                          for prompt, score in zip(prompts, scores, strict=True)]
    partial["compute"] = dict(vars(scorer.stats))
    if scorer.stats.verification is not None:
        partial["compute"]["verification"] = {what: value, **extra, **scorer.stats.verification}
    if prompts:
        partial["memory"] = {what: value, "estimated_peak": estimate.total, "estimate": estimate.as_dict(),
                             "measured_peak": meter.peak, "measured": meter.how}
    return partial


def _score_json(score: Score) -> dict[str, Any]:
    return {"logprob": score.logprob, "tokens": score.tokens, "exact": score.exact, "correct": score.correct,
            "predicted": score.predicted}


class Merged:
    """The cells of one probe put back together.

    Args:
        partials: the cells' partial results, in order.
        what: the key every cell has (`length`, `distance`); a cell skipped drops every prompt of its value, so
            that the values left compare like with like.
        unit: further keys that name a cell finer than `what` (variable-tracking's `hops`): a cell skipped then
            drops only the prompts of its own unit, and the probe decides what its values are compared on.
    """

    def __init__(self, partials: list[dict[str, Any]], what: str = "length", unit: tuple[str, ...] = ()) -> None:
        def key(item: dict[str, Any]) -> tuple[Any, ...]:
            return (item[what], *(item.get(name) for name in unit))

        skipped: dict[tuple[Any, ...], dict[str, Any]] = {}
        for partial in partials:
            for item in partial["skipped"]:
                skipped.setdefault(key(item), item)  # one reason per unit: the first cell's
        self.skipped = _one_per_value([skipped[name] for name in sorted(skipped)], what, unit)
        self.prompts: list[Prompt] = []
        self.scores: list[dict[str, Score]] = []
        for partial in partials:
            for item in partial["prompts"]:
                if key(item["info"]) in skipped:
                    continue
                self.prompts.append(Prompt([], {}, item["info"]))
                self.scores.append({name: Score(**score) for name, score in item["scores"].items()})
        kept = {prompt.info[what] for prompt in self.prompts}
        dropped = {name[0] for name in skipped} - kept
        self.compute = _merge_compute([p["compute"] for p in partials if p["compute"]])
        self.memory = _merge_memory([p["memory"] for p in partials if p["memory"]], what, dropped)

    def values(self, what: str = "length") -> list[int]:
        return sorted({p.info[what] for p in self.prompts})


def _one_per_value(items: list[dict[str, Any]], what: str, unit: tuple[str, ...]) -> list[dict[str, Any]]:
    """Skipped units listed once per value when they all share one reason (a length over the declared window
    skips every hop count of it), and one by one otherwise."""
    if not unit:
        return items
    shown: list[dict[str, Any]] = []
    for _, group in itertools.groupby(items, key=lambda item: item[what]):
        members = list(group)
        if len(members) > 1 and len({item["reason"] for item in members}) == 1:
            shown.append({key: value for key, value in members[0].items() if key not in unit})
        else:
            shown += members
    return shown


def _merge_compute(parts: list[dict[str, Any]]) -> dict[str, Any]:
    modes = sorted({mode for part in parts for mode in part["sharing"].split("+") if mode != "none"})
    tokens = sum(part["tokens"] for part in parts)
    without = sum(part["sequence_tokens"] for part in parts)
    return {"sharing": "+".join(modes) or "none", "tokens_processed": tokens, "tokens_without_sharing": without,
            "ratio": round(tokens / without, 4) if without else None,
            "forwards": sum(part["forwards"] for part in parts),
            "cache_copies": sum(part["cache_copies"] for part in parts),
            "cells": len(parts), "shared": "within each cell (the prompts of one length and depth or sample)",
            "sharing_reasons": sorted({part["sharing_reason"] for part in parts if part.get("sharing_reason")}),
            "verification": merge_verification([part["verification"] for part in parts if part.get("verification")])}


def merge_verification(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """Every cell's check of one prompt against its own full forward, and the worst of them.

    Args:
        checks: the cells' verification records (modelcard.probe.prefix_scoring.verify_against_full_forward).

    Returns:
        cells checked, the largest log-probability difference and its tolerance, the lowest argmax agreement,
        and the per-cell records.
    """
    done = [check for check in checks if check.get("checked")]
    merged: dict[str, Any] = {"cells_checked": len(done), "cells_not_checked": len(checks) - len(done),
                              "reference": "one full forward of the whole sequence, no cache", "cells": checks}
    if done:
        worst = max(done, key=lambda check: check["max_abs_logprob_difference"] / max(check["tolerance"], 1e-30))
        merged.update(max_abs_logprob_difference=max(c["max_abs_logprob_difference"] for c in done),
                      worst_over_tolerance=round(worst["max_abs_logprob_difference"] / max(worst["tolerance"], 1e-30),
                                                 4),
                      worst_tolerance=worst["tolerance"], tolerance_source=worst["tolerance_source"],
                      argmax_agreement_min=min(c["argmax_agreement"] for c in done))
    else:
        merged["reason"] = "; ".join(sorted({c.get("reason", "") for c in checks})) or "no cell was scored"
    return merged


def _merge_memory(parts: list[dict[str, Any]], what: str, dropped: set[Any]) -> list[dict[str, Any]]:
    """Per length: the estimate and the largest peak measured over its cells."""
    rows: dict[Any, dict[str, Any]] = {}
    for part in parts:
        if part[what] in dropped:
            continue
        row = rows.setdefault(part[what], {**part, "cells": 0})
        row["cells"] += 1
        if part["measured_peak"] is not None:
            row["measured_peak"] = max(row["measured_peak"] or 0, part["measured_peak"])
    for row in rows.values():
        if row["measured_peak"] and row["estimated_peak"]:
            row["measured_over_estimate"] = round(row["measured_peak"] / row["estimated_peak"], 3)
    return [rows[key] for key in sorted(rows)]


def nothing_ran(merged: Merged, what: str = "length") -> str:
    """Why no prompt of the probe was scored."""
    if not merged.skipped:
        return f"no {what} was tested"
    return f"no {what} can run: " + "; ".join(f"{item[what]:,}: {item['reason']}" for item in merged.skipped)
