"""`modelcard --help`, `validate` and `render` never import torch or transformers (STYLE.md 6)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from modelcard.cli import main
code = main({argv!r})
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
sys.exit(code)
"""


@pytest.mark.parametrize("command", ["help", "validate", "render"])
def test_light_commands_do_not_import_torch(command, demo_card, tmp_path):
    argv = {
        "help": ["--help"],
        "validate": ["validate", str(demo_card / "card.json")],
        "render": ["render", str(demo_card / "card.json"), "-o", str(tmp_path / "out")],
    }[command]
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "HEAVY=\n" in done.stdout, done.stdout
