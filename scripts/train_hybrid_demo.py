"""Train the hybrid demo model (3 sliding-window layers of 256 tokens to 1 global layer) on this machine's CPU.

    python scripts/train_hybrid_demo.py --out modelcard/demo_hybrid     # the bundled hybrid demo

The model is a Qwen2 of the demo's width (4 layers, 128 wide, GQA 8/2, the byte-level tokenizer) whose
`layer_types` are sliding, sliding, sliding, full with a 256-token window: the layout of Gemma 3, Qwen2 with
`max_window_layers` or Mistral-family hybrids, small enough to train here. It starts from the bundled demo's
weights (modelcard/demo, trained by scripts/train_demo_model.py): the same layers, renamed, with zero q/k/v
biases, so its retrieval heads already exist and the fine-tune has to route them through the one global layer
once the other three see 256 tokens only. Rows are up to --long-length tokens (1,280), past 4 windows.

The data is synthetic, generated here from seeds the probes never use (the probes run with seed 0 by default;
the training data draws from seeds 10,000 and up), nothing is downloaded. Besides the first demo's tasks
(modelcard's needle, near-duplicate and distinct-key needles, records, copying), it trains the formats of the
task-family probes, built by the probes' own prompt builders so the format is exactly theirs:

- window-boundary: one needle at a distance of 32 to 1,150 tokens before the question;
- variable-tracking: chains of 1 to 4 hops, two chains, with the worked example first;
- frequent-words: Zipf-drawn coded words, the top 3 asked for, with the worked example;
- nonliteral-needle: both variants (the landmark, and the city named outright) of the shipped pairs, with
  characters drawn from other seeds; beside it, one-line facts ("The Semper Opera is in Dresden.") in the
  filler teach the one step of world knowledge the non-literal needle needs.

Only the answers carry the full loss. The card of the trained model shows mechanisms that work on these
formats, not general skill; the lengths past the trained one (2,048 and beyond) are where it degrades.
Deterministic for a fixed seed and thread count. Tests never run this script.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_demo_model import LOW_WEIGHT, Tasks, answer_right, train_step  # noqa: E402

from modelcard.probe.probes import (  # noqa: E402
    frequent_words,
    nonliteral_needle,
    variable_tracking,
    window_boundary,
)
from modelcard.probe.prompt_format import build_format  # noqa: E402
from modelcard.probe.retrieval import Codec, FillerStream  # noqa: E402

SEED = 4321
FIRST_DATA_SEED = 10_000  # the probes' default seed is 0; training prompts draw from seeds 10,000 and up
WINDOW = 256
DECLARED_WINDOW = 4096
FACT = " {landmark} is in {city}."


def hybrid_config(llama_config: object, window: int) -> object:
    """A Qwen2 config of the demo's shape with 3 sliding layers to 1 full layer."""
    from transformers import Qwen2Config

    c = llama_config
    return Qwen2Config(
        vocab_size=c.vocab_size, hidden_size=c.hidden_size, intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_hidden_layers, num_attention_heads=c.num_attention_heads,
        num_key_value_heads=c.num_key_value_heads, head_dim=c.head_dim, hidden_act=c.hidden_act,
        max_position_embeddings=DECLARED_WINDOW, rms_norm_eps=c.rms_norm_eps, tie_word_embeddings=True,
        rope_parameters=dict(c.rope_parameters), use_sliding_window=True, sliding_window=window,
        max_window_layers=c.num_hidden_layers,
        layer_types=["sliding_attention"] * (c.num_hidden_layers - 1) + ["full_attention"],
        bos_token_id=c.bos_token_id, eos_token_id=c.eos_token_id, pad_token_id=c.pad_token_id,
        attention_dropout=0.0)


def warm_start(model: torch.nn.Module, demo: torch.nn.Module) -> None:
    """Copy the demo's weights into the hybrid (same names; the hybrid's q/k/v biases start at zero)."""
    source = demo.state_dict()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name in source:
                tensor.copy_(source[name])
            elif name.endswith(".bias"):
                tensor.zero_()
            else:
                raise KeyError(f"the demo has no weight for {name}")


