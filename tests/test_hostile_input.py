"""The bad-input corpus (issue 7): files and arguments an attacker or a newcomer hands over. Each case asserts
the exit code, one line on stderr naming the input, no traceback, nothing written, nothing outside the output
touched and nothing executed."""

from __future__ import annotations

import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelcard.base.errors import EXIT_BAD_INPUT, EXIT_FINDING, EXIT_OK

SECRET = "gho_S3CRETt0ken0123456789"


def assert_refused(result, *needles: str, out: Path | None = None) -> None:
    """Exit 2, one line on stderr (the progress bar aside), no traceback, no secret, nothing written."""
    assert result.code == EXIT_BAD_INPUT, (result.code, result.err)
    lines = [line for line in result.err.splitlines() if line.strip() and "generate:" not in line]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err and "internal error" not in result.err
    assert SECRET not in result.err and SECRET not in result.out
    for needle in needles:
        assert needle in lines[0], lines[0]
    if out is not None:
        assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and not p.is_symlink()}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside the output with a secret in it; tests check it is never read into a card nor changed."""
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "hosts.yml").write_text(f"github.com:\n  oauth_token: {SECRET}\n", encoding="utf-8")
    (folder / "id_rsa").write_text(f"-----BEGIN KEY-----\n{SECRET}\n\t: [unclosed\n", encoding="utf-8")
    (folder / "keep.json").write_text("{}", encoding="utf-8")
    return folder


# --- secrets -------------------------------------------------------------------------------------------------


def test_auto_discovered_disclosures_linked_outside_are_refused(tmp_path, outside, run_cli, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "modelcard.yaml").symlink_to(outside / "hosts.yml")
    monkeypatch.chdir(work)
    before = snapshot(outside)
    result = run_cli("generate", "-o", "out", "--suite", "none")
    assert_refused(result, "modelcard.yaml", "outside", out=work / "out")
    assert snapshot(outside) == before


def test_a_link_inside_the_working_folder_is_followed(tmp_path, run_cli, monkeypatch):
    work = tmp_path / "work"
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "card.yaml").write_text("intended_use: Testing links.\n", encoding="utf-8")
    (work / "modelcard.yaml").symlink_to(work / "docs" / "card.yaml")
    monkeypatch.chdir(work)
    result = run_cli("generate", "-o", "out", "--suite", "none")
    assert result.code == EXIT_OK, result.err
    assert json.loads((work / "out" / "card.json").read_text())["disclosures"]["intended_use"] == "Testing links."


def test_an_error_line_never_echoes_the_file(tmp_path, outside, run_cli):
    result = run_cli("generate", "--disclosures", outside / "id_rsa", "-o", tmp_path / "out", "--suite", "none")
    assert_refused(result, "id_rsa", "YAML", out=tmp_path / "out")


# --- reading: special files, sizes, encodings, nesting, numbers, YAML ----------------------------------------


def run_module(*argv: str, cwd: Path, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelcard", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("argv", [["validate", "/dev/zero"], ["generate", "--disclosures", "/dev/zero", "-o", "out",
                                                                          "--suite", "none"]],
                         ids=["validate", "disclosures"])
def test_devices_are_refused_without_reading_them(tmp_path, argv):
    start = time.monotonic()
    result = run_module(*argv, cwd=tmp_path, timeout=60)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - start < 30
    assert not (tmp_path / "out").exists()


def test_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "modelcard.yaml"
    os.mkfifo(fifo)
    result = run_module("generate", "--disclosures", str(fifo), "-o", "out", "--suite", "none", cwd=tmp_path,
                        timeout=60)
    assert result.returncode == EXIT_BAD_INPUT and "not a regular file" in result.stderr
    assert not (tmp_path / "out").exists()


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _config_text(**updates: object) -> str:
    from tiny_models import TINY_LLAMA

    return json.dumps({**TINY_LLAMA, **updates})


CONFIG_CASES = {
    "not-utf8": (b'{"model_type": "llama", "name": "\xff\xfe"}', "not UTF-8"),
    "deep-json": ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    "deep-object": ('{"model_type": "llama", "a": ' + '{"b": ' * 200 + "1" + "}" * 201, "nested deeper"),
    "huge-int": (_config_text().replace('"vocab_size": 128', '"vocab_size": ' + "9" * 5000), "digits"),
    "infinity": (_config_text().replace("500000.0", "Infinity"), "rope_theta must be a finite number"),
    "nan": (_config_text().replace("500000.0", "NaN"), "rope_theta must be a finite number"),
    "overflow": (_config_text().replace("500000.0", "1e400"), "rope_theta must be a finite number"),
    "zero-theta": (_config_text(rope_theta=0), "rope_theta"),
    "billion-layers": (_config_text(num_hidden_layers=1e9), "num_hidden_layers"),
    "zero-heads": (_config_text(num_attention_heads=0), "num_attention_heads"),
    "negative-layers": (_config_text(num_hidden_layers=-2), "num_hidden_layers"),
    "negative-window": (_config_text(sliding_window=-8), "sliding_window"),
    "text-layers": (_config_text(num_hidden_layers="8"), "whole number"),
    "fraction-heads": (_config_text(num_attention_heads=2.5), "whole number"),
    "not-an-object": ("[1, 2]", "JSON object"),
    "model-type-not-text": (_config_text(model_type=["llama"]), "model_type"),
    "architectures-not-names": (_config_text(architectures=[1, 2]), "architectures"),
    "architectures-a-number": (_config_text(architectures=7), "architectures"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_hostile_configs_are_one_line(tmp_path, run_cli, case):
    data, needle = CONFIG_CASES[case]
    _write(tmp_path / "model", "config.json", data)
    start = time.monotonic()
    result = run_cli("generate", tmp_path / "model", "-o", tmp_path / "out", "--suite", "none")
    assert_refused(result, "config.json", needle, out=tmp_path / "out")
    assert time.monotonic() - start < 10


def test_infinity_where_a_released_config_has_it_is_read(tmp_path, run_cli):
    """Python's json writes Infinity, and a released Nemotron-H config.json holds one (time_step_limit); the card
    must still be standard JSON."""
    config = {"model_type": "mamba2", "hidden_size": 64, "num_hidden_layers": 2, "num_heads": 4, "head_dim": 32,
              "state_size": 16, "n_groups": 1, "vocab_size": 128, "expand": 2}
    text = json.dumps(config)[:-1] + ', "time_step_limit": [0.0, Infinity]}'
    _write(tmp_path / "model", "config.json", text)
    result = run_cli("generate", tmp_path / "model", "-o", tmp_path / "out", "--suite", "none")
    assert result.code == EXIT_OK, result.err
    json.loads((tmp_path / "out" / "card.json").read_text(), parse_constant=lambda name: pytest.fail(name))


YAML_CASES = {
    "alias-bomb": ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
                   "expands to more than"),
    "self-alias": ("notes: &n [1, *n]\n", "refers to the node that contains it"),
    "date": ("intended_use: Testing.\nreleased: 2024-01-01\n", "date"),
    "binary": ("blob: !!binary aGVsbG8=\n", "binary"),
    "set": ("tags: !!set {a, b}\n", "set"),
    "nan": ("score: .nan\n", "not a JSON number"),
    "python-tag": ("x: !!python/object/apply:os.system ['touch PWNED']\n", "YAML tag"),
    "custom-tag": ("x: !secret value\n", "YAML tag"),
    "complex-key": ("? [a, b]\n: c\n", "plain text"),
    "not-a-mapping": ("- just\n- a list\n", "mapping"),
    "intended-use-list": ("intended_use: [1, 2]\n", "intended_use must be text"),
    "failure-modes-text": ("known_failure_modes: forgets things\n", "known_failure_modes"),
    "tool-access-mapping": ("tool_access: {web: true}\n", "tool_access"),
    "override-wrong-type": ("overrides:\n  /context_window/declared: lots\n", "/context_window/declared"),
    "override-nowhere": ("overrides:\n  /nowhere/at/all: 1\n", "override"),
    "overrides-not-pointers": ("overrides:\n  context_window: 1\n", "JSON pointers"),
    "numeric-key": ("1: one\n", "top-level key"),
    "too-large": ("intended_use: " + "x" * (2 * 1024 * 1024) + "\n", "too large"),
}


@pytest.mark.parametrize("case", list(YAML_CASES))
def test_hostile_disclosures_are_one_line(tmp_path, run_cli, monkeypatch, case):
    text, needle = YAML_CASES[case]
    path = _write(tmp_path, "modelcard.yaml", text)
    monkeypatch.chdir(tmp_path)
    result = run_cli("generate", "--disclosures", path, "-o", tmp_path / "out", "--suite", "none")
    assert_refused(result, "modelcard.yaml", needle, out=tmp_path / "out")
    assert not (tmp_path / "PWNED").exists()


def test_a_card_with_nan_is_not_valid_json(tmp_path, demo_card, run_cli):
    text = (demo_card / "card.json").read_text().replace('"parameters": 738816', '"parameters": NaN')
    card = _write(tmp_path, "card.json", text)
    assert_refused(run_cli("validate", card), "card.json", "NaN")
    assert_refused(run_cli("render", card, "-o", tmp_path / "out"), "card.json", "NaN", out=tmp_path / "out")


def test_an_empty_model_id_breaks_the_schema(tmp_path, demo_card, run_cli):
    record = json.loads((demo_card / "card.json").read_text())
    record["model"]["id"] = ""
    card = _write(tmp_path, "card.json", json.dumps(record))
    assert run_cli("validate", card).code == 1


# --- weights -------------------------------------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A tiny Llama saved with transformers (2 layers, safetensors)."""
    from tiny_models import save_tiny_llama

    return save_tiny_llama(tmp_path / "ckpt")


