"""Golden cards: a record made machine-independent, then rendered. Shared by the tests and
scripts/update_golden.py (which regenerates them: `python scripts/update_golden.py`)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
DEMO_GOLDEN = GOLDEN_DIR / "demo"
GOLDEN_ARGS = ["generate", "--suite", "none", "--disclosures", str(GOLDEN_DIR / "demo-disclosures.yaml")]
# A probed card: the record of a quick-suite run on a config-only model with a stray window key, frozen as a
# fixture (timings vary run to run), and its rendering.
PROBED_FIXTURE = GOLDEN_DIR.parent / "fixtures" / "record-probed.json"
PROBED_GOLDEN = GOLDEN_DIR / "probed"
PROBED_CONFIG = GOLDEN_DIR / "stray-window-llama" / "config.json"
PROBED_ARGS = ["generate", str(PROBED_CONFIG), "--suite", "quick",
               "--disclosures", str(GOLDEN_DIR / "demo-disclosures.yaml")]


def machine_independent(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a record that depend on the machine (library versions, kernels installed here)
    replaced by fixed values, so that a golden card compares equal on every machine."""
    record = copy.deepcopy(record)
    record["model"]["library"] = {"transformers": "5.x", "torch": "2.x"}
    record["attention"]["available"] = ["eager", "sdpa"]
    return record


def golden_files(record: dict[str, Any]) -> dict[str, str]:
    from modelcard.render import render_all

    return render_all(machine_independent(record))
