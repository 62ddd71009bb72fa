"""Escaping for the places a card puts text. Every string in a record may come from someone else's files (a
folder name, a config, a hand-typed modelcard.yaml), so every one that is shown leaves through an escaper:
`visible` for the HTML card (Jinja autoescapes markup there) and the terminal, the `md_*` helpers for README.md,
where nobody else escapes it."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Controls (C0, C1, DEL), format characters (bidi embeddings, overrides and isolates, LRM/RLM/ALM, zero-width
# characters, the BOM, soft hyphens, tag characters), lone surrogates, line and paragraph separators.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e\n\t]")
# Backslash-escaped wherever they stand: `\` and the characters that open code, emphasis, strikethrough,
# links and images, raw HTML and entities, and table cells.
_MD_ANYWHERE = re.compile(r"[\\`*~\[<&|]")
_MD_UNDERSCORES = re.compile(r"_+")
# At the start of a line: ATX headings, block quotes, list items, setext underlines and thematic breaks,
# ordered list items (`1.` / `1)` before a space).
_MD_LINE_START = re.compile(r"^(?:([#>+=-])|(\d+)([.)])(?=[ \t]|$))")
_MD_CLOSING_HASHES = re.compile(r"(?:^|(?<= ))#+$")
_BACKTICKS = re.compile(r"`+")


def as_text(value: Any) -> str:
    """A value as one string: strings as they are, anything else as compact JSON, null as a dash."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON (a record is, once validated) or an integer too long to print
        return "(a value that cannot be shown)"


def _escape_character(character: str) -> str:
    code = ord(character)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def invisible(character: str) -> bool:
    return unicodedata.category(character) in _INVISIBLE_CATEGORIES


def visible(value: Any) -> str:
    """The text with every invisible or control character shown as an escape like `\\u202e`, so that no bidi
    override reorders what a reader sees and nothing hides in zero-width characters. Newlines and tabs stay."""
    text = as_text(value).replace("\r\n", "\n").replace("\r", "\n")
    if not _NOT_PRINTABLE_ASCII.search(text):
        return text
    return "".join(_escape_character(c) if c not in "\n\t" and invisible(c) else c for c in text)


def _escape_underscores(match: re.Match[str]) -> str:
    """`_` inside a word (`sliding_window`) can neither open nor close emphasis; any other run is escaped."""
    text, start, end = match.string, match.start(), match.end()
    if start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum():
        return match.group()
    return "\\_" * (end - start)


def _md_inline(text: str) -> str:
    return _MD_UNDERSCORES.sub(_escape_underscores, _MD_ANYWHERE.sub(r"\\\g<0>", text))


def _md_line_start(line: str) -> str:
    """No indentation (an indented code block) and nothing at the start that opens a block."""
    line = line.strip(" \t")
    return _MD_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", line, count=1)


def _one_line(value: Any) -> str:
    return visible(value).replace("\n", " ").replace("\t", " ")


def md_cell(value: Any) -> str:
    """One Markdown table cell: one line, `|` escaped, no markup, no HTML."""
    return _md_inline(_one_line(value)).strip(" ")


def md_line(value: Any) -> str:
    """Text within one line of Markdown (a sentence, a heading): no line break, no markup, no HTML, and no `#`
    at its end that would close a heading."""
    return _MD_CLOSING_HASHES.sub(r"\\\g<0>", _md_inline(_one_line(value)).strip(" "))


def md_item(value: Any) -> str:
    """A list item's text: one line, like `md_line`, that also cannot start a block (a heading, a quote, a
    nested list, a thematic break, HTML)."""
    return _md_line_start(md_line(value))


def md_text(value: Any) -> str:
    """Paragraphs of Markdown from declared text: the lines stay, each neutralised like `md_item` (a line
    cannot start a block, so it cannot end the paragraph either, or underline it into a heading)."""
    lines = [_md_line_start(_md_inline(line)) for line in visible(value).replace("\t", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def md_code(value: Any, table: bool = False) -> str:
    """An inline code span around the text, with delimiters longer than any run of backticks inside it.
    In a table a `|` would end the cell even inside code, so such text is shown as escaped plain text."""
    text = _one_line(value)
    if not text:
        return '`""`'
    if table and "|" in text:
        return md_cell(text)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    pad = " " if "`" in (text[0], text[-1]) or (text[0] == text[-1] == " " and text.strip(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@dataclass(frozen=True)
class Escaper:
    """How a shown string is escaped in each place a template puts it."""

    text: Callable[[Any], str]  # paragraphs
    line: Callable[[Any], str]  # within one line: sentences, headings
    item: Callable[[Any], str]  # a list item (one line)
    cell: Callable[[Any], str]  # a table cell
    code: Callable[[Any], str]  # inline code (Markdown: the span with its delimiters)
    cell_code: Callable[[Any], str]  # inline code in a table cell


MARKDOWN = Escaper(md_text, md_line, md_item, md_cell, md_code, lambda value: md_code(value, table=True))
PLAIN = Escaper(visible, visible, visible, visible, visible, visible)  # HTML (autoescaped by Jinja) and the terminal