def _corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: 8 + length + 100])
    elif how == "huge-header":
        path.write_bytes(struct.pack("<Q", 1 << 62) + data[8:])
    elif how == "bad-offsets":
        header = json.loads(data[8:8 + length])
        name = next(k for k in header if k != "__metadata__")
        header[name]["data_offsets"] = [0, 1 << 40]
        raw = json.dumps(header).encode()
        path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length:])
    elif how == "header-not-json":
        path.write_bytes(struct.pack("<Q", 4) + b"\xff{[x" + data[8 + length:])


@pytest.mark.parametrize("how", ["empty", "truncated", "huge-header", "bad-offsets", "header-not-json"])
def test_corrupt_safetensors_are_one_line(checkpoint, tmp_path, run_cli, how):
    _corrupt(checkpoint / "model.safetensors", how)
    result = run_cli("generate", checkpoint, "-o", tmp_path / "out", "--suite", "none")
    assert_refused(result, "model.safetensors", out=tmp_path / "out")


def test_a_config_deeper_than_its_checkpoint_is_an_error_finding(checkpoint, tmp_path, run_cli):
    config = json.loads((checkpoint / "config.json").read_text())
    config["num_hidden_layers"] = 4
    (checkpoint / "config.json").write_text(json.dumps(config))
    result = run_cli("generate", checkpoint, "-o", tmp_path / "out", "--suite", "none")
    assert result.code == EXIT_FINDING, result.err  # the card is written, and the error finding fails the run
    assert "MISSING" not in result.err  # transformers' own report goes into the finding, not onto stderr
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    finding = next(f for f in record["findings"] if f["pointer"] == "/model/weights")
    assert finding["severity"] == "error"
    assert "missing" in finding["message"] and "model.layers.2." in finding["message"]
    assert record["model"]["weights"] is True


