"""Fixtures shared by the top-level tests: the CLI as a function, tiny configs written to disk."""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `goldens` and `tiny_models`

from tiny_models import TINY_LLAMA  # noqa: E402


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Call `modelcard.cli.main(argv)` in-process and capture what it printed."""
    from modelcard.cli import main

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def ctrl_c_reaches_python() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt in this test, as in a terminal, even when pytest was started in the
    background by a shell without job control (which starts it with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config.json (a tiny Llama unless told otherwise) into a fresh folder; return the folder."""

    def write(config: dict | None = None, name: str = "model", **updates: object) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        data = dict(TINY_LLAMA if config is None else config)
        data.update(updates)
        (folder / "config.json").write_text(json.dumps(data), encoding="utf-8")
        return folder

    return write


@pytest.fixture(scope="session")
def demo_card(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo model's card, generated once for the session the way the golden card is."""
    from goldens import GOLDEN_ARGS

    from modelcard.cli import main

    folder = tmp_path_factory.mktemp("demo-card")
    assert main([*GOLDEN_ARGS, "-o", str(folder)]) == 0
    return folder
