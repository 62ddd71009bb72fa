"""What a stored probe result was measured on, beyond the weights (modelcard.pipeline.probe_identity): the
tokenizer and chat template the prompts were built with, and for a Hub id the commit its cache resolves to.

A probe's prompts are the model's own format (BOS, chat template), so a changed tokenizer or template changes
what a retrieval probe measures even when the weights are the same; a Hub id names a moving branch, so the same
id at another commit is another model. Everything here reads local files only: never the network."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from modelcard.load.digests import (  # noqa: F401 (TOKENIZER_FILES and file_sha256: read from here by tests)
    TOKENIZER_FILES,
    chat_template_digest,
    file_sha256,
    tokenizer_digest,
)

COMMIT = re.compile(r"[0-9a-f]{40}")


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
