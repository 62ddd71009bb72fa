"""mkdocs hook: the generated parts of the site (see `sitegen`). mkdocs.yml names this file under `hooks:`.

- on_config: list the gallery's cards in the nav and start the slow card (the demo's standard suite) in a child
  process, so it runs while everything else is built;
- on_files: the generated pages (command line, record schema, probe catalogue, built-in policies, benchmarks,
  the gallery and its cards' files), added as in-memory files: nothing is written into `site/`;
- on_page_markdown: the home page's excerpt of the demo card, and the "not available in this build" boxes of
  pages about commands or options this build's CLI lacks;
- on_post_build: the internal link check of the built HTML (a broken link is a warning, so `--strict` fails)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from sitegen import (
    action_reference,
    availability,
    benchmarks,
    cards,
    cli_reference,
    export_examples,
    gallery,
    link_check,
    policy_reference,
    probe_reference,
    schema_reference,
)

log = logging.getLogger("mkdocs.hooks.modelcard_site")

DEMO_SUMMARY = "<!-- sitegen:demo-summary -->"
POLICY_EXAMPLE = "<!-- sitegen:policy-example -->"
ACTION_INPUTS = "<!-- sitegen:action-inputs -->"
PRE_COMMIT_HOOKS = "<!-- sitegen:pre-commit-hooks -->"
EXPORT_EXAMPLES = "<!-- sitegen:export-examples -->"
POLICY_FORMAT_INTRO = (
    "A policy is a YAML file checked against this schema (`modelcard check --policy PATH` reads it). Each field is "
    "named by its JSON pointer into the policy; `*` stands for any rule. A rule has exactly one of `pointer`, "
    "`probe` or `findings`. See [Custom policies](../how-to/custom-policies.md) for a walk-through and the "
    "[built-in policies](policies.md) for examples.\n\n")
DEMO_DISCLOSURES = "how-to/demo-modelcard.yaml"
GALLERY_INDEX = "gallery/index.md"
RECORDED_CARDS = "recorded-cards"  # records of real models' probe runs (sitegen.cards.recorded_sources)
LEFT_OUT = ("README.md",)  # a README.md in the docs folder would be taken for a second index page
_state: dict[str, Any] = {}


def repo_of(config: Any) -> Path:
    return Path(config.config_file_path).resolve().parent


def card_sources(config: Any) -> list[cards.CardSource]:
    repo = repo_of(config)
    demo = cards.demo_source(Path(config.docs_dir) / DEMO_DISCLOSURES)
    recorded = cards.recorded_sources(Path(config.docs_dir) / RECORDED_CARDS)
    return [demo, *recorded, *cards.real_config_sources(repo / "tests" / "fixtures" / "real-configs")]


def with_gallery(nav: list[Any], sources: list[cards.CardSource]) -> list[Any]:
    """The nav entry `Gallery: gallery/index.md` becomes a section: the index, then one page per card."""
    pages = [GALLERY_INDEX, *({source.title: f"gallery/{source.slug}/index.md"} for source in sources)]
    expanded = []
    for item in nav:
        if isinstance(item, dict) and list(item.values()) == [GALLERY_INDEX]:
            item = {next(iter(item)): pages}
        expanded.append(item)
    return expanded


def on_config(config: Any) -> Any:
    sources = card_sources(config)
    if config.nav:
        config.nav = with_gallery(config.nav, sources)
    previous = _state.get("build")
    if previous is not None:
        cards.stop(previous)
    _state["build"] = cards.start(sources, cards.cache_folder(repo_of(config)))
    for slug in _state["build"].running:
        log.info(f"gallery: {slug}: running its suite in the background")
    _state["began"] = time.monotonic()
    return config


def add_page(files: Files, config: Any, path: str, content: str | bytes) -> None:
    existing = files.get_file_from_path(path)
    if existing is not None:
        files.remove(existing)
    files.append(File.generated(config, path, content=content))


def on_files(files: Files, config: Any) -> Files:
    from modelcard.cli import cli

    repo = repo_of(config)
    add_page(files, config, "reference/cli.md", cli_reference.cli_reference_markdown(cli))
    add_page(files, config, "reference/schema.md",
             schema_reference.schema_reference_markdown(repo / "schemas" / "card.schema.json"))
    add_page(files, config, "reference/probes.md", probe_reference.probe_reference_markdown(repo / "probes"))
    add_page(files, config, "reference/policies.md",
             policy_reference.policy_reference_markdown(repo / "policies", repo))
    policy_schema = repo / "schemas" / "policy.schema.json"
    add_page(files, config, "reference/policy-format.md",
             schema_reference.schema_reference_markdown(policy_schema, "Policy format", POLICY_FORMAT_INTRO)
             if policy_schema.is_file() else
             "# Policy format\n\n!!! warning \"Not in this build\"\n    `schemas/policy.schema.json` was absent when "
             "this site was built.\n")
    add_page(files, config, "benchmarks.md", benchmarks.benchmarks_markdown(repo))
    try:
        made = cards.finish(_state["build"], on_card=lambda card: log.info(
            f"gallery: {card.source.slug}: " + ("cached" if card.cached else f"made in {card.seconds:.1f} s")))
    except cards.CardFailed as error:
        cards.stop(_state["build"])
        raise PluginError(f"gallery: {error}") from error
    except BaseException:
        cards.stop(_state["build"])
        raise
    for card in made:
        add_page(files, config, f"gallery/{card.source.slug}/index.md", gallery.card_page(card, repo))
        for name, content in card.files.items():
            if name not in LEFT_OUT:
                add_page(files, config, f"gallery/{card.source.slug}/{name}", content)
    add_page(files, config, GALLERY_INDEX, gallery.index_page(made))
    _state["demo"] = next(card for card in made if card.source.slug == "demo")
    fresh = [card for card in made if not card.cached]
    log.info(f"gallery: {len(made)} cards ({len(fresh)} generated, {len(made) - len(fresh)} cached) "
             f"{time.monotonic() - _state['began']:.1f} s after the build began")
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    from modelcard import __version__
    from modelcard.cli import cli

    if DEMO_SUMMARY in markdown:
        markdown = markdown.replace(DEMO_SUMMARY, gallery.demo_summary(_state["demo"]))
    repo = repo_of(config)
    if POLICY_EXAMPLE in markdown:
        markdown = markdown.replace(POLICY_EXAMPLE, policy_reference.policy_example_markdown(repo / "policies", repo))
    if ACTION_INPUTS in markdown:
        markdown = markdown.replace(ACTION_INPUTS, action_reference.action_inputs_markdown(repo / "action.yml"))
    if PRE_COMMIT_HOOKS in markdown:
        markdown = markdown.replace(PRE_COMMIT_HOOKS,
                                    action_reference.pre_commit_hooks_markdown(repo / ".pre-commit-hooks.yaml"))
    if EXPORT_EXAMPLES in markdown:
        markdown = markdown.replace(EXPORT_EXAMPLES, export_examples.export_examples_markdown(
            repo / "tests" / "golden" / "standard" / "card.json"))
    return availability.resolve_markers(markdown, availability.cli_features(cli), __version__)


def on_post_build(config: Any) -> None:
    broken = link_check.broken_links(Path(config.site_dir))
    for link in broken:
        log.warning(f"broken internal link: {link}")
    log.info(f"link check: {'no broken internal links' if not broken else f'{len(broken)} broken'}")


def on_build_error(error: Exception) -> None:
    if _state.get("build") is not None:
        cards.stop(_state["build"])


def on_shutdown() -> None:
    on_build_error(Exception("shutdown"))
