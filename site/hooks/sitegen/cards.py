"""The gallery's cards, generated at build time by modelcard itself and cached between builds.

Config-only cards (the released configs in `tests/fixtures/real-configs`, inspection only: `--suite none`) are
generated in this process through `modelcard.pipeline.generate`, a fraction of a second each. The demo model's
card runs the standard suite, minutes on a CPU, so it runs as `python -m modelcard generate` in a child process
that works while the config cards are made. A card is cached under `build/docs-cache/cards/<name>/<key>/`; the
key hashes everything that can change it (modelcard's code and data, the libraries' versions, the config, the
suite, the disclosures), so a rebuild reuses it only when it would come out the same. The cache lives in
`$MODELCARD_DOCS_CACHE` when set (CI points it outside the clone, so that clean clones share it), else in the
clone's `build/docs-cache/cards`.

A recorded card (`site/recorded-cards/<slug>/card.json` with its `SOURCE.md`) is the record of a probe run too long
for a docs build (a real pretrained model's full CPU suite): the build renders it again with this modelcard, as
`modelcard render` does, so its pages follow the current templates while its measurements stay those of the run
its SOURCE.md describes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LIBRARIES = ("torch", "transformers", "jinja2", "jsonschema", "safetensors", "matplotlib", "huggingface_hub")
SOURCE_ROW = re.compile(r"^\| (?P<folder>[^|]+?) \| (?P<model>[^|]+?) \| (?P<copied>[^|]+?) \| (?P<how>[^|]+?) \|$")
COMPLETE = "complete.json"


@dataclass(frozen=True)
class CardSource:
    slug: str  # the card's folder in the gallery
    title: str  # Hub id, or the demo's name
    spec: str | None  # what `modelcard generate` is given (None: the bundled demo)
    suite: str
    provenance: str  # Markdown: where the model (its config) came from
    config: Path | None = None
    disclosures: Path | None = None
    record: Path | None = None  # a recorded card: the card.json of an earlier run, rendered again
    command: str | None = None  # the command that made a recorded card, as its SOURCE.md gives it


@dataclass
class Card:
    source: CardSource
    record: dict[str, Any]
    files: dict[str, bytes]  # every file `generate` wrote: card.json, README.md, card.html, and any beside them
    seconds: float  # to generate it (on a cache hit: when it was made)
    cached: bool


class CardFailed(Exception):
    """A gallery card could not be generated: modelcard failed on a config it should document."""


@dataclass
class CardBuild:
    """The demo card's child process, started early so it runs while the rest of the site is built."""

    sources: list[CardSource]
    cache: Path
    running: dict[str, tuple[subprocess.Popen, Path, float]] = field(default_factory=dict)


