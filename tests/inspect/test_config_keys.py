"""Config keys that the model's code does not act on: listed in inspection.ignored_config_keys with the reason,
with a warning finding where the key claims a behaviour the model does not have; and the typed state that the
inspectors hand each other."""

from __future__ import annotations

from typing import Any

import released_shapes as shapes


def ignored(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["key"]: entry for entry in record["inspection"]["ignored_config_keys"]}


def warnings_at(record: dict[str, Any], pointer: str) -> list[dict[str, Any]]:
    return [f for f in record["findings"] if f["pointer"] == pointer and f["severity"] == "warning"]


def test_a_stray_window_is_ignored_with_a_warning(inspect_config) -> None:
    record = inspect_config(shapes.LLAMA_STRAY_WINDOW)
    assert "never reads sliding_window" in ignored(record)["sliding_window"]["reason"]
    (finding,) = warnings_at(record, "/attention/layers")
    assert finding["declared"] == {"sliding_window": 4096}
    assert finding["measured"] == "full attention on every layer"


def test_layer_types_the_code_never_reads_warn_only_when_they_claim_a_window(inspect_config) -> None:
    """Llama's code never reads layer_types: a list that claims sliding layers is a warning; one of full layers
    claims nothing the model lacks."""
    sliding = ["sliding_attention", "full_attention"]
    record = inspect_config({**shapes.LLAMA_STRAY_WINDOW, "sliding_window": None, "layer_types": sliding})
    assert "layer_types" in ignored(record)
    (finding,) = warnings_at(record, "/attention/layers")
    assert finding["declared"] == {"layer_types": ["sliding_attention"]}
    record = inspect_config({**shapes.LLAMA_STRAY_WINDOW, "sliding_window": None,
                             "layer_types": ["full_attention"] * 2})
    assert "layer_types" in ignored(record) and not warnings_at(record, "/attention/layers")


def test_rope_keys_on_a_model_without_rope(inspect_config) -> None:
    record = inspect_config({**shapes.MAMBA_130M, "rope_theta": 10000.0})
    assert ignored(record)["rope_theta"]["reason"].startswith("no layer of MambaForCausalLM applies rotary")
    (finding,) = warnings_at(record, "/position/kind")
    assert finding["declared"] == {"rope_theta": 10000.0} and finding["measured"] == "none"


def test_a_chunk_as_wide_as_the_context_is_full_attention(inspect_config) -> None:
    record = inspect_config({**shapes.LLAMA_4_SCOUT_TEXT, "num_hidden_layers": 4, "max_position_embeddings": 8192,
                             "rope_scaling": None})
    assert {layer["kind"] for layer in record["attention"]["layers"]} == {"full"}
    assert record["masking"]["stacks"]["decoder"]["chunk"] is None
    assert "at least the context window" in ignored(record)["attention_chunk_size"]["reason"]


def test_the_context_a_window_is_compared_with_is_the_scaled_one(inspect_config) -> None:
    """A config that still states its original length (8,192) with llama3 x16 scaling reaches 131,072 tokens:
    an 8,192-token chunk is narrower than that, so those layers stay chunked."""
    record = inspect_config({**shapes.LLAMA_4_SCOUT_TEXT, "num_hidden_layers": 4, "max_position_embeddings": 8192})
    assert record["context_window"]["declared"] == 131072
    assert [layer["kind"] for layer in record["attention"]["layers"]] == ["chunked"] * 3 + ["full"]


def test_a_window_narrower_than_the_context_still_slides(inspect_config) -> None:
    record = inspect_config({**shapes.MISTRAL_7B_V01, "num_hidden_layers": 2, "max_position_embeddings": 4097})
    assert {(layer["kind"], layer["window"]) for layer in record["attention"]["layers"]} == {("sliding", 4096)}
    assert not record["inspection"]["ignored_config_keys"]


def test_the_inspectors_share_typed_state(tmp_path) -> None:
    import json

    from modelcard.inspect import inspect_loaded
    from modelcard.inspect.layer_kinds import Layer
    from modelcard.inspect.stacks import Stack
    from modelcard.inspect.state import Structure
    from modelcard.load.loader import LoadOptions, load_model

    (tmp_path / "config.json").write_text(json.dumps({**shapes.GEMMA_3N_E2B_TEXT}), encoding="utf-8")
    facts = inspect_loaded(load_model(str(tmp_path), LoadOptions()))
    structure = facts.structure
    assert isinstance(structure, Structure) and not hasattr(facts, "scratch")
    assert [type(stack) for stack in structure.stacks] == [Stack] and structure.main is structure.stacks[0]
    assert all(isinstance(layer, Layer) for layer in structure.layers["decoder"])
    assert structure.heads["decoder"]["grouping"] == "GQA"
    assert structure.kv_shared == list(range(20, 30))  # Gemma 3n: the last 10 layers reuse earlier caches
    assert structure.dtype_assumed is False
