"""scripts/gpu_check.py: the GPU path cannot run here; its code path runs with tiny sizes on the CPU."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_on_cpu_prints_memory_and_latency(gpu_check, capsys) -> None:
    code = gpu_check.main(["--tiny", "--device", "cpu", "--dtype", "float32", "--kernels", "sdpa,flash_attention_2",
                           "--suite", "quick"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "== sdpa ==" in out and "flash_attention_2 == not available here" in out
    assert "peak memory" in out and "memory exponent" in out
    assert "     512 " in out


def test_without_cuda_it_says_so(gpu_check, capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    assert gpu_check.main([]) == 2
    assert "no CUDA device" in capsys.readouterr().err
