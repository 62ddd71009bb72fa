"""Real published config.json files (tests/fixtures/real-configs, sources in its SOURCES.md) inspected in this
one process, as a new user would run `modelcard inspect` on them: every one inspects without error into a
schema-valid record, and each model's headline facts agree with the values its publisher states (model cards,
papers, technical reports). The expected values below were written from those publications, not copied from
modelcard's output; `test_headline_facts_agree_with_published_values` reports agreement field by field."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real-configs"
BF16 = FP16 = 2
FP32 = 4
SLIDING, FULL, CHUNKED, LINEAR, SSM = "sliding", "full", "chunked", "linear", "state-space"


def same(kind: str, count: int, window: int | None = None) -> list[tuple[str, int | None]]:
    return [(kind, window)] * count


def alternating(count: int, window: int) -> list[tuple[str, int | None]]:
    """Gemma 2, gpt-oss: a sliding layer first, then a full one, and so on."""
    return [(SLIDING, window) if index % 2 == 0 else (FULL, None) for index in range(count)]


def every(count: int, period: int, kind: str, window: int | None, other: str) -> list[tuple[str, int | None]]:
    """`other` on every `period`-th layer (the last of each group), `kind` elsewhere."""
    return [(other, None) if (index + 1) % period == 0 else (kind, window) for index in range(count)]


def nemotron(pattern: str) -> list[tuple[str, int | None]]:
    """NVIDIA's published layer pattern: M = Mamba-2, * = attention, - / E = MLP / MoE (no token mixing)."""
    return [(SSM, None) if char == "M" else (FULL, None) for char in pattern if char in "M*"]


@dataclass(frozen=True)
class Published:
    cls: str  # architecture class
    layers: int  # layers of the language model
    heads: tuple[int, int, int, str]  # query heads, KV heads, head size, grouping
    kinds: list[tuple[str, int | None]]  # (kind, window) of every token-mixing layer of the language model
    context: int | None  # context window the config declares
    position: str
    theta: float | None  # RoPE base
    scaling: tuple[str, float | None, int | None] | None  # RoPE scaling type, factor, original context
    kv_bytes: int  # KV-cache bytes per token, all layers, at kv_dtype
    kv_dtype: str  # the declared dtype, or "bfloat16 (assumed)" where the config declares none


def gqa(query: int, kv: int, head_dim: int) -> tuple[int, int, int, str]:
    return (query, kv, head_dim, "MHA" if query == kv else "MQA" if kv == 1 else "GQA")


def kv(layers: int, kv_heads: int, head_dim: int, width: int) -> int:
    return layers * 2 * kv_heads * head_dim * width


# 118 layers: 54 Mamba-2, 10 attention, 54 FFN (NVIDIA's model card)
NEMOTRON_H_56B = ("M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*"
                  "-M-M-M-M-M*-M-M-M-M-M-")
NEMOTRON_3_NANO = "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME"
ASSUMED = "bfloat16 (assumed)"

