"""GPU check: the standard probe suite on a random-init ~1B-parameter Llama with each fast attention kernel
(sdpa, flash attention when installed), scaling from 8K to 128K tokens; prints peak memory and latency.

The retrieval probes (copy-distance, passkey-grid, multikey-distractors, position-sensitivity,
injected-instruction) run at 8K-128K tokens too, with a byte-level tokenizer handed to the model, and
passkey-grid once more length by length for its time and peak memory. MECHANICS AND MEMORY ONLY: the
weights are random, so their retrieval scores mean nothing, and their `fail` statuses do not count.

    python scripts/gpu_check.py                      # on a machine with a CUDA GPU
    python scripts/gpu_check.py --retrieval-only     # only the retrieval probes
    python scripts/gpu_check.py --tiny --device cpu  # the same path with tiny sizes, to test the script

Exit code: 0 when every probe passed or was skipped (a retrieval probe may also fail), 1 otherwise, 2 when
there is no CUDA device.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

RETRIEVAL = ("copy-distance", "passkey-grid", "multikey-distractors", "position-sensitivity", "injected-instruction")
ONE_B = dict(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
             num_key_value_heads=4, vocab_size=32000, max_position_embeddings=131072)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=256, max_position_embeddings=4096)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--kernels", default="sdpa,flash_attention_2,flash_attention_3")
    parser.add_argument("--suite", default="standard")
    parser.add_argument("--min-tokens", type=int, default=8192)
    parser.add_argument("--max-tokens", type=int, default=131072)
    parser.add_argument("--tiny", action="store_true", help="tiny model and lengths 64..512 (CPU self-test)")
    parser.add_argument("--retrieval-only", action="store_true", help="run only the retrieval probes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.tiny:
        args.min_tokens, args.max_tokens = 64, 512
    return args


def build(args: argparse.Namespace, kernel: str) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from modelcard.load.loader import LoadedModel

    config = LlamaConfig(**(TINY if args.tiny else ONE_B), architectures=["LlamaForCausalLM"])
    torch.manual_seed(args.seed)
    with torch.device(args.device):
        model = LlamaForCausalLM._from_config(config, dtype=getattr(torch, args.dtype), attn_implementation=kernel)
    model.eval()
    model.modelcard_tokenizer = ByteTokenizer()  # random weights have no tokenizer; the probes need text
    return LoadedModel(spec=f"random-init llama ({kernel})", source="local", model=model, config=model.config,
                       has_weights=True)


class ByteTokenizer:
    """One token per byte (ids 3-258), as the demo's tokenizer: it fits any vocabulary of 259 or more."""

    def encode(self, text: str) -> list[int]:
        return [b + 3 for b in text.encode("utf-8")]


def retrieval_lengths(args: argparse.Namespace) -> list[int]:
    """Powers of two from the smallest length that holds a needle and its question (256 tokens) to --max-tokens."""
    lengths, n = [], 256
    while n <= args.max_tokens:
        if n >= args.min_tokens:
            lengths.append(n)
        n *= 2
    return lengths or [256]


