"""Test-only probes, registered on import: one that raises, one that kills its process the first time it runs
(as a crash or an OOM-kill would) and passes afterwards."""

from __future__ import annotations

import os
from pathlib import Path

from modelcard.probe.outcome import Outcome
from modelcard.probe.registry import PROBES, probe

if "test-raises" not in PROBES:

    @probe("test-raises", "Always raises", version=1)
    def raises(ctx, message: str = "boom") -> Outcome:
        raise RuntimeError(message)

    @probe("test-dies-once", "Kills the process the first time", version=1)
    def dies_once(ctx, marker: str = "") -> Outcome:
        if not Path(marker).exists():
            Path(marker).write_text("died once\n", encoding="utf-8")
            os._exit(9)
        return Outcome(status="pass", metric="runs", value=2)
