"""Where a probe run keeps its results so that a rerun resumes: one JSON file per finished probe, written
atomically, and a manifest naming what the results belong to (model, suite, seed, kernel, device), so that a
rerun with other settings never reuses stale results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelcard.atomic import write_text

MANIFEST = "manifest.json"


class ResultStore:
    def __init__(self, folder: Path, identity: dict[str, Any]) -> None:
        self.folder = folder
        self.identity = identity
        self.resumable = self._matches()

    def _matches(self) -> bool:
        try:
            return json.loads((self.folder / MANIFEST).read_text(encoding="utf-8")) == self.identity
        except (OSError, ValueError):
            return False

    def start(self) -> None:
        """Claim the folder for this identity; results of another run are removed, never reused."""
        if not self.resumable:
            for stale in self.folder.glob("*.json"):
                stale.unlink()
        write_text(self.folder / MANIFEST, json.dumps(self.identity, indent=2, sort_keys=True) + "\n")
        self.resumable = True

    def load(self, key: str, params: dict[str, Any]) -> dict[str, Any] | None:
        if not self.resumable:
            return None
        try:
            stored = json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return stored if stored.get("record", {}).get("params") == params else None

    def save(self, key: str, result: dict[str, Any]) -> None:
        write_text(self.folder / f"{key}.json", json.dumps(result, indent=2, sort_keys=True) + "\n")
