"""Regenerate the golden cards in tests/golden/ from the bundled demo model.

    python scripts/update_golden.py

Review the diff: a golden card changes only when a change to modelcard means it to.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from goldens import DEMO_GOLDEN, GOLDEN_ARGS, golden_files  # noqa: E402

from modelcard.atomic import write_files  # noqa: E402
from modelcard.cli import main  # noqa: E402
from modelcard.record import read_record  # noqa: E402


def regenerate() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        code = main([*GOLDEN_ARGS, "-o", scratch])
        if code != 0:
            sys.exit(f"modelcard generate failed with exit code {code}")
        record = read_record(Path(scratch) / "card.json")
    for path in write_files(DEMO_GOLDEN, golden_files(record)):
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    regenerate()