PUBLISHED: dict[str, Published] = {
    "aya-23-8b": Published("decoder-only", 32, gqa(32, 8, 128), same(FULL, 32), 8192, "rope", 10000, None,
                           kv(32, 8, 128, FP16), "float16"),
    "bert-base-uncased": Published("encoder-only", 12, gqa(12, 12, 64), same(FULL, 12), 512, "learned-absolute",
                                   None, None, 0, "float32"),
    # MLA caches its latent: kv_lora_rank 512 + rope head 64 values per layer and token
    "deepseek-v2-lite": Published("decoder-only", 27, (16, 16, 192, "MLA"), same(FULL, 27), 163840, "rope", 10000,
                                  ("yarn", 40.0, 4096), 27 * (512 + 64) * BF16, "bfloat16"),
    "deepseek-v3": Published("decoder-only", 61, (128, 128, 192, "MLA"), same(FULL, 61), 163840, "rope", 10000,
                             ("yarn", 40.0, 4096), 61 * (512 + 64) * BF16, "bfloat16"),
    "gemma-2-9b-it": Published("decoder-only", 42, gqa(16, 8, 256), alternating(42, 4096), 8192, "rope", 10000,
                               None, kv(42, 8, 256, BF16), "bfloat16"),
    "gemma-3-1b-it": Published("decoder-only", 26, gqa(4, 1, 256), every(26, 6, SLIDING, 512, FULL), 32768, "rope",
                               1_000_000, None, kv(26, 1, 256, BF16), "bfloat16"),
    "gemma-3-27b-it": Published("multimodal", 62, gqa(32, 16, 128), every(62, 6, SLIDING, 1024, FULL), 131072,
                                "rope", 1_000_000, ("linear", 8.0, None), kv(62, 16, 128, BF16), "bfloat16"),
    "glm-4.5": Published("decoder-only", 92, gqa(96, 8, 128), same(FULL, 92), 131072, "rope", 1_000_000, None,
                         kv(92, 8, 128, BF16), "bfloat16"),
    "gpt-bigcode-santacoder": Published("decoder-only", 24, gqa(16, 1, 128), same(FULL, 24), 2048, "learned-absolute",
                                        None, None, kv(24, 1, 128, BF16), ASSUMED),
    "gpt-oss-120b": Published("decoder-only", 36, gqa(64, 8, 64), alternating(36, 128), 131072, "rope", 150000,
                              ("yarn", 32.0, 4096), kv(36, 8, 64, BF16), ASSUMED),
    "gpt-oss-20b": Published("decoder-only", 24, gqa(64, 8, 64), alternating(24, 128), 131072, "rope", 150000,
                             ("yarn", 32.0, 4096), kv(24, 8, 64, BF16), ASSUMED),
    "gpt2": Published("decoder-only", 12, gqa(12, 12, 64), same(FULL, 12), 1024, "learned-absolute", None, None,
                      kv(12, 12, 64, FP32), "float32"),
    "llama-2-7b-chat-hf": Published("decoder-only", 32, gqa(32, 32, 128), same(FULL, 32), 4096, "rope", 10000, None,
                                    kv(32, 32, 128, FP16), "float16"),
    "llama-3.1-8b": Published("decoder-only", 32, gqa(32, 8, 128), same(FULL, 32), 131072, "rope", 500000,
                              ("llama3", 8.0, 8192), kv(32, 8, 128, BF16), "bfloat16"),
    "llama-3.2-1b-instruct": Published("decoder-only", 16, gqa(32, 8, 64), same(FULL, 16), 131072, "rope", 500000,
                                       ("llama3", 32.0, 8192), kv(16, 8, 64, BF16), "bfloat16"),
    # chunked attention (8,192) on three layers of four; every fourth layer is global and uses no RoPE
    "llama-4-scout-17b-16e-instruct": Published("multimodal", 48, gqa(40, 8, 128), every(48, 4, CHUNKED, 8192, FULL),
                                                10485760, "mixed", 500000, ("llama3", 16.0, 8192),
                                                kv(48, 8, 128, BF16), "bfloat16"),
    "meta-llama-3-8b-instruct": Published("decoder-only", 32, gqa(32, 8, 128), same(FULL, 32), 8192, "rope", 500000,
                                          None, kv(32, 8, 128, BF16), "bfloat16"),
    "minimax-m2.5": Published("decoder-only", 62, gqa(48, 8, 128), same(FULL, 62), 196608, "rope", 5_000_000, None,
                              kv(62, 8, 128, BF16), ASSUMED),
    "mistral-nemo-base-2407": Published("decoder-only", 40, gqa(32, 8, 128), same(FULL, 40), 128000, "rope",
                                        1_000_000, None, kv(40, 8, 128, BF16), "bfloat16"),
    "mixtral-8x22b-v0.1": Published("decoder-only", 56, gqa(48, 8, 128), same(FULL, 56), 65536, "rope", 1_000_000,
                                    None, kv(56, 8, 128, BF16), "bfloat16"),
    "mixtral-8x7b-v0.1": Published("decoder-only", 32, gqa(32, 8, 128), same(FULL, 32), 32768, "rope", 1_000_000,
                                   None, kv(32, 8, 128, BF16), "bfloat16"),
    # Mamba-2 and attention layers (the attention layers use no position encoding); MoE / MLP layers mix no tokens
    "nemotron-3-nano-30b-a3b": Published("hybrid", 52, gqa(32, 2, 128), nemotron(NEMOTRON_3_NANO), 262144, "none",
                                         None, None, kv(6, 2, 128, BF16), "bfloat16"),
    "nemotron-h-56b-base-8k": Published("hybrid", 118, gqa(64, 8, 128), nemotron(NEMOTRON_H_56B), 8192, "none", None,
                                        None, kv(10, 8, 128, BF16), "bfloat16"),
    "olmo-2-1124-7b": Published("decoder-only", 32, gqa(32, 32, 128), same(FULL, 32), 4096, "rope", 500000, None,
                                kv(32, 32, 128, FP32), "float32"),
    # a 262,144-token window on a 131,072-token context: full attention
    "phi-3-mini-128k-instruct": Published("decoder-only", 32, gqa(32, 32, 96), same(FULL, 32), 131072, "rope", 10000,
                                          ("longrope", None, 4096), kv(32, 32, 96, BF16), "bfloat16"),
    "phi-3-mini-4k-instruct": Published("decoder-only", 32, gqa(32, 32, 96), same(SLIDING, 32, 2047), 4096, "rope",
                                        10000, None, kv(32, 32, 96, BF16), "bfloat16"),
    "qwen2.5-3b-instruct": Published("decoder-only", 36, gqa(16, 2, 128), same(FULL, 36), 32768, "rope", 1_000_000,
                                     None, kv(36, 2, 128, BF16), "bfloat16"),
    "qwen3-0.6b": Published("decoder-only", 28, gqa(16, 8, 128), same(FULL, 28), 40960, "rope", 1_000_000, None,
                            kv(28, 8, 128, BF16), "bfloat16"),
    "qwen3-30b-a3b": Published("decoder-only", 48, gqa(32, 4, 128), same(FULL, 48), 40960, "rope", 1_000_000, None,
                               kv(48, 4, 128, BF16), "bfloat16"),
    "qwen3-8b": Published("decoder-only", 36, gqa(32, 8, 128), same(FULL, 36), 40960, "rope", 1_000_000, None,
                          kv(36, 8, 128, BF16), "bfloat16"),
    # Gated DeltaNet on three layers of four, gated attention on every fourth
    "qwen3-next-80b-a3b-thinking": Published("hybrid", 48, gqa(16, 2, 256), every(48, 4, LINEAR, None, FULL), 262144,
                                             "rope", 10_000_000, None, kv(12, 2, 256, BF16), "bfloat16"),
    "redpajama-incite-chat-3b-v1": Published("decoder-only", 32, gqa(32, 32, 80), same(FULL, 32), 2048, "rope", 10000,
                                             None, kv(32, 32, 80, FP16), "float16"),
    "starcoder2-7b": Published("decoder-only", 32, gqa(36, 4, 128), same(SLIDING, 32, 4096), 16384, "rope",
                               1_000_000, None, kv(32, 4, 128, BF16), "bfloat16"),
    # the decoder's self-attention cache; relative position buckets, 512 tokens as the config states
    "t5-small": Published("encoder-decoder", 6, gqa(8, 8, 64), same(FULL, 6), 512, "relative-bias", None, None,
                          kv(6, 8, 64, FP32), "float32"),
}


