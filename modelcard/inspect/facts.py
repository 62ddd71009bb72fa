"""What an inspector contributes: values at JSON pointers, and for each null the reason it is null."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# STYLE.md 9: a null says which kind of gap it is.
NOT_APPLICABLE = "not-applicable"
UNKNOWN = "unknown"
NOT_MEASURED = "not-measured"


@dataclass
class Facts:
    values: dict[str, Any] = field(default_factory=dict)  # top-level record key -> section
    unknowns: dict[str, dict[str, str]] = field(default_factory=dict)  # pointer -> {kind, reason}
    ignored_config_keys: list[dict[str, Any]] = field(default_factory=list)
    # what one inspector found for the next ones (stacks, layers, heads), not part of the record
    scratch: dict[str, Any] = field(default_factory=dict)

    def null(self, pointer: str, reason: str, kind: str = UNKNOWN) -> None:
        self.unknowns[pointer] = {"kind": kind, "reason": reason}

    def ignored(self, key: str, value: Any, reason: str) -> None:
        if not any(entry["key"] == key for entry in self.ignored_config_keys):
            self.ignored_config_keys.append({"key": key, "value": value, "reason": reason})
