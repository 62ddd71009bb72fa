"""The README's shell blocks name only commands, options and extras that exist, and it stays short."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_lines() -> list[str]:
    """Every command in the README's ```bash blocks, comments cut, `&&` chains split."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            lines += [part.strip() for part in line.split("&&") if part.strip()]
    return lines


def test_every_modelcard_command_and_option_in_the_readme_exists() -> None:
    from modelcard.cli import cli

    calls = [shlex.split(line) for line in shell_lines() if line.startswith("modelcard ")]
    assert len(calls) >= 6
    for argv in calls:
        command = cli.commands.get(argv[1])
        assert isinstance(command, click.Command), argv
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        named = [word.split("=")[0] for word in argv[2:] if word.startswith("-")]
        assert set(named) <= options, (argv, set(named) - options)


def test_every_extra_the_readme_installs_exists() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    named = set(re.findall(r"""pip install -e ["']\.\[([a-z,]+)\]["']""", README))
    assert named and {extra for group in named for extra in group.split(",")} <= extras


def test_the_two_set_up_commands_share_one_venv_and_one_install_mode() -> None:
    setup = [line for line in shell_lines() if line.startswith("pip install") and "torch" not in line]
    assert setup[:2] == ["pip install -e .", 'pip install -e ".[test]"']


def test_the_readme_stays_short_and_its_links_resolve() -> None:
    assert len(README.splitlines()) <= 120
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).exists(), target