def real_config_names() -> list[str]:
    return sorted(path.parent.name for path in FIXTURES.glob("*/config.json"))


def main_stack_name(record: dict[str, Any]) -> str:
    names = [layer["stack"] for layer in record["attention"]["layers"]]
    return next(name for name in ("decoder", "text", "encoder") if name in names)


def observed(record: dict[str, Any]) -> Published:
    """The same headline facts, as the record states them."""
    heads, position, kv_cache = record["attention"]["heads"], record["position"], record["kv_cache"]
    rope, main = position["rope"] or {}, main_stack_name(record)
    scaling = rope.get("scaling")
    assumed = record["model"]["dtype"] is None and record["provenance"].get("/kv_cache/dtype") == "derived"
    return Published(
        cls=record["architecture"]["class"],
        layers=record["architecture"]["num_layers"],
        heads=(heads["query"], heads["key_value"], heads["head_dim"], heads["grouping"]),
        kinds=[(layer["kind"], layer["window"]) for layer in record["attention"]["layers"] if layer["stack"] == main],
        context=record["context_window"]["declared"],
        position=position["kind"],
        theta=rope.get("theta"),
        scaling=(scaling["type"], scaling["factor"], scaling["original_context"]) if scaling else None,
        kv_bytes=kv_cache["bytes_per_token"],
        kv_dtype=f"{kv_cache['dtype']} (assumed)" if assumed else kv_cache["dtype"],
    )