def test_a_checkpoint_with_no_matching_tensor_documents_no_weights(checkpoint, tmp_path, run_cli):
    import torch
    from safetensors.torch import save_file

    (checkpoint / "model.safetensors").unlink()
    save_file({"something.else": torch.zeros(3)}, str(checkpoint / "model.safetensors"))
    result = run_cli("generate", checkpoint, "-o", tmp_path / "out", "--suite", "none")
    assert result.code == EXIT_FINDING, result.err
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    finding = next(f for f in record["findings"] if f["pointer"] == "/model/weights")
    assert finding["severity"] == "error" and "random-init" in finding["message"]
    assert "something.else" in finding["message"]
    assert record["model"]["weights"] is False


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_refused_even_with_allow_pickle(write_config, tmp_path, run_cli):
    folder = write_config()
    marker = tmp_path / "PWNED"
    with open(folder / "pytorch_model.bin", "wb") as handle:
        pickle.dump({"model.embed_tokens.weight": _Payload(marker)}, handle)
    result = run_cli("generate", folder, "--allow-pickle", "-o", tmp_path / "out", "--suite", "none")
    assert_refused(result, "cannot load the weights", out=tmp_path / "out")
    assert "weights_only refused the pickle" in result.err and "weights_only=False" not in result.err
    assert not marker.exists()


