"""The stage rules hold: import-linter's contracts (pyproject.toml) pass on the package and fail on a copy that
breaks one, and the torch-free packages stay torch-free at run time, where import-linter cannot look (a parent
package's `__init__` runs on every import below it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
TORCH_FREE = ("base", "record", "card", "gate", "export")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, cwd=package_parent,
                          env={"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def package_copy(tmp_path_factory) -> Path:
    parent = tmp_path_factory.mktemp("copy")
    shutil.copytree(ROOT / "modelcard", parent / "modelcard", ignore=shutil.ignore_patterns("__pycache__", "demo"))
    return parent


def test_the_package_keeps_every_contract():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("card/render.py", "import torch", "Records, cards, the gate and the exports run without torch or transformers"),
    ("gate/check.py", "from transformers import AutoConfig", "Records, cards, the gate and the exports run without"),
    ("export/cyclonedx.py", "import torch", "Records, cards, the gate and the exports run without torch"),
    ("load/loader.py", "from modelcard.probe import runner", "Loading knows nothing of probes"),
    ("inspect/heads.py", "from modelcard.card import present", "Inspection depends on no measurement"),
    ("record/document.py", "from modelcard.gate import check", "Stages, top to bottom"),
    ("gate/check.py", "from modelcard.export import write", "Stages, top to bottom"),
])
def test_a_broken_rule_fails_the_contracts(package_copy, module, line, contract):
    path = package_copy / "modelcard" / module
    original = path.read_text()
    path.write_text(original.replace("from __future__ import annotations\n",
                                     f"from __future__ import annotations\n\n{line}  # noqa\n", 1))
    try:
        done = lint_imports(package_copy)
    finally:
        path.write_text(original)
    assert done.returncode == 1, done.stdout
    broken = done.stdout.split("Broken contracts")[-1]
    assert contract in broken, done.stdout


def test_the_torch_free_stages_import_no_torch_at_run_time():
    modules = sorted(".".join(path.relative_to(ROOT).with_suffix("").parts)
                     for package in TORCH_FREE for path in (ROOT / "modelcard" / package).glob("*.py"))
    script = ("import importlib, sys\n"
              f"for name in {modules!r}:\n    importlib.import_module(name)\n"
              "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{len(modules)} modules imported {done.stdout}"
