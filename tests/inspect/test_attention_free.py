"""A model whose every layer is recurrent has no attention heads, even when its config names SSM heads."""

from __future__ import annotations

import json


def test_mamba2_ssm_heads_are_not_attention_heads(tmp_path):
    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record
    from modelcard.record.validate import validate_record

    config = {"model_type": "mamba2", "architectures": ["Mamba2ForCausalLM"], "hidden_size": 64, "num_heads": 8,
              "head_dim": 16, "state_size": 16, "n_groups": 1, "num_hidden_layers": 2, "vocab_size": 128,
              "expand": 2, "conv_kernel": 4}
    (tmp_path / "config.json").write_text(json.dumps(config))
    record = inspect_record(str(tmp_path), LoadOptions())
    assert validate_record(record) == []
    assert record["architecture"]["class"] == "state-space"
    assert record["attention"]["heads"] == {"query": None, "key_value": None, "head_dim": None, "grouping": "none"}
    assert record["unknowns"]["/attention/heads/query"]["kind"] == "not-applicable"
    assert record["kv_cache"]["bytes_per_token"] == 0 and record["kv_cache"]["constant_state_bytes"] > 0
