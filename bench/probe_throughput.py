"""Benchmark of probe throughput: the passkey grid's cells, measured exactly as the runner measures them
(prompt building, the memory budget and meter, the prefix scorer and its check against a full forward), in
tokens through the model per second, against the model's own plain forward on the same lengths. Beside each
length: the time estimate (modelcard.probe.timing, calibrated on the same model first) against the time the
cells took.

    python bench/probe_throughput.py [MODEL] [--lengths 256 512 1024 2048] [--depths 0 0.5 1] [--samples 4]

MODEL is any model spec modelcard takes (default: SmolLM2-135M-Instruct, tests/real_models.py). Target: probe
tokens per second at least 0.8 of the plain forward's at every length.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TARGET = 0.8


def plain_forward_rate(adapter: Any, length: int, repeats: int) -> float:
    """Tokens per second of one plain forward of `length` tokens (the median of `repeats`)."""
    import torch

    ids = torch.randint(0, adapter.vocab_size, (1, length), generator=torch.Generator().manual_seed(length))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        adapter.outputs(ids)
        times.append(time.perf_counter() - start)
    return length / statistics.median(times)


def probe_cells(ctx: Any, length: int, params: dict[str, Any]) -> tuple[int, float, list[dict[str, Any]]]:
    """Every cell of the grid at `length`, run as the runner runs one; (tokens through the model, the scoring's
    and the check's full forward's, seconds, partials: their `compute` counts the forwards)."""
    from modelcard.probe.cells import as_json
    from modelcard.probe.probes.passkey_grid import measure_grid, split_grid

    cells = [cell for cell in split_grid(ctx, params) if cell["length"] == length]
    tokens, seconds, partials = 0, 0.0, []
    for cell in cells:
        start = time.perf_counter()
        partial = as_json(measure_grid(ctx, params, cell))
        seconds += time.perf_counter() - start
        compute = partial["compute"] or {}
        tokens += compute.get("tokens", 0) + ((compute.get("verification") or {}).get("tokens") or 0)
        partials.append(partial)
    return tokens, seconds, partials


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None, help="model spec (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    parser.add_argument("--depths", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2,
                        help="plain forwards timed per length before and after its cells (median of each)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch
    import transformers

    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import load_model
    from modelcard.probe.context import build_context
    from modelcard.probe.registry import get_probe
    from modelcard.probe.timing import about, calibrate, work_of

    transformers.logging.set_verbosity_error()
    spec = args.model
    if spec is None:
        from real_models import smollm2_folder

        spec = str(smollm2_folder())
    loaded = load_model(spec)
    ctx = build_context(loaded, inspect_loaded(loaded), args.seed)
    adapter = ctx.adapter
    grid = get_probe("passkey-grid")
    params = grid.params({"lengths": args.lengths, "depths": args.depths, "samples": args.samples}, "bench")
    print(f"model {loaded.model_id} ({sum(p.numel() for p in adapter.model.parameters()):,} parameters, "
          f"{adapter.kernel}, {adapter.device}, {torch.get_num_threads()} threads); passkey-grid cells: depths "
          f"{', '.join(f'{d:g}' for d in args.depths)} x {args.samples} samples per length", flush=True)
    start = time.perf_counter()
    calibration = calibrate(adapter, max(args.lengths))
    print(f"calibration ({time.perf_counter() - start:.1f} s): {calibration.describe()}", flush=True)

    print(f"\n{'length':>7} {'cells':>5} {'forwards':>8} {'tokens':>8} {'probe s':>8} {'probe tok/s':>11} "
          f"{'forward tok/s':>13} {'ratio':>6} {'estimate':>14}", flush=True)
    rows, worst = [], None
    for length in args.lengths:
        # the plain forward timed before and after the cells: a shared machine's load changes by the minute
        before = plain_forward_rate(adapter, length, args.repeats)
        tokens, seconds, partials = probe_cells(ctx, length, params)
        forward_rate = (before + plain_forward_rate(adapter, length, args.repeats)) / 2
        skipped = [item for p in partials for item in p["skipped"]]
        probe_rate = tokens / seconds if seconds else 0.0
        ratio = probe_rate / forward_rate if forward_rate else 0.0
        cells = [cell for cell in params_cells(ctx, params) if cell["length"] == length]
        estimate = sum(calibration.seconds(work_of("passkey-grid", ctx, params, cell) or []) for cell in cells)
        rows.append((length, len(cells), tokens, seconds, probe_rate, forward_rate, ratio, estimate, skipped))
        worst = ratio if worst is None else min(worst, ratio)
        note = f"  skipped: {skipped[0]['reason']}" if skipped else ""
        forwards = sum((p["compute"] or {}).get("forwards", 0) for p in partials)
        print(f"{length:>7,} {len(cells):>5} {forwards:>8,} {tokens:>8,} {seconds:>8.2f} {probe_rate:>11.1f} "
              f"{forward_rate:>13.1f} {ratio:>6.2f} {about(estimate):>14}{note}", flush=True)
    total_s = sum(r[3] for r in rows)
    total_estimate = sum(r[7] for r in rows)
    print(f"\nall cells: {total_s:.1f} s measured, estimated {about(total_estimate)} ({total_estimate:.1f} s) "
          f"before they ran")
    print(f"lowest probe / forward tokens-per-second ratio = {worst:.2f} (target >= {TARGET})")
    return 0 if worst is not None and worst >= TARGET else 1


def params_cells(ctx: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    from modelcard.probe.probes.passkey_grid import split_grid

    return list(split_grid(ctx, params))


if __name__ == "__main__":
    sys.exit(main())
