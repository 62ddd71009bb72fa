"""Rendering: golden cards for the demo model, Hub front matter, a self-contained and escaped HTML card."""

from __future__ import annotations

import copy
import json
import re

from goldens import DEMO_GOLDEN, PROBED_FIXTURE, PROBED_GOLDEN, golden_files

from modelcard.render import RECORD_MARKER, render_html, render_markdown


def demo_record(demo_card) -> dict:
    return json.loads((demo_card / "card.json").read_text())


def test_demo_card_matches_the_golden_files(demo_card):
    """If this fails after an intended change, run `python scripts/update_golden.py` and review the diff."""
    rendered = golden_files(demo_record(demo_card))
    for name, text in rendered.items():
        assert text == (DEMO_GOLDEN / name).read_text(encoding="utf-8"), f"{name} differs from the golden file"


def test_probed_card_matches_the_golden_files():
    """Probe results, findings and measured values rendered from a frozen record (timings vary run to run).
    `python scripts/update_golden.py --refresh-probed` runs the suite again to refresh the record."""
    from modelcard.record import read_record
    from modelcard.validate import validate_record

    record = read_record(PROBED_FIXTURE)
    assert validate_record(record) == []
    for name, text in golden_files(record).items():
        assert text == (PROBED_GOLDEN / name).read_text(encoding="utf-8"), f"{name} differs from the golden file"
    readme = (PROBED_GOLDEN / "README.md").read_text(encoding="utf-8")
    assert "| error | `/kv_cache` |" in readme and "ran on a shrunken twin" in readme


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


def test_readme_embeds_the_whole_record_losslessly(demo_card):
    record = demo_record(demo_card)
    record["disclosures"]["contact"] = "a -- b <!-- -->"
    text = render_markdown(record)
    match = re.search(rf"<!-- {RECORD_MARKER}\n(.*)\n-->", text, re.S)
    assert match and "--" not in match.group(1)
    assert json.loads(match.group(1)) == record


def test_html_is_self_contained(demo_card):
    html = (demo_card / "card.html").read_text()
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(", html.replace('<meta name="viewport"', ""))


def test_html_escapes_what_people_wrote(demo_card):
    record = copy.deepcopy(demo_record(demo_card))
    record["disclosures"]["intended_use"] = "<script>alert(1)</script>"
    html = render_html(record)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_card_says_what_is_unknown_and_why(demo_card):
    readme = (demo_card / "README.md").read_text()
    assert "| `/context_window/effective` | not measured |" in readme
    assert "No probes ran" in readme
    assert "[More Information Needed]" not in readme
