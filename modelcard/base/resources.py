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


# The bundled demo models: the name a user types for each, its folder in the package, and the model id its card
# gives. "demo" is also what no MODEL means.
BUNDLED_DEMOS = {"demo": ("demo", "modelcard/demo-llama"),
                 "demo-hybrid": ("demo_hybrid", "modelcard/demo-hybrid-qwen2")}


def demo_model_dir(name: str = "demo") -> Path:
    """The folder of the bundled demo `name` (see BUNDLED_DEMOS)."""
    return _PACKAGE_DIR / BUNDLED_DEMOS[name][0]


def bundled_demo(spec: str | None) -> Path | None:
    """The folder of the bundled demo that `spec` names: no spec, "demo" or "demo-hybrid"; None for any other
    spec, and for a demo's name when a file or folder of that name exists here (the user's own comes first).

    Args:
        spec: the MODEL argument as given.

    Returns:
        The demo's folder, or None.
    """
    if spec is None:
        return demo_model_dir()
    if spec in BUNDLED_DEMOS and not Path(spec).exists():
        return demo_model_dir(spec)
    return None


def demo_model_id(folder: Path) -> str:
    """The model id a bundled demo's card gives, from its folder."""
    for folder_name, model_id in BUNDLED_DEMOS.values():
        if folder.name == folder_name:
            return model_id
    return "modelcard/demo"
