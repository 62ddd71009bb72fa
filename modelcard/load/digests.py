"""Digests of a model's files, read from local files only: every file's SHA-256, one digest of a folder's tokenizer
and template files, and one of its chat template(s) wherever transformers keeps them. The probe store's identity
(modelcard.probe.identity) and the record's `model.files` (modelcard.inspect.model_info) both use them."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

# Files beside a model that decide how text becomes ids, and how a chat becomes text.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                   "added_tokens.json", "vocab.json", "vocab.txt", "merges.txt", "spiece.model",
                   "sentencepiece.bpe.model", "tiktoken.model", "chat_template.jinja", "chat_template.json")
TEMPLATE_FOLDER = "additional_chat_templates"  # transformers' named templates: <folder>/<name>.jinja
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
