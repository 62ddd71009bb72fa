"""A probe from a separate package, installed with pip, registers through the `modelcard.probes` entry point;
a suite YAML names it by id, and its result lands in the card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "modelcard-tiny-probe"
version = "0.1.0"

[project.entry-points."modelcard.probes"]
tiny = "modelcard_tiny_probe"

[tool.hatch.build.targets.wheel]
packages = ["modelcard_tiny_probe"]
"""

PROBE = '''
"""Counts the model's token-mixing blocks."""

from modelcard.probe import Outcome, ProbeContext, probe


@probe("tiny-block-count", "How many token-mixing blocks the adapter sees", version=3)
def block_count(ctx: ProbeContext, at_least: int = 1) -> Outcome:
    blocks = len(ctx.adapter.blocks())
    return Outcome(status="pass" if blocks >= at_least else "fail", metric="blocks", value=blocks, unit=None,
                   threshold=at_least, details={"blocks": blocks})
'''

BROKEN = "raise RuntimeError('this plug-in is broken')\n"


def install(tmp_path: Path, body: str) -> Path:
    source = tmp_path / "source"
    (source / "modelcard_tiny_probe").mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT)
    (source / "modelcard_tiny_probe" / "__init__.py").write_text(body)
    target = tmp_path / "installed"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                           "--target", str(target), str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (target / "modelcard_tiny_probe").is_dir()
    return target


def modelcard(tmp_path: Path, installed: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, "-m", "modelcard", *argv], capture_output=True, text=True, env=env,
                          cwd=tmp_path)


@pytest.mark.slow
def test_an_installed_probe_runs_from_a_suite_and_lands_in_the_card(tmp_path):
    installed = install(tmp_path, PROBE)
    suite = tmp_path / "suite.yaml"
    suite.write_text(textwrap.dedent("""
        name: with-a-plug-in
        probes:
          - mask-leak
          - id: tiny-block-count
            params: {at_least: 2}
    """))
    done = modelcard(tmp_path, installed, "generate", "--suite", str(suite), "-o", "card")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "card" / "card.json").read_text())
    result = next(item for item in record["probes"] if item["id"] == "tiny-block-count")
    assert result["status"] == "pass" and result["value"] == 4  # the demo's four layers
    assert result["version"] == 3 and result["params"] == {"at_least": 2}
    assert "How many token-mixing blocks the adapter sees" in (tmp_path / "card" / "README.md").read_text()


@pytest.mark.slow
def test_a_broken_installed_probe_stops_only_the_suites_that_name_it(tmp_path):
    installed = install(tmp_path, BROKEN)
    quick = modelcard(tmp_path, installed, "generate", "--suite", "quick", "-o", "quick-card")
    assert quick.returncode == 0, quick.stderr
    suite = tmp_path / "suite.yaml"
    suite.write_text("probes: [tiny-block-count]\n")
    done = modelcard(tmp_path, installed, "probe", "--suite", str(suite), "-o", "results")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "entry point tiny = modelcard_tiny_probe" in lines[0] and "this plug-in is broken" in lines[0]
