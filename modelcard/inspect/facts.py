"""What an inspector contributes: values at JSON pointers, for each null the reason it is null, the config
keys it read past, findings, provenance that differs from `detected`, and typed working state that later
inspectors read (not part of the record)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelcard.inspect.state import Structure
from modelcard.record.vocabulary import UNKNOWN


@dataclass
class Facts:
    values: dict[str, Any] = field(default_factory=dict)  # top-level record key -> section
    unknowns: dict[str, dict[str, str]] = field(default_factory=dict)  # pointer -> {kind, reason}
    ignored_config_keys: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # what inspection found wrong or assumed
    provenance: dict[str, str] = field(default_factory=dict)  # pointer -> provenance where not `detected`
    structure: Structure = field(default_factory=Structure)  # what one inspector found for the next ones

    def null(self, pointer: str, reason: str, kind: str = UNKNOWN) -> None:
        self.unknowns[pointer] = {"kind": kind, "reason": reason}

    def ignored(self, key: str, value: Any, reason: str) -> None:
        if not any(entry["key"] == key for entry in self.ignored_config_keys):
            self.ignored_config_keys.append({"key": key, "value": value, "reason": reason})

    def is_ignored(self, key: str) -> bool:
        return any(entry["key"] == key for entry in self.ignored_config_keys)

    def finding(self, severity: str, pointer: str, declared: Any, measured: Any, message: str) -> None:
        self.findings.append({"severity": severity, "pointer": pointer, "declared": declared, "measured": measured,
                              "message": message})
