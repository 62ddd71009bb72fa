"""What the card shows: phrases and rows computed before the templates format them."""

from __future__ import annotations

import pytest

from modelcard.present import index_spans, layer_runs, present


@pytest.mark.parametrize(
    ("indices", "shown"),
    [([0, 1, 2, 3], "0–3"), (list(range(0, 26, 2)), "0, 2, …, 24"), ([0, 1, 2, 4, 5, 6, 8], "0–2, 4–6, 8"),
     ([5], "5"), ([3, 7], "3, 7")],
)
def test_index_spans(indices, shown):
    assert index_spans(indices) == shown


def test_alternating_layers_are_two_rows():
    layers = [{"index": i, "stack": "decoder", "kind": "sliding" if i % 2 == 0 else "full",
               "window": 4096 if i % 2 == 0 else None} for i in range(26)]
    rows = layer_runs(layers)
    assert [(r["layers"], r["count"], r["kind"], r["window"]) for r in rows] == [
        ("0, 2, …, 24", 13, "sliding", "4,096 tokens"), ("1, 3, …, 25", 13, "full", "—")]


def test_attention_free_model_says_so(write_config):
    from modelcard.load import LoadOptions
    from modelcard.pipeline import inspect_record

    folder = write_config({"model_type": "mamba", "architectures": ["MambaForCausalLM"], "hidden_size": 64,
                           "num_hidden_layers": 2, "vocab_size": 128, "state_size": 8})
    facts = {fact["name"]: fact["value"] for fact in present(inspect_record(str(folder), LoadOptions()))["facts"]}
    assert facts["Architecture class"] == "state-space"
    assert facts["Attention variant"].startswith("no attention")
    assert "constant recurrent state" in facts["KV cache per token"]
