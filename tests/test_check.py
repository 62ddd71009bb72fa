"""`modelcard check`: every rule of every built-in policy fails on a card that breaks it and passes on the
complete card; placeholders, null without a reason, error findings and probes on a twin fail; bad input is 2."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from check_cards import complete_record, delete, null_with_reason, null_without_reason, set_value, write_card

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_FINDING, EXIT_OK
from modelcard.gate.check import placeholder
from modelcard.gate.policy import builtin_policies, resolve_policy

POLICIES = ("attention-governance", "eu-ai-act-gpai", "hf-hub")
ERROR_FINDING = {"severity": "error", "pointer": "/kv_cache", "declared": "DynamicCache", "measured": "diverges",
                 "message": "decoding through the cache diverges from a full forward"}


def _add_finding(record, finding):
    record["findings"].append(finding)
    return record


def _twin(record, probe_id):
    for probe in record["probes"]:
        if probe["id"] == probe_id:
            probe["twin"] = True
    return record


def _without_probe(record, probe_id):
    record["probes"] = [probe for probe in record["probes"] if probe["id"] != probe_id]
    return record


# (policy, rule) -> how to break it, and words the failure must contain.
BREAKS = {
    ("attention-governance", "architecture-class"): (lambda r: null_without_reason(r, "/architecture/class"),
                                                     "null without a reason"),
    ("attention-governance", "attention-layers"): (lambda r: set_value(r, "/attention/layers", []), "empty list"),
    ("attention-governance", "attention-heads"): (lambda r: null_without_reason(r, "/attention/heads/grouping"),
                                                 "null without a reason"),
    ("attention-governance", "context-window-declared"): (
        lambda r: null_without_reason(r, "/context_window/declared"), "null without a reason"),
    ("attention-governance", "context-window-effective"): (
        lambda r: null_with_reason(r, "/context_window/effective", "not-measured", "no retrieval probe ran"),
        "not-measured"),
    ("attention-governance", "masking"): (lambda r: set_value(r, "/masking/stacks", {}), "empty"),
    ("attention-governance", "masking-measured"): (lambda r: _without_probe(r, "mask-leak"), "did not run"),
    ("attention-governance", "retrieval-mechanism"): (lambda r: delete(r, "/disclosures/retrieval_mechanism"),
                                                      "not declared"),
    ("attention-governance", "tool-access"): (lambda r: delete(r, "/disclosures/tool_access"), "not declared"),
    ("attention-governance", "known-failure-modes"): (lambda r: delete(r, "/disclosures/known_failure_modes"),
                                                      "not declared"),
    ("attention-governance", "planted-instructions-measured"): (lambda r: _twin(r, "injected-instruction"),
                                                                "random-init twin"),
    ("attention-governance", "findings"): (lambda r: _add_finding(r, ERROR_FINDING), "error finding at /kv_cache"),
    ("eu-ai-act-gpai", "architecture"): (lambda r: null_without_reason(r, "/architecture/class"),
                                         "null without a reason"),
    ("eu-ai-act-gpai", "parameters"): (lambda r: null_without_reason(r, "/model/parameters"), "null without a reason"),
    ("eu-ai-act-gpai", "input-modalities"): (lambda r: set_value(r, "/architecture/modalities/input", []),
                                             "empty list"),
    ("eu-ai-act-gpai", "output-modalities"): (lambda r: set_value(r, "/architecture/modalities/output", []),
                                              "empty list"),
    ("eu-ai-act-gpai", "max-input-size"): (lambda r: null_without_reason(r, "/context_window/declared"),
                                           "null without a reason"),
    ("eu-ai-act-gpai", "document-version"): (lambda r: delete(r, "/disclosures/document_version"), "not declared"),
    ("eu-ai-act-gpai", "document-date"): (lambda r: delete(r, "/disclosures/document_date"), "not declared"),
    ("eu-ai-act-gpai", "intended-use"): (lambda r: delete(r, "/disclosures/intended_use"), "not declared"),
    ("eu-ai-act-gpai", "acceptable-use"): (lambda r: set_value(r, "/disclosures/out_of_scope_use", "TBD"),
                                           "placeholder"),
    ("eu-ai-act-gpai", "license"): (lambda r: set_value(r, "/disclosures/license", None), "not declared"),
    ("eu-ai-act-gpai", "training-data"): (lambda r: delete(r, "/disclosures/training_data"), "not declared"),
    ("eu-ai-act-gpai", "findings"): (lambda r: _add_finding(r, ERROR_FINDING), "error finding at /kv_cache"),
    ("hf-hub", "license"): (lambda r: delete(r, "/disclosures/license"), "missing"),
    ("hf-hub", "language"): (lambda r: delete(r, "/disclosures/language"), "missing"),
    ("hf-hub", "pipeline-tag"): (lambda r: set_value(r, "/architecture/class", "hybrid"), "missing"),
}


def _results(result) -> dict[str, dict]:
    data = json.loads(result.out)
    return {(policy["name"], item["rule"]): item for card in data["cards"] for policy in card["policies"]
            for item in policy["results"]}


def test_every_rule_of_every_builtin_policy_has_a_card_that_breaks_it():
    assert set(builtin_policies()) == set(POLICIES)
    rules = {(name, rule.id) for name in POLICIES for rule in resolve_policy(name).rules}
    assert rules == set(BREAKS)


def test_the_complete_card_passes_every_builtin_policy_strictly(tmp_path, run_cli):
    card = write_card(tmp_path, complete_record())
    args = [arg for name in POLICIES for arg in ("--policy", name)]
    result = run_cli("check", card, *args, "--strict", "--format", "json")
    assert result.code == EXIT_OK, result.out
    statuses = {key: item["status"] for key, item in _results(result).items()}
    assert set(statuses.values()) == {"pass"}, statuses
    assert len(statuses) == len(BREAKS)


@pytest.mark.parametrize(("policy", "rule"), sorted(BREAKS), ids=[f"{p}:{r}" for p, r in sorted(BREAKS)])
def test_a_card_that_breaks_one_rule_fails_that_rule_alone(tmp_path, run_cli, policy, rule):
    breaks, words = BREAKS[(policy, rule)]
    card = write_card(tmp_path, breaks(complete_record()))
    severity = next(r.severity for r in resolve_policy(policy).rules if r.id == rule)
    result = run_cli("check", card, "--policy", policy, "--format", "json")
    results = _results(result)
    failing = {key for key, item in results.items() if item["status"] in ("fail", "warn")}
    assert failing == {(policy, rule)}, results
    assert any(words in problem for problem in results[(policy, rule)]["problems"]), results[(policy, rule)]
    if severity == "error":
        assert result.code == EXIT_FINDING and results[(policy, rule)]["status"] == "fail"
    else:
        assert result.code == EXIT_OK and results[(policy, rule)]["status"] == "warn"
        strict = run_cli("check", card, "--policy", policy, "--strict")
        assert strict.code == EXIT_FINDING
    text = run_cli("check", card, "--policy", policy)
    assert rule in text.out and words in text.out


@pytest.mark.parametrize("value", ["[More Information Needed]", "TODO", "todo: describe the retriever", "TBD", "N/A",
                                   "n/a", "none yet", "None yet.", "Lorem ipsum dolor sit amet.", "", "   ",
                                   "*TBD*", "<how context reaches the model: the top-k passages of which corpus>"])
def test_a_placeholder_disclosure_fails(tmp_path, run_cli, value):
    record = set_value(complete_record(), "/disclosures/retrieval_mechanism", value)
    result = run_cli("check", write_card(tmp_path, record))
    assert result.code == EXIT_FINDING
    assert "FAIL  retrieval-mechanism" in result.out
    assert "retrieval_mechanism:" in result.out  # the modelcard.yaml line to add


@pytest.mark.parametrize(("value", "why"), [([], "an empty list"), (["TODO"], "item 1 is a placeholder"),
                                            (["Misses the middle of long inputs.", "TBD"], "item 2 is a placeholder")])
def test_a_placeholder_list_fails(tmp_path, run_cli, value, why):
    record = set_value(complete_record(), "/disclosures/known_failure_modes", value)
    result = run_cli("check", write_card(tmp_path, record))
    assert result.code == EXIT_FINDING and why in result.out


@pytest.mark.parametrize("value", ["none", "None; the model sees only the prompt.", "Not applicable to this model",
                                   "modelcard maintainers <maintainers@example.org>", "<https://example.org/docs>",
                                   "TODOS are tracked in issue 4"])
def test_real_answers_are_not_placeholders(value):
    assert placeholder(value) is None


def test_null_with_a_reason_counts_where_the_policy_allows_its_kind(tmp_path, run_cli):
    record = null_with_reason(complete_record(), "/context_window/declared", "not-applicable", "a state-space model")
    result = run_cli("check", write_card(tmp_path, record), "--format", "json")
    assert result.code == EXIT_OK
    item = _results(result)[("attention-governance", "context-window-declared")]
    assert item["status"] == "pass" and "not-applicable: a state-space model" in item["note"]
    record["unknowns"]["/context_window/declared"] = {"kind": "unknown", "reason": "the config names no length"}
    result = run_cli("check", write_card(tmp_path, record))
    assert result.code == EXIT_FINDING and "unknown: the config names no length" in result.out


def test_a_warning_finding_fails_only_with_strict(tmp_path, run_cli):
    record = complete_record()
    record["findings"].append({**ERROR_FINDING, "severity": "warning"})
    card = write_card(tmp_path, record)
    assert run_cli("check", card).code == EXIT_OK
    assert run_cli("check", card, "--strict").code == EXIT_FINDING
    assert run_cli("check", card, "--policy", "eu-ai-act-gpai", "--strict").code == EXIT_OK  # findings: error


def test_a_required_probe_that_erred_or_was_skipped_fails(tmp_path, run_cli):
    record = complete_record()
    probe = next(p for p in record["probes"] if p["id"] == "mask-leak")
    probe.update(status="error", reason="out of memory")
    result = run_cli("check", write_card(tmp_path, record))
    assert result.code == EXIT_FINDING and "probe mask-leak error: out of memory" in result.out


def test_conditions_decide_whether_a_rule_applies(tmp_path, run_cli):
    record = set_value(_twin(complete_record(), "injected-instruction"), "/disclosures/tool_access", "none")
    result = run_cli("check", write_card(tmp_path, record), "--strict", "--format", "json")
    assert result.code == EXIT_OK
    item = _results(result)[("attention-governance", "planted-instructions-measured")]
    assert item["status"] == "skipped" and "/disclosures/tool_access" in item["note"]
    record = set_value(complete_record(), "/architecture/class", "encoder-only")
    record = null_without_reason(record, "/context_window/effective")
    result = run_cli("check", write_card(tmp_path, record), "--strict", "--format", "json")
    assert _results(result)[("attention-governance", "context-window-effective")]["status"] == "skipped"


def test_junit_has_one_case_per_rule_and_one_failure_per_missing_disclosure(tmp_path, run_cli):
    record = complete_record()
    for key in ("retrieval_mechanism", "tool_access", "known_failure_modes"):
        delete(record, f"/disclosures/{key}")
    result = run_cli("check", write_card(tmp_path, record), "--format", "junit")
    assert result.code == EXIT_FINDING
    root = ET.fromstring(result.out)
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(resolve_policy("attention-governance").rules)
    failed = sorted(case.get("name") for case in cases if case.find("failure") is not None)
    assert failed == ["known-failure-modes", "retrieval-mechanism", "tool-access"]
    assert root.get("failures") == "3" and root.find("testsuite").get("failures") == "3"
    failure = next(case for case in cases if case.get("name") == "tool-access").find("failure")
    assert "not declared" in failure.get("message") and "tool_access: <the tools or APIs" in failure.text


def test_github_format_annotates_each_failure(tmp_path, run_cli):
    record = delete(complete_record(), "/disclosures/tool_access")
    card = write_card(tmp_path, record)
    result = run_cli("check", card, "--format", "github")
    assert result.code == EXIT_FINDING
    errors = [line for line in result.out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1
    assert errors[0].startswith(f"::error file={card},line=")
    assert "title=modelcard attention-governance%3A tool-access::" in errors[0]
    line = int(errors[0].split("line=")[1].split(",")[0])
    assert card.read_text().split("\n")[line - 1].strip().startswith('"disclosures"')


def test_json_goes_to_stdout_alone(tmp_path, run_cli):
    result = run_cli("check", write_card(tmp_path, complete_record()), "--format", "json",
                     "--policy", "hf-hub", "--policy", "attention-governance")
    data = json.loads(result.out)
    assert data["passed"] is True and [p["name"] for p in data["cards"][0]["policies"]] == ["hf-hub",
                                                                                          "attention-governance"]


def test_several_cards_in_one_run(tmp_path, run_cli):
    good = write_card(tmp_path / "good", complete_record())
    bad = write_card(tmp_path / "bad", delete(complete_record(), "/disclosures/tool_access"))
    result = run_cli("check", good, bad, "--format", "json")
    assert result.code == EXIT_FINDING
    assert [card["passed"] for card in json.loads(result.out)["cards"]] == [True, False]


def test_unknown_policy_is_bad_input(tmp_path, run_cli):
    result = run_cli("check", write_card(tmp_path, complete_record()), "--policy", "attention-governanc")
    assert result.code == EXIT_BAD_INPUT and result.out == ""
    assert "no such policy; did you mean attention-governance?" in result.err
    assert len(result.err.strip().splitlines()) == 1 and "Traceback" not in result.err


@pytest.mark.parametrize(("content", "words"), [
    ("not json", "not valid JSON"),
    ('{"schema_version": "2.0"}', "newer than this modelcard reads"),
    ('{"schema_version": "1.0", "model": {}}', "breaks the record schema"),
    ("[1, 2]", "must be a JSON object"),
])
def test_unreadable_cards_are_bad_input(tmp_path, run_cli, content, words):
    card = tmp_path / "card.json"
    card.write_text(content)
    result = run_cli("check", card)
    assert result.code == EXIT_BAD_INPUT, result.err
    assert words in result.err and str(card) in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_a_missing_card_is_bad_input(tmp_path, run_cli):
    result = run_cli("check", tmp_path / "nope.json")
    assert result.code == EXIT_BAD_INPUT and "cannot read" in result.err


def test_a_fix_line_pasted_as_it_is_never_passes_the_gate(tmp_path, run_cli):
    """The gate's suggestions are template slots, not plausible answers: pasted unchanged into modelcard.yaml,
    every disclosure it asks for still fails (or the file is refused), so no untrue disclosure slips through."""
    import yaml

    from modelcard.gate.policy import builtin_policies, resolve_policy

    for name in builtin_policies():
        for rule in resolve_policy(name).rules:
            if rule.supply.key in (None, "overrides") or not rule.supply.has_example:
                continue
            card = tmp_path / name / rule.id
            disclosures = card.parent / f"{rule.id}.yaml"
            card.parent.mkdir(parents=True, exist_ok=True)
            disclosures.write_text(yaml.safe_dump({rule.supply.key: rule.supply.example}))
            made = run_cli("generate", "--suite", "none", "--disclosures", disclosures, "-o", card)
            if made.code == 2:  # refused outright (a date that is not YYYY-MM-DD): nothing to pass
                continue
            checked = run_cli("check", card / "card.json", "--policy", name, "--format", "json")
            results = {r["rule"]: r["status"] for c in json.loads(checked.out)["cards"]
                       for policy in c["policies"] for r in policy["results"]}
            assert results[rule.id] == "fail", (name, rule.id, rule.supply.example)
