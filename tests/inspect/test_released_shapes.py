"""Table-driven: released model shapes (tests/inspect/released_shapes.py) and every static fact the card
states about them. Expected values come from the models' papers and published configs."""

from __future__ import annotations

from typing import Any

import pytest
import released_shapes as shapes
from inspect_helpers import layer_summary

BF16 = 2

# name -> expected facts; a key absent from an entry is not checked for that model
EXPECTED: dict[str, dict[str, Any]] = {
    "LLAMA_3_1_8B": dict(cls="decoder-only", params=8_030_261_248, heads=(32, 8, 128, "GQA"),
                         kinds={("full", None): 32}, position="rope", scaling=("llama3", 8.0, 8192),
                         declared=131072, original=8192, kv=32 * 2 * 8 * 128 * BF16),
    "LLAMA_STRAY_WINDOW": dict(kinds={("full", None): 2}, ignored={"sliding_window"}, mask=("decoder", None, None)),
    "MISTRAL_7B_V01": dict(params=7_241_732_096, kinds={("sliding", 4096): 32}, declared=32768,
                           mask=("decoder", 4096, None), kv=32 * 2 * 8 * 128 * BF16,
                           at={4096: 32 * 2 * 8 * 128 * BF16 * 4095, 32768: 32 * 2 * 8 * 128 * BF16 * 4095}),
    "QWEN2_5_7B": dict(params=7_615_616_512, heads=(28, 4, 128, "GQA"), kinds={("full", None): 28},
                       ignored={"sliding_window"}, declared=32768),
    "QWEN3_0_6B": dict(heads=(16, 8, 128, "GQA"), features={"qk-norm"}, declared=40960),
    "GEMMA_2_9B": dict(heads=(16, 8, 256, "GQA"), kinds={("sliding", 4096): 21, ("full", None): 21},
                       features={"logit-softcapping"}, declared=8192, mask=("decoder", 4096, None)),
    "GEMMA_3_4B_TEXT": dict(heads=(8, 4, 256, "GQA"), kinds={("sliding", 1024): 29, ("full", None): 5},
                            scaling=("linear", 8.0, None), declared=131072, features={"qk-norm"},
                            per_layer_rope={"sliding_attention": 10000.0, "full_attention": 1000000.0}),
    "DEEPSEEK_V3": dict(params=671_026_404_352, heads=(128, 128, 192, "MLA"), mla=(512, 64),
                        kinds={("full", None): 61}, scaling=("yarn", 40.0, 4096), declared=163840, original=4096,
                        kv=61 * (512 + 64) * BF16),
    "DEEPSEEK_V2_LITE": dict(heads=(16, 16, 192, "MLA"), mla=(512, 64), kv=27 * (512 + 64) * BF16,
                             declared=163840, original=4096),
    "LLAMA_4_SCOUT_TEXT": dict(heads=(40, 8, 128, "GQA"), kinds={("chunked", 8192): 36, ("full", None): 12},
                               position="mixed", nope=list(range(3, 48, 4)), declared=10485760, original=8192,
                               mask=("decoder", None, 8192)),
    "MIXTRAL_8X7B": dict(params=46_702_792_704, kinds={("full", None): 32}, kv=32 * 2 * 8 * 128 * BF16),
    "FALCON_7B": dict(heads=(71, 1, 64, "MQA"), position="rope", kv=32 * 2 * 64 * BF16),
    "FALCON_40B": dict(heads=(128, 8, 64, "GQA")),
    "BLOOM_560M": dict(cls="decoder-only", heads=(16, 16, 64, "MHA"), position="alibi", features={"alibi"},
                       declared=None),
    "MPT_7B": dict(position="alibi", features={"alibi"}, declared=2048, heads=(32, 32, 128, "MHA")),
    # no dtype in the config and no weights: the KV figures assume bfloat16 (derived), model.dtype is unknown
    "GPT2": dict(params=124_439_808, position="learned-absolute", declared=1024, kv=12 * 2 * 768 * BF16,
                 dtype=None),
    "BERT_BASE": dict(cls="encoder-only", params=109_482_240, declared=512, mask=("encoder", None, None), kv=0),
    "ROBERTA_BASE": dict(cls="encoder-only", declared=512, position="learned-absolute"),
    "T5_BASE": dict(cls="encoder-decoder", position="relative-bias", declared=None, features={"cross-attention"},
                    stacks={"encoder": 12, "decoder": 12, "cross": 12}, mask=("decoder", None, None)),
    "BART_LARGE": dict(cls="encoder-decoder", declared=1024, stacks={"encoder": 12, "decoder": 12, "cross": 12}),
    "WHISPER_SMALL": dict(cls="encoder-decoder", declared=448, stacks={"encoder": 12, "decoder": 12, "cross": 12}),
    "MAMBA_130M": dict(cls="state-space", grouping="none", kinds={("state-space", None): 24}, position="none",
                       declared=None, kv=0, state=24 * (1536 * 4 + 1536 * 16) * BF16, dtype=None),
    "JAMBA_V01": dict(cls="hybrid", params=51_570_323_328, kinds={("state-space", None): 28, ("full", None): 4},
                      position="none", kv=4 * 2 * 8 * 128 * BF16),
    "RECURRENT_GEMMA_2B": dict(cls="hybrid", heads=(10, 1, 256, "MQA"),
                               kinds={("state-space", None): 18, ("sliding", 2048): 8}, partial=0.5),
    "QWEN3_NEXT_80B": dict(cls="hybrid", kinds={("linear", None): 36, ("full", None): 12}, partial=0.25,
                           kv=12 * 2 * 2 * 256 * BF16),
    "LLAVA_1_5_7B": dict(cls="multimodal", params=7_063_427_072, stacks={"vision": 24, "text": 32},
                         mask=("vision", None, None), declared=4096, modalities=["text", "image"]),
    "GEMMA_3N_E2B_TEXT": dict(features={"kv-sharing"}, kinds={("sliding", 512): 24, ("full", None): 6},
                              kv=(20 * 2 * 2 * 256) * BF16),
    "LONGFORMER_BASE": dict(cls="encoder-only", kinds={("local-global", 512): 12}),
    "BIGBIRD_ROBERTA_BASE": dict(cls="encoder-only", kinds={("block-sparse", None): 12}),
    "GPT_OSS_20B": dict(features={"attention-sinks"}, kinds={("sliding", 128): 12, ("full", None): 12},
                        scaling=("yarn", 32.0, 4096), declared=131072, original=4096),
    # a window at least as wide as the context is full attention, and the key is listed as having no effect
    "PHI_3_MINI_128K": dict(scaling=("longrope", None, 4096), declared=131072, original=4096,
                            kinds={("full", None): 32}, ignored={"sliding_window"}, mask=("decoder", None, None)),
    "PHI_2": dict(partial=0.4, heads=(32, 32, 80, "MHA")),
    "SMOLLM3_3B": dict(position="mixed", nope=list(range(3, 36, 4))),
    "VIT_BASE": dict(cls="vision-encoder", mask=("vision", None, None), kv=0),
}


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> dict[str, dict[str, Any]]:
    from inspect_helpers import inspect_dict

    folder = tmp_path_factory.mktemp("released")
    return {name: inspect_dict(getattr(shapes, name), folder / name) for name in EXPECTED}


