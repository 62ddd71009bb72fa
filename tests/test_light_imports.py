"""`modelcard --help`, `validate`, `render`, `check` and `diff` never import torch or transformers (STYLE.md 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
from modelcard.cli import main
code = main({argv!r})
heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
sys.exit(code)
"""


COMPLETE = Path(__file__).resolve().parent / "fixtures" / "check" / "complete.json"
ALL_POLICIES = ["--policy", "attention-governance", "--policy", "eu-ai-act-gpai", "--policy", "hf-hub"]


@pytest.mark.parametrize("command", ["help", "validate", "validate-readme", "render", "check", "check-readme",
                                     "check-junit", "diff", "diff-readme"])
def test_light_commands_do_not_import_torch(command, demo_card, tmp_path):
    readme = str(demo_card / "README.md")
    argv = {
        "help": ["--help"],
        "validate": ["validate", str(demo_card / "card.json")],
        "validate-readme": ["validate", readme],
        "render": ["render", str(demo_card / "card.json"), "-o", str(tmp_path / "out")],
        "check": ["check", str(COMPLETE), *ALL_POLICIES, "--strict"],
        "check-readme": ["check", readme, *ALL_POLICIES, "--format", "json"],
        "check-junit": ["check", str(COMPLETE), "--format", "junit"],
        "diff": ["diff", str(COMPLETE), str(demo_card / "card.json")],
        "diff-readme": ["diff", readme, str(demo_card / "card.json")],
    }[command]
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True)
    expected = {"check-readme": 1, "diff": 1}.get(command, 0)  # the demo card leaves disclosures out
    assert done.returncode == expected, done.stderr
    assert "HEAVY=\n" in done.stdout, done.stdout


@pytest.mark.parametrize("spec", ["./no/such/model", "someorg/no-such-model", "missing-config.json"])
def test_a_model_that_is_nowhere_fails_before_torch_is_imported(spec, tmp_path, monkeypatch):
    """A mistyped path or Hub id is one line and exit 2, before the seconds torch takes to import."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    argv = ["generate", spec, "-o", str(tmp_path / "card")]
    done = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "HEAVY=\n" in done.stdout, done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"modelcard: error: {spec}: ")
    assert not (tmp_path / "card").exists()
