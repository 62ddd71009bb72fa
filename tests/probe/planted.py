"""Tiny modules with the bugs that issue 8 found a probe could pass on its own evidence, each importable as a
`planted:<factory>` model spec (tests/probe/tinymodels.py has the module they configure)."""

from __future__ import annotations

from tinymodels import TinyLM


def prefill_widens_its_own_floor() -> TinyLM:
    """Once a cache is kept, every key is 10% off: the prefill through the cache is already wrong, by about as
    much as decoding is. A noise floor taken from the prefill grows with the bug and hides it."""
    return TinyLM(cache_key_scale=0.1)


def causal_declared_bidirectional() -> TinyLM:
    """Declares a bidirectional mask (an encoder, say) and runs a causal one."""
    return TinyLM(declared={"masking": "bidirectional", "context_window": 512})


def causal_declared_prefix() -> TinyLM:
    return TinyLM(declared={"masking": "prefix", "context_window": 512})


def eager_crashes() -> TinyLM:
    """Its eager kernel crashes; sdpa runs."""
    return TinyLM(crash_kernel="eager")


def chunk_of_4() -> TinyLM:
    """Chunked attention, chunks of 4 tokens, declared as such."""
    return TinyLM(chunk=4, declared={"masking": "causal", "attention_chunk_size": 4, "context_window": 512})


def chunk_of_3() -> TinyLM:
    return TinyLM(chunk=3, declared={"masking": "causal", "attention_chunk_size": 3, "context_window": 512})


def window_of_3() -> TinyLM:
    return TinyLM(window=3, declared={"masking": "causal", "sliding_window": 3, "context_window": 512})


def negative_window() -> TinyLM:
    """Declares a window of -5 tokens: no model has one."""
    return TinyLM(declared={"masking": "causal", "sliding_window": -5, "context_window": 512})
