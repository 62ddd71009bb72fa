"""`--update README.md`: the generated part of a model's own README is refreshed between its markers, the
metadata is merged through huggingface_hub, and every byte the author wrote stays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from goldens import PROBED_FIXTURE, STANDARD_FIXTURE

from modelcard.card.readme_update import open_readme, update_readme
from modelcard.card.render import BEGIN_MARKER, END_MARKER, read_embedded_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FRONT = "---\nlicense: mit\ntags:\n- mine\nwidget:\n- text: Hello\n---\n"
PROSE = "# My model\n\nHand-written *prose*, with trailing spaces  \nand a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
AFTER = "\n## Citation\n\n```bibtex\n@misc{mine}\n```\n"


def standard_record() -> dict:
    return json.loads((STANDARD_FIXTURE).read_text(encoding="utf-8"))


def body(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text[text.index("\n---\n", 3) + 5:]


def test_update_appends_then_refreshes_keeping_the_prose_byte_for_byte(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(FRONT + PROSE, encoding="utf-8")
    record = standard_record()
    written = update_readme(open_readme(readme), record)
    assert [path.name for path in written] == ["README.md", "modelcard-kv-cache.png", "modelcard-scaling.png",
                                               "modelcard-passkey-grid.png"]
    first = body(readme)
    assert first.startswith(PROSE + "\n" + BEGIN_MARKER + "\n# Model card: ")
    assert read_embedded_record(readme.read_text(encoding="utf-8")) == record

    # the author writes more after the block; a later update replaces the block only
    readme.write_text(readme.read_text(encoding="utf-8") + AFTER, encoding="utf-8")
    record["disclosures"]["intended_use"] = "Changed."
    update_readme(open_readme(readme), record)
    second = body(readme)
    assert second.startswith(PROSE + "\n" + BEGIN_MARKER) and second.endswith(END_MARKER + "\n" + AFTER)
    assert "Changed." in second and read_embedded_record(readme.read_text(encoding="utf-8")) == record
    update_readme(open_readme(readme), record)
    assert body(readme) == second  # idempotent


def test_update_merges_the_metadata_through_the_hub_library(tmp_path):
    from huggingface_hub import ModelCard

    readme = tmp_path / "README.md"
    theirs = ("---\nlicense: mit\ntags:\n- mine\nmodel-index:\n- name: mine\n  results:\n  - task:\n      type: "
              "text-generation\n    dataset:\n      name: Their eval\n      type: their/eval\n    metrics:\n    - "
              "type: accuracy\n      value: 0.5\n---\n" + PROSE)
    readme.write_text(theirs, encoding="utf-8")
    record = standard_record()
    record["disclosures"].update(language=["en", "fr"], base_model="org/base")
    update_readme(open_readme(readme), record)
    card = ModelCard.load(readme)
    data = card.data
    assert data.license == "apache-2.0"  # declared in modelcard.yaml, the newer word
    assert data.language == ["en", "fr"] and data.base_model == "org/base"
    assert data.tags[:2] == ["mine", "modelcard"]
    results = {(r.dataset_type, r.metric_type): r.metric_value for r in data.eval_results}
    assert results[("their/eval", "accuracy")] == 0.5  # the author's own result stays
    assert results[("modelcard/passkey-grid", "effective_context")] == 512
    assert ("modelcard/copy-distance", "longest_copy_distance_relative_rule") in results
    update_readme(open_readme(readme), record)  # modelcard's results are replaced, not added twice
    assert len(ModelCard.load(readme).data.eval_results) == len(data.eval_results)


def test_a_readme_that_cannot_be_updated_is_bad_input(tmp_path, run_cli):
    from modelcard.base.errors import BadInput

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{BEGIN_MARKER}\nno end\n", encoding="utf-8")
    with pytest.raises(BadInput, match="without <!-- modelcard:end -->"):
        open_readme(readme)
    readme.write_text("---\n- a list\n---\n", encoding="utf-8")
    result = run_cli("render", STANDARD_FIXTURE, "--update", readme)
    assert result.code == 2 and "front matter must be a mapping" in result.err


def test_render_writes_beside_the_card_and_updates_a_readme(tmp_path, run_cli):
    card = tmp_path / "card" / "card.json"
    card.parent.mkdir()
    card.write_text((PROBED_FIXTURE).read_text(encoding="utf-8"), encoding="utf-8")
    result = run_cli("render", card)
    assert result.code == 0, result.err
    assert "card written to" in result.err and "2 charts (modelcard-kv-cache.png, modelcard-scaling.png)" in result.err
    assert {p.name for p in card.parent.iterdir()} == {"card.json", "README.md", "card.html",
                                                        "modelcard-kv-cache.png", "modelcard-scaling.png"}
    (card.parent / "README.md").write_text("# Someone's own README\n", encoding="utf-8")
    refused = run_cli("render", card)
    assert refused.code == 2 and "was not written by modelcard" in refused.err
    updated = run_cli("render", card, "--update", card.parent / "README.md")
    assert updated.code == 0, updated.err
    assert (card.parent / "README.md").read_text(encoding="utf-8").startswith(
        "---\nlibrary_name: transformers\n") and "# Someone's own README\n\n<!-- modelcard:begin -->" in (
        card.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("index", [
    "model-index:\n- name: mine\n  results:\n  - task:\n      type: text-generation\n    metrics:\n"
    "    - type: acc\n      value: 0.5\n",  # a result without its dataset
    "model-index: 7\n",
])
def test_a_model_index_huggingface_hub_cannot_read_is_reported_with_its_line(run_cli, tmp_path, index) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"---\nlicense: mit\n{index}---\n# mine\n")
    before = readme.read_bytes()
    result = run_cli("generate", "--suite", "none", "--update", str(readme), "-o", str(tmp_path / "card"))
    assert result.code == 2 and f"{readme}: line 3: huggingface_hub cannot read the model-index" in result.err
    assert len(result.err.strip().splitlines()) == 1 and readme.read_bytes() == before


def test_a_crlf_readme_keeps_its_line_endings_and_a_replaced_value_is_said(run_cli, tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_bytes(b"---\r\nlicense: mit\r\ntags:\r\n- mine\r\n---\r\n# Mine\r\n\r\nMy text.\r\n")
    disclosures = tmp_path / "modelcard.yaml"
    disclosures.write_text("license: apache-2.0\n")
    result = run_cli("generate", "--suite", "none", "--disclosures", str(disclosures), "--update", str(readme),
                     "-o", str(tmp_path / "card"))
    assert result.code == 0, result.err
    assert "modelcard: note: README.md's license: mit is replaced by the card's apache-2.0" in result.err
    data = readme.read_bytes()
    assert b"\n" not in data.replace(b"\r\n", b"") and data.count(b"\r\n---\r\n") >= 1
    text = data.decode().replace("\r\n", "\n")
    assert text.startswith("---\nlicense: apache-2.0\ntags:\n- mine\n") and text.count("# Mine") == 1
    assert "My text." in text and run_cli("validate", str(readme)).code == 0
    again = run_cli("generate", "--suite", "none", "--disclosures", str(disclosures), "--update", str(readme),
                    "-o", str(tmp_path / "card2"))
    assert again.code == 0 and "note:" not in again.err
    assert readme.read_bytes().decode().replace("\r\n", "\n").count("license:") == 1
