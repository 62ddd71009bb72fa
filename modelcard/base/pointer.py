"""RFC 6901 JSON pointers: reading a value at one, and writing one."""

from __future__ import annotations

from typing import Any

MISSING = object()  # what `resolve` returns where the pointer leads nowhere (distinct from a null value)


def parts(pointer: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]


def join(*names: object) -> str:
    return "".join("/" + str(name).replace("~", "~0").replace("/", "~1") for name in names)


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer`, or MISSING where some step does not exist."""
    node = document
    for part in parts(pointer):
        if isinstance(node, dict):
            if part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return MISSING
            node = node[int(part)]
        else:
            return MISSING
    return node
