"""Write outputs so that nothing is ever left half-written: a temporary file in the same folder, then rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(folder: Path, files: Mapping[str, str]) -> list[Path]:
    """Write every file only after all of them were produced in memory; each lands by an atomic rename."""
    written = []
    for name, text in files.items():
        target = folder / name
        write_text(target, text)
        written.append(target)
    return written
