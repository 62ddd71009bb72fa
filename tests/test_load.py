"""Model specs: a Hub id from the local cache (offline), a Python factory, pickle weights only when allowed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tiny_models import TINY_LLAMA

from modelcard.base.errors import EXIT_OK

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def fake_hub_cache(root: Path, repo_id: str, config: dict) -> Path:
    """The layout huggingface_hub keeps on disk: refs/main -> snapshots/<commit>/config.json."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(config))
    return root


def test_hub_id_from_the_cache_offline(tmp_path):
    cache = fake_hub_cache(tmp_path / "hub", "acme/tiny-llama", TINY_LLAMA)
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "modelcard", "inspect", "acme/tiny-llama", "--format", "json"],
        capture_output=True, text=True, env=env,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["model"]["id"] == "acme/tiny-llama"
    assert record["model"]["source"] == "hub"
    assert record["model"]["revision"] == COMMIT
    assert record["context_window"]["declared"] == 4096


def test_hub_id_missing_from_the_cache_offline_is_bad_input(tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "modelcard", "inspect", "acme/absent"],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "acme/absent" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


FACTORY = textwrap.dedent('''
    import torch

    class TinyCausal(torch.nn.Module):
        modelcard_declared = {"masking": "causal", "context_window": 512}

        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(32, 16)
            self.attn = torch.nn.MultiheadAttention(16, 2, batch_first=True)
            self.head = torch.nn.Linear(16, 32)

        def forward(self, input_ids):
            x = self.embed(input_ids)
            n = input_ids.shape[1]
            mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1)
            x, _ = self.attn(x, x, x, attn_mask=mask)
            return self.head(x)

    def build():
        torch.manual_seed(0)
        return TinyCausal()

    def not_a_module():
        return 42
''')


def test_module_factory(tmp_path, monkeypatch, run_cli):
    (tmp_path / "tiny_factory.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run_cli("generate", "tiny_factory:build", "-o", tmp_path / "out", "--suite", "none")
    assert result.code == EXIT_OK, result.err
    record = json.loads((tmp_path / "out" / "card.json").read_text())
    assert record["model"]["source"] == "module"
    assert record["model"]["class_name"] == "TinyCausal"
    assert record["architecture"]["class"] == "decoder-only"
    assert record["context_window"]["declared"] == 512
    assert record["model"]["parameters"] == sum(p.numel() for p in __import__("tiny_factory").build().parameters())


def test_module_factory_that_returns_no_module(tmp_path, monkeypatch, run_cli):
    (tmp_path / "tiny_factory2.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run_cli("inspect", "tiny_factory2:not_a_module")
    assert result.code == 2 and "not a torch.nn.Module" in result.err


def test_pickle_weights_load_only_when_allowed(tmp_path, run_cli):
    import torch
    from transformers import AutoConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(AutoConfig.for_model(**TINY_LLAMA))
    (tmp_path / "pickled").mkdir()
    model.config.save_pretrained(tmp_path / "pickled")
    torch.save(model.state_dict(), tmp_path / "pickled" / "pytorch_model.bin")
    refused = run_cli("inspect", tmp_path / "pickled")
    assert refused.code == 2 and "--allow-pickle" in refused.err
    allowed = run_cli("inspect", tmp_path / "pickled", "--allow-pickle", "--format", "json")
    assert allowed.code == EXIT_OK, allowed.err
    assert json.loads(allowed.out)["model"]["weights"] is True


def test_dtype_option_costs_a_config_only_model(run_cli):
    """gpt-oss declares no dtype: bfloat16 is assumed (derived) unless --dtype says what it will run as."""
    folder = Path(__file__).parent / "fixtures" / "real-configs" / "gpt-oss-20b"
    assumed = json.loads(run_cli("inspect", folder, "--format", "json").out)
    assert assumed["model"]["dtype"] is None and assumed["kv_cache"]["dtype"] == "bfloat16"
    assert assumed["provenance"]["/kv_cache/dtype"] == "derived"
    chosen = json.loads(run_cli("inspect", folder, "--format", "json", "--dtype", "float32").out)
    assert chosen["model"]["dtype"] == "float32" and chosen["kv_cache"]["dtype"] == "float32"
    assert chosen["kv_cache"]["bytes_per_token"] == 2 * assumed["kv_cache"]["bytes_per_token"]


def test_a_meta_build_draws_no_random_values_and_keeps_tied_weights(write_config, monkeypatch):
    import torch

    from modelcard.load.loader import LoadOptions, load_model

    calls = []
    original = torch.nn.init.kaiming_uniform_

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", counted)
    folder = write_config(tie_word_embeddings=True)
    model = load_model(str(folder), LoadOptions()).model
    assert calls == []  # every nn.Linear would have drawn kaiming_uniform_ on its meta weight
    assert torch.nn.init.kaiming_uniform_ is counted  # restored after the build
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert all(parameter.device.type == "meta" for parameter in model.parameters())
    torch.nn.Linear(2, 2)
    assert calls == [1]
