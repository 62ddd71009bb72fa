"""Regenerate the golden cards in tests/golden/: the bundled demo model's card, and the rendering of the frozen
probed record (tests/fixtures/record-probed.json).

    python scripts/update_golden.py                    # both golden cards
    python scripts/update_golden.py --refresh-probed   # also run the quick suite again to refresh the fixture

Review the diff: a golden card changes only when a change to modelcard means it to.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from goldens import (  # noqa: E402
    DEMO_GOLDEN,
    GOLDEN_ARGS,
    PROBED_ARGS,
    PROBED_FIXTURE,
    PROBED_GOLDEN,
    golden_files,
    machine_independent,
)

from modelcard.atomic import write_files  # noqa: E402
from modelcard.cli import main  # noqa: E402
from modelcard.record import dump_record, read_record  # noqa: E402


def generated(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        code = main([*args, "-o", scratch])
        if code not in (0, 1):  # 1: written, with a failed probe or an error finding (the probed golden has both)
            sys.exit(f"modelcard {' '.join(args)} failed with exit code {code}")
        return read_record(Path(scratch) / "card.json")


def regenerate(refresh_probed: bool) -> None:
    written = write_files(DEMO_GOLDEN, golden_files(generated(GOLDEN_ARGS)))
    if refresh_probed:
        written += write_files(PROBED_FIXTURE.parent,
                               {PROBED_FIXTURE.name: dump_record(machine_independent(generated(PROBED_ARGS)))})
    written += write_files(PROBED_GOLDEN, golden_files(read_record(PROBED_FIXTURE)))
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    regenerate(refresh_probed="--refresh-probed" in sys.argv[1:])
