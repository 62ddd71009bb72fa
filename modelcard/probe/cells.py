"""Cells: the parts of a probe's work that run, resume and are shared out across torch.distributed ranks one by
one (the retrieval probes by length, and by depth or sample where those are independent; window-reach by block).

A probe with natural parts registers them with `Cells`:
- `split(ctx, params)` lists its cells, each a small JSON mapping naming one part ({"length": 4096,
  "depth": 0.25}); or returns an Outcome when the probe is decided before any work (skipped: no tokenizer, a
  random-init twin);
- `measure(ctx, params, cell)` does one cell's work and returns its partial result as JSON;
- `conclude(ctx, params, partials)` turns the partials, in the order `split` listed the cells, into the probe's
  Outcome;
- `cost(cell)` is a relative cost, used only to order the cells (smallest first: cells of similar size share a
  round, and under a short time limit the small ones run). Their time is estimated in seconds by
  modelcard.probe.timing, from the work a probe registers there.

A probe called directly runs its cells one after another and concludes (`run_all`), so a run in one process, a
run resumed from stored cells and a run split across ranks compute every cell the same way: only the order and
the rank differ. Probes without natural parts are one cell each, run whole."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelcard.probe.outcome import Outcome


def _unit_cost(cell: dict[str, Any]) -> float:
    return 1.0


@dataclass(frozen=True)
class Cells:
    """A probe's work in parts that run, resume and are shared out across ranks one by one.

    Args:
        split: `split(ctx, params)` lists the cells, each a small JSON mapping naming one part
            (`{"length": 4096, "depth": 0.25}`), or returns an Outcome when the probe is decided before any work.
        measure: `measure(ctx, params, cell)` does one cell's work and returns its partial result as JSON.
        conclude: `conclude(ctx, params, partials)` turns the partials, in the order `split` listed their cells,
            into the probe's Outcome.
        cost: a cell's relative cost, used to order the cells (smallest first).

    Example:
        ```python
        GRID = Cells(split=grid_cells, measure=measure_cell, conclude=verdict, cost=lambda cell: cell["length"])

        @probe("my-grid", "A grid measured cell by cell", cells=GRID, version=1)
        def my_grid(ctx: ProbeContext, lengths: tuple[int, ...] = (256, 1024)) -> Outcome:
            return GRID.run_all(ctx, {"lengths": lengths})
        ```
    """

    split: Callable[[Any, dict[str, Any]], list[dict[str, Any]] | Outcome]
    measure: Callable[[Any, dict[str, Any], dict[str, Any]], dict[str, Any]]
    conclude: Callable[[Any, dict[str, Any], list[dict[str, Any]]], Outcome]
    cost: Callable[[dict[str, Any]], float] = field(default=_unit_cost)

    def run_all(self, ctx: Any, params: dict[str, Any]) -> Outcome:
        """The probe in one process: every cell in turn, then the conclusion.

        Args:
            ctx: the probe context.
            params: the probe's parameters.

        Returns:
            The probe's Outcome, exactly as the runner would conclude it from the same cells.
        """
        cells = self.split(ctx, params)
        if isinstance(cells, Outcome):
            return cells
        partials = [as_json(self.measure(ctx, params, cell)) for cell in cells]
        return self.conclude(ctx, params, partials)


def as_json(value: Any) -> Any:
    """`value` as it reads back from a stored cell or from another rank (tuples become lists, and so on)."""
    return json.loads(json.dumps(value, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)
