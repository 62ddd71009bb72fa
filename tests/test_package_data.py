"""An installed wheel (not the source tree) finds its schemas, templates, probe suites and demo model."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import json, sys, tempfile, pathlib
import modelcard
from modelcard.base.resources import data_dir, demo_model_dir
from modelcard.cli import main
package = pathlib.Path(modelcard.__file__).parent
assert str(package).startswith(sys.argv[1]), package
for name in ("schemas", "templates", "probes", "policies"):
    assert data_dir(name).parent == package, (name, data_dir(name))
assert (demo_model_dir() / "model.safetensors").is_file()
out = tempfile.mkdtemp()
assert main(["render", sys.argv[2], "-o", out]) == 0
assert main(["validate", out + "/card.json"]) == 0
assert main(["check", out + "/card.json", "--policy", "eu-ai-act-gpai", "--policy", "hf-hub"]) == 1
assert main(["check", out + "/card.json", "--policy", "no-such-policy"]) == 2
print("OK")
"""


def test_wheel_ships_the_data_folders_and_an_installed_copy_uses_them(tmp_path, demo_card):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("modelcard-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("modelcard/schemas/card.schema.json", "modelcard/templates/card.md.j2",
                     "modelcard/templates/card.html.j2", "modelcard/probes/quick.yaml",
                     "modelcard/demo/config.json", "modelcard/demo/model.safetensors", "modelcard/demo/tokenizer.json",
                     "modelcard/schemas/policy.schema.json", "modelcard/policies/attention-governance.yaml",
                     "modelcard/policies/eu-ai-act-gpai.yaml", "modelcard/policies/hf-hub.yaml"):
        assert expected in names, expected
    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(installed), str(demo_card / "card.json")],
        capture_output=True, text=True, env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr
