"""GGUF input: files the tests write with the `gguf` package's writer (tests/gguf_files.py) from the bundled demos,
hostile headers written byte by byte, and the real SmolLM2 GGUF (tests/real_models.py)."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

pytest.importorskip("gguf")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gguf_files import shard, write_gguf  # noqa: E402

from modelcard.base.resources import demo_model_dir  # noqa: E402

SECTIONS = ("architecture", "attention", "masking", "position", "context_window", "kv_cache")


@pytest.fixture(scope="module")
def demo_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gguf(demo_model_dir(), tmp_path_factory.mktemp("gguf") / "demo.Q8_0.gguf", "Q8_0")


def record_of(run_cli, *argv: str) -> dict:
    result = run_cli("inspect", *argv, "--format", "json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_a_gguf_gives_the_facts_of_its_transformers_folder(run_cli, demo_gguf: Path) -> None:
    import gguf

    ours, folder = record_of(run_cli, str(demo_gguf)), record_of(run_cli, str(demo_model_dir()))
    for section in SECTIONS:
        assert ours[section] == folder[section], section
    assert ours["model"]["source"] == "gguf" and ours["model"]["parameters"] == folder["model"]["parameters"]
    facts = ours["model"]["gguf"]
    reader = gguf.GGUFReader(demo_gguf)
    bits = 8 * sum(int(t.n_bytes) for t in reader.tensors) / sum(int(t.n_elements) for t in reader.tensors)
    assert facts["bits_per_weight"] == pytest.approx(bits, abs=1e-3)
    assert facts["version"] == 3 and facts["file_type"] == "Q8_0" and facts["bytes"] == demo_gguf.stat().st_size
    assert set(facts["types"]) == {"Q8_0", "F32"}
    assert {"family": "attn_q.weight", "type": "Q8_0"}.items() <= next(
        row for row in facts["tensors"] if row["family"] == "attn_q.weight").items()
    used = {row["key"]: row["value"] for row in facts["metadata_used"]}
    assert used["llama.context_length"] == 4096 and used["llama.attention.head_count_kv"] == 2
    assert not ours["findings"]


@pytest.mark.parametrize("quant, bits", [("Q4_0", 4.5), ("Q4_1", 5.0), ("F16", 16.0)])
def test_each_quantization_type_is_named_with_its_bits(run_cli, tmp_path: Path, quant: str, bits: float) -> None:
    path = write_gguf(demo_model_dir(), tmp_path / f"demo.{quant}.gguf", quant)
    facts = record_of(run_cli, str(path))["model"]["gguf"]
    tally = facts["types"][quant]
    assert 8 * tally["bytes"] / tally["elements"] == pytest.approx(bits)
    assert facts["file_type"] == quant


def test_the_card_has_a_quantization_section(run_cli, demo_gguf: Path, tmp_path: Path) -> None:
    out = tmp_path / "card"
    assert run_cli("generate", str(demo_gguf), "--suite", "none", "-o", str(out)).code == 0
    readme = (out / "README.md").read_text()
    assert "## Quantization" in readme and "| Q8_0 | 29 |" in readme and "| Quantization (GGUF) | Q8_0, 8.5" in readme
    assert "q8_0 (llama.cpp)" in readme  # the KV table's llama.cpp cache types
    assert "<h2>Quantization</h2>" in (out / "card.html").read_text()
    assert run_cli("validate", str(out / "card.json")).code == 0


def test_an_edited_context_length_is_a_finding_with_both_values(run_cli, tmp_path: Path) -> None:
    edited = write_gguf(demo_model_dir(), tmp_path / "edited.gguf", "Q8_0", metadata={"llama.context_length": 32768})
    record = record_of(run_cli, str(edited), "--base-config", str(demo_model_dir() / "config.json"))
    (finding,) = [f for f in record["findings"] if "context_length" in f["message"]]
    assert "32768" in finding["message"] and "4096" in finding["message"]
    assert finding["declared"] == {"max_position_embeddings": 4096}
    assert finding["measured"] == {"llama.context_length": 32768}
    assert record["context_window"]["declared"] == 32768  # the card documents the file as it is


def test_a_window_the_derived_config_drops_is_a_finding(run_cli, tmp_path: Path) -> None:
    """transformers reads no sliding window from a Qwen2 GGUF: the hybrid demo's 256-token window is lost."""
    path = write_gguf(demo_model_dir("demo-hybrid"), tmp_path / "hybrid.gguf", "Q8_0")
    record = record_of(run_cli, str(path), "--base-config", str(demo_model_dir("demo-hybrid")))
    messages = [f["message"] for f in record["findings"]]
    assert any("qwen2.attention.sliding_window = 256" in m and "sliding_window = None" in m for m in messages)
    assert any("base config has sliding_window = 256" in m or "sliding_window = 256" in m for m in messages)


def test_a_sharded_gguf_loads_from_its_first_part_or_its_folder(run_cli, demo_gguf: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sharded"
    folder.mkdir()
    whole = folder / "demo.gguf"
    whole.write_bytes(demo_gguf.read_bytes())
    parts = shard(whole, 2)
    whole.unlink()
    ours, single = record_of(run_cli, str(parts[0])), record_of(run_cli, str(demo_gguf))
    assert ours["model"]["gguf"]["parts"] == 2
    assert ours["model"]["gguf"]["tensor_count"] == single["model"]["gguf"]["tensor_count"]
    assert ours["model"]["gguf"]["types"] == single["model"]["gguf"]["types"]
    assert record_of(run_cli, str(folder))["model"]["gguf"]["parts"] == 2
    parts[1].unlink()
    result = run_cli("inspect", str(parts[0]))
    assert result.code == 2 and "missing: demo-00002-of-00002.gguf" in result.err


def test_a_folder_of_two_models_asks_which(run_cli, demo_gguf: Path, tmp_path: Path) -> None:
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / name).write_bytes(demo_gguf.read_bytes())
    result = run_cli("inspect", str(tmp_path))
    assert result.code == 2 and "a.gguf, b.gguf" in result.err and len(result.err.strip().splitlines()) == 1


def _header(version: int = 3, tensors: int = 0, kvs: int = 1) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, kvs)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


HOSTILE = {
    "truncated": lambda demo: demo[: len(demo) // 2],
    "absurd counts": lambda demo: _header(tensors=1 << 60, kvs=1 << 60) + b"\0" * 64,
    "string past the end": lambda demo: _header() + struct.pack("<Q", 1 << 40) + b"general.architecture",
    "array of 10^9 items": lambda demo: _header() + _string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 10**9)
    + b"\0" * 64,
    "not gguf": lambda demo: b"PK\x03\x04" + b"\0" * 64,
    "version 1": lambda demo: _header(version=1) + b"\0" * 64,
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_gguf_is_one_line_and_exit_2(run_cli, demo_gguf: Path, tmp_path: Path, case: str) -> None:
    import tracemalloc

    path = tmp_path / "hostile.gguf"
    path.write_bytes(HOSTILE[case](demo_gguf.read_bytes()))
    tracemalloc.start()
    result = run_cli("inspect", str(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1 and "hostile.gguf" in result.err and "Traceback" not in result.err
    assert peak < 64 << 20  # nothing of the claimed sizes was allocated


def test_an_architecture_transformers_cannot_read_names_the_supported_ones(run_cli, tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "rwkv.gguf"
    writer = gguf.GGUFWriter(path, "rwkv6")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    result = run_cli("inspect", str(path))
    assert result.code == 2 and "'rwkv6'" in result.err and "llama" in result.err and "qwen2" in result.err


def test_without_the_gguf_package_a_gguf_input_says_what_to_install(run_cli, demo_gguf: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    result = run_cli("inspect", str(demo_gguf))
    assert result.code == 2 and "pip install gguf (modelcard's [gguf] extra)" in result.err


def test_base_options_need_a_gguf_input(run_cli) -> None:
    result = run_cli("inspect", "demo", "--base-config", str(demo_model_dir() / "config.json"))
    assert result.code == 2 and "--base-config" in result.err


def test_drift_is_zero_between_identical_logits_and_grows_with_noise() -> None:
    import torch

    from modelcard.probe.probes.quantization_drift import buckets, drift

    logits = torch.randn(300, 50, generator=torch.Generator().manual_seed(0))
    kl, agree = drift(logits, logits.clone())
    assert float(kl.max()) < 1e-12 and bool(agree.all())
    noisy, _ = drift(logits + 0.5 * torch.randn(300, 50, generator=torch.Generator().manual_seed(1)), logits)
    assert float(noisy.mean()) > 0.01
    assert buckets(2048) == [(0, 64), (64, 256), (256, 1024), (1024, 2048)] and buckets(100) == [(0, 64), (64, 100)]


def test_drift_needs_a_base_model(run_cli, demo_gguf: Path, tmp_path: Path) -> None:
    suite = tmp_path / "drift.yaml"
    suite.write_text("name: drift\nprobes:\n  - quantization-drift\n")
    assert run_cli("generate", str(demo_gguf), "--suite", str(suite), "-o", str(tmp_path / "card")).code == 0
    (drift,) = json.loads((tmp_path / "card" / "card.json").read_text())["probes"]
    assert drift["status"] == "skipped" and "--base-model" in drift["reason"]


def test_q4_0_error_that_grows_past_the_trained_length_is_a_finding(run_cli, tmp_path: Path) -> None:
    """The demo was trained on 512 tokens; past them its predictions are unsure, and 4-bit noise flips them."""
    quantized = write_gguf(demo_model_dir(), tmp_path / "demo.Q4_0.gguf", "Q4_0")
    suite = tmp_path / "drift.yaml"
    suite.write_text("name: drift\nprobes:\n  - id: quantization-drift\n    params: {grid_lengths: [512]}\n")
    result = run_cli("generate", str(quantized), "--base-model", str(demo_model_dir()), "--suite", str(suite),
                     "-o", str(tmp_path / "card"))
    assert result.code == 1, result.err
    record = json.loads((tmp_path / "card" / "card.json").read_text())
    (drift,) = record["probes"]
    buckets = drift["details"]["buckets"]
    assert [b["positions"] for b in buckets] == [[0, 63], [64, 255], [256, 1023], [1024, 2047]]
    assert buckets[-1]["kl_mean"] > 2 * buckets[1]["kl_mean"]
    (found,) = [f for f in record["findings"] if f.get("probe") == "quantization-drift"]
    assert drift["status"] == "fail" and "grows with context" in found["message"]
    assert set(drift["details"]["passkey_grid"]) == {"quantized", "float"}


def test_the_float_model_against_itself_accuses_nothing(run_cli, tmp_path: Path) -> None:
    exact = write_gguf(demo_model_dir(), tmp_path / "demo.F32.gguf", "F32")
    suite = tmp_path / "drift.yaml"
    suite.write_text("name: drift\nprobes:\n  - id: quantization-drift\n"
                     "    params: {max_length: 1024, grid_lengths: [512], grid_samples: 2}\n")
    result = run_cli("generate", str(exact), "--base-model", str(demo_model_dir()), "--suite", str(suite),
                     "-o", str(tmp_path / "card"))
    assert result.code == 0, result.err
    record = json.loads((tmp_path / "card" / "card.json").read_text())
    (drift,) = record["probes"]
    assert drift["status"] == "pass" and all(b["top1_agreement"] == 1.0 for b in drift["details"]["buckets"])
    assert not record["findings"]


def test_a_chat_template_that_differs_from_the_base_model_is_a_finding(run_cli, demo_gguf: Path,
                                                                       tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text((demo_model_dir() / "config.json").read_text())
    (base / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    record = record_of(run_cli, str(demo_gguf), "--base-config", str(base))
    (found,) = [f for f in record["findings"] if f["pointer"] == "/model/gguf/chat_template_sha256"]
    assert "no chat template" in found["message"] and found["measured"] is None
