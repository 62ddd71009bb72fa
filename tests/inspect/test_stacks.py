"""Per-stack truth for multi-tower and encoder-decoder models: masking and position encoding of every stack,
decided by what each stack's modeling code does (tiny configs from transformers' own config classes, built
on the meta device)."""

from __future__ import annotations

import json
from typing import Any

import pytest

TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2)
VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2, image_size=32,
              patch_size=8)
SEQ2SEQ = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
               encoder_ffn_dim=37, decoder_ffn_dim=37, vocab_size=99)


def config(name: str) -> dict[str, Any]:
    import transformers

    builders = {
        "clip": lambda: transformers.CLIPConfig(text_config={**TEXT, "max_position_embeddings": 77},
                                                vision_config=VISION),
        "siglip": lambda: transformers.SiglipConfig(text_config={**TEXT, "max_position_embeddings": 64},
                                                    vision_config=VISION),
        "whisper": lambda: transformers.WhisperConfig(**{**SEQ2SEQ, "vocab_size": 51865}, num_mel_bins=8,
                                                      max_source_positions=30, max_target_positions=40),
        "t5": lambda: transformers.T5Config(d_model=32, d_kv=16, d_ff=37, num_layers=2, num_decoder_layers=2,
                                            num_heads=2, vocab_size=99),
        "bart": lambda: transformers.BartConfig(**SEQ2SEQ, max_position_embeddings=64),
        "marian": lambda: transformers.MarianConfig(**SEQ2SEQ, max_position_embeddings=64, pad_token_id=1,
                                                    decoder_start_token_id=1, eos_token_id=0),
        "roberta": lambda: transformers.RobertaConfig(**TEXT, vocab_size=99, max_position_embeddings=66),
        "paligemma": lambda: transformers.PaliGemmaConfig(
            text_config={**TEXT, "model_type": "gemma", "num_key_value_heads": 1, "head_dim": 16,
                         "vocab_size": 99},
            vision_config={**VISION, "model_type": "siglip_vision_model"}),
    }
    data = json.loads(builders[name]().to_json_string())
    data["dtype"] = "float32"
    return data


# name -> class, {stack: mask}, position kind, {stack: position}, {stack: offset}, context
EXPECTED: dict[str, tuple[Any, ...]] = {
    # CLIP's text transformer builds a causal mask (its attention modules say is_causal = False); images both ways
    "clip": ("multimodal", {"vision": "bidirectional", "text": "causal"}, "learned-absolute",
             {"vision": "learned-absolute", "text": "learned-absolute"}, {}, 77),
    # SigLIP's text tower has no causal mask
    "siglip": ("multimodal", {"vision": "bidirectional", "text": "bidirectional"}, "learned-absolute",
               {"vision": "learned-absolute", "text": "learned-absolute"}, {}, 64),
    # Whisper: the encoder's table is frozen and filled with sinusoids, the decoder's is learned
    "whisper": ("encoder-decoder", {"encoder": "bidirectional", "decoder": "causal", "cross": "bidirectional"},
                "mixed", {"encoder": "sinusoidal", "decoder": "learned-absolute"}, {}, 40),
    # T5: a relative position bias in both stacks, no absolute limit
    "t5": ("encoder-decoder", {"encoder": "bidirectional", "decoder": "causal", "cross": "bidirectional"},
           "relative-bias", {"encoder": "relative-bias", "decoder": "relative-bias"}, {}, None),
    # BART: learned tables with 2 rows before the first position; the context is max_position_embeddings
    "bart": ("encoder-decoder", {"encoder": "bidirectional", "decoder": "causal", "cross": "bidirectional"},
             "learned-absolute", {"encoder": "learned-absolute", "decoder": "learned-absolute"},
             {"encoder": 2, "decoder": 2}, 64),
    # Marian: fixed sinusoids in both stacks (the same scheme: not mixed)
    "marian": ("encoder-decoder", {"encoder": "bidirectional", "decoder": "causal", "cross": "bidirectional"},
               "sinusoidal", {"encoder": "sinusoidal", "decoder": "sinusoidal"}, {}, 64),
    # RoBERTa counts positions from padding_idx + 1: 66 rows, 64 usable
    "roberta": ("encoder-only", {"encoder": "bidirectional"}, "learned-absolute", None, {"encoder": 2}, 64),
    # PaliGemma: image + prompt attend both ways, the answer causally
    "paligemma": ("multimodal", {"vision": "bidirectional", "text": "prefix"}, "rope",
                  {"vision": "learned-absolute", "text": "rope"}, {}, 8192),
}


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, dict[str, Any]]:
    from inspect_helpers import inspect_dict

    folder = tmp_path_factory.mktemp("stacks")
    return {name: inspect_dict(config(name), folder / name) for name in EXPECTED}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_masking_and_position_per_stack(name: str, records: dict[str, dict[str, Any]]) -> None:
    record = records[name]
    cls, masks, kind, stacks, offsets, context = EXPECTED[name]
    assert record["architecture"]["class"] == cls
    assert {stack: entry["mask"] for stack, entry in record["masking"]["stacks"].items()} == masks
    assert record["position"]["kind"] == kind
    assert record["position"].get("stacks") == stacks
    assert record["position"].get("offsets", {}) == offsets
    assert record["context_window"]["declared"] == context
    if "stacks" in record["architecture"]:
        for stack, summary in record["architecture"]["stacks"].items():
            if stack in masks:
                assert summary["causal"] == (masks[stack] != "bidirectional")


@pytest.mark.parametrize("name", ["clip", "siglip"])
def test_a_text_tower_that_takes_no_cache_keeps_none(name: str, records: dict[str, dict[str, Any]]) -> None:
    kv = records[name]["kv_cache"]
    assert (kv["bytes_per_token"], kv["layers"]) == (0, [])
    assert "takes no cache" in records[name]["unknowns"]["/kv_cache/layers"]["reason"]


def test_a_generating_text_stack_keeps_its_cache(records: dict[str, dict[str, Any]]) -> None:
    kv = records["paligemma"]["kv_cache"]
    assert kv["bytes_per_token"] == 2 * 2 * 1 * 16 * 4  # 2 layers, K and V, 1 KV head of 16, float32
