"""What the commands say in a CI log (stderr is not a terminal under pytest): one plain line per finished probe,
each once; where the card is and its counts in words; where the disclosures came from, and a key that is
almost a known one."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

SUITE = "name: two\nprobes:\n  - mask-leak\n  - kv-layout\n"


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_generate_says_each_probe_once_then_where_the_card_is(tmp_path, run_cli):
    suite = tmp_path / "two.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    result = run_cli("generate", "--suite", suite, "-o", tmp_path / "card", "--disclosures",
                     Path(__file__).parent / "golden" / "demo-disclosures.yaml")
    assert result.code == 0, result.err
    estimate, *said = lines(result.err)
    assert estimate.startswith("estimate: two on this CPU: ")  # before the first probe
    assert [line.split()[:2] for line in said[:2]] == [["pass", "mask-leak"], ["pass", "kv-layout"]]
    assert sum("mask-leak" in line for line in said) == 1  # no bar, no duplicate
    assert said[2] == f"card written to {tmp_path / 'card'}/: README.md, card.html, card.json and 1 chart " \
                      "(modelcard-kv-cache.png)"
    assert said[3] == "2 probes: 2 pass; no findings"
    assert result.out == ""
    readme = (tmp_path / "card" / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\n]*?\]\(([^)]+)\)", readme)
    assert images == ["modelcard-kv-cache.png"] and (tmp_path / "card" / images[0]).is_file()  # relative, written


def test_probe_lists_each_probe_once_in_a_log(tmp_path, run_cli):
    suite = tmp_path / "two.yaml"
    suite.write_text(SUITE, encoding="utf-8")
    result = run_cli("probe", "--suite", suite, "-o", tmp_path / "results")
    assert result.code == 0, result.err
    both = result.err + result.out
    assert both.count("mask-leak") == 1 and both.count("kv-layout") == 1
    assert "pass" in result.err and "mask-leak" in result.err


def test_disclosures_beside_the_model_are_found_and_a_near_key_is_a_warning(write_config, tmp_path, run_cli,
                                                                           monkeypatch):
    model = write_config()
    (model / "modelcard.yaml").write_text("licence: mit\nintended_use: Testing.\n", encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "modelcard.yaml").write_text("intended_use: Not this one.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = run_cli("generate", model, "--suite", "none", "-o", tmp_path / "card")
    assert result.code == 0, result.err
    said = lines(result.err)
    assert said[0] == f"modelcard: disclosures from {model / 'modelcard.yaml'}"
    assert said[1] == ("modelcard: warning: the key licence in modelcard.yaml is not one modelcard knows; did you "
                       "mean license? It is shown as a section of its own, and license stays undeclared")
    assert said[-1] == "no probes ran; 2 findings: 1 warning, 1 info"
    record = json.loads((tmp_path / "card" / "card.json").read_text(encoding="utf-8"))
    assert record["disclosures"]["intended_use"] == "Testing."
    assert any(f["pointer"] == "/disclosures/licence" and f["severity"] == "warning" for f in record["findings"])
    readme = (tmp_path / "card" / "README.md").read_text(encoding="utf-8")
    assert "### Licence" in readme and "`license`" in readme.split("*Not declared by the model's authors:*")[1]
    assert "| The key licence in modelcard.yaml is not one modelcard knows" in readme
    (model / "modelcard.yaml").unlink()
    fallback = run_cli("generate", model, "--suite", "none", "-o", tmp_path / "card2")
    assert lines(fallback.err)[0] == f"modelcard: disclosures from {tmp_path / 'elsewhere' / 'modelcard.yaml'}"


def test_a_linked_modelcard_yaml_beside_the_model_must_stay_in_its_folder(write_config, tmp_path, run_cli):
    model = write_config()
    secret = tmp_path / "token.yaml"
    secret.write_text("token: secret\n", encoding="utf-8")
    os.symlink(secret, model / "modelcard.yaml")
    result = run_cli("generate", model, "--suite", "none", "-o", tmp_path / "card")
    assert result.code == 2
    assert len(lines(result.err)) == 1 and "is a link to a file outside" in result.err
    assert not (tmp_path / "card").exists()


def test_the_help_lists_the_disclosure_keys(run_cli):
    from modelcard.record.disclosures import KNOWN_KEYS
    from modelcard.record.validate import schema

    assert set(KNOWN_KEYS) == set(schema()["properties"]["disclosures"]["properties"])
    shown = " ".join(run_cli("generate", "--help").out.split())
    assert all(key in shown for key in KNOWN_KEYS) and "beside the model" in shown


def test_inspect_json_of_the_demo_validates_and_renders_from_a_pipe(tmp_path, run_cli, monkeypatch):
    import io
    import sys

    inspected = run_cli("inspect", "--format", "json")
    assert inspected.code == 0, inspected.err
    (tmp_path / "r.json").write_text(inspected.out, encoding="utf-8")
    assert run_cli("validate", tmp_path / "r.json").code == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(inspected.out.encode("utf-8"))))
    piped = run_cli("validate", "-")
    assert piped.code == 0 and piped.err == "-: valid\n"
    broken = json.loads(inspected.out)
    del broken["attention"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(broken).encode("utf-8"))))
    invalid = run_cli("validate", "-")
    assert invalid.code == 1 and "attention" in invalid.err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(inspected.out.encode("utf-8"))))
    rendered = run_cli("render", "-", "-o", tmp_path / "card")
    assert rendered.code == 0, rendered.err
    record = json.loads((tmp_path / "card" / "card.json").read_text(encoding="utf-8"))
    assert record == json.loads(inspected.out)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"[1]")))
    refused = run_cli("render", "-", "-o", tmp_path / "card2")
    assert refused.code == 2 and "must be a JSON object" in refused.err


def test_an_empty_disclosures_file_is_said_once(tmp_path, run_cli):
    empty = tmp_path / "modelcard.yaml"
    empty.write_text("", encoding="utf-8")
    result = run_cli("generate", "--suite", "none", "--disclosures", empty, "-o", tmp_path / "card")
    assert result.code == 0, result.err
    assert ("modelcard: warning: the disclosures file modelcard.yaml is empty: nothing is declared, and every "
            "disclosure stays undeclared") in lines(result.err)
    record = json.loads((tmp_path / "card" / "card.json").read_text(encoding="utf-8"))
    assert [f["pointer"] for f in record["findings"]] == ["/disclosures"]


def test_model_name_is_the_cards_title_and_no_section_of_its_own(tmp_path, run_cli):
    disclosures = tmp_path / "modelcard.yaml"
    disclosures.write_text("model_name: My Demo <v2>\nlicense: mit\n", encoding="utf-8")
    result = run_cli("generate", "--suite", "none", "--disclosures", disclosures, "-o", tmp_path / "card")
    assert result.code == 0 and "did you mean" not in result.err
    readme = (tmp_path / "card" / "README.md").read_text(encoding="utf-8")
    assert "# Model card: My Demo \\<v2>" in readme and "### Model name" not in readme
    assert "<h1>Model card: My Demo &lt;v2&gt;</h1>" in (tmp_path / "card" / "card.html").read_text(encoding="utf-8")
