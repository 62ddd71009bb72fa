"""`modelcard diff OLD NEW`: what a release changes, grouped, regressions first; exit 0 equal, 1 differ, 2 bad."""

from __future__ import annotations

import json

import pytest
from check_cards import complete_record, edit_section, render_readme, set_value, write_card

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_FINDING, EXIT_OK


def _release(**changes):
    record = complete_record()
    for pointer, value in changes.items():
        set_value(record, pointer, value)
    return record


def test_equal_cards_exit_0(tmp_path, run_cli):
    old = write_card(tmp_path / "old", complete_record())
    new = write_card(tmp_path / "new", complete_record())
    result = run_cli("diff", old, new)
    assert result.code == EXIT_OK and "no changes" in result.out


def test_a_release_shows_context_window_and_tool_access(tmp_path, run_cli):
    old_record = set_value(set_value(complete_record(), "/context_window/declared", 32768),
                           "/disclosures/tool_access", "none")
    new_record = set_value(set_value(complete_record(), "/context_window/declared", 131072),
                           "/disclosures/tool_access", "web search")
    old = write_card(tmp_path / "old", old_record)
    new = write_card(tmp_path / "new", new_record)
    result = run_cli("diff", old, new)
    assert result.code == EXIT_FINDING
    assert "  ~ context window (declared): 32,768 -> 131,072" in result.out
    assert "  ~ tool_access: none -> web search" in result.out
    lines = result.out.splitlines()
    assert lines.index("Disclosures:") < lines.index("Context window:")
    assert result.out.count("~") == 2 and "2 change(s)" in result.out


def test_probe_regressions_come_first(tmp_path, run_cli):
    new_record = complete_record()
    by_id = {probe["id"]: probe for probe in new_record["probes"]}
    by_id["kv-layout"]["value"] = 2048  # a changed value, same status
    by_id["mask-leak"].update(status="fail", value=3)  # a regression, listed first
    new_record["probes"].append({**by_id["kv-layout"], "id": "scaling", "status": "pass"})
    new_record["findings"].append({"severity": "error", "pointer": "/masking/stacks/decoder", "declared": "causal",
                                   "measured": "sees 3 tokens ahead", "message": "the mask leaks"})
    result = run_cli("diff", write_card(tmp_path / "old", complete_record()), write_card(tmp_path / "new", new_record))
    assert result.code == EXIT_FINDING
    section = result.out.split("Probe results:\n")[1].split("Findings:\n")[0].splitlines()
    assert section[0] == "  ~ probe mask-leak: pass -> fail"
    assert "  ~ probe kv-layout value: 1,024 -> 2,048" in section
    assert "  + probe scaling: pass" in section
    assert "Findings:\n  + error at /masking/stacks/decoder: the mask leaks\n" in result.out


def test_json_format(tmp_path, run_cli):
    new_record = _release(**{"/attention/heads/grouping": "MQA", "/kv_cache/bytes_per_token": 256})
    result = run_cli("diff", write_card(tmp_path / "old", complete_record()), write_card(tmp_path / "new", new_record),
                     "--format", "json")
    assert result.code == EXIT_FINDING
    data = json.loads(result.out)
    groups = {group["name"]: group["changes"] for group in data["groups"]}
    assert list(groups) == ["disclosures", "architecture", "context_window", "kv_cache", "probes", "findings", "other"]
    assert groups["architecture"] == [{"pointer": "/attention/heads/grouping", "label": "head grouping",
                                       "kind": "changed", "old": "GQA", "new": "MQA"}]
    assert groups["kv_cache"][0]["new"] == 256 and data["equal"] is False and data["changes"] == 2


def test_a_readme_and_its_card_json_are_equal_until_the_readme_is_edited(tmp_path, run_cli):
    record = complete_record()
    card = write_card(tmp_path / "card", record)
    readme = render_readme(tmp_path, record)
    assert run_cli("diff", card, readme).code == EXIT_OK
    edited = tmp_path / "README.md"
    edited.write_text(edit_section(readme.read_text(), "Tool access", "web search, code execution"))
    result = run_cli("diff", card, edited)
    assert result.code == EXIT_FINDING
    assert "  ~ tool_access: [web search] -> web search, code execution" in result.out


@pytest.mark.parametrize("bad", ["missing", "future", "not-json"])
def test_bad_input_is_2(tmp_path, run_cli, bad):
    good = write_card(tmp_path, complete_record())
    other = tmp_path / "other.json"
    if bad == "future":
        other.write_text(json.dumps({**complete_record(), "schema_version": "2.0"}))
    elif bad == "not-json":
        other.write_text("{")
    result = run_cli("diff", good, other)
    assert result.code == EXIT_BAD_INPUT and str(other) in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_disclosures_emptied_are_each_a_removal_and_no_blank_line(tmp_path, run_cli):
    old = write_card(tmp_path / "old", complete_record())
    new = write_card(tmp_path / "new", set_value(complete_record(), "/disclosures", {}))
    result = run_cli("diff", old, new)
    assert result.code == EXIT_FINDING and ": {}" not in result.out
    assert all(not line.startswith(("  + :", "  - :")) for line in result.out.splitlines())
    assert "  - license: " in result.out
