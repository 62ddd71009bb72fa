"""The demo model's architecture and tokenizer: a tiny Llama-style causal LM (GQA, RoPE) with a byte-level
tokenizer, here with random weights.

    python scripts/make_demo_model.py [--out build/demo-random]

The bundled demo (modelcard/demo) is this architecture trained by scripts/train_demo_model.py, which imports
`demo_config` and `byte_level_tokenizer` from here. Deterministic: the same seed gives the same weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SEED = 0
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>"]


def byte_level_tokenizer() -> PreTrainedTokenizerFast:
    """One token per byte (256) plus three special tokens; needs no merges and no download."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for token in sorted(alphabet, key=lambda ch: bytes(ch, "utf-8")):
        vocab[token] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", model_max_length=2048
    )


def demo_config(vocab_size: int) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=128,
        intermediate_size=352,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        dtype="float32",
        architectures=["LlamaForCausalLM"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "build" / "demo-random")
    out = parser.parse_args().out
    tokenizer = byte_level_tokenizer()
    torch.manual_seed(SEED)
    model = LlamaForCausalLM(demo_config(len(tokenizer)))
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "generation_config.json").unlink(missing_ok=True)
    params = sum(p.numel() for p in model.parameters())
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"wrote {out}: {params:,} parameters, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
