"""Remote code decided precisely (issue 8): a built-in model_type with an auto_map is documented with the built-in
implementation and a warning, never running the remote code; only an unknown model_type needs
--trust-remote-code, and then the code beside a config-only folder is used and inspected like built-in code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import TINY_LLAMA

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_OK

# Remote code that leaves a marker when it is imported, so a test can tell whether it ran.
CONFIGURATION = '''
from pathlib import Path
from transformers import LlamaConfig

Path(__file__).resolve().parent.joinpath("{marker}").touch()  # the folder the code was copied from is elsewhere
Path("{marker_path}").touch()


class TinyRemoteConfig(LlamaConfig):
    model_type = "{model_type}"
'''
MODELING = '''
from pathlib import Path
from transformers import LlamaForCausalLM

from .configuration_tiny import TinyRemoteConfig

Path("{marker_path}").touch()


class TinyRemoteForCausalLM(LlamaForCausalLM):
    config_class = TinyRemoteConfig
'''


def remote_folder(tmp_path: Path, model_type: str, with_code: bool = True) -> tuple[Path, Path]:
    folder = tmp_path / "model"
    folder.mkdir()
    marker = tmp_path / "REMOTE-CODE-RAN"
    config = {**TINY_LLAMA, "model_type": model_type, "architectures": ["TinyRemoteForCausalLM"],
              "auto_map": {"AutoConfig": "configuration_tiny.TinyRemoteConfig",
                           "AutoModelForCausalLM": "modeling_tiny.TinyRemoteForCausalLM"}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    if with_code:
        values = {"marker": "imported", "marker_path": marker, "model_type": model_type}
        (folder / "configuration_tiny.py").write_text(CONFIGURATION.format(**values), encoding="utf-8")
        (folder / "modeling_tiny.py").write_text(MODELING.format(**values), encoding="utf-8")
    return folder, marker


def generate(folder: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    """A separate process: transformers copies trusted remote code into HF_MODULES_CACHE, kept inside tmp."""
    env = {**os.environ, "HF_MODULES_CACHE": str(out.parent / "modules"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "modelcard", "generate", str(folder), "-o", str(out),
                           "--suite", "none", *flags], capture_output=True, text=True, timeout=120, env=env)


def findings_at(out: Path, pointer: str) -> list[dict]:
    record = json.loads((out / "card.json").read_text())
    return [f for f in record["findings"] if f["pointer"] == pointer]


def test_a_built_in_type_is_documented_with_the_built_in_code_and_a_warning(tmp_path):
    folder, marker = remote_folder(tmp_path, "llama")
    result = generate(folder, tmp_path / "out")
    assert result.returncode == EXIT_OK, result.stderr
    assert not marker.exists(), "remote code ran without --trust-remote-code"
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["model"]["class_name"] in ("LlamaModel", "LlamaForCausalLM")  # transformers own class
    (finding,) = findings_at(tmp_path / "out", "/model/class_name")
    assert finding["severity"] == "warning"
    assert "built-in llama" in finding["message"] and "--trust-remote-code" in finding["message"]


def test_a_built_in_type_uses_the_remote_code_when_trusted(tmp_path):
    folder, marker = remote_folder(tmp_path, "llama")
    result = generate(folder, tmp_path / "out", "--trust-remote-code")
    assert result.returncode == EXIT_OK, result.stderr
    assert marker.exists()
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["model"]["class_name"] == "TinyRemoteForCausalLM"
    assert findings_at(tmp_path / "out", "/model/class_name")[0]["severity"] == "info"


def test_a_built_in_type_without_its_code_beside_it_falls_back_when_trusted(tmp_path):
    """Llama-2-7b-chat's config names modeling_llama.LlamaForCausalLM, which its repository does not ship."""
    folder, _ = remote_folder(tmp_path, "llama", with_code=False)
    result = generate(folder, tmp_path / "out", "--trust-remote-code")
    assert result.returncode == EXIT_OK, result.stderr
    (finding,) = findings_at(tmp_path / "out", "/model/class_name")
    assert finding["severity"] == "warning" and "not beside the config" in finding["message"]


def test_an_unknown_type_needs_trust(tmp_path, run_cli):
    folder, marker = remote_folder(tmp_path, "tiny-remote")
    result = run_cli("generate", folder, "-o", tmp_path / "out", "--suite", "none")
    assert result.code == EXIT_BAD_INPUT
    assert "--trust-remote-code" in result.err and len(result.err.strip().splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_an_unknown_type_with_trust_is_inspected_from_its_remote_code(tmp_path):
    folder, marker = remote_folder(tmp_path, "tiny-remote")
    result = generate(folder, tmp_path / "out", "--trust-remote-code")
    assert result.returncode == EXIT_OK, result.stderr
    assert marker.exists()
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["model"]["class_name"] == "TinyRemoteForCausalLM"
    assert record["model"]["model_type"] == "tiny-remote"
    assert record["attention"]["heads"] == {"query": 4, "key_value": 2, "head_dim": 16, "grouping": "GQA"}
    assert record["context_window"]["declared"] == 4096
    assert {layer["kind"] for layer in record["attention"]["layers"]} == {"full"}


def test_an_unknown_type_with_trust_but_no_code_is_one_line(tmp_path):
    folder, _ = remote_folder(tmp_path, "tiny-remote", with_code=False)
    result = generate(folder, tmp_path / "out", "--trust-remote-code")
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "configuration_tiny.py" in lines[0] and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["llama-2-7b-chat-hf", "phi-3-mini-128k-instruct", "deepseek-v3",
                                  "nemotron-h-56b-base-8k"])
def test_released_configs_with_auto_map_inspect_with_built_in_code(name, run_cli):
    config = Path(__file__).parent / "fixtures" / "real-configs" / name
    result = run_cli("inspect", config, "--format", "json")
    assert result.code == EXIT_OK, result.err
    finding = next(f for f in json.loads(result.out)["findings"] if f["pointer"] == "/model/class_name")
    assert finding["severity"] == "warning" and "ran none of the remote code" in finding["message"]
