"""Scale-out check on a GPU machine: the long suite on a random-init ~1B-parameter Llama loaded the way a model
larger than one GPU is loaded (transformers' device_map="auto" through `modelcard probe --device-map auto`), with
each retrieval length's peak memory estimated before it ran (weights + KV cache at that length + activations)
printed beside the peak measured while it ran.

The model is written to a scratch folder as safetensors (bfloat16, with the bundled demo's byte-level
tokenizer beside it, so the retrieval probes have text), then loaded from there like any checkpoint. MECHANICS
AND MEMORY ONLY: the weights are random, so retrieval scores mean nothing and `fail` statuses do not count.

    python scripts/gpu_scaleout_check.py                         # on a machine with CUDA GPUs
    python scripts/gpu_scaleout_check.py --max-tokens 32768      # a shorter run
    python scripts/gpu_scaleout_check.py --tiny --device cpu     # the same path, tiny, to test the script

Exit code: 0 when every probe passed, failed or was skipped (an `error` is 1), 2 without a CUDA device.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ONE_B = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
             num_key_value_heads=4, vocab_size=32000, max_position_embeddings=131072)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=320, max_position_embeddings=2048)
RETRIEVAL = ("copy-distance", "passkey-grid", "multikey-distractors", "position-sensitivity", "injected-instruction")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--max-tokens", type=int, default=131072, help="longest length any probe runs")
    parser.add_argument("--tiny", action="store_true", help="tiny model and lengths to 1,024 (CPU self-test)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the model and the results in this folder")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def write_model(folder: Path, args: argparse.Namespace) -> Path:
    """A random-init Llama saved as safetensors, the demo's tokenizer beside it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from modelcard.base.resources import demo_model_dir

    config = LlamaConfig(**(TINY if args.tiny else ONE_B), architectures=["LlamaForCausalLM"], dtype=args.dtype)
    torch.manual_seed(args.seed)
    model = LlamaForCausalLM._from_config(config, dtype=getattr(torch, args.dtype))
    model.save_pretrained(folder)
    for file in demo_model_dir().iterdir():
        if file.name.startswith(("tokenizer", "special_tokens")):
            shutil.copy(file, folder / file.name)
    return folder


def suite(folder: Path, args: argparse.Namespace) -> Path:
    """The long suite, every length capped at --max-tokens (--tiny: at most 1,024)."""
    import yaml

    from modelcard.base.resources import data_dir

    data = yaml.safe_load((data_dir("probes") / "long.yaml").read_text(encoding="utf-8"))
    cap = 1024 if args.tiny else args.max_tokens
    for entry in data["probes"]:
        params = entry.get("params") if isinstance(entry, dict) else None
        if not params:
            continue
        for key in ("max_length", "max_tokens", "max_distance"):
            if key in params:
                params[key] = min(params[key], cap if key != "max_distance" else cap // 2)
        for key in ("min_length", "min_tokens", "min_distance"):
            if key in params and args.tiny:
                params[key] = 64
        if "lengths" in params:
            params["lengths"] = sorted({min(n, cap) for n in params["lengths"]})
        if "chunk" in params and args.tiny:
            params["chunk"] = 256
    data["name"] = f"long (to {cap:,} tokens)"
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def shown(n: Any) -> str:
    from modelcard.probe.memcheck import size

    return f"{size(int(n)):>10}" if isinstance(n, (int, float)) else f"{'-':>10}"


def report(result: dict[str, Any]) -> int:
    layout = result["probe_suite"].get("layout") or {}
    print(f"layout: {json.dumps(layout)}")
    errors = 0
    for record in result["probes"]:
        errors += record["status"] == "error"
        print(f"  {record['status']:<8} {record['id']:<22} {record['duration_s']:9.1f} s  "
              f"{record.get('reason') or ''}"[:200])
    print("\nmemory per length: estimated = weights + KV cache + activations; measured = peak while it ran")
    print(f"  {'probe':<22} {'length':>8} {'weights':>10} {'kv':>10} {'activ.':>10} {'estimate':>10} "
          f"{'measured':>10} {'meas/est':>8}")
    for record in result["probes"]:
        if record["id"] not in RETRIEVAL:
            continue
        for row in record["details"].get("memory") or []:
            estimate = row["estimate"]
            length = row.get("length") or row.get("distance")
            print(f"  {record['id']:<22} {length:>8,} {shown(estimate['weights'])} {shown(estimate['kv_cache'])} "
                  f"{shown(estimate['activations'])} {shown(row['estimated_peak'])} {shown(row['measured_peak'])} "
                  f"{row.get('measured_over_estimate', '-'):>8}")
        for row in record["details"].get("skipped_lengths") or record["details"].get("skipped_distances") or []:
            print(f"  {record['id']:<22} {row.get('length') or row.get('distance'):>8,} skipped: {row['reason']}"[:220])
    return errors


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device: run with --tiny --device cpu to test the script", file=sys.stderr)
        return 2
    from modelcard.cli import main as modelcard

    scratch = args.keep or Path(tempfile.mkdtemp(prefix="modelcard-scaleout-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        folder = write_model(scratch / "model", args)
        print(f"wrote the random-init model in {time.perf_counter() - start:.1f} s to {folder}")
        out = scratch / "results"
        start = time.perf_counter()
        code = modelcard(["probe", str(folder), "--suite", str(suite(scratch, args)), "-o", str(out),
                          "--device", args.device, "--dtype", args.dtype, "--device-map", "auto",
                          "--probe-timeout", "0", "--format", "text"])
        print(f"modelcard probe exited {code} after {time.perf_counter() - start:.1f} s")
        result = json.loads((out / "probes.json").read_text(encoding="utf-8"))
        return 1 if report(result) else 0
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
