"""Regenerate the golden cards in tests/golden/: the bundled demo model's card, and the renderings of the frozen
probed records, each frozen as its golden card's card.json (tests/golden/probed: a quick-suite run on a
config-only model; tests/golden/standard: the trained demo under the standard suite).

    python scripts/update_golden.py                    # every golden card
    python scripts/update_golden.py --refresh-probed   # also run the suites again to refresh the frozen records

Review the diff: a golden card changes only when a change to modelcard means it to. The charts' PNG and SVG
bytes depend on the matplotlib that drew them; its version is written to tests/golden/charts-drawn-with.txt.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from goldens import (  # noqa: E402
    CHARTS_VERSION_FILE,
    DEMO_GOLDEN,
    GOLDEN_ARGS,
    PROBED_ARGS,
    PROBED_FIXTURE,
    PROBED_GOLDEN,
    STANDARD_ARGS,
    STANDARD_FIXTURE,
    STANDARD_GOLDEN,
    golden_files,
    machine_independent,
)

from modelcard.base.writers import write_files, write_text  # noqa: E402
from modelcard.card.chart_data import CHART_FILE_NAMES  # noqa: E402
from modelcard.cli import main  # noqa: E402
from modelcard.record.document import dump_record, read_record  # noqa: E402


def generated(args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        code = main([*args, "-o", scratch])
        if code not in (0, 1):  # 1: written, with a failed probe or an error finding (the probed golden has both)
            sys.exit(f"modelcard {' '.join(args)} failed with exit code {code}")
        return read_record(Path(scratch) / "card.json")


def regenerate(refresh_probed: bool) -> None:
    import matplotlib

    written = write_files(DEMO_GOLDEN, golden_files(generated(GOLDEN_ARGS)), remove=CHART_FILE_NAMES)
    for fixture, golden, args in ((PROBED_FIXTURE, PROBED_GOLDEN, PROBED_ARGS),
                                  (STANDARD_FIXTURE, STANDARD_GOLDEN, STANDARD_ARGS)):
        if refresh_probed or not fixture.exists():
            written += write_files(fixture.parent,
                                   {fixture.name: dump_record(machine_independent(generated(args)))})
        written += write_files(golden, golden_files(read_record(fixture)), remove=CHART_FILE_NAMES)
    write_text(CHARTS_VERSION_FILE, matplotlib.__version__ + "\n")
    for path in [*written, CHARTS_VERSION_FILE]:
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    regenerate(refresh_probed="--refresh-probed" in sys.argv[1:])
