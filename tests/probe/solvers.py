"""Planted solvers for the task-family probes: tiny modules that read their context as text and answer by rule,
so that what a probe reports for them is known by construction. Each writes, after a task's answer cue, the next
byte of the answer its rule gives (one token per byte, tests/probe/test_retrieval_probes.ByteTokenizer); before
the cue it predicts nothing. Each factory is a model spec (`solvers:<factory>`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import torch
from test_retrieval_probes import OFFSET, VOCAB, PlantedTextModel

Rule = Callable[[str, str], str | None]  # (context before the cue, the cue's text) -> the answer, or None


class Solver(PlantedTextModel):
    """Answers by `rule` after the last text matching `cue`; sees at most `window` bytes back when given."""

    def __init__(self, cue: str, rule: Rule, window: int | None = None, context_window: int = 8192) -> None:
        super().__init__(context_window)
        self.cue, self.rule, self.window = re.compile(cue), rule, window

    def forward(self, input_ids: torch.Tensor, cache: Any = None, use_cache: bool = False) -> SimpleNamespace:
        new = input_ids[0].tolist()
        history = (list(cache.ids) if cache is not None else []) + new
        logits = torch.zeros(1, len(new), VOCAB)
        text = self.modelcard_tokenizer.decode(history)
        cues = list(self.cue.finditer(text))
        if cues:
            cue = cues[-1]
            start = len(history) - len(new)
            cue_end = len(text[:cue.end()].encode("utf-8"))
            seen_from = 0 if self.window is None else max(0, cue.start() - self.window)
            answer = self.rule(text[seen_from:cue.start()], cue.group(0))
            if answer is not None:
                wanted = answer.encode("utf-8")
                for t in range(max(start, cue_end - 1), len(history)):
                    typed = t + 1 - cue_end  # answer bytes already in the text at position t
                    if 0 <= typed < len(wanted):
                        written = bytes(i - OFFSET for i in history[cue_end:t + 1])
                        if wanted.startswith(written):
                            logits[0, t - start, wanted[typed] + OFFSET] = 10.0
        state = SimpleNamespace(ids=history) if use_cache else None
        return SimpleNamespace(logits=logits, cache=state)


def _tracked(context: str, cue: str, hops: int | None = None) -> str | None:
    """Variable tracking by rule: every name that holds the asked value, following at most `hops` links."""
    value = re.search(r"value (\d+)", cue)
    if value is None:
        return None
    body = context.split("Example:")[-1]
    body = body[body.find("\n\n") + 2:] if "\n\n" in body else body  # the text after the worked example
    holds = [m.group(1) for m in re.finditer(rf"VAR ([A-Z]+) = {value.group(1)}\.", body)]
    links = re.findall(r"VAR ([A-Z]+) = VAR ([A-Z]+)\.", body)
    steps = 0
    while hops is None or steps < hops:
        more = [name for name, source in links if source in holds and name not in holds]
        if not more:
            break
        holds += more
        steps += 1
    return "".join(" " + name for name in holds)


VT_CUE = r"Answer: the variables assigned the value \d+ are:"


def tracker() -> Solver:
    """Follows every link: a perfect variable tracker."""
    return Solver(VT_CUE, _tracked)


def one_hop_tracker() -> Solver:
    """Follows one link only: right on one-hop chains, wrong on longer ones."""
    return Solver(VT_CUE, lambda context, cue: _tracked(context, cue, hops=1))


def short_sighted_tracker() -> Solver:
    """A perfect tracker that sees only the last 700 bytes before the question."""
    return Solver(VT_CUE, _tracked, window=700)


def _most_frequent(context: str, cue: str) -> str | None:
    """Frequent-word counting by rule: the top words of the coded text after the worked example."""
    from collections import Counter

    top = re.search(r"the (\d+) most frequent", cue)
    if top is None or "The coded text:" not in context:
        return None
    words = context.split("The coded text:")[-1].split()
    ranked = Counter(words).most_common(int(top.group(1)))
    return "".join(" " + word for word, _ in ranked)


FW_CUE = r"Answer: the \d+ most frequent words are:"


def counter() -> Solver:
    """Counts every word: a perfect frequent-word counter."""
    return Solver(FW_CUE, _most_frequent)


def _top_word_only(context: str, cue: str) -> str | None:
    """The most frequent word right, then the rarest words instead of the next ones."""
    from collections import Counter

    top = re.search(r"the (\d+) most frequent", cue)
    if top is None or "The coded text:" not in context:
        return None
    ranked = [word for word, _ in Counter(context.split("The coded text:")[-1].split()).most_common()]
    return "".join(" " + word for word in [ranked[0], *ranked[::-1][:int(top.group(1)) - 1]])


def top_word_counter() -> Solver:
    """Finds the word that dominates a Zipf draw and misses the next ones: a third of a top-3 answer."""
    return Solver(FW_CUE, _top_word_only)


def windowed_retriever() -> Any:
    """A perfect retriever that sees 600 tokens back, declared as a 600-token sliding window."""
    from test_retrieval_probes import Oracle

    model = Oracle(window=600, context_window=8192)
    model.modelcard_declared["sliding_window"] = 600
    return model


def hybrid_retriever() -> Any:
    """Declares a 600-token sliding window, and sees everything (as a hybrid's global layers do)."""
    from test_retrieval_probes import Oracle

    model = Oracle(context_window=8192)
    model.modelcard_declared["sliding_window"] = 600
    return model


def _landmark_link(context: str, cue: str, literal_only: bool = False) -> str | None:
    """Non-literal retrieval by rule: the character who lives in the asked city, or next to its landmark (the
    one step of knowledge the shipped pairs hold); `literal_only` knows no landmark, only the city's name."""
    from modelcard.probe.probes.nonliteral_needle import landmarks

    asked = re.findall(r"which character has been to ([^?]+)\?", context)
    if not asked:
        return None
    city = asked[-1]
    places = [city] if literal_only else [city, *(p["landmark"] for p in landmarks()[0] if p["city"] == city)]
    for place in places:
        found = re.search(rf"Actually, (\w+) lives (?:in|next to) {re.escape(place)}\.", context)
        if found:
            return " " + found.group(1)
    return None


NL_CUE = r"Answer: the character is"


def knower() -> Solver:
    """Knows every landmark's city: a perfect non-literal retriever."""
    return Solver(NL_CUE, _landmark_link)


def word_matcher() -> Solver:
    """Finds the needle only by the city's own name: right on the literal needle, lost on the non-literal one."""
    return Solver(NL_CUE, lambda context, cue: _landmark_link(context, cue, literal_only=True))
