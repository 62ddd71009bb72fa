"""A read-only view of a model for the inspectors: its config (and the text config inside composite
configs), its module tree, and the source of its modeling code, so that every inspector asks the same
questions the same way."""

from __future__ import annotations

import functools
import inspect as pyinspect
import re
import sys
from dataclasses import dataclass
from typing import Any

from modelcard.inspect.configs import read


@dataclass
class ModelView:
    model: Any  # torch.nn.Module
    config: Any | None  # the full PretrainedConfig (composite models included)
    loaded: Any | None = None  # the LoadedModel, for what the loader knows (source, declared claims)

    @functools.cached_property
    def text_config(self) -> Any | None:
        if self.config is None:
            return None
        getter = getattr(self.config, "get_text_config", None)
        try:
            return getter(decoder=True) if getter else self.config
        except (ValueError, AttributeError):  # several candidate text configs: the config itself speaks
            return self.config

    def get(self, *names: str, default: Any = None, config: Any | None = None) -> Any:
        """The first of `names` that the (text) config sets to a non-None value. A dotted name reads a
        nested dict or sub-config (`attn_config.kv_n_heads`)."""
        return read(config if config is not None else self.text_config, *names, default=default)

    @property
    def raw_config(self) -> dict[str, Any]:
        """The config.json as written, before transformers normalised it (empty for custom modules)."""
        return dict(getattr(self.loaded, "raw_config", None) or {})

    @functools.cached_property
    def modeling_source(self) -> str:
        """The source of every module that defines a class in the model's module tree (transformers' own, or the
        remote code that --trust-remote-code loaded)."""
        return _sources(type(module).__module__ for module in self.model.modules())

    @functools.cached_property
    def config_source(self) -> str:
        """The source of the modules that define the config classes (the config and its sub-configs): where
        transformers 5 turns legacy keys into the ones the modeling code reads (attention_chunk_size into
        layer_types, rope_theta into rope_parameters)."""
        if self.config is None:
            return ""
        configs = [self.config, *(getattr(self.config, key, None) for key in getattr(self.config, "sub_configs", {}))]
        return _sources(type(config).__module__ for config in configs if config is not None)

    def code_reads(self, key: str) -> bool:
        """Whether the model's own modeling code reads the config key `key`."""
        return re.search(rf"\b{re.escape(key)}\b", self.modeling_source) is not None

    def config_reads(self, key: str) -> bool:
        """Whether the config class reads `key` (to derive what the modeling code reads)."""
        return re.search(rf"\b{re.escape(key)}\b", self.config_source) is not None

    @functools.cached_property
    def class_names(self) -> list[str]:
        return [type(m).__name__ for m in self.model.modules()]


CODE_PACKAGES = ("transformers.models", "transformers_modules")


def _sources(module_names: Any) -> str:
    sources, seen = [], set()
    for module_name in module_names:
        if module_name in seen or not module_name.startswith(CODE_PACKAGES):
            continue
        seen.add(module_name)
        try:
            sources.append(pyinspect.getsource(sys.modules[module_name]))
        except (OSError, TypeError, KeyError):
            continue
    return "\n".join(sources)
