"""Wall time of `modelcard check` and `modelcard diff` on one card, each in a fresh process (a cold start, as in
CI): the median and the slowest of several runs, and whether torch or transformers got imported.

    python bench/check_bench.py [--runs 7] [--card tests/fixtures/check/complete.json]

The README.md case renders the card first (once, untimed) and checks the README, whose record is embedded."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = """
import sys
from modelcard.cli import main
code = main(sys.argv[1:])
heavy = [m for m in ("torch", "transformers") if m in sys.modules]
if heavy:
    print("HEAVY " + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""
POLICIES = ["--policy", "attention-governance", "--policy", "eu-ai-act-gpai", "--policy", "hf-hub"]


def timed(argv: list[str], runs: int) -> tuple[float, float, int, bool]:
    times, code, heavy = [], 0, False
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", RUN, *argv], capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        code, heavy = done.returncode, heavy or "HEAVY" in done.stderr
    return statistics.median(times), max(times), code, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--card", type=Path, default=ROOT / "tests" / "fixtures" / "check" / "complete.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "modelcard", "render", str(args.card), "-o", folder], check=True,
                       capture_output=True, cwd=ROOT)
        readme = str(Path(folder) / "README.md")
        card = str(args.card)
        cases = [
            ("python -c pass (the interpreter alone)", None),
            ("check card.json (attention-governance)", ["check", card]),
            ("check card.json (all three built-in policies)", ["check", card, *POLICIES]),
            ("check README.md (all three built-in policies)", ["check", readme, *POLICIES]),
            ("check card.json --format junit", ["check", card, "--format", "junit"]),
            ("diff card.json README.md", ["diff", card, readme]),
            ("validate README.md", ["validate", readme]),
        ]
        print(f"{args.runs} fresh processes each; {Path(sys.executable).name} {sys.version.split()[0]}")
        print(f"{'command':<50} {'median':>8} {'slowest':>8}  exit  torch imported")
        for name, argv in cases:
            if argv is None:
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    subprocess.run([sys.executable, "-c", "pass"], check=True)
                    times.append(time.perf_counter() - start)
                print(f"{name:<50} {statistics.median(times):>7.3f}s {max(times):>7.3f}s")
                continue
            median, slowest, code, heavy = timed(argv, args.runs)
            print(f"{name:<50} {median:>7.3f}s {slowest:>7.3f}s  {code:>4}  {'YES' if heavy else 'no'}")


if __name__ == "__main__":
    main()
