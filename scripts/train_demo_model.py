"""Train the demo model (a tiny Llama: GQA, RoPE, byte-level tokenizer) to retrieve, on this machine's CPU.

    python scripts/train_demo_model.py --out modelcard/demo      # the bundled demo: about 20 min on 2 cores

The model sees short sequences only (--train-length, 512 tokens) while its config declares a longer window
(max_position_embeddings, 4,096 tokens), as many released models do: retrieval holds within the trained length
and degrades beyond it, which is the gap between declared and effective context that modelcard's retrieval
probes measure. The data is synthetic and generated here from a seed, nothing is downloaded:

- key-value recall in filler text: one needle ("The magic number for amber-falcon is: 482913.") at a random
  depth, then the question and the answer;
- the same with near-duplicate needles (other colours, the same animal) around the one asked for;
- a list of key-value records and a question about one of them;
- copying: a random token sequence, then the same sequence again.

The formats are the ones the probes use (modelcard.probe.retrieval), with keys, values and filler drawn from
other seeds, so the card of the trained model shows a mechanism that works, not general skill. Only the answer
tokens and the second copy carry the full loss; the rest of the text carries a small language-modelling loss.

Deterministic: the same seed and thread count give the same weights (torch's CPU kernels are deterministic for
a fixed thread count). Tests never run this script.
"""

from __future__ import annotations

import argparse
import copy
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

from make_demo_model import byte_level_tokenizer, demo_config  # noqa: E402

from modelcard.probe.retrieval import (  # noqa: E402
    ANSWER,
    NEEDLE,
    QUESTION,
    Codec,
    distinct_keys,
    filler_sentences,
    make_key,
    make_value,
    near_duplicates,
)

SEED = 1234  # the probes draw their keys from other seeds (modelcard.probe.retrieval.rng_for)
DECLARED_WINDOW = 4096
LOW_WEIGHT = 0.1  # loss weight of the text around the answers


