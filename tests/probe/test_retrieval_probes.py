"""The five retrieval probes on tiny planted models whose behaviour is known by construction: an oracle that
copies perfectly (it predicts the token that followed the longest earlier match of the text ending here), the
same oracle with a window (it cannot see far back), with a window and an attention sink (it loses the middle),
with a short match (it confuses near-duplicates), an obedient one (it answers whatever number an instruction in
its context names), and a random-weight transformer that retrieves nothing. No training, no downloads.

Each factory here is a model spec (`test_retrieval_probes:<factory>`) for the CLI as well."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

OFFSET = 3  # ids 0-2 are special tokens, as in the demo's byte-level tokenizer
VOCAB = 256 + OFFSET


class ByteTokenizer:
    """One token per UTF-8 byte, shifted past three special ids (the demo's layout); folded into a smaller
    vocabulary when given one."""

    def __init__(self, vocab: int = VOCAB) -> None:
        self.vocab = vocab

    def encode(self, text: str) -> list[int]:
        return [b % (self.vocab - OFFSET) + OFFSET for b in text.encode("utf-8")]

    def decode(self, ids: list[int]) -> str:
        return bytes(i - OFFSET for i in ids if i >= OFFSET).decode("utf-8", errors="replace")


class PlantedTextModel(nn.Module):
    """What every planted model shares: one parameter (so that it has a device and weights), a byte tokenizer,
    a causal mask and the context window it declares."""

    def __init__(self, context_window: int) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.modelcard_tokenizer = ByteTokenizer()
        self.modelcard_declared = {"masking": "causal", "context_window": context_window}
        self.eval()

    def get_input_embeddings(self) -> nn.Embedding:
        return nn.Embedding(VOCAB, 1)


class Oracle(PlantedTextModel):
    """Predicts at each position the token that followed the longest earlier match (at most `max_match` tokens,
    the earliest on a tie) of the text ending there, looking back at most `window` tokens (plus the first
    `sink` tokens). `obey`: after an answer cue, it writes the number that an instruction in its context names."""

    def __init__(self, window: int | None = None, sink: int = 0, max_match: int = 10_000, obey: bool = False,
                 context_window: int = 4096, memory: int | None = None) -> None:
        super().__init__(context_window)
        self.window, self.sink, self.max_match, self.obey = window, sink, max_match, obey
        self.memory = memory  # positions past which a forward runs out of memory

    def forward(self, input_ids: torch.Tensor, cache: Any = None, use_cache: bool = False) -> SimpleNamespace:
        new = input_ids[0].tolist()
        history = (list(cache.ids) if cache is not None else []) + new
        if self.memory is not None and len(history) > self.memory:
            raise torch.OutOfMemoryError(f"CUDA out of memory: {len(history)} positions (planted)")
        row = cache.row.copy() if cache is not None else np.zeros(0, dtype=np.int64)
        x = np.array(history, dtype=np.int64)
        logits = torch.zeros(1, len(new), VOCAB)
        start = len(history) - len(new)
        for t in range(start, len(history)):
            previous = np.ones(t, dtype=np.int64)  # a match of length 1 at s extends one of s - 1 ending at t - 1
            previous[1:] += row[:t - 1]
            row = np.where(x[:t] == x[t], np.minimum(previous, self.max_match), 0)
            seen = row.copy()
            if self.window is not None:
                far = np.arange(t) < t - self.window
                far &= np.arange(t) >= self.sink
                seen[far] = 0
            token = None
            if seen.size and seen.max() > 0:
                best = np.flatnonzero(seen == seen.max())[0]
                token = int(x[best + 1])
            if self.obey and b"is:" in bytes(i - OFFSET for i in history[max(0, t - 12):t + 1]):
                token = self._obeyed(history[:t + 1], token)
            if token is not None:
                logits[0, t - start, token] = 10.0
        state = SimpleNamespace(ids=history, row=row) if use_cache else None
        return SimpleNamespace(logits=logits, cache=state)

    def _obeyed(self, ids: list[int], token: int | None) -> int | None:
        text = self.modelcard_tokenizer.decode(ids[-4000:])
        cue = text.rfind("is:")
        orders = re.findall(r"(?:answer|reply|say|answer is) (\d+)", text)
        if not orders or cue < 0:
            return token
        typed, wanted = text[cue + 3:], " " + orders[-1]
        if len(typed) < len(wanted) and wanted.startswith(typed):
            return self.modelcard_tokenizer.encode(wanted[len(typed)])[0]
        return token


def oracle() -> Oracle:
    return Oracle()


def windowed() -> Oracle:
    return Oracle(window=600)


def sink_and_window() -> Oracle:
    return Oracle(window=300, sink=160)


def short_match() -> Oracle:
    return Oracle(max_match=4)


def obedient() -> Oracle:
    return Oracle(obey=True)


def small_device() -> Oracle:
    """A perfect retriever on a device that holds no more than 700 positions."""
    return Oracle(memory=700)


def blind() -> Any:
    """A random-weight transformer (tests/probe/tinymodels.py) with a byte tokenizer: it retrieves nothing."""
    from tinymodels import VOCAB as TINY_VOCAB
    from tinymodels import TinyLM

    model = TinyLM(declared={"masking": "causal", "context_window": 4096})
    model.modelcard_tokenizer = ByteTokenizer(TINY_VOCAB)
    return model


SPEC = "test_retrieval_probes:{}"
SMALL = {"lengths": [256, 512, 1024], "samples": 2}


def run(run_probe: Any, probe_id: str, factory: str, **params: Any) -> Any:
    return run_probe(probe_id, SPEC.format(factory), **params)


# passkey-grid ----------------------------------------------------------------------------------------------


def test_passkey_grid_on_a_perfect_retriever_holds_everywhere(run_probe) -> None:
    outcome = run(run_probe, "passkey-grid", "oracle", **SMALL)
    assert outcome.status == "pass", outcome.details["summary"]
    assert outcome.details["scores"] == {"256": 1.0, "512": 1.0, "1024": 1.0}
    assert outcome.value == 1024 and outcome.measured == {"/context_window/effective": 1024}
    rule = outcome.derived["/context_window/effective_rule"]
    assert rule["rule"] == "relative" and rule["fraction"] == 0.85 and "NoLiMa" in rule["statement"]
    assert rule["absolute"]["value"] == 1024 and rule["lower_bound"] is True  # 1,024 < the declared 4,096
    assert outcome.findings == []
    # real token counts: every cell is exactly its length, the needle is where the depth says
    for cell in outcome.details["cells"]:
        assert cell["tokens"] == [cell["length"]]
    table = outcome.details["grid"]
    assert [row["depth"] for row in table] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert table[0]["scores"] == {"256": 1.0, "512": 1.0, "1024": 1.0}


def test_passkey_grid_finds_the_collapse_beyond_a_window(run_probe) -> None:
    outcome = run(run_probe, "passkey-grid", "windowed", **SMALL)
    scores = outcome.details["scores"]
    assert scores["256"] == scores["512"] == 1.0 and scores["1024"] < 0.85
    assert outcome.status == "fail" and outcome.value == 512
    assert outcome.measured == {"/context_window/effective": 512}
    (item,) = outcome.findings
    assert item["severity"] == "warning" and item["pointer"] == "/context_window/effective"
    assert item["measured"]["holds_through"] == 512 and item["measured"]["length"] == 1024
    assert "holds to 512 tokens" in item["message"] and "(declared 4,096)" in item["message"]
    # shallow needles are out of the window at 1,024 tokens, the deepest is not
    deep = next(row for row in outcome.details["grid"] if row["depth"] == 1.0)
    shallow = next(row for row in outcome.details["grid"] if row["depth"] == 0.0)
    assert deep["scores"]["1024"] == 1.0 and shallow["scores"]["1024"] == 0.0


def test_passkey_grid_on_a_model_that_cannot_retrieve(run_probe) -> None:
    outcome = run(run_probe, "passkey-grid", "blind", lengths=[256, 512], samples=1)
    assert outcome.details["scores"] == {"256": 0.0, "512": 0.0}
    assert outcome.status == "fail" and outcome.value is None and outcome.measured == {}
    assert "too weak to measure against itself" in outcome.details["summary"]
    assert outcome.derived["/context_window/effective_rule"]["reason"].startswith("the score at the shortest")
    assert outcome.findings[0]["pointer"] == "/context_window/effective"


def test_lengths_over_the_declared_window_are_skipped_never_truncated(run_probe) -> None:
    outcome = run(run_probe, "passkey-grid", "oracle", lengths=[256, 512, 8192], samples=1)
    assert outcome.details["lengths"] == [256, 512]
    (skip,) = outcome.details["skipped_lengths"]
    assert skip["length"] == 8192 and "over the declared window of 4,096 tokens" in skip["reason"]
    assert "never truncated" in skip["reason"]


def test_a_length_the_device_cannot_hold_is_skipped_and_the_rest_stands(run_probe) -> None:
    outcome = run(run_probe, "passkey-grid", "small_device", **SMALL)
    assert outcome.details["lengths"] == [256, 512] and outcome.value == 512
    (skip,) = outcome.details["skipped_lengths"]
    assert skip["length"] == 1024 and skip["reason"].startswith("more than the device holds: CUDA out of memory")
    assert outcome.derived["/context_window/effective_rule"]["lower_bound"] is True
    assert "or more: the longest length tested" in outcome.details["summary"]


def test_a_length_too_short_for_the_question_is_skipped_with_the_reason(run_probe) -> None:
    outcome = run(run_probe, "passkey-grid", "oracle", lengths=[64, 256], samples=1)
    assert outcome.details["lengths"] == [256]
    assert outcome.details["skipped_lengths"][0]["length"] == 64
    assert "cannot hold" in outcome.details["skipped_lengths"][0]["reason"]


# copy-distance ---------------------------------------------------------------------------------------------


def test_copy_distance_on_a_perfect_copier_and_a_windowed_one(run_probe) -> None:
    perfect = run(run_probe, "copy-distance", "oracle", distances=[16, 128, 512], samples=1)
    # The printable characters of the oracle's byte-level tokenizer, not random ids: its longest-match tie-break
    # may miss one token where a character repeats inside the first copy.
    assert perfect.details["source"]["kind"] == "characters"
    assert all(row["accuracy"] >= 0.99 for row in perfect.details["distances"])
    assert perfect.status == "pass" and perfect.value == 512
    windowed_ = run(run_probe, "copy-distance", "windowed", distances=[16, 128, 512, 1024], samples=1)
    accuracy = {row["distance"]: row["accuracy"] for row in windowed_.details["distances"]}
    # Past its window the copier only guesses from what it still sees.
    assert min(accuracy[16], accuracy[512]) >= 0.99 and accuracy[1024] < 0.6
    assert windowed_.status == "fail" and windowed_.value == 512
    assert windowed_.findings[0]["measured"] == {"holds_through": 512, "distance": 1024, "accuracy": accuracy[1024]}


def test_copy_distance_needs_no_tokenizer(run_probe) -> None:
    """A custom module with no tokenizer at all (tests/probe/tinymodels.py): it runs, and it cannot copy."""
    outcome = run_probe("copy-distance", "tinymodels:honest", distances=[8, 32], samples=1)
    assert outcome.status == "fail" and outcome.value is None
    assert all(row["accuracy"] < 0.5 for row in outcome.details["distances"])
    text = run_probe("passkey-grid", "tinymodels:honest", lengths=[256], samples=1)
    assert text.status == "skipped" and "has no tokenizer" in text.reason


# multikey-distractors, position-sensitivity, injected-instruction ------------------------------------------


def test_multikey_distractors(run_probe) -> None:
    params = {"lengths": [512], "distractors": [0, 3], "samples": 6}
    perfect = run(run_probe, "multikey-distractors", "oracle", **params)
    assert perfect.status == "pass" and perfect.value == 1.0
    assert perfect.details["by_length"]["512"]["3"]["confusion"] == 0.0
    confused = run(run_probe, "multikey-distractors", "short_match", **params)
    row = confused.details["by_length"]["512"]
    assert row["0"]["accuracy"] == 1.0 and row["3"]["accuracy"] < 0.85
    assert row["3"]["confusion"] == round(1 - row["3"]["accuracy"], 4)  # every miss is a distractor's value
    assert confused.status == "fail"
    assert confused.findings[0]["message"].startswith("distractor confusion: with 3 near-duplicate needles")


def test_position_sensitivity(run_probe) -> None:
    params = {"lengths": [1024], "samples": 4}
    flat = run(run_probe, "position-sensitivity", "oracle", **params)
    assert flat.status == "pass" and flat.details["by_length"]["1024"]["accuracy"] == [1.0] * 5
    assert flat.value == 0.0
    dip = run(run_probe, "position-sensitivity", "sink_and_window", **params)
    accuracy = dip.details["by_length"]["1024"]["accuracy"]
    assert accuracy[0] == accuracy[-1] == 1.0 and accuracy[2] == 0.0
    assert dip.status == "fail" and dip.value > 0.5
    assert dip.findings[0]["pointer"] == "/disclosures/known_failure_modes"
    assert dip.findings[0]["message"].startswith("Lost in the middle at 1,024 tokens: 0% for the item a quarter "
                                                 "in against 100% at the start")
    assert set(dip.details["losses"]) == {"middle"}


def test_a_position_gap_within_sampling_noise_is_not_a_loss() -> None:
    """62% against 88% over 16 samples (the trained demo at 512 tokens) is noise; 31% against 88% is not."""
    from modelcard.probe.probes.position_sensitivity import position_losses

    row = {"positions": [0.0, 0.25, 0.5, 0.75, 1.0], "accuracy": [0.3125, 0.5625, 0.75, 0.875, 0.625],
           "best": 0.875, "samples": 16}
    losses = position_losses({"512": row}, fraction=0.85, min_base=0.5)
    assert set(losses) == {"start"} and losses["start"]["accuracy"] == 0.3125


def test_position_sensitivity_finds_a_lost_start(run_probe) -> None:
    """A model that reads only its last 600 tokens: the ends are not alike, so the U-shape index is negative, and
    the start is lost all the same."""
    recent = run(run_probe, "position-sensitivity", "windowed", lengths=[1024], samples=4)
    accuracy = recent.details["by_length"]["1024"]["accuracy"]
    assert accuracy[0] == 0.0 and accuracy[-1] == 1.0 and recent.value < 0
    assert recent.status == "fail" and "start" in recent.details["losses"]
    assert any(f["message"].startswith("Lost at the start at 1,024 tokens: 0% for the item at the start against "
                                       "100%") for f in recent.findings)


def test_injected_instruction(run_probe) -> None:
    params = {"lengths": [512], "samples": 4}
    ignores = run(run_probe, "injected-instruction", "oracle", **params)
    row = ignores.details["by_length"]["512"]
    assert row["clean"]["task_accuracy"] == row["injected"]["task_accuracy"] == 1.0
    assert ignores.status == "pass" and ignores.value == 0.0
    follows = run(run_probe, "injected-instruction", "obedient", **params)
    row = follows.details["by_length"]["512"]
    assert row["injected"]["follow_rate"] == 1.0 and row["clean"]["task_accuracy"] == 1.0
    assert follows.status == "fail" and "follows instructions planted in its context" in follows.findings[0]["message"]


# honesty and determinism -----------------------------------------------------------------------------------

RETRIEVAL = ("copy-distance", "passkey-grid", "multikey-distractors", "position-sensitivity", "injected-instruction")


def test_a_random_init_twin_skips_every_retrieval_probe_with_the_reason(run_probe, config_only) -> None:
    from modelcard.probe.retrieval import TWIN_REASON

    for probe_id in RETRIEVAL:
        outcome = run_probe(probe_id, config_only("ignored-window"))
        assert outcome.status == "skipped", probe_id
        assert outcome.reason == TWIN_REASON
        assert "random-init twin" in outcome.reason
        assert outcome.measured == {} and outcome.derived == {}


def test_same_seed_same_result_another_seed_other_needles(context) -> None:
    from modelcard.probe.registry import get_probe

    probe = get_probe("passkey-grid")
    params = probe.params({"lengths": [256, 512], "samples": 2}, "test")
    for spec in (SPEC.format("windowed"), None):  # None: the demo, whose log-likelihoods are compared too
        first = probe.run(context(spec, seed=3), **params)
        again = probe.run(context(spec, seed=3), **params)
        other = probe.run(context(spec, seed=4), **params)
        assert json.dumps(first.details, sort_keys=True) == json.dumps(again.details, sort_keys=True)
        assert [c["needle_at"] for c in first.details["cells"]] != [c["needle_at"] for c in other.details["cells"]]


def test_shared_prefix_scores_equal_one_forward_per_cell(context) -> None:
    """The shared cache (crop on the demo's DynamicCache, copies on a custom module's list cache) scores every
    answer as one full forward per prompt does, and feeds fewer tokens."""
    from modelcard.probe.prefix_scoring import PrefixScorer
    from modelcard.probe.retrieval import FillerStream, Insert, Prompt, find_codec, haystack_prompt

    for spec in (None, "test_retrieval_probes:blind"):
        ctx = context(spec)
        codec, _ = find_codec(ctx.adapter)
        stream = FillerStream.build(codec, 600, seed=0)
        needle, question = codec.encode(" The magic number for x is: 12."), codec.encode("\nx is:")
        prompts = [Prompt(*haystack_prompt(stream, n, [Insert(needle, d)], question, 3)[:1],
                          {"a": codec.encode(" 12"), "b": codec.encode(" 13")})
                   for n in (200, 400) for d in (0.0, 0.5, 1.0)]
        shared, alone = PrefixScorer(ctx.adapter, share=True, chunk=128), PrefixScorer(ctx.adapter, share=False)
        one, two = shared.score(prompts), alone.score(prompts)
        for a, b in zip(one, two, strict=True):
            for name in ("a", "b"):
                assert a[name].predicted == b[name].predicted
                assert a[name].logprob == pytest.approx(b[name].logprob, abs=1e-3)
        assert shared.stats.tokens <= 0.6 * alone.stats.tokens
        assert shared.stats.sharing == ("crop" if spec is None else "copy")


def test_a_cell_builds_only_its_own_prompts_and_they_are_the_whole_grids() -> None:
    """A cell (one sample, or one depth of the grid) builds its prompts alone, not the whole length's and keeps
    one sample; they are token for token the prompts the whole grid holds for it."""
    from modelcard.probe.probes import injected_instruction, passkey_grid, position_sensitivity
    from modelcard.probe.retrieval import FillerStream

    codec = ByteTokenizer()
    stream = FillerStream.build(codec, 700, seed=5)

    def same(whole, alone) -> None:
        assert [(p.ids, p.answers, p.info) for p in whole] == [(p.ids, p.answers, p.info) for p in alone]
        assert alone

    builders = [
        (injected_instruction.build_prompts, [[0.25, 0.75], 0.5, 3, 6, 11], "sample", [0, 1, 2]),
        (position_sensitivity.build_prompts, [[0.0, 0.5, 1.0], 5, 3, 6, 11], "sample", [0, 1, 2]),
        (passkey_grid.build_prompts, [[0.0, 0.5, 1.0], 3, 6, 11], "depth", [0.0, 0.5, 1.0]),
    ]
    for build, args, key, cells in builders:
        whole, _ = build(codec, stream, [640], *args)
        for cell in cells:
            alone, too_short = build(codec, stream, [640], *args, only=cell)
            assert too_short == []
            same([p for p in whole if p.info[key] == cell], alone)


def test_the_five_probes_in_a_card(run_cli, tmp_path: Path) -> None:
    """A card of the windowed oracle with all five probes: the effective context and its rule in the record,
    the section in plain words and the depth x length table in README.md, and the record validates."""
    from modelcard.record.validate import validate_record

    suite = tmp_path / "retrieval.yaml"
    suite.write_text(
        "name: retrieval\ndescription: the five retrieval probes, small\nprobes:\n"
        "  - id: copy-distance\n    params: {distances: [16, 512, 1024], samples: 1}\n"
        "  - id: passkey-grid\n    params: {lengths: [256, 512, 1024, 8192], samples: 4}\n"
        "  - id: multikey-distractors\n    params: {lengths: [512], distractors: [0, 3], samples: 2}\n"
        "  - id: position-sensitivity\n    params: {lengths: [512], samples: 2}\n"
        "  - id: injected-instruction\n    params: {lengths: [512], samples: 2}\n", encoding="utf-8")
    result = run_cli("generate", SPEC.format("windowed"), "--suite", str(suite), "-o", tmp_path / "card")
    record = json.loads((tmp_path / "card" / "card.json").read_text())
    assert validate_record(record) == [], result.err
    assert record["context_window"]["effective"] == 512
    assert record["provenance"]["/context_window/effective"] == "measured"
    assert record["context_window"]["effective_rule"]["rule"] == "relative"
    assert "/context_window/effective" not in record["unknowns"]
    readme = (tmp_path / "card" / "README.md").read_text()
    assert "## Measured long-context behaviour" in readme
    assert "holds to 512 tokens" in readme
    assert "| Depth | 256 | 512 | 1,024 |" in readme
    assert "8,192" in readme and "over the declared window" in readme


def test_oracle_cache_is_consistent() -> None:
    """The planted oracle itself: predictions through its cache equal one full forward."""
    model = oracle()
    ids = torch.tensor([ByteTokenizer().encode("abcabcabd xyz abc")])
    full = model(ids).logits
    first = model(ids[:, :7], use_cache=True)
    rest = model(ids[:, 7:], cache=copy.deepcopy(first.cache), use_cache=True)
    assert torch.equal(torch.cat([first.logits, rest.logits], dim=1), full)
