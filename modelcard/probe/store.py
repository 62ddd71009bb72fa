"""Where a probe run keeps its results so that a rerun resumes: one JSON file per finished probe, written
atomically, and a manifest naming what the results belong to (model, its weights, tokenizer and chat template,
the Hub commit, suite, seed, kernel, device, libraries), so that a rerun with other settings never reuses stale
results. Each result and cell also carries its probe's `version` (modelcard.probe.registry): one measured by
another version of the probe's method is measured again, never reused.

The store only ever deletes what it wrote: the manifest lists every result file it writes (before writing it),
and results of another run are removed by that list, never by a pattern, and only plain `<key>.json` names in
the folder itself. A store folder that is a symlink, or a manifest or result entry that is one, is refused
(bad input), so nothing outside the folder is read, replaced or deleted through it. A result file that is
unreadable or not a result (`[]`, a hand-edited record) is treated as absent: the probe runs again.

A probe made of cells (modelcard.probe.cells) keeps each finished cell as `<key>.cell<N>.json` beside its result,
with the cell and the parameters it was measured for: a rerun reads back the cells that match and runs the rest,
whichever rank (or how many ranks) ran them before. Once the probe's own result is saved its cells are removed."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.base.writers import write_text
from modelcard.probe.outcome import STATUSES

MANIFEST = "manifest.json"
FORMAT = "modelcard-probe-store/2"
RESULT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.json")
MAX_FILE_BYTES = 16 * 2 ** 20  # a result is a few KiB; anything this large is not one
# Keys every stored probe record carries (the probe record of the card schema).
RECORD_KEYS = ("id", "title", "status", "metric", "value", "unit", "threshold", "kernel", "device", "seed",
               "duration_s", "params", "details", "reason")


class ResultStore:
    def __init__(self, folder: Path, identity: dict[str, Any]) -> None:
        self.folder = folder
        self.identity = json.loads(json.dumps(identity))  # as it reads back from the manifest
        self._check_folder()
        manifest = self._read_manifest()
        self.files: list[str] = manifest["files"] if manifest else []  # names this store wrote, per its manifest
        self.resumable = bool(manifest and manifest["identity"] == self.identity)

    def _check_folder(self) -> None:
        try:
            info = os.lstat(self.folder)
        except FileNotFoundError:
            return
        except OSError as error:
            raise BadInput(self.folder, f"cannot use this probe results folder: {error.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            raise BadInput(self.folder, "the probe results folder is a symlink; modelcard writes and deletes "
                                        "results only in a real folder (remove the link or choose another -o)")
        if not stat.S_ISDIR(info.st_mode):
            raise BadInput(self.folder, "the probe results folder exists and is not a folder")

    def _entry(self, name: str) -> Path | None:
        """`folder/name` when it is a regular file, None when absent; a symlink or anything else is refused."""
        path = self.folder / name
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise BadInput(path, f"cannot read this probe result entry: {error.strerror}") from None
        if stat.S_ISLNK(info.st_mode):
            raise BadInput(path, "a symlink in the probe results folder; modelcard neither follows nor replaces "
                                 "it (remove it)")
        if not stat.S_ISREG(info.st_mode):
            raise BadInput(path, "not a regular file in the probe results folder (remove it)")
        return path

    def _read_json(self, name: str) -> Any:
        """The parsed file, or None when it is absent, unreadable, too large or not JSON."""
        path = self._entry(name)
        if path is None:
            return None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return None
                data = handle.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                return None
            return json.loads(data.decode("utf-8"))
        except (OSError, ValueError, RecursionError):
            return None

    def _read_manifest(self) -> dict[str, Any] | None:
        """A manifest this store wrote ({format, identity, files}), else None (absent, foreign, an older format
        or damaged: then nothing in the folder is known to be ours, and nothing is deleted)."""
        data = self._read_json(MANIFEST)
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("identity"), dict):
            return None
        files = data.get("files")
        if not isinstance(files, list):
            return None
        return {"identity": data["identity"],
                "files": [name for name in dict.fromkeys(files) if isinstance(name, str) and _is_result_name(name)]}

    def _write_manifest(self) -> None:
        write_text(self.folder / MANIFEST, json.dumps({"format": FORMAT, "identity": self.identity,
                                                       "files": self.files}, indent=2, sort_keys=True) + "\n")

    def start(self) -> None:
        """Claim the folder for this identity; results of another run (the files its manifest lists) are
        removed, never reused. Files the store did not write stay."""
        if not self.resumable:
            stale = [self._entry(name) for name in self.files]  # every entry checked before any removal
            for path in stale:
                if path is not None:
                    path.unlink(missing_ok=True)
            self.files = []
        self._entry(MANIFEST)  # a symlinked manifest is refused, never replaced
        self._write_manifest()
        self.resumable = True

    def load(self, key: str, params: dict[str, Any], version: int = 1) -> dict[str, Any] | None:
        """The stored result of `key`, or None to run it again.

        Args:
            key: the probe's key in the suite (its id, or `id.N` for its N-th entry).
            params: the parameters it runs with now.
            version: the probe's version now (ProbeSpec.version).

        Returns:
            The stored result when this store wrote it for these parameters and this version; None otherwise (a
            result without a version predates versions and is never reused).
        """
        name = f"{key}.json"
        if not self.resumable or name not in self.files:
            return None
        stored = self._read_json(name)
        if not _is_result(stored):
            return None
        record = stored["record"]
        return stored if record["params"] == params and _same_version(record.get("version"), version) else None

    def save(self, key: str, result: dict[str, Any]) -> None:
        name = f"{key}.json"
        if not _is_result_name(name):
            raise ValueError(f"probe key {key!r} cannot name a result file")
        self._entry(name)  # a symlink there is refused, never replaced
        if name not in self.files:  # listed before it exists: a run killed in between leaves nothing unlisted
            self.files.append(name)
            self._write_manifest()
        write_text(self.folder / name, json.dumps(result, indent=2, sort_keys=True) + "\n")


    def load_cell(self, key: str, index: int, cell: dict[str, Any], params: dict[str, Any],
                  version: int = 1) -> dict[str, Any] | None:
        """A finished cell of `key` when this store wrote it for this cell, these parameters and this version of the
        probe; None to run it."""
        name = cell_name(key, index)
        if not self.resumable or name not in self.files:
            return None
        stored = self._read_json(name)
        if not _is_cell(stored):
            return None
        same = stored["cell"] == cell and stored["params"] == params and _same_version(stored.get("version"), version)
        return stored if same else None

    def save_cell(self, key: str, index: int, outcome: dict[str, Any]) -> None:
        self.save(cell_name(key, index).removesuffix(".json"), outcome)

    def discard_cells(self, key: str, count: int) -> None:
        """Remove the cells of `key` this store wrote (its result, saved, makes them redundant)."""
        names = [name for name in (cell_name(key, index) for index in range(count)) if name in self.files]
        if not names:
            return
        paths = [self._entry(name) for name in names]  # every entry checked before any removal
        self.files = [name for name in self.files if name not in names]
        self._write_manifest()
        for path in paths:
            if path is not None:
                path.unlink(missing_ok=True)


def _same_version(stored: Any, current: int) -> bool:
    return isinstance(stored, int) and not isinstance(stored, bool) and stored == current


def cell_name(key: str, index: int) -> str:
    return f"{key}.cell{index}.json"


def _is_cell(stored: Any) -> bool:
    return (isinstance(stored, dict) and stored.get("status") == "ok" and isinstance(stored.get("cell"), dict)
            and isinstance(stored.get("params"), dict) and isinstance(stored.get("partial"), dict)
            and isinstance(stored.get("devices"), list) and isinstance(stored.get("duration_s"), (int, float)))


def _is_result_name(name: str) -> bool:
    return name != MANIFEST and RESULT_NAME.fullmatch(name) is not None


def _is_result(stored: Any) -> bool:
    if not isinstance(stored, dict):
        return False
    record = stored.get("record")
    return (isinstance(record, dict) and all(key in record for key in RECORD_KEYS)
            and record["status"] in STATUSES and isinstance(record["params"], dict)
            and isinstance(record["details"], dict) and isinstance(stored.get("findings"), list)
            and all(isinstance(item, dict) for item in stored["findings"])
            and isinstance(stored.get("measured"), dict) and isinstance(stored.get("derived"), dict))