def test_at_least_25_released_shapes() -> None:
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_released_shape(name: str, records: dict[str, dict[str, Any]]) -> None:
    record, expect = records[name], EXPECTED[name]
    attention, position, context, kv = (record["attention"], record["position"], record["context_window"],
                                        record["kv_cache"])
    heads = attention["heads"]
    if "cls" in expect:
        assert record["architecture"]["class"] == expect["cls"]
    if "params" in expect:
        assert record["model"]["parameters"] == expect["params"]
    if "heads" in expect:
        assert (heads["query"], heads["key_value"], heads["head_dim"], heads["grouping"]) == expect["heads"]
    if "grouping" in expect:
        assert heads["grouping"] == expect["grouping"]
    if "mla" in expect:
        assert (heads["mla"]["kv_lora_rank"], heads["mla"]["qk_rope_head_dim"]) == expect["mla"]
    if "kinds" in expect:
        counts: dict[tuple, int] = {}
        for kind in layer_summary(record, "decoder" if record["architecture"]["class"] != "encoder-only"
                                  and any(layer["stack"] == "decoder" for layer in attention["layers"]) else None):
            counts[kind] = counts.get(kind, 0) + 1
        assert counts == expect["kinds"]
    if "stacks" in expect:
        stacks: dict[str, int] = {}
        for layer in attention["layers"]:
            stacks[layer["stack"]] = stacks.get(layer["stack"], 0) + 1
        assert stacks == expect["stacks"]
    if "features" in expect:
        assert expect["features"] <= set(attention["features"])
    if "position" in expect:
        assert position["kind"] == expect["position"]
    if "nope" in expect:
        assert position["nope_layers"] == expect["nope"]
    if "partial" in expect:
        assert position["rope"]["partial_rotary_factor"] == expect["partial"]
    if "scaling" in expect:
        scaling = position["rope"]["scaling"]
        assert (scaling["type"], scaling["factor"], scaling["original_context"]) == expect["scaling"]
    if "per_layer_rope" in expect:
        assert {key: value["theta"] for key, value in position["rope"]["per_layer_type"].items()} == \
            expect["per_layer_rope"]
    if "declared" in expect:
        assert context["declared"] == expect["declared"]
        if expect["declared"] is None:
            assert record["unknowns"]["/context_window/declared"]["reason"]
    if "original" in expect:
        assert context["original"] == expect["original"]
    if "mask" in expect:
        stack, window, chunk = expect["mask"]
        mask = record["masking"]["stacks"][stack]
        assert (mask["window"], mask["chunk"]) == (window, chunk)
        assert mask["mask"] == ("bidirectional" if stack in ("encoder", "vision") else "causal")
    if "kv" in expect:
        assert kv["bytes_per_token"] == expect["kv"]
    if "state" in expect:
        assert kv["constant_state_bytes"] == expect["state"]
    if "at" in expect:
        at = {point["tokens"]: point["bytes"] for point in kv["bytes_at"]}
        for tokens, size in expect["at"].items():
            assert at[tokens] == size
    if "ignored" in expect:
        assert expect["ignored"] <= {entry["key"] for entry in record["inspection"]["ignored_config_keys"]}
    else:
        assert not record["inspection"]["ignored_config_keys"]
    if "dtype" in expect:
        assert record["model"]["dtype"] == expect["dtype"]
        if expect["dtype"] is None:
            assert record["unknowns"]["/model/dtype"]["kind"] == "unknown"
            assert kv["dtype"] == "bfloat16" and record["provenance"]["/kv_cache/bytes_per_token"] == "derived"
    if "modalities" in expect:
        assert record["architecture"]["modalities"]["input"] == expect["modalities"]
