"""The model's own prompt format for the retrieval probes: its BOS when its tokenizer adds one, and its chat
template when it has one (SPEC.md "Probes": prompts are in the model's own format, and the record says which).

- base: [BOS] haystack, the question, the answer cue, then the answer.
- chat: the template rendered around one user message, the haystack and the question; the generation prompt
  (the start of the assistant turn) follows it, and the answer cue opens the assistant's reply. The template is
  rendered once around a sentinel and cut there, so its prefix and the turn between the user's text and the
  assistant's are fixed token runs: every prompt starts with the same prefix and then the same filler, and the
  prefix-sharing scorer still computes the haystack once. A default system prompt the template writes is the
  model's format and is kept.

`--prompt-format auto` (the default) is chat when the tokenizer has a chat template, else base."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from modelcard.probe.retrieval import ASK, CUE, QUESTION, Codec

MODES = ("auto", "base", "chat")
SENTINEL = "MODELCARD-SENTINEL-USER-TEXT-7F3A"  # ordinary text that no template writes


@dataclass(frozen=True)
class PromptFormat:
    """How a retrieval prompt is laid out in tokens around the haystack, the question and the cue."""

    mode: str  # base | chat: what the prompts use
    requested: str  # auto | base | chat: what was asked for
    prefix: tuple[int, ...]  # before the haystack: the BOS, or the chat template up to the user's text
    turn: tuple[int, ...]  # chat: from the end of the user's text through the generation prompt; base: none
    bos_tokens: int  # BOS tokens at the start of every prompt
    bos_source: str | None  # who writes the BOS: tokenizer, chat template, or None without one
    template_sha256: str | None  # the chat template's digest (chat mode)

    def question(self, codec: Codec, key: str) -> list[int]:
        """The tokens after the haystack up to the answer: the question and the answer cue (in chat, with the end
        of the user turn and the assistant's generation prompt between them).

        Args:
            codec: the model's tokenizer.
            key: the key the question asks for.

        Returns:
            The token ids.
        """
        if self.mode == "base":
            return codec.encode(QUESTION.format(key=key))
        return self.ask(codec, ASK.format(key=key), CUE.format(key=key))

    def ask(self, codec: Codec, ask: str, cue: str) -> list[int]:
        """Any task's question and answer cue in this format: one text for a base model; in chat, the ask ends
        the user turn and the cue opens the assistant's.

        Args:
            codec: the model's tokenizer.
            ask: the question, at the end of the user's text (it starts with its own separator, `\n...`).
            cue: the start of the answer, after which the answer is scored.

        Returns:
            The token ids.
        """
        if self.mode == "base":
            return codec.encode(ask + " " + cue)
        return codec.encode(ask) + list(self.turn) + codec.encode(cue)

    def as_dict(self) -> dict[str, Any]:
        """The format as the record states it."""
        layout = (f"[BOS], haystack, {QUESTION!r}, answer" if self.mode == "base" else
                  f"chat template up to the user's text, haystack, {ASK!r}, end of the user turn and generation "
                  f"prompt, {CUE!r}, answer")
        return {"mode": self.mode, "requested": self.requested, "layout": layout, "bos_tokens": self.bos_tokens,
                "bos_source": self.bos_source, "chat_template_sha256": self.template_sha256,
                "prefix_tokens": len(self.prefix), "turn_tokens": len(self.turn)}


def chat_template(tokenizer: Any) -> str | None:
    """The tokenizer's default chat template, or None when it has none.

    Args:
        tokenizer: a transformers tokenizer, or any object with `encode`.

    Returns:
        The template's Jinja source.
    """
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, dict):  # named templates: the default one is what a chat uses
        template = template.get("default")
    return template if isinstance(template, str) and template.strip() else None


def template_digest(template: str) -> str:
    return hashlib.sha256(template.encode("utf-8")).hexdigest()


def bos_id(tokenizer: Any) -> int | None:
    value = getattr(tokenizer, "bos_token_id", None)
    return int(value) if isinstance(value, int) else None


def adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer puts a BOS before the text it encodes with its special tokens (and not without).

    Args:
        tokenizer: a transformers tokenizer, or any object with `encode`.

    Returns:
        True when encode("x") starts with bos_token_id and encode("x", add_special_tokens=False) does not.
    """
    bos = bos_id(tokenizer)
    if bos is None:
        return False
    try:
        with_special = _ids(tokenizer.encode("x", add_special_tokens=True))
        without = _ids(tokenizer.encode("x", add_special_tokens=False))
    except TypeError:  # an encode(text) with no special-token switch adds nothing we could tell apart
        return False
    return with_special[:1] == [bos] and without[:1] != [bos]


def _ids(encoded: Any) -> list[int]:
    return [int(i) for i in getattr(encoded, "ids", encoded)]


def resolve_mode(requested: str, template: str | None) -> str:
    """base or chat for `requested` (auto: chat when there is a template).

    Args:
        requested: auto, base or chat.
        template: the tokenizer's chat template, or None.

    Returns:
        base or chat.

    Raises:
        ValueError: for an unknown mode, or chat without a template.
    """
    if requested not in MODES:
        raise ValueError(f"unknown prompt format {requested!r}; known: {', '.join(MODES)}")
    if requested == "chat" and template is None:
        raise ValueError("--prompt-format chat, but the model's tokenizer has no chat template")
    if requested == "auto":
        return "chat" if template is not None else "base"
    return requested


def render_around_sentinel(tokenizer: Any, template: str) -> tuple[str, str]:
    """The chat template rendered for one user message, cut at the message: (text before, text after, with the
    generation prompt).

    Args:
        tokenizer: the transformers tokenizer that owns the template.
        template: its chat template.

    Returns:
        (prefix text, turn text).

    Raises:
        ValueError: when the rendered text does not hold the user's message exactly once.
    """
    text = tokenizer.apply_chat_template([{"role": "user", "content": SENTINEL}], chat_template=template,
                                         add_generation_prompt=True, tokenize=False)
    if text.count(SENTINEL) != 1:
        raise ValueError("the chat template does not write the user's message exactly once; its prompts cannot be "
                         "built around a haystack")
    before, after = text.split(SENTINEL)
    return before, after


DOCUMENT = "MODELCARD-SENTINEL-DOCUMENT-5C1E"
ROLE_MESSAGES = {
    # the document (a haystack) as the system prompt, the question from the user
    "system": lambda ask: [{"role": "system", "content": DOCUMENT}, {"role": "user", "content": ask}],
    # the document as a tool's result, after the user asked for it, then the question
    "tool": lambda ask: [{"role": "user", "content": "Fetch the document, please."},
                         {"role": "tool", "content": DOCUMENT}, {"role": "user", "content": ask}],
}


@dataclass(frozen=True)
class RoleLayout:
    """A chat template's turns around a document in one role, as token runs: the prompt is `head`, the document,
    `between`, the question, `after` (the rest of the template with the generation prompt), then the cue."""

    head: tuple[int, ...]
    between: tuple[int, ...]
    after: tuple[int, ...]

    def question(self, codec: Codec, ask: str, cue: str) -> list[int]:
        """The tokens after the document up to the answer: the question in its turn, then the cue."""
        return [*self.between, *codec.encode(ask), *self.after, *codec.encode(cue)]


def role_layout(codec: Codec, role: str) -> RoleLayout:
    """The chat template rendered once with a document in `role` and a question after it, cut at both.

    Args:
        codec: the model's tokenizer (with a chat template).
        role: `system` or `tool` (ROLE_MESSAGES).

    Returns:
        The layout, the BOS handled as `build_format` handles it.

    Raises:
        ValueError: a template that cannot render the role, or does not write the document exactly once.
    """
    before, between, after = _render_role(codec, role)
    head, _ = _with_bos(codec.tokenizer, codec.encode(before) if before else [])
    return RoleLayout(tuple(head), tuple(codec.encode(between)), tuple(codec.encode(after)))


def _with_bos(tokenizer: Any, prefix: list[int]) -> tuple[list[int], str | None]:
    """A chat prefix with one BOS, never two: the template's own, or the tokenizer's when it adds one that the
    template does not write; with who wrote it (None without one)."""
    bos = bos_id(tokenizer)
    if bos is not None and prefix[:1] == [bos]:
        return prefix, "chat template"
    if bos is not None and adds_bos(tokenizer):
        return [bos, *prefix], "tokenizer"
    return prefix, None


def _render_role(codec: Codec, role: str) -> tuple[str, str, str]:
    template = chat_template(codec.tokenizer)
    if template is None:
        raise ValueError("the model has no chat template, so there are no roles")
    try:
        text = codec.tokenizer.apply_chat_template(ROLE_MESSAGES[role](SENTINEL), chat_template=template,
                                                   add_generation_prompt=True, tokenize=False)
    except Exception as error:  # the template refuses the role (no tool turns, no system prompt)
        raise ValueError(f"the chat template cannot write a {role} turn: {type(error).__name__}: "
                         f"{' '.join(str(error).split())[:160]}") from None
    if not isinstance(text, str) or text.count(DOCUMENT) != 1 or text.count(SENTINEL) != 1:
        raise ValueError(f"the chat template does not write the {role} turn's document once")
    before, rest = text.split(DOCUMENT)
    between, after = rest.split(SENTINEL)
    return before, between, after


def build_format(codec: Codec, requested: str = "auto") -> PromptFormat:
    """The prompt format of the model whose tokenizer `codec` wraps.

    Args:
        codec: the model's tokenizer.
        requested: auto, base or chat.

    Returns:
        The format: its mode, the token runs around the user's text, the BOS it starts with, the template digest.

    Raises:
        ValueError: for chat without a template, or a template that cannot be cut around the user's text.
    """
    tokenizer = codec.tokenizer
    template = chat_template(tokenizer)
    mode = resolve_mode(requested, template)
    bos, added = bos_id(tokenizer), adds_bos(tokenizer)
    if mode == "base":
        prefix = [bos] if added and bos is not None else []
        return PromptFormat("base", requested, tuple(prefix), (), len(prefix), "tokenizer" if prefix else None, None)
    assert template is not None, "resolve_mode gives chat only where there is a template"
    before, after = render_around_sentinel(tokenizer, template)
    prefix, source = _with_bos(tokenizer, codec.encode(before) if before else [])
    count = 1 if source else 0
    return PromptFormat("chat", requested, tuple(prefix), tuple(codec.encode(after)), count, source,
                        template_digest(template))


def format_of(ctx: Any, codec: Codec) -> PromptFormat:
    """The context's prompt format (`ctx.prompt_format`, auto by default), built once per context.

    Args:
        ctx: the probe context.
        codec: the model's tokenizer.

    Returns:
        The format every retrieval prompt of this run uses.
    """
    memo = getattr(ctx, "memo", {})
    requested = getattr(ctx, "prompt_format", "auto") or "auto"
    key = ("retrieval-format", requested)
    if key not in memo:
        memo[key] = build_format(codec, requested)
    return memo[key]



PLAIN = PromptFormat("base", "base", (), (), 0, None, None)  # no BOS, no template: the text alone