@pytest.fixture(scope="module")
def records() -> dict[str, dict[str, Any]]:
    """Every real config inspected in this process, through the same path as `modelcard inspect`."""
    import warnings

    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record
    from modelcard.record.validate import validate_record

    found = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in real_config_names():
            record = inspect_record(str(FIXTURES / name), LoadOptions())
            errors = validate_record(record)
            assert not errors, (name, [str(error) for error in errors])
            found[name] = record
    return found


def agreement(records: dict[str, dict[str, Any]]) -> tuple[Counter, list[str]]:
    """(fields that agree, by field name), and one line per disagreement."""
    agree: Counter = Counter()
    differences = []
    for name, expected in PUBLISHED.items():
        seen = observed(records[name])
        for field in fields(Published):
            want, got = getattr(expected, field.name), getattr(seen, field.name)
            if want == got:
                agree[field.name] += 1
            else:
                differences.append(f"{name}.{field.name}: published {want!r}, card {got!r}")
    return agree, differences


def test_the_fixtures_are_the_shared_set_with_their_sources() -> None:
    names = real_config_names()
    assert len(names) >= 34 and set(names) == set(PUBLISHED)
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    assert all(f"| {name} |" in sources for name in names)


def test_every_real_config_inspects_from_the_command_line(run_cli) -> None:
    """`modelcard inspect` (in-process, one interpreter for all of them) exits 0 on every real config."""
    for name in real_config_names():
        result = run_cli("inspect", FIXTURES / name, "--format", "json")
        assert result.code == 0, (name, result.err)
        assert json.loads(result.out)["model"]["config_sha256"]


def test_headline_facts_agree_with_published_values(records: dict[str, dict[str, Any]]) -> None:
    agree, differences = agreement(records)
    total = len(PUBLISHED) * len(fields(Published))
    summary = ", ".join(f"{field.name} {agree[field.name]}/{len(PUBLISHED)}" for field in fields(Published))
    assert not differences, f"{sum(agree.values())}/{total} agree ({summary}):\n" + "\n".join(differences)


# ---- the truth fixes, each on the real config that showed it


def ignored(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["key"]: entry for entry in record["inspection"]["ignored_config_keys"]}


def inspection_findings(record: dict[str, Any], pointer: str) -> list[dict[str, Any]]:
    return [finding for finding in record["findings"] if finding["pointer"] == pointer]


def test_a_window_as_wide_as_the_context_is_full_attention(records: dict[str, dict[str, Any]]) -> None:
    """Phi-3-mini-128k: sliding_window 262,144 on a 131,072-token context."""
    record = records["phi-3-mini-128k-instruct"]
    assert {(layer["kind"], layer["window"]) for layer in record["attention"]["layers"]} == {("full", None)}
    assert record["masking"]["stacks"]["decoder"]["window"] is None
    assert all(layer["kind"] == "full" and layer["max_tokens"] is None for layer in record["kv_cache"]["layers"])
    entry = ignored(record)["sliding_window"]
    assert entry["value"] == 262144 and "at least the context window" in entry["reason"]
    assert not inspection_findings(record, "/attention/layers")  # no behaviour differs: nothing to warn about
    # the 4k model's window (2,047 on 4,096) is narrower than its context: it slides
    assert "sliding_window" not in ignored(records["phi-3-mini-4k-instruct"])


@pytest.mark.parametrize("name", ["gpt-oss-20b", "gpt-oss-120b"])
def test_an_undeclared_dtype_is_unknown_and_kv_is_given_at_bfloat16_assumed(
        name: str, records: dict[str, dict[str, Any]]) -> None:
    record = records[name]
    assert record["model"]["dtype"] is None
    assert record["unknowns"]["/model/dtype"]["kind"] == "unknown"
    assert "declares no dtype" in record["unknowns"]["/model/dtype"]["reason"]
    kv_cache = record["kv_cache"]
    assert kv_cache["dtype"] == "bfloat16"
    layers = record["architecture"]["num_layers"]
    assert kv_cache["bytes_per_token"] == layers * 2 * 8 * 64 * BF16  # half of what float32 costing said
    for pointer in ("/kv_cache/dtype", "/kv_cache/bytes_per_token", "/kv_cache/bytes_at", "/kv_cache/layers"):
        assert record["provenance"][pointer] == "derived"
    (finding,) = inspection_findings(record, "/kv_cache/dtype")
    assert finding["severity"] == "info" and "assume bfloat16" in finding["message"]


