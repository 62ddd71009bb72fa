"""scripts/gpu_check.py runs the retrieval probes (mechanics and memory only) and passkey-grid length by length;
on the CPU with tiny sizes here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"


def test_retrieval_probes_run_in_the_tiny_self_test(capsys) -> None:
    spec = importlib.util.spec_from_file_location("gpu_check_retrieval", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main(["--tiny", "--device", "cpu", "--dtype", "float32", "--kernels", "sdpa", "--retrieval-only"])
    out = capsys.readouterr().out
    assert code == 0, out  # random weights fail to retrieve; only an error would count
    for probe_id in module.RETRIEVAL:
        assert probe_id in out
    assert "error " not in out
    assert "scores mean nothing" in out
    assert "     256 " in out and "     512 " in out
