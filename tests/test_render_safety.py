"""Hostile text in a record cannot change the card's structure (issue 7, item 3).

Every declared field and every name that comes from input is set from a corpus of hostile strings; the
README.md is then parsed the way the Hub reads it (YAML front matter, then CommonMark with GFM tables) and the
HTML card with an HTML parser. What must hold: the front matter has exactly its keys and values, the body has no
HTML but the generated block's markers and the record comment that closes it, every section is still there once,
tables keep their columns, nothing becomes a link, an image (but the charts), a code block, a quote or a list of
its own, no invisible character survives, what a reader sees is what was declared, no declared text reaches a
chart, and the embedded record reads back equal."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from goldens import PROBED_FIXTURE
from markdown_it import MarkdownIt

from modelcard.base.wording import round_numbers_in
from modelcard.card import present
from modelcard.card.chart_data import chart_specs
from modelcard.card.charts import draw_all
from modelcard.card.present import DISCLOSURE_TITLES, visible
from modelcard.card.render import (
    BEGIN_MARKER,
    END_MARKER,
    RECORD_MARKER,
    front_matter,
    read_embedded_record,
    render_html,
    render_markdown,
)
from modelcard.card.status import declared
from modelcard.record.validate import validate_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASES = ["record-1.0.json", "probed-card.json"]  # the second: the probed golden card's record

HOSTILE = [
    "<!--",
    "-->",
    "a <!-- hidden --> b",
    "<!-- modelcard-record\n{}\n-->",
    "x --!> y",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "</td></tr></table><p>",
    "| a | b |",
    "a | b\n| --- | --- |\n| c | d",
    "\n# Heading",
    "# Heading #",
    "Title\n===",
    "Title\n---",
    "\n---\nlicense: evil\n---",
    "---\nlicense: evil\n...\n---",
    "```",
    "```python\nimport os\n```",
    "~~~\ncode",
    "    indented code",
    "\tindented by a tab",
    "[x](javascript:alert(1))",
    "![x](http://evil/x.png)",
    "[ref]: http://evil/\n[ref]",
    "<http://evil/>",
    "&lt;script&gt; &#x202e; &amp;",
    "> quoted\n>> deeper",
    "- item\n* star\n+ plus\n1. one\n2) two",
    "- [ ] task",
    "***bold*** __under__ ~~strike~~ _e_ *e*",
    "snake_case_name and __dunder__",
    "* * *",
    "`tick` ``double`` ```` ` ````",
    "trailing backslash \\",
    "hard break  \nnext",
    "a\r\nb\rc",
    "bidi \u202eevil\u202c \u2066iso\u2069 \u200e\u200f\u061c",
    "zero\u200bwidth\u200c\u200d\ufeff\u00ad",
    "ctl \x00 \x1b[31m \x07 \x7f \x85 \x9b",
    "separators \u2028 \u2029",
    "tag \U000e0041 chars",
    "{{ 7*7 }} {% raw %}{{ x }}{% endraw %} {# c #}",
    "key: value\nother: [1, 2]",
    "!!python/object/apply:os.system ['id']",
    "'single' \"double\" %s {0}",
    "<!-- - list item",
    "| `a|b` |",
    "\\| escaped pipe \\\\| double",
    "1. \\- \\# already escaped",
    "http://evil/ www.evil.com mailto:x@evil",
    "$x^2$ :smile: @user #1",
    "Ünïcödé 日本語 🧪 👨\u200d👩\u200d👧",
    "  leading and trailing spaces  ",
    "=",
    "#",
    "|",
    "A" * 5000 + " <!-- " + "B" * 5000,
]
IDS = [f"{i}-{re.sub(r'[^A-Za-z0-9]+', '_', text[:20]).strip('_') or 'x'}" for i, text in enumerate(HOSTILE)]

# Bidi controls, zero-width characters, BOM, C0 controls other than newline and tab, DEL and C1 controls,
# line and paragraph separators, tag characters.
INVISIBLE = re.compile("[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u061c\ufeff\u00ad\u2028\u2029"
                       "\x00-\x08\x0b-\x1f\x7f-\x9f\U000e0000-\U000e007f]")
H2 = ["At a glance", "Findings", "Probes", "Attention layers", "KV cache by context length", "Disclosures",
      "Limits of this card", "What is not known"]
COLUMNS = {"At a glance": 2, "Attention layers": 5, "KV cache by context length": 2, "Probes": 5, "Findings": 3,
           "What is not known": 3}
HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "em", "strong", "table", "thead",
             "tbody", "tr", "th", "td", "code", "ul", "li", "footer", "div", "span", "br", "details", "summary",
             "figure", "figcaption", "svg"}
HTML_ATTRIBUTES = {"lang", "charset", "name", "content", "scope", "class", "role", "aria-hidden", "data-label"}
SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def base_record(name: str) -> dict[str, Any]:
    path = PROBED_FIXTURE if name == "probed-card.json" else FIXTURES / name
    return json.loads(path.read_text(encoding="utf-8"))


def hostile_record(base: dict[str, Any], texts: Iterator[str], tools_as_list: bool = False) -> dict[str, Any]:
    """The base record with every declared field and every input-derived name set from `texts` in turn."""
    record = copy.deepcopy(base)
    t = lambda: next(texts)  # noqa: E731
    model = record["model"]
    model.update(id=t(), model_type=t(), class_name=t(), dtype=t(), revision=t())
    model["library"] = {"transformers": t(), "torch": t()}
    record["generator"] = {"name": t(), "version": t()}
    record["attention"]["implementation"] = t()
    record["attention"]["features"] = [t()]
    record["masking"]["stacks"][t()] = {"mask": "causal", "window": 16, "chunk": None}
    record["position"]["rope"]["scaling"] = {"type": t(), "factor": 2.0, "original_context": 1024}
    record["kv_cache"]["dtype"] = t()
    record["probe_suite"]["name"] = t()
    record["probe_suite"]["note"] = t()
    if not record["probes"]:
        record["probes"] = [{"id": "mask-leak", "title": "", "status": "error", "metric": None, "value": None,
                             "unit": None, "threshold": None, "kernel": None, "device": None, "seed": 0,
                             "duration_s": None, "params": {}, "details": {}, "reason": None}]
    for probe in record["probes"]:
        probe.update(id=t(), title=t(), metric=t(), value=t(), unit=t(), kernel=t(), device=t(), reason=t())
    if not record["findings"]:
        record["findings"] = [{"severity": "info", "pointer": "/model", "declared": None, "measured": None,
                               "message": ""}]
    for finding in record["findings"]:
        finding.update(pointer="/" + t(), declared=t(), measured={t(): [t()]}, message=t(), probe=t())
    record["inspection"] = {"ignored_config_keys": [{"key": t(), "value": t(), "reason": t()},
                                                    {"key": t(), "value": {"nested": t()}, "reason": t()}],
                            "overridden": {"/" + t(): t()}}
    record["unknowns"]["/" + t()] = {"kind": "unknown", "reason": t()}
    disclosures = {key: t() for key in DISCLOSURE_TITLES}
    disclosures["known_failure_modes"] = [t(), t()]
    disclosures["tool_access"] = [t(), t()] if tools_as_list else t()
    disclosures[t()] = t()  # a free-form key: its name becomes a heading
    disclosures["extra_structure"] = {"nested": [t(), {"deeper": t()}]}
    disclosures["overrides"] = {"/" + t(): t()}
    record["disclosures"] = disclosures
    return record


def records() -> Iterator[tuple[str, dict[str, Any]]]:
    for base_name in BASES:
        base = base_record(base_name)
        tools_as_list = base_name != BASES[0]
        for case, text in zip(IDS, HOSTILE, strict=True):
            yield f"{base_name}-{case}", hostile_record(base, itertools.repeat(text), tools_as_list)
        for shift in range(0, len(HOSTILE), 7):  # every field a different hostile string
            texts = itertools.cycle(HOSTILE[shift:] + HOSTILE[:shift])
            yield f"{base_name}-mixed{shift}", hostile_record(base, texts, tools_as_list)


CASES = list(records())


def one_line(text: str) -> str:
    """What a reader sees of a text shown within one line: invisible characters as escapes, no line breaks."""
    return visible(text).replace("\n", " ").replace("\t", " ").strip(" ")


def code(text: str) -> str:
    """What a reader sees of a name shown as inline code: like `one_line`, outer spaces kept."""
    return visible(text).replace("\n", " ").replace("\t", " ")


def paragraphs(text: str) -> list[str]:
    """What a reader sees of multi-line declared text: its paragraphs, lines stripped of outer spaces."""
    lines = [line.strip(" ") for line in visible(text).replace("\t", " ").split("\n")]
    return [part.strip("\n") for part in re.split(r"\n{2,}", "\n".join(lines)) if part.strip("\n")]


def split_front_matter(markdown: str) -> tuple[str, str]:
    """The Hub's reading: the YAML between a first `---` line and the next `---` line, then the body."""
    assert markdown.startswith("---\n")
    end = markdown.index("\n---\n", 3)
    return markdown[4:end], markdown[end + 5:]


