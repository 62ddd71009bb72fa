"""A generated README.md as CARD: its embedded record is checked, and disclosure sections a person edited by hand
count over the record's (editing the README is a way to supply them); reports point at the README's lines."""

from __future__ import annotations

import json

import pytest
from check_cards import complete_record, delete, edit_section, line_of, render_readme, write_card

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_FINDING, EXIT_OK


@pytest.fixture(scope="module")
def readme_without_retrieval(tmp_path_factory):
    """The README of a card whose authors declared no retrieval mechanism (its card.json fails the gate)."""
    folder = tmp_path_factory.mktemp("readme")
    record = delete(complete_record(), "/disclosures/retrieval_mechanism")
    return write_card(folder, record), render_readme(folder, record)


def test_the_readme_fails_as_its_card_json_does(readme_without_retrieval, run_cli):
    card, readme = readme_without_retrieval
    for path in (card, readme):
        result = run_cli("check", path)
        assert result.code == EXIT_FINDING, result.out
        assert "FAIL  retrieval-mechanism" in result.out


def test_a_readme_whose_disclosure_was_edited_by_hand_passes_where_its_card_json_fails(
        readme_without_retrieval, run_cli, tmp_path):
    card, readme = readme_without_retrieval
    edited = tmp_path / "README.md"
    edited.write_text(edit_section(readme.read_text(), "Retrieval mechanism",
                                   "Top-3 passages from the ticket archive, prepended to the prompt."))
    assert run_cli("check", card).code == EXIT_FINDING
    result = run_cli("check", edited, "--strict", "--format", "json")
    assert result.code == EXIT_OK, result.out
    data = json.loads(result.out)["cards"][0]
    assert data["kind"] == "readme" and data["edited_in_readme"] == ["retrieval_mechanism"]
    item = next(r for r in data["policies"][0]["results"] if r["rule"] == "retrieval-mechanism")
    heading = line_of(edited, "### Retrieval mechanism")
    assert item["source"] == f"{edited} line {heading}, edited by hand" and item["line"] == heading
    text = run_cli("check", edited)
    assert f"(from {edited} line {heading}, edited by hand)" in text.out


def test_an_edit_to_a_placeholder_fails_at_the_readme_line(readme_without_retrieval, run_cli, tmp_path):
    _, readme = readme_without_retrieval
    edited = tmp_path / "README.md"
    edited.write_text(edit_section(readme.read_text(), "Tool access", "TODO"))
    result = run_cli("check", edited, "--format", "github")
    assert result.code == EXIT_FINDING
    errors = {line.split("title=modelcard attention-governance%3A ")[1].split("::")[0]: line
              for line in result.out.splitlines() if line.startswith("::error ")}
    assert set(errors) == {"retrieval-mechanism", "tool-access"}
    assert f"line={line_of(edited, '### Tool access')}," in errors["tool-access"]
    assert "a placeholder" in errors["tool-access"]


def test_a_missing_section_is_annotated_where_it_would_go(readme_without_retrieval, run_cli):
    _, readme = readme_without_retrieval
    result = run_cli("check", readme, "--format", "github")
    error = next(line for line in result.out.splitlines() if "retrieval-mechanism" in line)
    lines = readme.read_text().split("\n")
    shown = lines[int(error.split("line=")[1].split(",")[0]) - 1]
    assert shown in ("## Disclosures", "### Retrieval mechanism")
    assert "## Disclosures" in error or "Retrieval mechanism" in error  # says where to write it


def test_list_disclosures_and_pattern_rules_read_from_the_readme(run_cli, tmp_path):
    record = delete(delete(complete_record(), "/disclosures/known_failure_modes"), "/disclosures/document_date")
    readme = render_readme(tmp_path, record)
    text = edit_section(readme.read_text(), "Known failure modes",
                        "- Misses needles in the middle of 4K contexts.\n- Follows planted instructions.")
    text = edit_section(text, "Document date", "August 2025")
    edited = tmp_path / "README.md"
    edited.write_text(text)
    result = run_cli("check", edited, "--policy", "attention-governance", "--policy", "eu-ai-act-gpai",
                     "--format", "json")
    results = {(p["name"], r["rule"]): r for p in json.loads(result.out)["cards"][0]["policies"] for r in p["results"]}
    assert results[("attention-governance", "known-failure-modes")]["status"] == "pass"
    assert results[("eu-ai-act-gpai", "document-date")]["status"] == "fail"
    assert "not in the form" in results[("eu-ai-act-gpai", "document-date")]["problems"][0]


def test_an_unedited_readme_reports_no_edits(run_cli, tmp_path):
    readme = render_readme(tmp_path, complete_record())
    result = run_cli("check", readme, "--policy", "attention-governance", "--policy", "eu-ai-act-gpai",
                     "--policy", "hf-hub", "--strict", "--format", "json")
    assert result.code == EXIT_OK, result.out
    assert json.loads(result.out)["cards"][0]["edited_in_readme"] == []


def test_hf_hub_reads_the_readme_front_matter(run_cli, tmp_path):
    readme = render_readme(tmp_path, delete(complete_record(), "/disclosures/language"))
    assert run_cli("check", readme, "--policy", "hf-hub").code == EXIT_FINDING
    text = readme.read_text()
    edited = tmp_path / "README.md"
    edited.write_text(text.replace("\nlicense: apache-2.0\n", "\nlicense: apache-2.0\nlanguage:\n- en\n", 1))
    assert "language:" in edited.read_text()
    result = run_cli("check", edited, "--policy", "hf-hub")
    assert result.code == EXIT_OK, result.out


def test_validate_reads_a_readme(readme_without_retrieval, run_cli):
    _, readme = readme_without_retrieval
    result = run_cli("validate", readme)
    assert result.code == EXIT_OK and "valid" in result.err


@pytest.mark.parametrize("command", ["check", "validate"])
def test_a_readme_without_a_record_is_bad_input(run_cli, tmp_path, command):
    readme = tmp_path / "README.md"
    readme.write_text("# My model\n\nA hand-written card.\n")
    result = run_cli(command, readme)
    assert result.code == EXIT_BAD_INPUT
    assert "no modelcard record" in result.err and len(result.err.strip().splitlines()) == 1


def test_text_of_the_authors_outside_the_generated_block_is_not_read(run_cli, tmp_path):
    readme = render_readme(tmp_path, complete_record()).read_text()
    front, body = readme.split("\n---\n", 1)
    if "<!-- modelcard:begin -->" not in body:
        body = f"<!-- modelcard:begin -->\n{body}"
    own = "# Our model\n\n## Disclosures\n\n### Tool access\n\nTODO\n\n"
    edited = tmp_path / "README.md"
    edited.write_text(f"{front}\n---\n{own}{body}")
    result = run_cli("check", edited, "--format", "json")
    assert result.code == EXIT_OK, result.out
    assert json.loads(result.out)["cards"][0]["edited_in_readme"] == []


def test_a_front_matter_key_the_readme_lacks_is_annotated_at_the_front_matter(tmp_path, run_cli):
    out = tmp_path / "card"
    assert run_cli("generate", "--suite", "none", "-o", str(out)).code == 0
    result = run_cli("check", str(out / "README.md"), "--policy", "hf-hub", "--format", "github")
    language = next(line for line in result.out.splitlines() if "hf-hub%3A language" in line)
    assert language.startswith(f"::error file={out / 'README.md'},line=1,")
