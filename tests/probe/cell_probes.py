"""Test-only probes with cells, registered on import: `test-cells` logs every cell it finishes (which rank, which
cell) to a file, and kills its process (as a crash or an OOM-kill would) the first time rank 1 of a torchrun job
starts a second cell of it, so some of its cells are finished and some are not. `launch_modelcard.py` imports it
in every rank."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from modelcard.probe.cells import Cells
from modelcard.probe.outcome import Outcome
from modelcard.probe.registry import PROBES, probe

FINISHED = [0]  # cells this process has started


def _split(ctx: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"part": n} for n in range(params["parts"])]


def _measure(ctx: Any, params: dict[str, Any], cell: dict[str, Any]) -> dict[str, Any]:
    import torch

    rank = int(os.environ.get("RANK", "0"))
    marker = Path(params["marker"])
    FINISHED[0] += 1
    if rank == 1 and FINISHED[0] > 1 and not marker.exists():
        marker.write_text("rank 1 died once\n", encoding="utf-8")
        time.sleep(1.0)  # mid-cell: rank 0 has finished (and saved) its own cell of this round
        os._exit(9)
    logits = ctx.adapter.outputs(ctx.random_ids(16, salt=100 + cell["part"]))
    with open(params["log"], "a", encoding="utf-8") as log:
        log.write(f"{cell['part']} {rank}\n")
    return {"part": cell["part"], "sum": float(torch.as_tensor(logits).float().sum())}


def _conclude(ctx: Any, params: dict[str, Any], partials: list[dict[str, Any]]) -> Outcome:
    return Outcome(status="pass", metric="cells", value=len(partials),
                   details={"sums": [p["sum"] for p in partials]})


if "test-cells" not in PROBES:
    CELLS = Cells(split=_split, measure=_measure, conclude=_conclude)

    @probe("test-cells", "Cells that log themselves; rank 1 dies once", cells=CELLS, version=1)
    def test_cells(ctx: Any, parts: int = 6, marker: str = "", log: str = "") -> Outcome:
        params = {name: value for name, value in locals().items() if name != "ctx"}
        return CELLS.run_all(ctx, params)
