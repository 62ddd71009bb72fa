"""Probes from outside modelcard: installed packages register theirs through the `modelcard.probes` entry-point
group, and `--probe-module` imports a local module for one run. Either way a probe is a function decorated with
`modelcard.probe.probe`, registered when its module is imported."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from modelcard.base.errors import BadInput

ENTRY_POINT_GROUP = "modelcard.probes"
_loaded: set[str] = set()


def load_entry_points() -> list[str]:
    """Import every module the `modelcard.probes` entry points name (once per process).

    An installed package declares its probes in its own metadata, for example in its pyproject.toml:

        [project.entry-points."modelcard.probes"]
        my-probes = "my_package.probes"

    Returns:
        The entry points' names, in the order they were imported.

    Raises:
        BadInput: an entry point whose module cannot be imported, named with its package's error.
    """
    names = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name):
        names.append(point.name)
        if point.value in _loaded:
            continue
        try:
            point.load()
        except Exception as error:
            raise BadInput(f"entry point {point.name} = {point.value}",
                           f"the installed probe module cannot be imported: {type(error).__name__}: {error}") from None
        _loaded.add(point.value)
    return names


def import_probe_modules(modules: Sequence[str]) -> list[Path]:
    """Import the local modules `--probe-module` names, so that their probes register for this run.

    Args:
        modules: each a path to a Python file (`probes/my_probe.py`) or an importable module name
            (`my_package.probes`).

    Returns:
        The files imported, resolved: the modules a suite YAML may then name in `probe_modules`.

    Raises:
        BadInput: a file that does not exist or a module that cannot be imported.
    """
    files = []
    for module in modules:
        path = Path(module)
        if path.suffix == ".py" or path.exists():
            files.append(_import_file(path))
        elif module not in _loaded:
            try:
                importlib.import_module(module)
            except Exception as error:
                raise BadInput("--probe-module",
                               f"{module}: cannot be imported: {type(error).__name__}: {error}") from None
            _loaded.add(module)
    return files


def _import_file(path: Path) -> Path:
    if not path.is_file():
        raise BadInput(path, "no such probe module (--probe-module takes a Python file or a module name)")
    resolved = path.resolve()
    if str(resolved) in _loaded:
        return resolved
    name = f"modelcard_probe_module_{len(_loaded)}_{resolved.stem}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise BadInput(path, "is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise BadInput(path, f"cannot be imported: {type(error).__name__}: {error}") from None
    _loaded.add(str(resolved))
    return resolved
