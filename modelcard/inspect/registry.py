"""Inspectors register on import (STYLE.md 4): one function per section of the record, run in order."""

from __future__ import annotations

from collections.abc import Callable

from modelcard.inspect.facts import Facts
from modelcard.inspect.view import ModelView

Inspector = Callable[[ModelView, Facts], None]
INSPECTORS: dict[str, Inspector] = {}


def inspector(name: str) -> Callable[[Inspector], Inspector]:
    def register(function: Inspector) -> Inspector:
        if name in INSPECTORS:
            raise ValueError(f"inspector {name!r} is registered twice")
        INSPECTORS[name] = function
        return function

    return register
