"""Benchmark of static inspection.

1. Every architecture transformers can build: `inspect_record` on its default config (config only, meta
   device), in one warm process; prints p50 / p95 / max seconds.
2. A DeepSeek-V3-shaped config (671B parameters): `modelcard inspect DIR --format json` in a fresh process,
   against the floor "import transformers and build the whole model on the meta device" in a fresh process,
   both measured in this run (median of --repeat runs each); prints the ratio. modelcard leaves its process
   without the interpreter's teardown (modelcard.cli.run); a second floor that leaves the same way shows how
   much of the ratio that is. The package is byte-compiled first, as an installed wheel is: under
   PYTHONDONTWRITEBYTECODE an editable checkout would recompile its 60 modules on every run.

    python bench/inspect_bench.py [--limit N] [--repeat 3] [--skip-walk]
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "inspect"))

FLOOR = """
import json, sys, torch, transformers
config = transformers.AutoConfig.for_model(**json.load(open(sys.argv[1])))
with torch.device("meta"):
    model = transformers.DeepseekV3ForCausalLM._from_config(config)
print(sum(p.numel() for p in model.parameters()))
"""
FAST_EXIT = "\nimport os\nsys.stdout.flush()\nos._exit(0)\n"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def walk(limit: int | None) -> dict[str, float]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING, CONFIG_MAPPING_NAMES
    from transformers.utils import logging
    from unbuildable import UNBUILDABLE

    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record

    logging.set_verbosity_error()
    times: dict[str, float] = {}
    folder = Path(tempfile.mkdtemp())
    types = [name for name in sorted(CONFIG_MAPPING_NAMES) if name not in UNBUILDABLE][:limit]
    for model_type in types:
        path = folder / f"{model_type}.json"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path.write_text(CONFIG_MAPPING[model_type]().to_json_string())
            start = time.perf_counter()
            inspect_record(str(path), LoadOptions())
        times[model_type] = time.perf_counter() - start
    return times


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - start


def deepseek_ratio(repeat: int) -> tuple[float, float, float, int]:
    """Medians of `modelcard inspect`, the floor, and the floor leaving without teardown."""
    from released_shapes import DEEPSEEK_V3

    compileall.compile_dir(ROOT / "modelcard", quiet=1)
    folder = Path(tempfile.mkdtemp()) / "deepseek-v3"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(DEEPSEEK_V3))
    inspect_argv = [sys.executable, "-m", "modelcard", "inspect", str(folder), "--format", "json"]
    floor_argv = [sys.executable, "-c", FLOOR, str(folder / "config.json")]
    fast_floor_argv = [sys.executable, "-c", FLOOR + FAST_EXIT, str(folder / "config.json")]
    record = json.loads(subprocess.run(inspect_argv, capture_output=True, text=True, cwd=ROOT).stdout)
    inspect_times, floor_times, fast_floor_times = [], [], []
    for _ in range(repeat):  # interleaved so that all see the same machine load and file cache
        floor_times.append(timed(floor_argv))
        inspect_times.append(timed(inspect_argv))
        fast_floor_times.append(timed(fast_floor_argv))
    return (statistics.median(inspect_times), statistics.median(floor_times), statistics.median(fast_floor_times),
            record["model"]["parameters"])


def warm_split(repeat: int) -> tuple[float, float]:
    """In one warm process (imports paid): full meta build of DeepSeek-V3 vs inspection of the built model."""
    import torch
    import transformers
    from released_shapes import DEEPSEEK_V3

    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import LoadedModel

    config = transformers.AutoConfig.for_model(**DEEPSEEK_V3)
    builds, inspections = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        with torch.device("meta"):
            model = transformers.DeepseekV3ForCausalLM._from_config(config)
        builds.append(time.perf_counter() - start)
        start = time.perf_counter()
        inspect_loaded(LoadedModel(spec="deepseek-v3", source="config", model=model, config=config))
        inspections.append(time.perf_counter() - start)
    return statistics.median(builds), statistics.median(inspections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="walk only the first N architectures")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each DeepSeek-V3 command")
    parser.add_argument("--skip-walk", action="store_true")
    args = parser.parse_args()
    if not args.skip_walk:
        times = walk(args.limit)
        values = list(times.values())
        slowest = sorted(times, key=times.get, reverse=True)[:5]
        print(f"walk: {len(values)} architectures, total {sum(values):.1f} s, p50 {percentile(values, 0.5):.3f} s, "
              f"p95 {percentile(values, 0.95):.3f} s, max {max(values):.3f} s "
              f"(slowest: {', '.join(f'{name} {times[name]:.2f}' for name in slowest)})")
    inspect_s, floor_s, fast_floor_s, parameters = deepseek_ratio(args.repeat)
    print(f"deepseek-v3 ({parameters:,} parameters): modelcard inspect {inspect_s:.2f} s, "
          f"floor (import transformers + full meta build) {floor_s:.2f} s, ratio {inspect_s / floor_s:.2f}x")
    print(f"deepseek-v3 against a floor that also skips the interpreter's teardown: {fast_floor_s:.2f} s, "
          f"ratio {inspect_s / fast_floor_s:.2f}x")
    build_s, inspection_s = warm_split(args.repeat)
    print(f"deepseek-v3 warm (imports paid): full meta build {build_s:.3f} s, inspection of the built model "
          f"{inspection_s:.3f} s")


if __name__ == "__main__":
    main()
