"""Rendering: golden cards for the demo model, Hub front matter, a self-contained and escaped HTML card."""

from __future__ import annotations

import copy
import itertools
import json
import re

from goldens import (
    DEMO_GOLDEN,
    PROBED_FIXTURE,
    PROBED_GOLDEN,
    STANDARD_FIXTURE,
    STANDARD_GOLDEN,
    comparable,
    golden_files,
    read_golden,
    same_matplotlib,
)

from modelcard.card.render import RECORD_MARKER, read_embedded_record, render_html, render_markdown


def demo_record(demo_card) -> dict:
    return json.loads((demo_card / "card.json").read_text())


def assert_matches_golden(record: dict, folder) -> dict:
    """Every file of the card equals the golden one (charts too, when this matplotlib drew the golden ones), and
    the golden folder holds no file the card does not have."""
    rendered = golden_files(record)
    assert sorted(rendered) == sorted(path.name for path in folder.iterdir()), "files added or gone"
    exact = same_matplotlib()
    expected = comparable(read_golden(folder, list(rendered)), exact)
    for name, data in comparable(rendered, exact).items():
        assert data == expected[name], f"{name} differs from the golden file"
    lines = rendered["README.md"].split("\n")
    for before, line in itertools.pairwise(lines):  # a table never runs on from a paragraph (renderers differ)
        assert not (line.startswith("|") and before.strip() and not before.startswith("|")), (before, line)
    return rendered


def test_demo_card_matches_the_golden_files(demo_card):
    """If this fails after an intended change, run `python scripts/update_golden.py` and review the diff."""
    assert_matches_golden(demo_record(demo_card), DEMO_GOLDEN)


def test_probed_cards_match_the_golden_files():
    """Probe results, findings, measured values and charts rendered from frozen records (timings vary run to run):
    a quick-suite run on a config-only twin, and the trained demo under the standard suite.
    `python scripts/update_golden.py --refresh-probed` runs the suites again to refresh the records."""
    from modelcard.record.document import read_record
    from modelcard.record.validate import validate_record

    for fixture, golden in ((PROBED_FIXTURE, PROBED_GOLDEN), (STANDARD_FIXTURE, STANDARD_GOLDEN)):
        record = read_record(fixture)
        assert validate_record(record) == []
        assert_matches_golden(record, golden)
    readme = (PROBED_GOLDEN / "README.md").read_text(encoding="utf-8")
    assert "| ❌ error | Decoding through the DynamicCache diverges" in readme and "(twin)" in readme
    assert "modelcard-scaling.png" in readme and "the model itself: 128 KiB per token" in readme
    standard = (STANDARD_GOLDEN / "card.html").read_text(encoding="utf-8")
    assert 'aria-labelledby="passkey-grid-title"' in standard


def test_generate_writes_what_the_renderer_renders(demo_card):
    record = demo_record(demo_card)
    assert (demo_card / "README.md").read_text() == render_markdown(record)
    assert (demo_card / "card.html").read_text() == render_html(record)


def test_hub_reads_the_front_matter(demo_card):
    from huggingface_hub import ModelCard

    card = ModelCard.load(demo_card / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0"
    assert data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "text-generation"
    assert "modelcard" in data["tags"]
    assert data["modelcard"]["architecture_class"] == "decoder-only"
    assert data["modelcard"]["context_window"] == 4096


def test_readme_embeds_the_whole_record_compactly_and_losslessly(demo_card):
    record = demo_record(demo_card)
    record["disclosures"]["contact"] = "a -- b <!-- --> \u202e \ud800"
    text = render_markdown(record)
    match = re.search(rf"<!-- {RECORD_MARKER} zlib-base64\n(.*)\n-->\n<!-- modelcard:end -->\n\Z", text, re.S)
    assert match and "--" not in match.group(1) and "\n" not in match.group(1)
    assert read_embedded_record(text) == record
    assert len(match.group(1)) < 0.4 * len(text), "the record dominates README.md"


def test_the_record_of_an_earlier_readme_still_reads():
    """README.md files written before the record was compressed end with it as plain JSON."""
    record = {"schema_version": "1.0", "note": "a"}
    assert read_embedded_record(f"# Card\n\n<!-- {RECORD_MARKER}\n{json.dumps(record)}\n-->\n") == record
    assert read_embedded_record(f"<!-- {RECORD_MARKER} zlib-base64\nnot base64!\n-->\n<!-- modelcard:end -->\n") \
        is None


def test_html_is_self_contained(demo_card):
    """Charts are inline SVG: nothing is fetched, and the only references are to the SVG's own fragments."""
    html = (demo_card / "card.html").read_text()
    assert "<svg " in html
    assert not re.search(r"(src|href)\s*=\s*\"(?!#)|https?://|@import|url\((?!#)", html.replace(
        '<meta name="viewport"', ""))


def test_wide_tables_scroll_rather_than_split_their_words(demo_card):
    """At 420 px a KV table's `bfloat16` header must not break inside the word: every table of numbers sits in
    a scrolling box whose cells do not wrap."""
    html = (demo_card / "card.html").read_text()
    assert ".scroll th, .scroll td { overflow-wrap: normal; white-space: nowrap; }" in html
    kv = html.index("<th>Context</th>")
    assert html.rfind('<div class="scroll">', 0, kv) > html.rfind("</div>", 0, kv)


def test_html_escapes_what_people_wrote(demo_card):
    record = copy.deepcopy(demo_record(demo_card))
    record["disclosures"]["intended_use"] = "<script>alert(1)</script>"
    html = render_html(record)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_card_says_what_is_unknown_and_why(demo_card):
    readme = (demo_card / "README.md").read_text()
    assert "| `/context_window/effective` | not measured |" in readme
    assert "No probes ran" in readme and "- ⏭️ no probes ran: nothing on this card was measured" in readme
    assert "[More Information Needed]" not in readme
