"""The bundled hybrid demo (scripts/train_hybrid_demo.py): 3 sliding-window layers of 256 tokens to 1 global
layer, trained on this project's CPU. Its name loads it, its layer pattern is read from its config, the
mechanics probes pass on it, and retrieval survives past its window through the global layer."""

from __future__ import annotations

import json

from modelcard.base.resources import bundled_demo, demo_model_dir


def test_the_name_loads_the_bundled_hybrid_and_a_folder_of_that_name_comes_first(tmp_path, monkeypatch) -> None:
    from modelcard.load.loader import load_model

    loaded = load_model("demo-hybrid")
    assert loaded.source == "demo" and loaded.model_id == "modelcard/demo-hybrid-qwen2" and loaded.has_weights
    assert loaded.config.layer_types == ["sliding_attention"] * 3 + ["full_attention"]
    assert loaded.config.sliding_window == 256
    assert load_model("demo").model_id == load_model(None).model_id == "modelcard/demo-llama"
    mine = tmp_path / "demo-hybrid"
    mine.mkdir()
    (mine / "config.json").write_text((demo_model_dir() / "config.json").read_text())
    monkeypatch.chdir(tmp_path)
    assert bundled_demo("demo-hybrid") is None
    assert load_model("demo-hybrid").source == "config"


def test_each_demo_tokenizer_has_exactly_the_tokens_its_embedding_holds() -> None:
    # beside a qwen2 config transformers picks Qwen2Tokenizer, whose default unknown token would be id 259, one
    # past the hybrid's 259-row embedding: a probe drawing ids from len(tokenizer) would index out of range
    from transformers import AutoConfig, AutoTokenizer

    for name in ("demo", "demo-hybrid"):
        folder = demo_model_dir(name)
        assert len(AutoTokenizer.from_pretrained(folder)) == AutoConfig.from_pretrained(folder).vocab_size, name


def test_training_log_ships_beside_the_weights() -> None:
    folder = demo_model_dir("demo-hybrid")
    record = json.loads((folder / "training.json").read_text())
    assert record["script"] == "scripts/train_hybrid_demo.py" and record["window"] == 256
    assert (folder / "model.safetensors").stat().st_size < 4_000_000


def test_the_inspected_layer_pattern_is_three_sliding_to_one_global(run_cli) -> None:
    result = run_cli("inspect", "demo-hybrid", "--format", "json")
    assert result.code == 0, result.err
    layers = json.loads(result.out)["attention"]["layers"]
    assert [(layer["kind"], layer.get("window")) for layer in layers] == [("sliding", 256)] * 3 + [("full", None)]


def test_the_mechanics_probes_pass_on_the_hybrid(run_probe) -> None:
    reach = run_probe("window-reach", "demo-hybrid")
    assert reach.status == "pass", reach.details.get("summary")
    blocks = reach.details["blocks"]
    assert [(blocks[str(i)]["kind"], blocks[str(i)].get("window")) for i in range(3)] == [("sliding", 256)] * 3
    assert blocks["3"]["kind"] == "full"
    assert run_probe("cache-consistency", "demo-hybrid").status == "pass"


def test_retrieval_survives_past_the_window_through_the_global_layer(run_probe) -> None:
    outcome = run_probe("window-boundary", "demo-hybrid")
    (verdict,) = outcome.details["windows"]
    assert verdict["window"] == 256 and verdict["verdict"] == "survives past the window", verdict
    assert verdict["inside"] >= 0.75 and verdict["beyond"] >= 0.75
    assert outcome.status == "pass" and not outcome.findings


def test_the_task_families_give_a_signal_on_the_hybrid(run_probe) -> None:
    # neither all at 0 nor all at 100%: the chains' names at 512 tokens and fewer at 2,048 (past the 1,280-token
    # rows it was trained on), and the most frequent word of a Zipf draw but not the next two
    tracking = run_probe("variable-tracking", "demo-hybrid", lengths=[512, 2048])
    scores = tracking.details["scores"]
    assert tracking.details["hops_compared"] == [1, 2]  # 4 hops do not fit in 512 byte-level tokens
    assert 0.25 <= scores["512"] < 1.0 and scores["2048"] < scores["512"]
    counting = run_probe("frequent-words", "demo-hybrid", lengths=[512, 2048])
    assert all(0.0 < score < 1.0 for score in counting.details["scores"].values())
