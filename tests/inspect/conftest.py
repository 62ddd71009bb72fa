"""Fixtures for the inspector tests: a config written to disk and inspected, its record schema-checked."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for inspect_helpers and unbuildable

from inspect_helpers import inspect_dict  # noqa: E402


@pytest.fixture
def inspect_config(tmp_path: Path) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Inspect a config dict written as config.json; returns the schema-valid record."""
    counter = iter(range(1000))
    return lambda config: inspect_dict(config, tmp_path / f"model{next(counter)}")
