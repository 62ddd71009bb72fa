"""The probe store's resume identity: a rerun reuses results only for the same weights and libraries."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from modelcard.pipeline import ProbeRequest, probe_identity
from modelcard.resources import demo_model_dir


def test_changed_weights_change_the_identity(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(demo_model_dir(), folder)
    request = ProbeRequest(spec=str(folder), output=tmp_path / "out")
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

    request = ProbeRequest(spec=None, output=tmp_path / "out")
    identity = probe_identity(request)
    assert identity["weights"] and set(identity["libraries"]) == {"torch", "transformers", "safetensors"}
    monkeypatch.setattr(modelcard.pipeline, "_libraries", lambda: {"torch": "0.0", "transformers": "0.0",
                                                                   "safetensors": "0.0"})
    assert probe_identity(request) != identity