def all_tokens(tokens: list) -> Iterator:
    for token in tokens:
        yield token
        if token.children:
            yield from all_tokens(token.children)


def shown(inline) -> str:
    """The text an inline token shows (code spans included, line breaks as newlines)."""
    parts = []
    for child in inline.children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        else:
            raise AssertionError(f"unexpected inline token {child.type}: {child.content!r}")
    return "".join(parts)


class Body:
    """The README body parsed as the Hub does (CommonMark with GFM tables and strikethrough)."""

    def __init__(self, text: str) -> None:
        self.tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)

    def headings(self, level: int) -> list[str]:
        tag = f"h{level}"
        return [shown(self.tokens[i + 1]) for i, token in enumerate(self.tokens)
                if token.type == "heading_open" and token.tag == tag]

    def section(self, title: str, level: int = 2) -> list:
        """The block tokens after a heading, up to the next heading of the same or a higher level."""
        tag = f"h{level}"
        starts = [i for i, token in enumerate(self.tokens) if token.type == "heading_open" and token.tag == tag
                  and shown(self.tokens[i + 1]) == title]
        assert len(starts) == 1, f"heading {title!r} appears {len(starts)} times"
        tokens = []
        for token in self.tokens[starts[0] + 3:]:
            if token.type == "heading_open" and int(token.tag[1]) <= level:
                break
            tokens.append(token)
        return tokens

    def tables(self, title: str) -> list[list[list[str]]]:
        """Each table in a section as rows of cell texts."""
        tables, rows, row = [], None, None
        tokens = self.section(title)
        for i, token in enumerate(tokens):
            if token.type == "table_open":
                rows = []
            elif token.type == "tr_open":
                row = []
            elif token.type in ("th_open", "td_open"):
                row.append(shown(tokens[i + 1]))
            elif token.type == "tr_close":
                rows.append(row)
            elif token.type == "table_close":
                tables.append(rows)
        return tables