class FamilyTasks(Tasks):
    """The first demo's tasks and the task-family probes' formats, each from the probe's own builder."""

    def __init__(self, codec: Codec, rng: random.Random, vocab: int) -> None:
        super().__init__(codec, rng, vocab)
        self.format = build_format(codec, "base")
        self.stream = FillerStream.build(codec, 8_000, FIRST_DATA_SEED, "varied")
        self.pairs, _ = nonliteral_needle.landmarks()
        self.seed = FIRST_DATA_SEED

    def _next_seed(self) -> int:
        self.seed += 1
        return self.seed

    def _answered(self, prompt: object) -> tuple[list[int], list[float]]:
        answer = prompt.answers["value"]
        return [*prompt.ids, *answer], [LOW_WEIGHT] * len(prompt.ids) + [1.0] * len(answer)

    def boundary(self, length: int) -> tuple[list[int], list[float]] | None:
        distance = self.rng.randrange(32, max(33, length - 64))
        cell = {"window": WINDOW, "distance": distance, "length": length}
        params = {"samples": 1, "digits": 6, "lead": self.rng.randrange(0, 33)}
        prompts, skipped = window_boundary.build_prompts(self.codec, self.stream, params, cell, self._next_seed(),
                                                         self.format)
        return self._answered(prompts[0]) if prompts else None

    def tracking(self, length: int) -> tuple[list[int], list[float]] | None:
        params = {"chains": 2, "samples": 1, "digits": 5}
        prompts, _ = variable_tracking.build_prompts(self.codec, self.stream, length, self.rng.randint(1, 4), params,
                                                     self._next_seed(), self.format)
        return self._answered(prompts[0]) if prompts else None

    def frequent(self, length: int) -> tuple[list[int], list[float]] | None:
        params = {"top": 3, "vocabulary": 100, "alpha": 2.0}
        try:
            prompt = frequent_words.build_prompt(self.codec, length, 0, params, self._next_seed(), self.format)
        except ValueError:
            return None
        return self._answered(prompt)

    def nonliteral(self, length: int) -> tuple[list[int], list[float]] | None:
        cell = {"length": length, "sample": 0}
        params = {"depths": [self.rng.random()]}
        prompts, _ = nonliteral_needle.build_prompts(self.codec, self.stream, params, cell, self._next_seed(),
                                                     self.format)
        if not prompts:
            return None
        return self._answered(prompts[0] if self.rng.random() < 0.7 else prompts[1])

    def facts(self, length: int) -> tuple[list[int], list[float]]:
        ids: list[int] = []
        weights: list[float] = []
        while len(ids) < length:
            pair = self.rng.choice(self.pairs)
            landmark = pair["landmark"][0].upper() + pair["landmark"][1:]
            head = self.codec.encode(" " + landmark + " is in")
            city = self.codec.encode(f" {pair['city']}.")
            ids += head + city
            weights += [LOW_WEIGHT] * len(head) + [1.0] * len(city)
        return ids[:length], weights[:length]

    def example(self, length: int) -> tuple[list[int], list[float]]:
        roll = self.rng.random()
        made = None
        if roll < 0.18:
            made = self.boundary(length)
        elif roll < 0.38:
            made = self.tracking(length)
        elif roll < 0.50:
            made = self.frequent(length)
        elif roll < 0.70:
            made = self.nonliteral(length)
        elif roll < 0.76:
            made = self.facts(min(length, 96))
        return made if made is not None else super().example(length)


def evaluate(model: torch.nn.Module, tasks: FamilyTasks, length: int, count: int = 12) -> dict[str, float]:
    """Exact match of the answers in `count` fresh examples of each family at `length` tokens."""
    model.eval()
    scores = {}
    makers = {"boundary": tasks.boundary, "tracking": tasks.tracking, "frequent": tasks.frequent,
              "nonliteral": tasks.nonliteral, "needle": lambda n: tasks.needles(n, 0)}
    with torch.no_grad():
        for name, make in makers.items():
            right = total = 0
            while total < count:
                made = make(length)
                if made is None:
                    continue
                right += answer_right(model, *made)
                total += 1
            scores[name] = round(right / total, 3)
    model.train()
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "demo-hybrid")
    parser.add_argument("--demo", type=Path, default=ROOT / "modelcard" / "demo")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--short-steps", type=int, default=400, help="steps at --short-length first")
    parser.add_argument("--short-length", type=int, default=512)
    parser.add_argument("--short-batch", type=int, default=16)
    parser.add_argument("--long-length", type=int, default=1280)
    parser.add_argument("--long-batch", type=int, default=6)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--eval-every", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    from transformers import AutoTokenizer, LlamaForCausalLM, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(args.demo)
    demo = LlamaForCausalLM.from_pretrained(args.demo, dtype=torch.float32)
    model = Qwen2ForCausalLM(hybrid_config(demo.config, WINDOW))
    warm_start(model, demo)
    model.train()
    codec = Codec(tokenizer, "byte-level")
    tasks = FamilyTasks(codec, random.Random(args.seed), len(tokenizer))
    held_out = FamilyTasks(codec, random.Random(args.seed + 1), len(tokenizer))
    held_out.seed = FIRST_DATA_SEED + 5_000_000
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)

    def rate(step: int) -> float:
        if step < args.warmup:
            return (step + 1) / args.warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, args.steps))))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    start = time.perf_counter()
    log = []
    for step in range(args.steps):
        short = step < args.short_steps
        length, size = (args.short_length, args.short_batch) if short else (args.long_length, args.long_batch)
        rows = [tasks.row(length) for _ in range(size)]
        ids, weights = torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows])
        _, _, loss = train_step(model, optimizer, schedule, ids, weights)
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            entry = {"step": step + 1, "length": length, "loss": round(float(loss.detach()), 4),
                     "elapsed_s": round(time.perf_counter() - start, 1),
                     "eval_512": evaluate(model, held_out, 512)}
            if not short:
                entry["eval_1152"] = evaluate(model, held_out, 1152, count=6)
            log.append(entry)
            print(json.dumps(entry), flush=True)
    elapsed = time.perf_counter() - start
    model.eval()
    model.config.use_cache = True
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.save_pretrained(args.out)
    settings = args.out / "tokenizer_config.json"
    saved = json.loads(settings.read_text(encoding="utf-8"))
    for key in ("is_local", "local_files_only"):  # where this run read the tokenizer from, not a setting
        saved.pop(key, None)
    # Loaded beside a qwen2 config, the tokenizer is transformers' Qwen2Tokenizer, whose default unknown token
    # would be a 260th token past the 259-row embedding; byte-level text has no unknown to stand for.
    saved["unk_token"] = None
    settings.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    (args.out / "generation_config.json").unlink(missing_ok=True)
    record = {"script": "scripts/train_hybrid_demo.py", "starts_from": "modelcard/demo (scripts/train_demo_model.py)",
              "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "window": WINDOW, "layer_types": model.config.layer_types, "declared_window": DECLARED_WINDOW,
              "parameters": sum(p.numel() for p in model.parameters()), "wall_time_s": round(elapsed, 1),
              "torch": torch.__version__, "log": log}
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
