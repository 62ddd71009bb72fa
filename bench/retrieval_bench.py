"""Benchmark of the passkey grid's compute sharing: the same grid (same prompts, same seed) scored three ways,
in one run, with tokens processed and wall time side by side.

1. shared: modelcard's way. Every prompt's haystack is a prefix of one filler stream, so the scorer feeds each
   shared prefix once through the model's own cache and puts the cache back (crop, or a copy) at each branch
   point; only what follows each needle is computed per cell. Teacher-forced: no generate.
2. one forward per cell: the same teacher-forced scoring, every cell fed from its first token.
3. harness: what the usual needle-in-a-haystack harnesses do: one full prompt per cell, then `generate`
   (greedy, as many new tokens as the value has), and an exact-match check of the generated text.

The three must agree cell by cell on exact match (greedy decoding writes the value exactly when the
teacher-forced argmax is the value at every position); the shared and per-cell log-likelihoods must agree to
rounding. Target: shared <= 0.6 of the harness's tokens.

    python bench/retrieval_bench.py [MODEL] [--lengths 256 512 1024 2048 4096] [--samples 4] [--threads 2]

MODEL is any model spec modelcard takes (default: the bundled demo).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def harness(adapter: Any, prompts: list[Any]) -> tuple[list[bool], int, int]:
    """One full prompt per cell plus greedy generation; returns exact matches, tokens processed, forwards."""
    import torch

    exact, tokens, forwards = [], 0, 0
    model = adapter.model
    for prompt in prompts:
        answer = prompt.answers["value"]
        ids = torch.tensor([prompt.ids], device=adapter.device)
        with torch.no_grad():
            if hasattr(model, "generate") and adapter.is_transformers:
                out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=len(answer),
                                     min_new_tokens=len(answer), do_sample=False, num_beams=1,
                                     pad_token_id=model.config.pad_token_id or 0)
                written = out[0, ids.shape[1]:].tolist()
            else:  # a custom module: the same greedy loop through its cache
                logits, cache = adapter.step(ids)
                written = [int(logits[0, -1].argmax())]
                for _ in range(len(answer) - 1):
                    logits, cache = adapter.step(torch.tensor([[written[-1]]]), cache)
                    written.append(int(logits[0, -1].argmax()))
        exact.append(written == answer)
        tokens += len(prompt.ids) + len(answer) - 1  # the prompt, then each written token but the last
        forwards += len(answer)
    return exact, tokens, forwards


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=None, help="model spec (default: the bundled demo)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    parser.add_argument("--depths", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=4096)
    args = parser.parse_args(argv)

    import torch
    import transformers

    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import load_model
    from modelcard.probe.context import build_context
    from modelcard.probe.prefix_scoring import PrefixScorer
    from modelcard.probe.probes.passkey_grid import build_prompts, grid_table
    from modelcard.probe.retrieval import FillerStream, find_codec

    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    loaded = load_model(args.model)
    ctx = build_context(loaded, inspect_loaded(loaded), args.seed)
    codec, why = find_codec(ctx.adapter)
    if codec is None:
        print(f"retrieval_bench: {why}", file=sys.stderr)
        return 2
    stream = FillerStream.build(codec, max(args.lengths), args.seed)
    prompts, too_short = build_prompts(codec, stream, args.lengths, args.depths, args.samples, 6, args.seed)
    for item in too_short:
        print(f"skipped {item['length']:,} tokens: {item['reason']}")
    cells = len(prompts)
    print(f"model {loaded.model_id} ({sum(p.numel() for p in ctx.adapter.model.parameters()):,} parameters, "
          f"{ctx.adapter.kernel}, {ctx.adapter.device}, {args.threads} threads); {cells} cells: lengths "
          f"{', '.join(f'{n:,}' for n in sorted({p.info['length'] for p in prompts}))} x depths "
          f"{', '.join(f'{d:g}' for d in args.depths)} x {args.samples} samples")

    rows, results = [], {}
    ctx.adapter.outputs(torch.tensor([prompts[0].ids[:64]]))  # warm-up
    for name, share in (("shared prefix (modelcard)", True), ("one forward per cell", False)):
        scorer = PrefixScorer(ctx.adapter, share=share, chunk=args.chunk)
        start = time.perf_counter()
        scores = scorer.score(prompts)
        elapsed = time.perf_counter() - start
        results[name] = scores
        rows.append((name, scorer.stats.tokens, scorer.stats.forwards, elapsed, scorer.stats.sharing))
    start = time.perf_counter()
    generated, tokens, forwards = harness(ctx.adapter, prompts)
    elapsed = time.perf_counter() - start
    rows.append(("harness: full prompt + generate", tokens, forwards, elapsed, "none"))

    naive = rows[-1][1]
    print(f"\n{'way':<34} {'tokens':>10} {'vs harness':>10} {'forwards':>9} {'wall s':>8}  cache")
    for name, count, calls, seconds, sharing in rows:
        print(f"{name:<34} {count:>10,} {count / naive:>10.3f} {calls:>9,} {seconds:>8.2f}  {sharing}")

    shared, alone = results["shared prefix (modelcard)"], results["one forward per cell"]
    same_exact = all(a["value"].exact == b["value"].exact == g for a, b, g in zip(shared, alone, generated,
                                                                                    strict=True))
    worst = max(abs(a["value"].logprob - b["value"].logprob) for a, b in zip(shared, alone, strict=True))
    print(f"\nexact match identical in all three ways: {same_exact}; largest log-likelihood difference, shared vs "
          f"one forward per cell: {worst:.2e} nats")
    _, table, by_length = grid_table(prompts, shared, sorted({p.info["length"] for p in prompts}), args.depths)
    print("\nexact match by depth (rows) and length (columns):")
    print(f"{'depth':>6} " + " ".join(f"{n:>7,}" for n in by_length))
    for row in table:
        print(f"{row['depth']:>6g} " + " ".join(f"{row['scores'][str(n)]:>7.0%}" for n in by_length))
    print(f"{'all':>6} " + " ".join(f"{s:>7.0%}" for s in by_length.values()))
    ratio = rows[0][1] / naive
    print(f"\nshared / harness tokens = {ratio:.3f} (target <= 0.6)")
    return 0 if same_exact and ratio <= 0.6 else 1


if __name__ == "__main__":
    sys.exit(main())