def finding_order(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda item: order[item["severity"]])


def sentence(text: str) -> str:
    """What the card shows of a finding's message: its long numbers rounded, as a sentence."""
    return one_line(present._sentence(round_numbers_in(text)))


@pytest.mark.parametrize(("case", "record"), CASES, ids=[case for case, _ in CASES])
def test_hostile_text_cannot_change_the_readme(case: str, record: dict[str, Any]) -> None:
    assert validate_record(record) == [], "the hostile record must be schema-valid to test the renderer"
    markdown = render_markdown(record)
    assert not INVISIBLE.search(markdown), "an invisible or control character reached README.md"

    # The front matter: exactly its keys and values, the license as declared.
    header, body_text = split_front_matter(markdown)
    meta = yaml.safe_load(header)
    assert meta == front_matter(record)
    assert list(meta) == ["library_name", "license", "pipeline_tag", "tags", "modelcard"]
    assert meta["license"] == record["disclosures"]["license"]
    assert set(meta["modelcard"]) == {"schema_version", "architecture_class", "attention_grouping", "layer_kinds",
                                      "context_window", "parameters", "probes", "findings"}

    body = Body(body_text)
    types = [token.type for token in all_tokens(body.tokens)]
    # No HTML but the generated block's markers and the record comment, which closes the block.
    assert "html_inline" not in types
    html_blocks = [token for token in body.tokens if token.type == "html_block"]
    assert len(html_blocks) == 3 and body.tokens[0] is html_blocks[0] and body.tokens[-1] is html_blocks[2]
    assert html_blocks[0].content == f"{BEGIN_MARKER}\n" and html_blocks[2].content == f"{END_MARKER}\n"
    assert html_blocks[1].content.startswith(f"<!-- {RECORD_MARKER} zlib-base64\n")
    assert html_blocks[1].content.endswith("-->\n")
    # Nothing becomes a link, code block, quote or thematic break of its own; the only images are the charts.
    for kind in ("link_open", "fence", "code_block", "blockquote_open", "ordered_list_open", "s_open"):
        assert kind not in types, f"user text made a {kind}"
    images = [token for token in all_tokens(body.tokens) if token.type == "image"]
    assert [image.attrs["src"] for image in images] == [spec.file_name for spec in chart_specs(record)]
    assert types.count("hr") == 1  # the template's own, before the footer
    assert types.count("strong_open") == 1  # **Status**
    undeclared = any(not declared(record["disclosures"].get(key)) for key in DISCLOSURE_TITLES)
    twin = any(probe.get("twin") for probe in record["probes"]) or record["probe_suite"].get("twin")
    # the template's own: *detected*, *measured*, *declared*, *(twin)*, *Not declared by the model's authors:*
    assert types.count("em_open") == 3 + bool(twin) + undeclared

    # Every section once, in order; every declared disclosure's heading once.
    assert body.headings(1) == [f"Model card: {one_line(record['model']['id'])}"]
    assert body.headings(2) == H2
    keys = [*DISCLOSURE_TITLES, *(k for k in record["disclosures"] if k not in DISCLOSURE_TITLES and k != "overrides")]
    expected_h3 = [DISCLOSURE_TITLES.get(key) or one_line(key.replace("_", " ").strip().capitalize()) or '""'
                   for key in keys if declared(record["disclosures"].get(key))]
    assert body.headings(3) == expected_h3

    # Tables keep their columns and rows; cells show what was declared.
    for title, columns in COLUMNS.items():
        for table in body.tables(title):
            assert {len(row) for row in table} == {columns}, f"a row of {title!r} lost or gained cells"
    facts, = body.tables("At a glance")
    assert len(facts) == 18  # the header row and 17 facts
    probes, = body.tables("Probes")
    assert len(probes) == 1 + len(record["probes"])
    for row, probe in zip(probes[1:], record["probes"], strict=True):
        assert row[0] == f"{code(probe['id'])} {one_line(probe['title'])}"
    findings, = body.tables("Findings")
    assert len(findings) == 1 + len(record["findings"])
    for row, finding in zip(findings[1:], finding_order(record["findings"]), strict=True):
        assert row[2].startswith(code(finding["pointer"]))
        assert row[1].startswith(sentence(finding["message"]))
    unknowns, = body.tables("What is not known")
    assert [row[0] for row in unknowns[1:]] == [code(pointer) for pointer in record["unknowns"]]
    assert [row[2] for row in unknowns[1:]] == [one_line(gap["reason"]) for gap in record["unknowns"].values()]

    # Lists keep their items; list items and code spans show what was declared.
    def items(section: list) -> list[str]:
        return [shown(section[i + 2]) for i, token in enumerate(section) if token.type == "list_item_open"]

    ignored = record["inspection"]["ignored_config_keys"]
    layers = items(body.section("Attention layers"))
    assert len(layers) == len(ignored)
    assert layers[0].startswith(f"{code(ignored[0]['key'])} = {code(ignored[0]['value'])}: ")
    disclosures = items(body.section("Disclosures"))
    failure_modes = record["disclosures"]["known_failure_modes"]
    tool_access = record["disclosures"]["tool_access"]
    assert len(disclosures) == len(failure_modes) + (len(tool_access) if isinstance(tool_access, list) else 0) \
        + len(record["inspection"]["overridden"])
    assert items(body.section("Known failure modes", level=3)) == [one_line(mode) for mode in failure_modes]

    # Declared paragraphs show what was declared, paragraph by paragraph; the undeclared are named in one line.
    for key in ("intended_use", "contact"):
        if declared(record["disclosures"][key]):
            section = body.section(DISCLOSURE_TITLES[key], level=3)
            texts = [shown(section[i + 1]) for i, token in enumerate(section) if token.type == "paragraph_open"]
            assert texts == paragraphs(record["disclosures"][key])
        else:
            assert f"`{key}`" in body_text

    # The record reads back as it was.
    assert read_embedded_record(markdown) == record


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.comments: list[str] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)
        if tag in ("h1", "h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "h2", "h3") and self._heading is not None:
            self.headings.append(f"{tag}:{''.join(self._heading)}")
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


@pytest.mark.parametrize(("case", "record"), CASES, ids=[case for case, _ in CASES])
def test_hostile_text_cannot_change_the_html_card(case: str, record: dict[str, Any]) -> None:
    html = render_html(record)
    assert not INVISIBLE.search(html), "an invisible or control character reached card.html"
    # The charts are drawn from numbers alone: no text of the record reaches them.
    assert SVG.findall(html) == [chart.svg.strip() for chart in draw_all(chart_specs(record))]
    html = SVG.sub("<svg></svg>", html)
    assert not re.search(r"<(img|script|iframe|a|object)\b", html, re.I)
    parser = Tags()
    parser.feed(html)
    parser.close()
    assert set(parser.tags) <= HTML_TAGS
    assert not parser.comments
    assert {name for name, _ in parser.attributes} <= HTML_ATTRIBUTES
    assert [h.split(":", 1)[1] for h in parser.headings if h.startswith("h2:")] == H2
    assert parser.headings[0] == f"h1:Model card: {visible(record['model']['id'])}"


def test_the_hub_reads_a_hostile_license_back() -> None:
    from huggingface_hub import ModelCard

    for text in HOSTILE:
        record = hostile_record(base_record(BASES[0]), itertools.repeat(text))
        card = ModelCard(render_markdown(record), ignore_metadata_errors=True)
        assert card.data.to_dict()["license"] == text
        assert "modelcard" in card.data.to_dict()["tags"]
