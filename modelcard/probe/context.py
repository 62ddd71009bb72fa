"""What every probe gets: the adapter, the static facts of the documented model (and of the twin the probe
really runs on), the author's claims, and a seeded generator for inputs (nothing is downloaded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelcard.probe.adapter import ModelAdapter


@dataclass
class ProbeContext:
    """What a probe is given: the model to run, what inspection found, and seeded inputs.

    Args:
        adapter: the model the probe runs (the documented model, or a shrunken random-init twin of a config-only
            one), behind the narrow interface every probe uses.
        facts: the documented model's record sections as inspection found them (`attention`,
            `context_window`, ...).
        subject_facts: the same sections for the model the probes really run on (the twin's, or `facts`).
        ignored_config_keys: config keys the modeling code never reads, as inspection listed them.
        declared: a custom module's `modelcard_declared`, its author's claims.
        seed: the run's seed (`--seed`); every input a probe makes derives from it.
        prompt_format: the retrieval prompts' format: auto (chat when the tokenizer has a template), base or chat.
        memo: what the cells of one run reuse (the tokenizer, the filler stream), keyed by the probe.
        reference: the float transformers folder of the same model (`--base-model`, for a GGUF input), which
            `quantization-drift` compares with; None without one.

    Example:
        ```python
        @probe("logit-range", "The largest absolute logit on random input", version=1)
        def logit_range(ctx: ProbeContext, length: int = 32) -> Outcome:
            logits = ctx.adapter.outputs(ctx.random_ids(length, batch=2, salt=7))
            ...
        ```
    """

    adapter: ModelAdapter
    facts: dict[str, Any]  # record sections of the documented model, as inspection found them
    subject_facts: dict[str, Any]  # the same sections for the model the probes run on (the twin, or `facts`)
    ignored_config_keys: list[dict[str, Any]] = field(default_factory=list)
    declared: dict[str, Any] = field(default_factory=dict)  # a custom module's `modelcard_declared`
    seed: int = 0
    prompt_format: str = "auto"  # the retrieval prompts' format: auto, base or chat
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # what cells of a run reuse (the tokenizer)
    reference: str | None = None  # --base-model: the float folder a GGUF input is compared with

    def generator(self, salt: int = 0) -> Any:
        """A torch generator seeded from the run's seed and `salt`.

        Args:
            salt: tells apart the inputs of one probe (or of two probes) under the same seed.

        Returns:
            A `torch.Generator` on the CPU: the same numbers on every run with the same seed and salt.
        """
        import torch

        return torch.Generator().manual_seed(self.seed * 1_000_003 + salt)

    def random_ids(self, length: int, batch: int = 1, salt: int = 0) -> Any:
        """Seeded random token ids over the whole vocabulary.

        Args:
            length: tokens per row.
            batch: rows.
            salt: see `generator`.

        Returns:
            A `(batch, length)` int64 tensor on the CPU (`adapter.outputs` moves it to the model's device).
        """
        import torch

        return torch.randint(0, self.adapter.vocab_size, (batch, length), generator=self.generator(salt))

    def layers(self) -> list[dict[str, Any]]:
        """The documented model's token-mixing layers as inspection found them (`attention.layers`: index, kind,
        window, stack)."""
        return (self.facts.get("attention") or {}).get("layers") or []

    def max_length(self) -> int | None:
        """The longest input the documented model accepts, when it says."""
        return (self.facts.get("context_window") or {}).get("declared") or self.declared.get("context_window")


def build_context(loaded: Any, facts: Any, seed: int, attn_implementation: str | None = None,
                  device: str = "cpu", prompt_format: str = "auto") -> ProbeContext:
    """Probe the model itself when it has weights (or is a custom module); a config-only model through a
    shrunken twin of the same architecture."""
    from modelcard.inspect import inspect_loaded
    from modelcard.load.loader import LoadedModel
    from modelcard.probe.twin import build_twin

    values = facts.values
    architecture = (values.get("architecture") or {}).get("class")
    if loaded.has_weights or loaded.source == "module":
        adapter = ModelAdapter(model=loaded.model, config=loaded.config, declared=dict(loaded.declared),
                               architecture=architecture)
        subject = values
    else:
        twin = build_twin(loaded.config, attn_implementation=attn_implementation, seed=seed,
                           model_class=type(loaded.model), device=device)
        adapter = ModelAdapter(model=twin.model, config=twin.config, twin=True, layer_map=twin.layer_map,
                               architecture=architecture, twin_kept=list(twin.kept))
        twin_loaded = LoadedModel(spec=f"twin of {loaded.spec}", source="config", model=twin.model,
                                  config=twin.config, has_weights=True)
        subject = inspect_loaded(twin_loaded).values
    return ProbeContext(adapter=adapter, facts=values, subject_facts=subject,
                        ignored_config_keys=list(facts.ignored_config_keys), declared=dict(loaded.declared), seed=seed,
                        prompt_format=prompt_format, reference=getattr(loaded, "base_model", None))