def suite_for(args: argparse.Namespace) -> Any:
    from modelcard.probe.suite import ProbeEntry, Suite, resolve_suite

    suite = resolve_suite(args.suite)
    if args.retrieval_only:
        suite = Suite(name="retrieval", description="the retrieval probes", probes=[ProbeEntry(i) for i in RETRIEVAL],
                      path=None)
    lengths = retrieval_lengths(args)
    for entry in suite.probes:
        if entry.id == "scaling":
            entry.params.update(min_tokens=args.min_tokens, max_tokens=args.max_tokens)
        elif entry.id == "copy-distance":
            entry.params.update(min_distance=max(16, args.min_tokens // 2), max_distance=args.max_tokens // 2,
                                samples=1)
        elif entry.id == "passkey-grid":
            entry.params.update(lengths=lengths, samples=1, depths=[0.0, 0.5, 1.0])
        elif entry.id in RETRIEVAL:
            entry.params.update(lengths=lengths[::2] if len(lengths) > 2 else lengths, samples=2)
            entry.params.pop("needles", None)
    return suite


def retrieval_by_length(loaded: Any, facts: Any, args: argparse.Namespace, kernel: str) -> None:
    """passkey-grid once per length: wall time and peak memory of each (mechanics only: random weights)."""
    import time

    import torch

    from modelcard.probe.context import build_context
    from modelcard.probe.registry import get_probe

    probe = get_probe("passkey-grid")
    ctx = build_context(loaded, facts, args.seed, kernel)
    cuda = args.device.startswith("cuda")
    print(f"  passkey-grid length by length (3 depths, 1 sample; random weights: time and memory only, the scores "
          f"mean nothing)\n  {'tokens':>8} {'status':>8} {'time':>9} {'peak memory':>14} {'tokens fed':>11}")
    for length in retrieval_lengths(args):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        outcome = probe.run(ctx, **probe.params({"lengths": [length], "depths": [0.0, 0.5, 1.0], "samples": 1},
                                                "gpu_check"))
        if cuda:
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        peak = f"{torch.cuda.max_memory_allocated() / 2**30:>10.3f} GiB" if cuda else f"{'n/a (cpu)':>14}"
        fed = (outcome.details.get("compute") or {}).get("tokens_processed", 0)
        print(f"  {length:>8,} {outcome.status:>8} {elapsed:>8.2f}s {peak} {fed:>11,}"
              f"{'  ' + outcome.reason if outcome.reason else ''}")


def report(kernel: str, result: Any) -> None:
    print(f"\n== {kernel} ==")
    for record in result.records:
        value = record["value"]
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"  {record['status']:<8} {record['id']:<18} {record['metric']} = {shown}  "
              f"({record['duration_s']:.1f} s){'  ' + record['reason'] if record['reason'] else ''}")
        details = record["details"]
        if record["id"] == "cache-consistency" and "decode" in details:
            for path in ("decode", "chunked_prefill"):
                row = details[path]
                print(f"           {path}: top-1 agreement {row['top1_agreement']:.4f}, {row['positions_off']} of "
                      f"{details['length']} positions off tolerance {record['threshold']}, noise floor "
                      f"{row['noise_floor']:.3g}, consistent {row['consistent']}")
        if record["id"] == "kernel-agreement" and "kernels" in details:
            for kernel, row in details["kernels"].items():
                distance = row.get("distance_to_float64", row.get("max_abs_diff"))
                against = "float64" if "distance_to_float64" in row else details.get("reference", "reference")
                print(f"           {kernel}: max abs diff {distance:.3g} against {against}, "
                      f"top-1 {row['top1_agreement']:.4f}, "
                      f"{row['positions_off']} positions off tolerance {record['threshold']}")
    for item in result.findings:
        print(f"  {item['severity']}: {item['pointer']}: {item['message']}")
    scaling = next((r for r in result.records if r["id"] == "scaling" and r["status"] != "error"), None)
    if scaling is None:
        return
    print(f"  {'tokens':>8} {'peak memory':>14} {'latency':>10} {'KV cache (analytic)':>20}")
    for point in scaling["details"]["points"]:
        kv = point["kv_cache_bytes"]
        print(f"  {point['tokens']:>8,} {point['peak_bytes'] / 2**30:>10.3f} GiB {point['latency_s'] * 1e3:>7.1f} ms "
              f"{(kv or 0) / 2**30:>16.3f} GiB")
    print(f"  memory exponent {scaling['value']}, latency exponent {scaling['details']['latency_exponent']}"
          f"{'; ' + scaling['details']['stopped'] if scaling['details']['stopped'] else ''}")


def main(argv: list[str] | None = None) -> int:
    import torch

    from modelcard.inspect import inspect_loaded
    from modelcard.inspect.kernels import available_kernels
    from modelcard.probe.context import build_context
    from modelcard.probe.runner import run_suite

    args = parse(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; use --tiny --device cpu to test the script", file=sys.stderr)
        return 2
    available = available_kernels()
    print(f"torch {torch.__version__}, device {args.device}"
          f"{' (' + torch.cuda.get_device_name() + ')' if args.device.startswith('cuda') else ''}, "
          f"kernels available: {', '.join(available)}")
    failed = False
    for kernel in args.kernels.split(","):
        if kernel not in available:
            print(f"\n== {kernel} == not available here, skipped")
            continue
        loaded = build(args, kernel)
        print(f"\n{sum(p.numel() for p in loaded.model.parameters()) / 1e9:.2f}B parameters, {args.dtype}")
        facts = inspect_loaded(loaded)
        result = run_suite(suite_for(args), lambda loaded=loaded, facts=facts, kernel=kernel: build_context(
            loaded, facts, args.seed, kernel), seed=args.seed)
        report(kernel, result)
        if any(r["id"] == "passkey-grid" for r in result.records):
            retrieval_by_length(loaded, facts, args, kernel)
        # Random weights cannot retrieve: a retrieval probe's `fail` is expected, its `error` is not.
        failed = failed or any(r["status"] == "error" or (r["status"] == "fail" and r["id"] not in RETRIEVAL)
                               for r in result.records)
        del loaded, facts, result
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
