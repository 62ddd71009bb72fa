"""Golden cards: a record made machine-independent, then rendered. Shared by the tests and
scripts/update_golden.py (which regenerates them: `python scripts/update_golden.py`)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
DEMO_GOLDEN = GOLDEN_DIR / "demo"
GOLDEN_ARGS = ["generate", "--suite", "none", "--disclosures", str(GOLDEN_DIR / "demo-disclosures.yaml")]
# A probed card: the record of a quick-suite run on a config-only model with a stray window key, frozen
# (timings vary run to run) as the golden card's own card.json, which every rendering of it starts from.
PROBED_GOLDEN = GOLDEN_DIR / "probed"
PROBED_FIXTURE = PROBED_GOLDEN / "card.json"
PROBED_CONFIG = GOLDEN_DIR / "stray-window-llama" / "config.json"
PROBED_ARGS = ["generate", str(PROBED_CONFIG), "--suite", "quick",
               "--disclosures", str(GOLDEN_DIR / "demo-disclosures.yaml")]
# The trained demo under the standard suite (retrieval probes, the passkey heatmap), frozen the same way.
STANDARD_GOLDEN = GOLDEN_DIR / "standard"
STANDARD_FIXTURE = STANDARD_GOLDEN / "card.json"
STANDARD_ARGS = ["generate", "--suite", "standard", "--disclosures", str(GOLDEN_DIR / "demo-disclosures.yaml")]
# The matplotlib that drew the golden charts: another version draws the same charts with other bytes, so there
# the SVGs and PNGs are left out of the comparison (`comparable`).
CHARTS_VERSION_FILE = GOLDEN_DIR / "charts-drawn-with.txt"
_SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def machine_independent(record: dict[str, Any]) -> dict[str, Any]:
    """The parts of a record that depend on the machine (library versions, kernels installed here)
    replaced by fixed values, so that a golden card compares equal on every machine."""
    record = copy.deepcopy(record)
    record["model"]["library"] = {"transformers": "5.x", "torch": "2.x"}
    record["attention"]["available"] = ["eager", "sdpa"]
    return record


def golden_files(record: dict[str, Any]) -> dict[str, str | bytes]:
    from modelcard.card.render import render_all

    return render_all(machine_independent(record))


def same_matplotlib() -> bool:
    import matplotlib

    return CHARTS_VERSION_FILE.read_text(encoding="utf-8").strip() == matplotlib.__version__


def comparable(files: dict[str, str | bytes], exact: bool) -> dict[str, str | bytes]:
    """The files as a golden test compares them: whole when the charts were drawn by the same matplotlib,
    else without the chart images (PNG files, inline SVG)."""
    if exact:
        return dict(files)
    return {name: _SVG.sub("<svg/>", data) if isinstance(data, str) else b"" for name, data in files.items()}


def read_golden(folder: Path, names: list[str]) -> dict[str, str | bytes]:
    return {name: (folder / name).read_bytes() if name.endswith(".png") else (folder / name).read_text(
        encoding="utf-8") for name in names}

