"""Layer indices in few characters, for the layer table and the findings that name several layers."""

from __future__ import annotations

import itertools


def index_spans(indices: list[int]) -> str:
    """Layer indices in few characters: `0–3`, `0, 2, …, 24` (a regular stride), or `0–2, 4–6, 8`.

    Args:
        indices: the indices, in ascending order.

    Returns:
        The spans, comma-separated.
    """
    return ", ".join(index_span_list(indices))


def index_span_list(indices: list[int]) -> list[str]:
    """The spans of `index_spans`, one string each."""
    if len(indices) >= 3:
        stride = indices[1] - indices[0]
        if stride > 1 and all(b - a == stride for a, b in itertools.pairwise(indices)):
            return [f"{indices[0]}, {indices[1]}, …, {indices[-1]}"]
    spans = []
    for _, run in itertools.groupby(enumerate(indices), key=lambda pair: pair[1] - pair[0]):
        members = [index for _, index in run]
        spans.append(str(members[0]) if len(members) == 1 else f"{members[0]}–{members[-1]}")
    return spans