def real_config_sources(fixtures: Path) -> list[CardSource]:
    """Every released config in the fixtures folder, with its line from SOURCES.md."""
    lines = {}
    for line in (fixtures / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        match = SOURCE_ROW.match(line)
        if match and (fixtures / match["folder"] / "config.json").is_file():
            lines[match["folder"]] = match
    missing = sorted(p.name for p in fixtures.iterdir() if (p / "config.json").is_file() and p.name not in lines)
    if missing:
        raise ValueError(f"{fixtures / 'SOURCES.md'} has no source line for {', '.join(missing)}")
    return [CardSource(slug=folder, title=row["model"], spec=str(fixtures / folder), suite="none",
                       provenance=(f"`{row['model']}`'s released `config.json`, copied from {row['copied']} "
                                   f"({row['how']}); kept in the repository as "
                                   f"`tests/fixtures/real-configs/{folder}/config.json`."),
                       config=fixtures / folder / "config.json")
            for folder, row in sorted(lines.items())]


def demo_source(disclosures: Path) -> CardSource:
    return CardSource(slug="demo", title="modelcard demo (trained 4-layer Llama)", spec=None, suite="standard",
                      provenance=("The demo model bundled in the package (`modelcard/demo`): a 739K-parameter Llama "
                                  "trained on this project's CPU on synthetic copying and recall tasks "
                                  "(`scripts/train_demo_model.py`), probed with its own weights by the `standard` "
                                  "suite. Its disclosures are "
                                  f"[`{disclosures.name}`](../../how-to/{disclosures.name}), "
                                  "the example of [Writing modelcard.yaml](../../how-to/disclosures.md)."),
                      disclosures=disclosures)


def recorded_sources(folder: Path) -> list[CardSource]:
    """Every recorded card: `<slug>/card.json` with a `SOURCE.md` whose first line is `# <title>`, whose first
    fenced block is the command that made it and whose other paragraphs say where the model came from."""
    sources = []
    for record in sorted(folder.glob("*/card.json")) if folder.is_dir() else []:
        text = (record.parent / "SOURCE.md").read_text(encoding="utf-8")
        title, _, rest = text.partition("\n")
        command = re.search(r"```(?:bash)?\n(.+?)\n```", rest, re.DOTALL)
        if not title.startswith("# ") or command is None:
            raise ValueError(f"{record.parent / 'SOURCE.md'}: needs a '# title' line and a fenced command")
        provenance = re.sub(r"```.*?```", "", rest, flags=re.DOTALL).strip()
        suite = json.loads(record.read_text(encoding="utf-8")).get("probe_suite", {}).get("name") or "none"
        sources.append(CardSource(slug=record.parent.name, title=title[2:].strip(), spec=None, suite=suite,
                                  provenance=provenance, record=record, command=command[1].strip()))
    return sources


def fingerprint(paths: list[Path]) -> str:
    """sha256 over every file under `paths` (names and bytes), bytecode caches left out."""
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if root.is_dir() else [root]
        for path in files:
            digest.update(path.relative_to(root.parent).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def code_fingerprint() -> str:
    """What every card depends on: modelcard's code and data folders, and the libraries' versions."""
    from importlib.metadata import PackageNotFoundError, version

    import modelcard
    from modelcard.base.resources import data_dir

    folders = [Path(modelcard.__file__).resolve().parent, *(data_dir(name) for name in ("templates", "schemas",
                                                                                         "probes"))]
    versions = []
    for name in LIBRARIES:
        try:
            versions.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            versions.append(f"{name}=absent")
    return hashlib.sha256((fingerprint(folders) + ";".join(versions)).encode()).hexdigest()


def cache_key(source: CardSource, code: str) -> str:
    digest = hashlib.sha256(f"{code}|{source.spec}|{source.suite}".encode())
    for path in (source.config, source.disclosures, source.record):
        if path is not None:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def read_card(source: CardSource, folder: Path) -> Card:
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
             if p.is_file() and p.name != COMPLETE and not p.name.startswith(".")}
    done = json.loads((folder / COMPLETE).read_text(encoding="utf-8"))
    return Card(source=source, record=json.loads(files["card.json"]), files=files, seconds=done["seconds"],
                cached=True)


def cache_folder(repo: Path) -> Path:
    """Where the gallery's cards are cached: `$MODELCARD_DOCS_CACHE`, else the clone's build/docs-cache/cards.

    Args:
        repo: the repository's root.

    Returns:
        The cache folder (created when first written).
    """
    shared = os.environ.get("MODELCARD_DOCS_CACHE")
    return Path(shared).expanduser() / "cards" if shared else repo / "build" / "docs-cache" / "cards"


def store(folder: Path, made: Path, seconds: float) -> None:
    """Move a finished output folder into the cache in one rename, with the marker that says it is whole."""
    (made / COMPLETE).write_text(json.dumps({"seconds": round(seconds, 2)}), encoding="utf-8")
    for stale in folder.parent.glob("*") if folder.parent.is_dir() else []:
        if stale.name != folder.name and not stale.name.startswith("."):  # dot folders: builds in progress
            shutil.rmtree(stale, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(made, folder)


def start(sources: list[CardSource], cache: Path) -> CardBuild:
    """Start the child process of every slow card (a suite other than `none`) missing from the cache."""
    build = CardBuild(sources=sources, cache=cache)
    code = code_fingerprint()
    for source in sources:
        folder = cache / source.slug / cache_key(source, code)
        if source.suite == "none" or source.record is not None or (folder / COMPLETE).is_file():
            continue
        cache.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{source.slug}-", dir=cache))
        command = [sys.executable, "-m", "modelcard", "generate", *([source.spec] if source.spec else []),
                   "--suite", source.suite, "-o", str(work / "card")]
        if source.disclosures:
            command += ["--disclosures", str(source.disclosures)]
        with (work / "log").open("wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work)
        build.running[source.slug] = (process, work, time.monotonic())
    return build


def stop(build: CardBuild) -> None:
    """End the child processes of a build that will not finish (an error elsewhere, `mkdocs serve` stopping)."""
    for process, work, _ in build.running.values():
        process.terminate()
        process.wait()
        shutil.rmtree(work, ignore_errors=True)
    build.running.clear()


def finish(build: CardBuild, on_card: Callable[[Card], None] | None = None) -> list[Card]:
    """Every card: from the cache, made here (config-only), or waited for (the child processes).

    Args:
        build: what `start` began.
        on_card: called with each card as it is ready, for the build's progress lines.

    Returns:
        The cards, in the sources' order.
    """
    report = on_card or (lambda card: None)
    code = code_fingerprint()
    cards: dict[str, Card] = {}
    for source in build.sources:
        folder = build.cache / source.slug / cache_key(source, code)
        if (folder / COMPLETE).is_file():
            cards[source.slug] = read_card(source, folder)
            report(cards[source.slug])
        elif source.slug not in build.running:
            cards[source.slug] = generate_here(source, folder)
            report(cards[source.slug])
    for slug, (process, work, began) in build.running.items():
        source = next(s for s in build.sources if s.slug == slug)
        # exit 1: the card was written and a probe failed or a finding is an error, which a card may show
        if process.wait() not in (0, 1) or not (work / "card" / "card.json").is_file():
            log = (work / "log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise CardFailed(f"the {slug} card failed (exit {process.returncode}); the end of its output:\n{log}")
        folder = build.cache / slug / cache_key(source, code)
        store(folder, work / "card", time.monotonic() - began)
        shutil.rmtree(work, ignore_errors=True)
        cards[slug] = read_card(source, folder)
        cards[slug].cached = False
        report(cards[slug])
    build.running.clear()
    return [cards[source.slug] for source in build.sources]


def generate_here(source: CardSource, folder: Path) -> Card:
    from modelcard.pipeline import GenerateRequest, ProbeRequest, generate
    from modelcard.probe.suite import resolve_suite

    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{source.slug}-", dir=folder.parent))
    began = time.monotonic()
    quiet_transformers()
    try:
        if source.record is not None:
            render_recorded(source.record, work / "card")
        else:
            probing = ProbeRequest(spec=source.spec, suite=resolve_suite(source.suite))
            generate(GenerateRequest(probing=probing, output=work / "card", disclosures=source.disclosures))
    except Exception as error:  # modelcard's own failure on a real config: the build must say which and why
        shutil.rmtree(work, ignore_errors=True)
        raise CardFailed(f"the {source.slug} card failed: {type(error).__name__}: {error}") from error
    store(folder, work / "card", time.monotonic() - began)
    shutil.rmtree(work, ignore_errors=True)
    card = read_card(source, folder)
    card.cached = False
    return card


def render_recorded(record: Path, output: Path) -> None:
    """A recorded card's files, rendered again from its record as `modelcard render` writes them."""
    from modelcard.base.writers import write_files
    from modelcard.card.render import render_all
    from modelcard.record.document import read_record
    from modelcard.record.validate import validate_record

    data = read_record(record)
    errors = validate_record(data)
    if errors:
        raise ValueError(f"{record} breaks the record schema at {errors[0]}")
    output.mkdir(parents=True, exist_ok=True)
    write_files(output, render_all(data))


def quiet_transformers() -> None:
    """transformers' advice about released configs (rope fields) is not news to the site's reader."""
    from transformers.utils import logging

    logging.set_verbosity_error()
