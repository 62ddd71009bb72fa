"""Policy files: a user's own policy works like a built-in one; one that breaks the policy schema is bad input,
in one line that names the file, the rule and the problem."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from check_cards import complete_record, delete, write_card

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_FINDING, EXIT_OK
from modelcard.gate.policy import builtin_policies, load_policy, policy_problems

ROOT = Path(__file__).resolve().parents[1]
OWN = {
    "name": "our-release-policy",
    "rules": [
        {"id": "contact", "pointer": "/disclosures/contact", "message": "Say who answers questions.",
         "supply": {"key": "contact", "example": "ml-platform@example.org"}},
        {"id": "decoder-window", "pointer": "/context_window/declared", "message": "State the window.",
         "when": [{"pointer": "/architecture/class", "in": ["decoder-only"]},
                  {"pointer": "/disclosures/tool_access", "matches": "search"}]},
    ],
}


def _write(tmp_path: Path, data, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_an_own_policy_file(tmp_path, run_cli):
    policy = _write(tmp_path, OWN)
    good = write_card(tmp_path / "good", complete_record())
    assert run_cli("check", good, "--policy", policy, "--strict").code == EXIT_OK
    bad = write_card(tmp_path / "bad", delete(complete_record(), "/disclosures/contact"))
    result = run_cli("check", bad, "--policy", policy)
    assert result.code == EXIT_FINDING
    assert "FAIL  contact  /disclosures/contact: not declared" in result.out
    assert "add to modelcard.yaml: contact: ml-platform@example.org" in result.out
    assert f"policy our-release-policy ({policy})" in result.out


def test_the_documented_example_policy_loads(tmp_path, run_cli):
    page = (ROOT / "site" / "how-to" / "custom-policies.md").read_text(encoding="utf-8")
    example = next(block for block in re.findall(r"```yaml[^\n]*\n(.*?)```", page, re.S) if "rules:" in block)
    policy = _write(tmp_path, example)
    assert load_policy(policy).name == "our-release-policy"
    assert run_cli("check", write_card(tmp_path, complete_record()), "--policy", policy).code == EXIT_OK


def test_the_builtin_policies_fit_the_schema():
    for path in builtin_policies().values():
        assert policy_problems(yaml.safe_load(path.read_text())) == [], path


def _rule(**fields):
    return {**OWN, "rules": [{"id": "r", "message": "m", **fields}]}


@pytest.mark.parametrize(("data", "words"), [
    ("- a list\n", "a policy must be a mapping with name and rules"),
    ({"name": "x"}, "'rules' is a required property"),
    ({**OWN, "rule": []}, "'rule' was unexpected"),
    ({"name": "x", "rules": []}, "should be non-empty"),
    (_rule(pointer="/a", severity="fatal"), "rules[0] (r).severity: 'fatal' is not one of ['error', 'warning']"),
    (_rule(pointer="/a", probe="mask-leak"), "rules[0] (r): a rule needs exactly one of pointer, probe or findings"),
    (_rule(message="m"), "rules[0] (r): a rule needs exactly one of pointer, probe or findings"),
    (_rule(pointer="a/b"), "rules[0] (r).pointer: 'a/b' does not match"),
    (_rule(pointer="/a", pattern="(unclosed"), 'rules[0] (r).pattern: "(unclosed" is not a valid regular expression'),
    (_rule(pointer="/a", when={"pointer": "/b", "in": ["x"], "not_in": ["y"]}),
     "rules[0] (r).when: must be one condition"),
    (_rule(pointer="/a", own_weights=True), "'probe' is a required property"),
    ({**OWN, "rules": [OWN["rules"][0], OWN["rules"][0]]}, "rules[1] (contact): the id is used by an earlier rule"),
    ("name: x\nrules: [\n", "not valid YAML"),
    ("name: x\ndate: 2025-08-02\nrules: []\n", "a date or time is not plain text"),
])
def test_a_broken_policy_is_one_clear_line(tmp_path, run_cli, data, words):
    policy = _write(tmp_path, data)
    result = run_cli("check", write_card(tmp_path, complete_record()), "--policy", policy)
    assert result.code == EXIT_BAD_INPUT, result.out
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert str(policy) in lines[0] and words in lines[0], lines[0]


def test_a_missing_policy_file_is_bad_input(tmp_path, run_cli):
    result = run_cli("check", write_card(tmp_path, complete_record()), "--policy", tmp_path / "nope.yaml")
    assert result.code == EXIT_BAD_INPUT and "cannot read" in result.err


def test_json_report_carries_the_rule_and_how_to_supply_it(tmp_path, run_cli):
    card = write_card(tmp_path, delete(complete_record(), "/disclosures/contact"))
    result = run_cli("check", card, "--policy", _write(tmp_path, OWN), "--format", "json")
    item = json.loads(result.out)["cards"][0]["policies"][0]["results"][0]
    assert item["status"] == "fail" and item["pointer"] == "/disclosures/contact"
    assert item["supply"]["line"] == "contact: ml-platform@example.org"
    assert isinstance(item["line"], int)
