"""The record's words that other stages write into it: the three kinds of null (STYLE.md 9), and what the
record needs of an inspection's facts."""

from __future__ import annotations

from typing import Any, Protocol

# STYLE.md 9: a null says which kind of gap it is.
NOT_APPLICABLE = "not-applicable"
UNKNOWN = "unknown"
NOT_MEASURED = "not-measured"
NULL_KINDS = (NOT_APPLICABLE, UNKNOWN, NOT_MEASURED)

# The probes that measure long-context behaviour on a model's own weights, in the order a card lists them.
LONG_CONTEXT_PROBES = ("passkey-grid", "copy-distance", "multikey-distractors", "position-sensitivity",
                       "injected-instruction", "nonliteral-needle", "variable-tracking", "frequent-words",
                       "window-boundary")


class InspectedFacts(Protocol):
    """What assembling a record reads of an inspection (`modelcard.inspect.facts.Facts` is one)."""

    values: dict[str, Any]  # top-level record key -> section
    unknowns: dict[str, dict[str, str]]  # pointer -> {kind, reason}
    ignored_config_keys: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    provenance: dict[str, str]  # pointer -> provenance where not `detected`