class Tasks:
    """Training examples as (token ids, loss weights)."""

    def __init__(self, codec: Codec, rng: random.Random, vocab: int) -> None:
        self.codec, self.rng, self.vocab = codec, rng, vocab
        sentences = filler_sentences(rng, 40_000, "varied") + filler_sentences(rng, 2_000, "ruler")
        rng.shuffle(sentences)
        self.filler: list[int] = []
        self.bounds: list[int] = []
        for sentence in sentences:
            self.bounds.append(len(self.filler))
            self.filler.extend(codec.encode(" " + sentence))

    def _filler(self, tokens: int) -> list[int]:
        if tokens <= 0:
            return []
        start = self.bounds[self.rng.randrange(len(self.bounds) - 2000)]
        return self.filler[start:start + tokens]

    def _split(self, filler: list[int], cuts: int) -> list[list[int]]:
        points = sorted(self.rng.randrange(len(filler) + 1) for _ in range(cuts))
        edges = [0, *points, len(filler)]
        return [filler[a:b] for a, b in zip(edges, edges[1:], strict=False)]

    def _ask(self, context: list[int], key: str, value: str, digits: int) -> tuple[list[int], list[float]]:
        question = self.codec.encode(QUESTION.format(key=key))
        answer = self.codec.encode(ANSWER.format(value=value))
        end = self.codec.encode(".\n")
        ids = context + question + answer + end
        weights = [LOW_WEIGHT] * (len(context) + len(question)) + [1.0] * len(answer) + [LOW_WEIGHT] * len(end)
        return ids, weights

    def needles(self, length: int, distractors: int, near: bool = True) -> tuple[list[int], list[float]]:
        """One needle asked for among `distractors` others: near-duplicates (same animal, another colour) or
        keys that share nothing with it."""
        digits = 6
        if near:
            key = make_key(self.rng)
            keys = [key, *near_duplicates(self.rng, key, distractors)]
        else:
            keys = distinct_keys(self.rng, distractors + 1)
            key = keys[0]
        values: list[str] = []
        for _ in keys:
            values.append(make_value(self.rng, digits, values))
        pieces = [self.codec.encode(NEEDLE.format(key=k, value=v)) for k, v in zip(keys, values, strict=True)]
        self.rng.shuffle(pieces)
        overhead = sum(map(len, pieces)) + len(self.codec.encode(QUESTION.format(key=key))) + 10
        parts = self._split(self._filler(length - overhead), len(pieces))
        context: list[int] = []
        for part, piece in zip(parts, [*pieces, []], strict=True):
            context += part + piece
        return self._ask(context, key, values[0], digits)

    def records(self, length: int) -> tuple[list[int], list[float]]:
        keys = distinct_keys(self.rng, 24)
        values: list[str] = []
        context: list[int] = []
        used: list[tuple[str, str]] = []
        budget = length - len(self.codec.encode(QUESTION.format(key=keys[0]))) - 12
        for key in keys:
            value = make_value(self.rng, 6, values)
            piece = self.codec.encode(NEEDLE.format(key=key, value=value))
            if len(context) + len(piece) > budget:
                break
            values.append(value)
            used.append((key, value))
            context += piece
        key, value = self.rng.choice(used)
        return self._ask(context, key, value, 6)

    def copy(self, length: int) -> tuple[list[int], list[float]]:
        half = max(2, length // 2)
        sequence = [self.rng.randrange(3, self.vocab) for _ in range(half)]
        return sequence + sequence, [LOW_WEIGHT] * (half + 1) + [1.0] * (half - 1)

    def repeats(self, length: int) -> tuple[list[int], list[float]]:
        """Short random sequences (4-19 tokens), each repeated 3-8 times: the densest signal for induction heads.
        A fixed distance inside each run is an easy first step (attend n back), and copying what followed the
        same token earlier is the general one; on this data the heads form after 600-800 steps."""
        ids: list[int] = []
        weights: list[float] = []
        while len(ids) < length:
            size = self.rng.randrange(4, 20)
            sequence = [self.rng.randrange(3, self.vocab) for _ in range(size)]
            times = self.rng.randrange(3, 9)
            ids += sequence * times
            weights += [LOW_WEIGHT] * (size + 1) + [1.0] * (size * (times - 1) - 1)
        return ids[:length], weights[:length]

    def example(self, length: int) -> tuple[list[int], list[float]]:
        roll = self.rng.random()
        most = max(1, (length - 120) // 50 - 1)  # needles that fit beside some filler
        if roll < 0.2:
            return self.needles(length, 0)
        if roll < 0.45:
            return self.needles(length, min(most, self.rng.choice((1, 2, 3, 5, 7))))
        if roll < 0.65:
            return self.needles(length, min(most, self.rng.choice((2, 4, 6, 8))), near=False)
        if roll < 0.85:
            return self.records(length)
        return self.copy(length)

    def row(self, length: int) -> tuple[list[int], list[float]]:
        """One training row of exactly `length` tokens: one example across all of it, or several shorter ones."""
        ids: list[int] = []
        weights: list[float] = []
        while len(ids) < length:
            room = length - len(ids)
            if room < 160:
                filler = self._filler(room)
                ids += filler
                weights += [LOW_WEIGHT] * len(filler)
                continue
            size = room if self.rng.random() < 0.5 else self.rng.randrange(160, room + 1)
            example, loss = self.example(size)
            ids += example[:room]
            weights += loss[:room]
        return ids[:length], weights[:length]


def batch(tasks: Tasks, size: int, length: int, repeats: float) -> tuple[torch.Tensor, torch.Tensor]:
    """`repeats`: the share of rows of repeated random sequences; the others are task rows."""
    rows = [tasks.repeats(length) if tasks.rng.random() < repeats else tasks.row(length) for _ in range(size)]
    return torch.tensor([r[0] for r in rows]), torch.tensor([r[1] for r in rows])


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: object, ids: torch.Tensor,
               weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step on next-token cross-entropy weighted by `weights`; (logits, flat weights, loss)."""
    logits = model(ids).logits[:, :-1]
    losses = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                               reduction="none")
    w = weights[:, 1:].reshape(-1)
    loss = (losses * w).sum() / w.sum()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    schedule.step()  # type: ignore[attr-defined]
    return logits, w, loss


def answer_right(model: torch.nn.Module, ids: list[int], weights: list[float]) -> bool:
    """Whether the argmax at every full-weight (answer) position is the answer's token."""
    logits = model(torch.tensor([ids])).logits[0]
    answer = [i for i, w in enumerate(weights) if w == 1.0]
    return logits[[i - 1 for i in answer]].argmax(-1).tolist() == [ids[i] for i in answer]


def evaluate(model: torch.nn.Module, tasks: Tasks, length: int, count: int = 16) -> dict[str, float]:
    """Exact-match accuracy of the answers in `count` fresh examples of each kind at `length` tokens."""
    model.eval()
    scores = {}
    with torch.no_grad():
        for name, make in (("needle", lambda: tasks.needles(length, 0)),
                           ("near_duplicates_3", lambda: tasks.needles(length, 3)),
                           ("distinct_keys_5", lambda: tasks.needles(length, 4, near=False)),
                           ("records", lambda: tasks.records(length))):
            right = 0
            for _ in range(count):
                right += answer_right(model, *make())
            scores[name] = right / count
    model.train()
    return scores


def phase(step: int, args: argparse.Namespace) -> tuple[int, float]:
    """(row length, share of repeat rows) at `step`: induction first, then the tasks, short then long."""
    if step < args.induction_steps:
        return args.induction_length, 1.0
    task_step = step - args.induction_steps
    return (args.short_length if task_step < args.task_steps // 4 else args.train_length), args.repeat_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "demo-retrieval")
    parser.add_argument("--induction-steps", type=int, default=1000)
    parser.add_argument("--induction-length", type=int, default=128)
    parser.add_argument("--task-steps", type=int, default=1800)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--train-length", type=int, default=512)
    parser.add_argument("--short-length", type=int, default=256, help="row length for the first quarter of task steps")
    parser.add_argument("--repeat-share", type=float, default=0.2, help="share of repeat rows during the task steps")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--eval-every", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tokenizer = byte_level_tokenizer()
    codec = Codec(tokenizer, "byte-level")
    config = demo_config(len(tokenizer))
    config.max_position_embeddings = DECLARED_WINDOW
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM(config)
    model.train()
    tasks = Tasks(codec, random.Random(args.seed), len(tokenizer))
    held_out = copy.copy(tasks)  # the same filler; its own generator, so evaluating leaves the training data as is
    held_out.rng = random.Random(args.seed + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.01)
    total = args.induction_steps + args.task_steps

    def rate(step: int) -> float:
        """Warm-up, constant through the induction steps, then a cosine to zero over the task steps."""
        if step < args.warmup:
            return (step + 1) / args.warmup
        done = max(0, step - args.induction_steps) / max(1, args.task_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    start = time.perf_counter()
    log = []
    for step in range(total):
        length, repeats = phase(step, args)
        ids, weights = batch(tasks, args.batch, length, repeats)
        logits, w, loss = train_step(model, optimizer, schedule, ids, weights)
        if (step + 1) % args.eval_every == 0 or step + 1 == total:
            scored = w == 1.0
            hit = (logits.detach().argmax(-1).reshape(-1) == ids[:, 1:].reshape(-1))[scored].float().mean()
            entry = {"step": step + 1, "length": length, "loss": round(float(loss.detach()), 4),
                     "scored_token_accuracy": round(float(hit), 4), "elapsed_s": round(time.perf_counter() - start, 1)}
            if step >= args.induction_steps:
                entry["eval"] = evaluate(model, held_out, args.train_length)
            log.append(entry)
            print(json.dumps(entry), flush=True)
    elapsed = time.perf_counter() - start
    model.eval()
    model.config.use_cache = True
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    tokenizer.model_max_length = DECLARED_WINDOW
    tokenizer.save_pretrained(args.out)
    (args.out / "generation_config.json").unlink(missing_ok=True)
    record = {"script": "scripts/train_demo_model.py", "arguments": {k: str(v) if isinstance(v, Path) else v
                                                                     for k, v in vars(args).items()},
              "declared_window": DECLARED_WINDOW, "parameters": sum(p.numel() for p in model.parameters()),
              "wall_time_s": round(elapsed, 1), "torch": torch.__version__, "log": log}
    (args.out / "training.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out} in {elapsed / 60:.1f} min")


if __name__ == "__main__":
    main()
