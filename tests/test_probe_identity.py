"""The probe store's resume identity: a rerun reuses results only for the same weights, tokenizer, chat template,
Hub commit, libraries and probe version."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from modelcard.base.resources import demo_model_dir
from modelcard.load.loader import LoadOptions
from modelcard.pipeline import ProbeRequest, probe_identity


def test_changed_weights_change_the_identity(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder)
    request = ProbeRequest(spec=str(folder), suite=None)
    before = probe_identity(request)
    assert before["weights"] and before["config_sha256"]
    assert probe_identity(request) == before
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the last tensor: same header, same size
    info = weights.stat()
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(info.st_atime_ns, info.st_mtime_ns))  # even with the old modification time
    assert probe_identity(request)["weights"] != before["weights"]


def test_the_demo_and_library_versions_are_part_of_it(tmp_path: Path, monkeypatch) -> None:
    import modelcard.pipeline

    request = ProbeRequest(spec=None, suite=None)
    identity = probe_identity(request)
    assert identity["weights"] and set(identity["libraries"]) == {"torch", "transformers", "safetensors"}
    monkeypatch.setattr(modelcard.pipeline, "_libraries", lambda: {"torch": "0.0", "transformers": "0.0",
                                                                   "safetensors": "0.0"})
    assert probe_identity(request) != identity


# --- a stale result is never reused: tokenizer, chat template, probe version, Hub commit --------------------------


def _mask_leak_suite(folder: Path) -> Path:
    import yaml

    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "identity", "probes": [{"id": "mask-leak", "params": {"length": 16}}]}),
                    encoding="utf-8")
    return path


def _resumed(run_cli, model: Path, suite: Path, out: Path) -> list[str]:
    result = run_cli("probe", model, "--suite", suite, "-o", out, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)["resumed"]


def test_a_changed_tokenizer_or_chat_template_is_measured_again(run_cli, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(demo_model_dir(), model)
    suite, out = _mask_leak_suite(tmp_path), tmp_path / "out"
    assert _resumed(run_cli, model, suite, out) == []
    assert _resumed(run_cli, model, suite, out) == ["mask-leak"]  # the same files: reused
    tokenizer = model / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert _resumed(run_cli, model, suite, out) == []  # another tokenizer file
    (model / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}",
                                               encoding="utf-8")
    assert _resumed(run_cli, model, suite, out) == []  # a chat template where there was none
    assert _resumed(run_cli, model, suite, out) == ["mask-leak"]
    (model / "chat_template.jinja").write_text("{% for m in messages %}<{{ m['content'] }}>{% endfor %}",
                                               encoding="utf-8")
    assert _resumed(run_cli, model, suite, out) == []  # another chat template


def test_the_template_inside_tokenizer_config_counts_too(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(demo_model_dir(), model)
    request = ProbeRequest(spec=str(model), suite=None)
    before = probe_identity(request)
    assert before["tokenizer_sha256"] and before["chat_template_sha256"] is None
    config = model / "tokenizer_config.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    config.write_text(json.dumps({**data, "chat_template": "{{ messages[0]['content'] }}"}), encoding="utf-8")
    after = probe_identity(request)
    assert after["chat_template_sha256"] is not None
    assert after["tokenizer_sha256"] != before["tokenizer_sha256"]


def test_a_bumped_probe_version_is_measured_again(run_cli, tmp_path: Path, monkeypatch) -> None:
    from modelcard.probe.registry import PROBES, registered

    registered()
    suite, out = _mask_leak_suite(tmp_path), tmp_path / "out"
    assert _resumed(run_cli, demo_model_dir(), suite, out) == []
    stored = json.loads((out / "probes" / "mask-leak.json").read_text(encoding="utf-8"))
    assert stored["record"]["version"] == PROBES["mask-leak"].version
    assert _resumed(run_cli, demo_model_dir(), suite, out) == ["mask-leak"]
    monkeypatch.setitem(PROBES, "mask-leak", dataclasses.replace(PROBES["mask-leak"],
                                                                 version=PROBES["mask-leak"].version + 1))
    assert _resumed(run_cli, demo_model_dir(), suite, out) == []
    stored = json.loads((out / "probes" / "mask-leak.json").read_text(encoding="utf-8"))
    assert stored["record"]["version"] == PROBES["mask-leak"].version  # saved again under the new version


def test_a_cell_of_another_version_is_not_reused(tmp_path: Path) -> None:
    from modelcard.probe.store import ResultStore

    store = ResultStore(tmp_path / "probes", {"seed": 0})
    store.start()
    cell = {"length": 256}
    store.save_cell("passkey-grid", 0, {"status": "ok", "cell": cell, "params": {}, "partial": {}, "devices": ["cpu"],
                                        "duration_s": 0.1, "version": 1})
    assert store.load_cell("passkey-grid", 0, cell, {}, version=1) is not None
    assert store.load_cell("passkey-grid", 0, cell, {}, version=2) is None
    store.save_cell("passkey-grid", 1, {"status": "ok", "cell": cell, "params": {}, "partial": {}, "devices": ["cpu"],
                                        "duration_s": 0.1})  # written before probes had versions
    assert store.load_cell("passkey-grid", 1, cell, {}, version=1) is None


def test_a_probe_version_must_be_a_positive_integer() -> None:
    from modelcard.probe.registry import probe

    with pytest.raises(ValueError, match="version"):
        probe("test-bad-version", "never registered", version=0)


COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def _fake_hub_snapshot(cache: Path, repo_id: str, commit: str, ref: str = "main") -> Path:
    """huggingface_hub's cache layout: refs/<ref> holds the commit, snapshots/<commit>/ the files."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / ref).write_text(commit, encoding="utf-8")
    snapshot = repo / "snapshots" / commit
    shutil.copytree(demo_model_dir(), snapshot, dirs_exist_ok=True)
    return snapshot