def test_a_declared_dtype_is_detected(records: dict[str, dict[str, Any]]) -> None:
    record = records["llama-3.1-8b"]
    assert record["model"]["dtype"] == "bfloat16" and "/model/dtype" not in record["unknowns"]
    assert "/kv_cache/dtype" not in record["provenance"]  # covered by /kv_cache: detected


def test_a_window_key_the_code_never_reads_is_ignored_with_a_warning(records: dict[str, dict[str, Any]]) -> None:
    """Gemma 2's sliding_window_size: Gemma2's code reads sliding_window, never sliding_window_size."""
    record = records["gemma-2-9b-it"]
    entry = ignored(record)["sliding_window_size"]
    assert entry["value"] == 4096 and "never reads sliding_window_size" in entry["reason"]
    (finding,) = inspection_findings(record, "/attention/layers")
    assert finding["severity"] == "warning" and finding["declared"] == {"sliding_window_size": 4096}
    assert "sliding_window" not in ignored(record)  # the key the code reads acts: 21 sliding layers


def test_rope_keys_on_a_model_without_rope_are_ignored_with_a_warning(records: dict[str, dict[str, Any]]) -> None:
    record = records["nemotron-3-nano-30b-a3b"]
    assert record["position"]["kind"] == "none"
    assert {"rope_theta", "partial_rotary_factor"} <= set(ignored(record))
    (finding,) = inspection_findings(record, "/position/kind")
    assert finding["severity"] == "warning" and finding["declared"] == {"rope_theta": 10000,
                                                                         "partial_rotary_factor": 1.0}
    # a model that applies RoPE keeps its rope keys
    assert "rope_theta" not in ignored(records["llama-3.1-8b"])


@pytest.mark.parametrize("name, keys", [("deepseek-v3", {"num_nextn_predict_layers"}),
                                        ("glm-4.5", {"num_nextn_predict_layers"}),
                                        ("minimax-m2.5", {"use_mtp", "num_mtp_modules", "mtp_transformer_layers"})])
def test_mtp_layers_the_code_does_not_build_are_ignored_with_a_warning(
        name: str, keys: set[str], records: dict[str, dict[str, Any]]) -> None:
    record = records[name]
    assert keys <= set(ignored(record))
    (finding,) = inspection_findings(record, "/architecture/num_layers")
    assert finding["severity"] == "warning" and set(finding["declared"]) == keys
    assert finding["measured"] == PUBLISHED[name].layers  # the MTP layers are not counted


def test_a_window_switched_off_in_the_config_is_listed_without_a_warning(records: dict[str, dict[str, Any]]) -> None:
    """Qwen2.5's sliding_window with use_sliding_window false claims nothing: listed, no finding."""
    record = records["qwen2.5-3b-instruct"]
    assert ignored(record)["sliding_window"]["reason"] == "use_sliding_window is false, so no layer slides"
    assert "max_window_layers" in ignored(record)
    assert not [finding for finding in record["findings"] if finding["severity"] != "info"]


def test_qwen3_next_mtp_keys_are_ignored(tmp_path: Path) -> None:
    """The released Qwen3-Next config carries mtp_num_hidden_layers / mtp_use_dedicated_embeddings; transformers
    builds no MTP module for it (its checkpoint's mtp.* weights are skipped on load)."""
    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record

    data = json.loads((FIXTURES / "qwen3-next-80b-a3b-thinking" / "config.json").read_text(encoding="utf-8"))
    data.update(mtp_num_hidden_layers=1, mtp_use_dedicated_embeddings=False)
    (tmp_path / "config.json").write_text(json.dumps(data), encoding="utf-8")
    record = inspect_record(str(tmp_path), LoadOptions())
    assert "mtp_num_hidden_layers" in ignored(record)
    (finding,) = inspection_findings(record, "/architecture/num_layers")
    assert finding["declared"] == {"mtp_num_hidden_layers": 1}
