"""Wall time of `modelcard export` in each format on one card, each in a fresh process (a cold start, as in CI):
the median and the slowest of several runs, and whether torch or transformers got imported.

    python bench/export_bench.py [--runs 7] [--card tests/golden/standard/card.json]"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from check_bench import RUN  # noqa: E402

FORMATS = ("cyclonedx", "spdx", "eu-gpai", "hub-eval-results")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--card", type=Path, default=ROOT / "tests" / "golden" / "standard" / "card.json")
    args = parser.parse_args()
    print(f"{'format':<18} {'median s':>9} {'slowest s':>10}  exit  torch/transformers imported")
    for fmt in FORMATS:
        times, heavy, code = [], False, 0
        for _ in range(args.runs):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", RUN, "export", str(args.card), "--format", fmt],
                                  capture_output=True, text=True, cwd=ROOT)
            times.append(time.perf_counter() - start)
            code, heavy = done.returncode, heavy or "HEAVY" in done.stderr
        print(f"{fmt:<18} {statistics.median(times):>9.3f} {max(times):>10.3f}  {code:>4}  {'yes' if heavy else 'no'}")


if __name__ == "__main__":
    main()
