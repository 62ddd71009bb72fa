"""Find the data folders (schemas, templates, probes, demo) in an installed wheel or a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # modelcard/


def data_dir(name: str) -> Path:
    """The folder `name` ("schemas", "templates", "probes"): inside the package when installed from a
    wheel, at the repository root in a source checkout or an editable install."""
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"modelcard's data folder {name!r} is missing from the installation")


def demo_model_dir() -> Path:
    return _PACKAGE_DIR / "demo"
