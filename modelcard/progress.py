"""Progress on stderr for the steps of a long command; silent when stderr is not a terminal (CI logs)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


class StageBar:
    """A bar over named stages, with the item a stage is working on (a probe id) beside it."""

    def __init__(self, stages: Sequence[str], desc: str) -> None:
        from tqdm import tqdm

        self.stages = list(stages)
        self.bar: Any = tqdm(total=len(self.stages), desc=desc, unit="step", file=sys.stderr, leave=False,
                             disable=None)

    def stage(self, name: str) -> None:
        self.bar.n = self.stages.index(name)
        self.bar.set_postfix_str(name)

    def detail(self, text: str) -> None:
        self.bar.set_postfix_str(text)

    def __enter__(self) -> StageBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.n = self.bar.total
        self.bar.close()
