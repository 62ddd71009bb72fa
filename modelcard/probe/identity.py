"""What a stored probe result was measured on, beyond the weights (modelcard.pipeline.probe_identity): the
tokenizer and chat template the prompts were built with, and for a Hub id the commit its cache resolves to.

A probe's prompts are the model's own format (BOS, chat template), so a changed tokenizer or template changes
what a retrieval probe measures even when the weights are the same; a Hub id names a moving branch, so the same
id at another commit is another model. Everything here reads local files only: never the network."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

# Files beside a model that decide how text becomes ids, and how a chat becomes text.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                   "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "spiece.model",
                   "sentencepiece.bpe.model", "tiktoken.model", "chat_template.jinja", "chat_template.json")
TEMPLATE_FOLDER = "additional_chat_templates"  # transformers' named templates: <folder>/<name>.jinja
COMMIT = re.compile(r"[0-9a-f]{40}")
CHUNK = 1 << 20


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a regular file (a symlink to one, as in the Hub cache, is followed); None when absent or
    not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        digest = hashlib.sha256()
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def tokenizer_digest(folder: Path) -> str | None:
    """One digest of every tokenizer and template file in `folder` (each file's name and SHA-256).

    Args:
        folder: the model's folder (or a Hub snapshot).

    Returns:
        The SHA-256 hex digest, or None when the folder holds none of the files.
    """
    found = {name: sha for name in TOKENIZER_FILES if (sha := file_sha256(folder / name)) is not None}
    found.update(_named_templates(folder))
    if not found:
        return None
    return hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()


def chat_template_digest(folder: Path) -> str | None:
    """The SHA-256 of the chat template(s) in `folder`, wherever transformers keeps them.

    Args:
        folder: the model's folder (or a Hub snapshot).

    Returns:
        The hex digest of every template found (chat_template.jinja, chat_template.json, named templates, the
        `chat_template` key of tokenizer_config.json), or None when the model has no chat template.
    """
    templates: dict[str, Any] = {}
    for name in ("chat_template.jinja", "chat_template.json"):
        if (sha := file_sha256(folder / name)) is not None:
            templates[name] = sha
    templates.update(_named_templates(folder))
    inline = _inline_template(folder / "tokenizer_config.json")
    if inline is not None:
        templates["tokenizer_config.json#chat_template"] = inline
    if not templates:
        return None
    return hashlib.sha256(json.dumps(templates, sort_keys=True).encode()).hexdigest()


def _named_templates(folder: Path) -> dict[str, str]:
    directory = folder / TEMPLATE_FOLDER
    try:
        names = sorted(p.name for p in directory.iterdir() if p.name.endswith(".jinja"))
    except OSError:
        return {}
    return {f"{TEMPLATE_FOLDER}/{name}": sha for name in names if (sha := file_sha256(directory / name)) is not None}


def _inline_template(config: Path) -> Any:
    """tokenizer_config.json's `chat_template` (text, or a list of named templates); None when absent or when
    the file cannot be parsed (its bytes are in the tokenizer digest either way)."""
    try:
        data = json.loads(config.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("chat_template") if isinstance(data, dict) else None


def hub_repo_folder(repo_id: str, cache: Path | None = None) -> Path:
    """The folder huggingface_hub's cache keeps a model repo in: <cache>/models--<org>--<name>.

    Args:
        repo_id: the Hub id, org/name.
        cache: the hub cache folder; huggingface_hub's (HF_HUB_CACHE) when None.

    Returns:
        The path, whether or not it exists.
    """
    if cache is None:
        from huggingface_hub import constants

        cache = Path(constants.HF_HUB_CACHE)
    return cache / f"models--{repo_id.replace('/', '--')}"


def hub_commit(repo_id: str, revision: str | None = None, cache: Path | None = None) -> str | None:
    """The commit a Hub id resolves to in the local cache: refs/<revision> holds it (huggingface_hub's layout),
    or `revision` is itself a commit the cache has a snapshot of.

    Args:
        repo_id: the Hub id, org/name.
        revision: a branch, tag or commit; `main` when None.
        cache: the hub cache folder; huggingface_hub's (HF_HUB_CACHE) when None.

    Returns:
        The 40-character commit hash, or None when the cache does not hold that revision.
    """
    repo = hub_repo_folder(repo_id, cache)
    revision = revision or "main"
    if COMMIT.fullmatch(revision):
        return revision if (repo / "snapshots" / revision).is_dir() else None
    try:
        commit = (repo / "refs" / revision).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return commit if COMMIT.fullmatch(commit) else None


def hub_snapshot(repo_id: str, revision: str | None = None, cache: Path | None = None) -> Path | None:
    """The cached snapshot folder of a Hub id at `revision` (see hub_commit), or None when it is not cached."""
    commit = hub_commit(repo_id, revision, cache)
    if commit is None:
        return None
    folder = hub_repo_folder(repo_id, cache) / "snapshots" / commit
    return folder if folder.is_dir() else None


def prompt_identity(folder: Path | None) -> dict[str, str | None]:
    """The tokenizer and chat-template digests of a model folder, as the probe store's identity keeps them.

    Args:
        folder: the model's folder, a Hub snapshot, or None when there is none (a module factory).

    Returns:
        {"tokenizer_sha256": ..., "chat_template_sha256": ...}, each None when absent.
    """
    if folder is None or not folder.is_dir():
        return {"tokenizer_sha256": None, "chat_template_sha256": None}
    return {"tokenizer_sha256": tokenizer_digest(folder), "chat_template_sha256": chat_template_digest(folder)}


def source_identity(spec: str | None, revision: str | None = None) -> dict[str, Any]:
    """The tokenizer and template digests of the model `spec` names and, for a Hub id, the commit its cache
    resolves `revision` to (digests then read from that snapshot).

    Args:
        spec: the model spec (None: the bundled demo).
        revision: --revision, for a Hub id.

    Returns:
        {"tokenizer_sha256", "chat_template_sha256"}, plus "hub_commit" for a Hub id (None when not cached).
    """
    from modelcard.base.resources import bundled_demo
    from modelcard.load.loader import HUB_ID, MODULE_SPEC

    path = bundled_demo(spec) or Path(str(spec))
    if path.exists():
        return prompt_identity(path if path.is_dir() else path.parent)
    if spec and HUB_ID.match(spec) and not MODULE_SPEC.match(spec):
        return {"hub_commit": hub_commit(spec, revision), **prompt_identity(hub_snapshot(spec, revision))}
    return prompt_identity(None)
