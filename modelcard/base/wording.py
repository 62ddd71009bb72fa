"""Numbers and values as a person writes them: thousands separated, fractions to three significant figures,
counts with their noun in the right number, structures as words instead of JSON. The raw values stay in
card.json; these are for reading."""

from __future__ import annotations

import math
import re
from typing import Any

MAX_SHOWN = 160  # characters of one humanised value before it is cut with an ellipsis
_LONG_FRACTION = re.compile(r"(?<![\w.])-?\d+\.\d{4,}(?:e[-+]?\d+)?(?![\w.])")
_BARE_INTEGER = re.compile(r"(?<![\w.=/:#-])\d{4,}(?![\w.])")


def number(value: int | float) -> str:
    """`1,000,000`, `4,096`, `0.00255`, `1.79e-07`, `1.5`: whole numbers with separators, fractions to three
    significant figures."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 warning`, `2 warnings`, `3 info` (a noun without a plural is given as its own plural)."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def humane(value: Any, limit: int = MAX_SHOWN) -> str:
    """A value from a record in words: a list as its items, a mapping as `key value` pairs, numbers rounded,
    null as a dash; cut at `limit` characters."""
    text = _words(value, depth=0)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _words(value: Any, depth: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, (bool, int, float)):
        return number(value)
    if isinstance(value, str):
        return value
    if depth > 3:
        return "…"
    if isinstance(value, list):
        return ", ".join(_words(item, depth + 1) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{str(key).replace('_', ' ')} {_words(item, depth + 1)}" for key, item in value.items()) \
            or "none"
    return str(value)


def round_numbers_in(text: str) -> str:
    """A sentence with its long fractions at three significant figures and its bare long integers separated
    (`0.0024935416877269745` -> `0.00249`, `position 41120` -> `position 41,120`); numbers inside names and
    `key=value` pairs are left as they are."""
    text = _LONG_FRACTION.sub(lambda m: number(float(m.group())), text)
    return _BARE_INTEGER.sub(lambda m: f"{int(m.group()):,}", text)


def cell_label(cell: dict[str, Any] | None) -> str:
    """A cell as people read it: `length=4096 depth=0.25`."""
    if not cell:
        return "whole"
    return " ".join(f"{key}={value}" for key, value in cell.items())
