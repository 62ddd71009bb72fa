"""Custom nn.Modules (package.module:factory): attention found in the module tree, the rest null with a reason."""

from __future__ import annotations

import textwrap

FACTORY = textwrap.dedent('''
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = torch.nn.Linear(32, 32)
            self.k_proj = torch.nn.Linear(32, 16)
            self.v_proj = torch.nn.Linear(32, 16)
            self.o_proj = torch.nn.Linear(32, 32)
            self.num_heads, self.head_dim = 4, 8

    class Tiny(torch.nn.Module):
        modelcard_declared = {"masking": "causal", "context_window": 256}

        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(16, 32)
            self.blocks = torch.nn.ModuleList([Block() for _ in range(3)])
            self.mha = torch.nn.MultiheadAttention(32, 2, batch_first=True)

    def build():
        return Tiny()
''')


def test_custom_module_attention_is_found(tmp_path, monkeypatch) -> None:
    from modelcard.load.loader import LoadOptions
    from modelcard.pipeline import inspect_record
    from modelcard.record.validate import validate_record

    (tmp_path / "custom_tiny.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    record = inspect_record("custom_tiny:build", LoadOptions())
    assert not validate_record(record)
    assert record["architecture"]["class"] == "decoder-only"
    assert record["attention"]["heads"] == {"query": 4, "key_value": 2, "head_dim": 8, "grouping": "GQA"}
    assert len(record["attention"]["layers"]) == 4  # three q/k/v blocks and one nn.MultiheadAttention
    assert record["context_window"]["declared"] == 256
    assert record["kv_cache"]["bytes_per_token"] is None
    assert record["unknowns"]["/kv_cache/bytes_per_token"]["reason"]
    assert record["unknowns"]["/position/kind"]["reason"]
