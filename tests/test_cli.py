"""The command line, driven through `main(argv)`: commands, exit codes and error translation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_FINDING, EXIT_OK

CARD_FILES = {"card.json", "README.md", "card.html", "modelcard-kv-cache.png"}  # the demo's KV chart too


def assert_one_clear_line(result, *needles: str) -> None:
    """Exit 2, a single line on stderr naming the problem, no traceback."""
    assert result.code == EXIT_BAD_INPUT, result.err
    lines = [line for line in result.err.splitlines() if line.strip() and "generate:" not in line]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_help_lists_the_commands(run_cli):
    result = run_cli("--help")
    assert result.code == EXIT_OK
    for command in ("inspect", "generate", "validate", "render"):
        assert command in result.out


def test_version(run_cli):
    from modelcard import __version__

    result = run_cli("--version")
    assert result.code == EXIT_OK and __version__ in result.out


def test_generate_demo_writes_a_valid_card(demo_card, run_cli):
    assert {p.name for p in demo_card.iterdir()} == CARD_FILES
    result = run_cli("validate", demo_card / "card.json")
    assert result.code == EXIT_OK, result.err
    record = json.loads((demo_card / "card.json").read_text())
    assert record["model"]["source"] == "demo"
    assert record["model"]["weights"] is True
    assert record["attention"]["heads"]["grouping"] == "GQA"
    assert record["disclosures"]["tool_access"] == "none"


def test_generate_without_model_documents_the_demo(tmp_path, run_cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_cli("generate", "-o", "out", "--suite", "none")
    assert result.code == EXIT_OK, result.err
    assert {p.name for p in (tmp_path / "out").iterdir()} == CARD_FILES


@pytest.mark.parametrize("as_file", [False, True], ids=["folder", "config.json"])
def test_generate_config_only_model_on_meta(write_config, tmp_path, run_cli, as_file):
    folder = write_config()
    spec = folder / "config.json" if as_file else folder
    result = run_cli("generate", spec, "-o", tmp_path / "out", "--suite", "none")
    assert result.code == EXIT_OK, result.err
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["model"]["source"] == "config"
    assert record["model"]["weights"] is False
    assert record["context_window"]["declared"] == 4096
    assert record["attention"]["heads"] == {"query": 4, "key_value": 2, "head_dim": 16, "grouping": "GQA"}
    assert record["position"]["rope"]["theta"] == 500000.0
    assert run_cli("validate", tmp_path / "out" / "card.json").code == EXIT_OK


def test_inspect_json_prints_a_record_on_stdout_only(write_config, run_cli, tmp_path):
    """`inspect --format json` is a record (no probes, no disclosures, what was not measured says so): `validate`
    and `render` take it."""
    result = run_cli("inspect", write_config(), "--format", "json")
    assert result.code == EXIT_OK, result.err
    record = json.loads(result.out)
    assert record["architecture"]["class"] == "decoder-only"
    assert record["probes"] == [] and record["disclosures"] == {}
    assert record["unknowns"]["/probes"]["kind"] == "not-measured"
    assert record["unknowns"]["/context_window/effective"]["kind"] == "not-measured"
    (tmp_path / "r.json").write_text(result.out, encoding="utf-8")
    assert run_cli("validate", tmp_path / "r.json").code == EXIT_OK
    rendered = run_cli("render", tmp_path / "r.json", "-o", tmp_path / "card")
    assert rendered.code == EXIT_OK, rendered.err
    assert "No probes ran" in (tmp_path / "card" / "README.md").read_text(encoding="utf-8")


def test_inspect_text(write_config, run_cli):
    result = run_cli("inspect", write_config())
    assert result.code == EXIT_OK, result.err
    assert "GQA" in result.out and "4,096 tokens" in result.out


@pytest.mark.parametrize(
    ("make", "needles"),
    [
        (lambda tmp, write: tmp / "no-such-model-dir", ("no-such-model-dir", "no such file")),
        (lambda tmp, write: (tmp / "empty").mkdir() or tmp / "empty", ("empty", "no config.json")),
        (lambda tmp, write: _broken_json(tmp), ("config.json", "not valid JSON")),
        (lambda tmp, write: write(model_type="no-such-architecture"), ("config.json", "unknown model_type")),
        (lambda tmp, write: write(model_type="tiny-remote", auto_map={"AutoModel": "x.Y"}),
         ("config.json", "--trust-remote-code")),
        (lambda tmp, write: _pickle_only(write()), ("pytorch_model.bin", "--allow-pickle")),
        (lambda tmp, write: write(config={"hidden_size": 8}), ("config.json", "no model_type")),
    ],
    ids=["missing-path", "no-config", "not-json", "unknown-type", "remote-code", "pickle", "no-model-type"],
)
def test_bad_model_input_is_one_line_exit_2_and_writes_nothing(tmp_path, write_config, run_cli, make, needles):
    spec = make(tmp_path, write_config)
    out = tmp_path / "out"
    result = run_cli("generate", spec, "-o", out, "--suite", "none")
    assert_one_clear_line(result, *needles)
    assert not out.exists()


def _broken_json(tmp: Path) -> Path:
    folder = tmp / "broken"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama",', encoding="utf-8")
    return folder


def _pickle_only(folder: Path) -> Path:
    (folder / "pytorch_model.bin").write_bytes(b"not really a pickle")
    return folder


def test_bad_disclosures_file(tmp_path, run_cli):
    disclosures = tmp_path / "modelcard.yaml"
    disclosures.write_text("intended_use: [unclosed\n", encoding="utf-8")
    result = run_cli("generate", "-o", tmp_path / "out", "--suite", "none", "--disclosures", disclosures)
    assert_one_clear_line(result, "modelcard.yaml", "not valid YAML")
    assert not (tmp_path / "out").exists()


def test_unknown_suite(tmp_path, run_cli):
    result = run_cli("generate", "-o", tmp_path / "out", "--suite", "nonsense")
    assert_one_clear_line(result, "nonsense", "available")
    assert not (tmp_path / "out").exists()


def test_disclosures_default_to_modelcard_yaml_in_the_current_folder(tmp_path, run_cli, monkeypatch):
    (tmp_path / "modelcard.yaml").write_text("intended_use: Reading the docs.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert run_cli("generate", "-o", "out", "--suite", "none").code == EXIT_OK
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["disclosures"]["intended_use"] == "Reading the docs."
    assert record["provenance"]["/disclosures"] == "declared"


def test_overrides_correct_a_detected_value_and_keep_it_visible(tmp_path, run_cli):
    disclosures = tmp_path / "modelcard.yaml"
    disclosures.write_text("overrides:\n  /context_window/declared: 1024\n", encoding="utf-8")
    assert run_cli("generate", "-o", tmp_path / "out", "--suite", "none", "--disclosures", disclosures).code == 0
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["context_window"]["declared"] == 1024
    assert record["provenance"]["/context_window/declared"] == "declared"
    assert record["inspection"]["overridden"] == {"/context_window/declared": 4096}


def test_override_of_a_place_that_does_not_exist(tmp_path, run_cli):
    disclosures = tmp_path / "modelcard.yaml"
    disclosures.write_text("overrides:\n  /context_window/nonsense: 1\n", encoding="utf-8")
    result = run_cli("generate", "-o", tmp_path / "out", "--suite", "none", "--disclosures", disclosures)
    assert_one_clear_line(result, "modelcard.yaml", "/context_window/nonsense")
    assert not (tmp_path / "out").exists()


def test_validate_reports_each_error_with_its_pointer(demo_card, tmp_path, run_cli):
    record = json.loads((demo_card / "card.json").read_text())
    record["attention"]["heads"]["grouping"] = "GQB"
    record["context_window"]["declared"] = -5
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(record))
    result = run_cli("validate", broken)
    assert result.code == EXIT_FINDING
    assert "/attention/heads/grouping" in result.err and "/context_window/declared" in result.err
    as_json = json.loads(run_cli("validate", broken, "--format", "json").out)
    assert as_json["valid"] is False
    assert {e["pointer"] for e in as_json["errors"]} == {"/attention/heads/grouping", "/context_window/declared"}


@pytest.mark.parametrize(
    ("content", "needle"),
    [("not json at all", "not valid JSON"), ('{"schema_version": "2.0"}', "newer"), ("[1, 2]", "JSON object")],
    ids=["not-json", "future-major", "not-object"],
)
def test_validate_unreadable_record_is_exit_2(tmp_path, run_cli, content, needle):
    card = tmp_path / "card.json"
    card.write_text(content)
    assert_one_clear_line(run_cli("validate", card), "card.json", needle)


def test_render_again_gives_the_same_files(demo_card, tmp_path, run_cli):
    result = run_cli("render", demo_card / "card.json", "-o", tmp_path / "again")
    assert result.code == EXIT_OK, result.err
    for name in CARD_FILES:
        assert (tmp_path / "again" / name).read_bytes() == (demo_card / name).read_bytes()


def test_render_refuses_an_invalid_record(demo_card, tmp_path, run_cli):
    record = json.loads((demo_card / "card.json").read_text())
    del record["model"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    assert_one_clear_line(run_cli("render", bad, "-o", tmp_path / "out"), "bad.json", "schema")
    assert not (tmp_path / "out").exists()


def test_usage_error_is_exit_2(run_cli):
    assert run_cli("generate", "--no-such-option").code == EXIT_BAD_INPUT
    assert run_cli("no-such-command").code == EXIT_BAD_INPUT


def test_python_dash_m(tmp_path):
    done = subprocess.run([sys.executable, "-m", "modelcard", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "generate" in done.stdout


def test_the_process_leaves_with_mains_exit_code_and_all_its_output(tmp_path, write_config):
    """`modelcard` skips the interpreter's teardown (modelcard.cli.run): what it printed still arrives whole
    through a pipe, and the exit code is main()'s."""
    folder = write_config()
    done = subprocess.run([sys.executable, "-m", "modelcard", "inspect", str(folder), "--format", "json"],
                          capture_output=True, text=True)
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["model"]["parameters"] > 0
    bad = subprocess.run([sys.executable, "-m", "modelcard", "inspect", str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert bad.returncode == EXIT_BAD_INPUT
    assert bad.stderr.count("\n") == 1 and "missing" in bad.stderr


def test_broken_yaml_names_the_punctuation_but_never_the_files_text(tmp_path, run_cli):
    broken = tmp_path / "modelcard.yaml"
    broken.write_text("intended_use: [a, b\nlicense: mit\n", encoding="utf-8")
    result = run_cli("generate", "--suite", "none", "--disclosures", broken, "-o", tmp_path / "card")
    assert result.code == 2
    assert "expected ',' or ']', but got ':' (while parsing a flow sequence)" in result.err
    broken.write_text("contact: *hunter2-secret\n", encoding="utf-8")
    result = run_cli("generate", "--suite", "none", "--disclosures", broken, "-o", tmp_path / "card")
    assert result.code == 2 and "undefined alias …" in result.err and "hunter2" not in result.err