def test_a_hub_id_is_identified_by_the_commit_its_cache_resolves_to(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    request = ProbeRequest(spec="acme/demo", suite=None)
    assert probe_identity(request)["hub_commit"] is None  # not cached: nothing to resolve
    _fake_hub_snapshot(cache, "acme/demo", COMMIT_A)
    first = probe_identity(request)
    assert first["hub_commit"] == COMMIT_A and first["tokenizer_sha256"]
    snapshot = _fake_hub_snapshot(cache, "acme/demo", COMMIT_B)  # main moved on
    (snapshot / "tokenizer.json").write_text("{}", encoding="utf-8")
    second = probe_identity(request)
    assert second["hub_commit"] == COMMIT_B and second != first
    assert second["tokenizer_sha256"] != first["tokenizer_sha256"]  # read from the snapshot main points at
    pinned = ProbeRequest(spec="acme/demo", suite=None, load=LoadOptions(revision=COMMIT_A))
    assert probe_identity(pinned)["hub_commit"] == COMMIT_A
    _fake_hub_snapshot(cache, "acme/demo", COMMIT_A, ref="v1")
    tagged = ProbeRequest(spec="acme/demo", suite=None, load=LoadOptions(revision="v1"))
    assert probe_identity(tagged)["hub_commit"] == COMMIT_A


def test_a_moved_hub_commit_is_never_reused(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    from modelcard.probe.store import ResultStore

    cache = tmp_path / "hub"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    _fake_hub_snapshot(cache, "acme/demo", COMMIT_A)
    request = ProbeRequest(spec="acme/demo", suite=None)
    store = ResultStore(tmp_path / "probes", probe_identity(request))
    store.start()
    assert store.resumable
    _fake_hub_snapshot(cache, "acme/demo", COMMIT_B)
    assert not ResultStore(tmp_path / "probes", probe_identity(request)).resumable
