"""Pages that describe a command or option another part of the project is still building say so, decided at build
time from the click commands themselves (what `modelcard --help` lists), never guessed.

A page marks the feature it needs with an HTML comment, for example

    <!-- requires: modelcard check -->
    <!-- requires: modelcard generate --device-map -->

and the marker becomes a warning box when this build's CLI lacks it, or disappears when it has it."""

from __future__ import annotations

import re
from typing import Any

MARKER = re.compile(r"^<!-- requires: modelcard ([a-z-]+)((?: --?[a-z0-9-]+)*) -->$", re.MULTILINE)


def cli_features(group: Any) -> dict[str, set[str]]:
    """command name -> every option spelling it takes (`--suite`, `-o`, ...)."""
    features = {}
    for name, command in group.commands.items():
        spellings: set[str] = set()
        for param in command.params:
            spellings.update(getattr(param, "opts", []))
            spellings.update(getattr(param, "secondary_opts", []))
        features[name] = spellings
    return features


def missing(features: dict[str, set[str]], command: str, options: list[str]) -> list[str]:
    if command not in features:
        return [f"modelcard {command}"]
    return [f"modelcard {command} {option}" for option in options if option not in features[command]]


def resolve_markers(markdown: str, features: dict[str, set[str]], version: str) -> str:
    def replace(match: re.Match[str]) -> str:
        absent = missing(features, match.group(1), match.group(2).split())
        if not absent:
            return ""
        names = " and ".join(f"`{name}`" for name in absent)
        return (f'!!! warning "Not available in this build"\n'
                f"    {names} {'is' if len(absent) == 1 else 'are'} not part of modelcard {version} as this site "
                f"was built (`modelcard --help` lists: {', '.join(sorted(features))}). This page describes it as the "
                "project's contract (`SPEC.md`) specifies it; until it lands, the steps that use it will not "
                "run.\n")

    return MARKER.sub(replace, markdown)
