"""Probes register on import as parameterised factories (STYLE.md 3-4): one id, one title, one function whose
keyword arguments are its parameters. A result names the id and the parameters that produced it. A probe whose
work has natural parts (a retrieval probe's lengths, window-reach's blocks) registers them as cells
(modelcard.probe.cells): the unit the runner resumes and splits across torch.distributed ranks."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelcard.base.errors import BadInput
from modelcard.probe.cells import Cells


@dataclass(frozen=True)
class ProbeSpec:
    id: str
    title: str
    run: Callable[..., Any]  # run(ctx: ProbeContext, **params) -> Outcome
    defaults: dict[str, Any]
    cells: Cells | None = None  # the probe's parts; None: it runs whole, as one cell
    version: int = 1  # bumped when the probe's method changes: a result of another version is never reused

    def params(self, given: dict[str, Any], where: object) -> dict[str, Any]:
        """The full parameter set: defaults overlaid with `given`, refusing names the probe does not take."""
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise BadInput(where, f"probe {self.id} has no parameter {unknown[0]!r}"
                                  f"{_did_you_mean(unknown[0], self.defaults)}; available: "
                                  f"{', '.join(sorted(self.defaults)) or 'none'}")
        hints = _hints(self.run)
        for name, value in given.items():
            hint = hints.get(name)
            if hint is not None and not fits(value, hint):
                raise BadInput(where, f"probe {self.id}: parameter {name} must be {_described(hint)} "
                                      f"(found {type(value).__name__} {value!r:.40})")
        return {**self.defaults, **given}


PROBES: dict[str, ProbeSpec] = {}


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' type hints, resolved; empty where they cannot be (a plugin's forward references)."""
    import typing

    try:
        return typing.get_type_hints(function)
    except Exception:  # a hint naming something its module does not import: the parameters go unchecked
        return {}


def fits(value: Any, hint: Any) -> bool:
    """Whether a suite's value fits a parameter's hint (int, float, bool, str, lists and tuples of them, unions,
    None); a YAML list stands for a tuple, an int for a float.

    Args:
        value: the value the suite gives.
        hint: the parameter's resolved type hint.

    Returns:
        False only where the value cannot be what the probe expects.
    """
    import types
    import typing

    if hint is Any or hint is object:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return not args or all(fits(item, args[0]) for item in value)
    return True


def _described(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def probe(probe_id: str, title: str, cells: Cells | None = None, *,
          version: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `function(ctx, **params)` as probe `probe_id`; its keyword defaults are the parameters.

    Args:
        probe_id: the id suites and records name it by.
        title: one line for the card.
        cells: how its work splits into parts that run (and resume) one by one; `function` then runs them all.
        version: the method's version, recorded with every result; bump it when what the probe measures or how
            it judges changes, so that stored results of the old method are measured again, never reused.

    Returns:
        The decorator, which registers the function and returns it unchanged.
    """
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"probe {probe_id!r}: version must be a positive integer, not {version!r}")

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        if probe_id in PROBES:
            raise ValueError(f"probe {probe_id!r} is registered twice")
        signature = inspect.signature(function)
        defaults = {name: p.default for name, p in list(signature.parameters.items())[1:]
                    if p.default is not inspect.Parameter.empty}
        PROBES[probe_id] = ProbeSpec(probe_id, title, function, defaults, cells, version)
        return function

    return register


def _did_you_mean(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def registered(installed: bool = True) -> dict[str, ProbeSpec]:
    """Every probe registered so far.

    Args:
        installed: also import the probes installed packages declare (the `modelcard.probes` entry points).

    Returns:
        Probe id -> its spec: the built-in probes (importing the probes package registers them), the installed
        ones, and any a `--probe-module` imported.
    """
    import modelcard.probe.probes  # noqa: F401

    if installed:
        from modelcard.probe.plugins import load_entry_points

        load_entry_points()
    return PROBES


def get_probe(probe_id: str, where: object = "suite") -> ProbeSpec:
    """The probe a suite names.

    Args:
        probe_id: its id.
        where: what named it, for the error (the suite's file).

    Returns:
        Its spec. Installed probes are looked for only when the id is not already registered, so a broken
        installed package does not stop a suite that does not use it.

    Raises:
        BadInput: no probe has that id.
    """
    probes = registered(installed=False)
    if probe_id not in probes:
        probes = registered()
    if probe_id not in probes:
        raise BadInput(where, f"unknown probe {probe_id!r}{_did_you_mean(probe_id, probes)} "
                              f"available: {', '.join(sorted(probes))}")
    return probes[probe_id]