# --- a newcomer's mistakes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "needle"), [
    (["inspect", "--device", "nonsense"], "--device"),
    (["inspect", "--device", "cuda:0"], "CUDA is not available"),
    (["inspect", "--dtype", "int8"], "--dtype"),
    (["inspect", "torch.nn:Linear"], "Linear() raised TypeError"),
    (["inspect", "os:system"], "system() raised TypeError"),
    (["inspect", "hostile_factories:raises"], "raised ValueError"),
    (["inspect", "hostile_factories:exits"], "raised SystemExit"),
    (["inspect", "hostile_factories:not_a_module"], "not a torch.nn.Module"),
    (["inspect", "no_such_module_here:factory"], "cannot import"),
    (["probe", "--suite", "quik", "-o", "out"], "did you mean quick"),
    (["probe", "--suite", "none", "-o", "out"], "name a suite"),
    (["generate", "--no-such-option"], "--no-such-option"),
    (["no-such-command"], "no-such-command"),
])
def test_newcomer_mistakes_are_one_line(tmp_path, run_cli, monkeypatch, argv, needle):
    import torch

    if "cuda:0" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fixtures"))
    monkeypatch.chdir(tmp_path)
    result = run_cli(*argv)
    assert_refused(result, needle, out=tmp_path / "out")
    if "quik" in argv:
        assert "none" not in result.err


def test_generate_dot_inside_the_model_folder_names_the_folder(write_config, tmp_path, run_cli, monkeypatch):
    folder = write_config(name="my-llama")
    monkeypatch.chdir(folder)
    result = run_cli("generate", ".", "-o", tmp_path / "out", "--suite", "none")
    assert result.code == EXIT_OK, result.err
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["model"]["id"] == "my-llama"
    assert "# Model card: my-llama" in (tmp_path / "out" / "README.md").read_text()


# --- slow failure --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("offline", ["1", ""], ids=["HF_HUB_OFFLINE", "unreachable"])
def test_an_uncached_hub_id_fails_fast(tmp_path, offline):
    start = time.monotonic()
    env = {"HF_HUB_OFFLINE": offline, "HF_HOME": str(tmp_path / "hf"), "HF_ENDPOINT": "http://127.0.0.1:9"}
    if not offline:
        env.pop("HF_HUB_OFFLINE")
    result = run_module("inspect", "no-such-org/no-such-model", cwd=tmp_path, env=env)
    elapsed = time.monotonic() - start
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no-such-org/no-such-model" in lines[0] and "cache" in lines[0], result.stderr
    # the process itself (python + torch + transformers imports) takes ~1.5 s here; the miss adds little
    assert elapsed < 10, elapsed


def test_ctrl_c_exits_130(monkeypatch, run_cli, tmp_path):
    import modelcard.load.loader

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(modelcard.load.loader, "load_model", interrupted)
    result = run_cli("generate", "-o", tmp_path / "out", "--suite", "none")
    assert result.code == 130 and "interrupted" in result.err and "picks up where this one stopped" in result.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def _terminal_sigint() -> None:
    """The child sees Ctrl-C as a terminal's child does, even when pytest runs with SIGINT ignored (started in
    the background by a shell without job control): ignored at exec, Python would never raise KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_during_a_run_exits_130(tmp_path):
    """A real Ctrl-C in a real process: the signal, not a raise, ends the run with 130 and writes nothing."""
    fixtures = Path(__file__).parent / "fixtures"
    process = subprocess.Popen([sys.executable, "-m", "modelcard", "generate", "hostile_factories:slow",
                                "-o", "out", "--suite", "quick"], cwd=tmp_path, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(fixtures)}, preexec_fn=_terminal_sigint)
    marker = tmp_path / "forward-started"
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    process.send_signal(2)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "card.json").exists()
