"""Static inspection: facts read from a model's config and module tree, without running it."""

from __future__ import annotations

from modelcard.inspect import (  # noqa: F401  (registration on import, in pipeline order)
    architecture,
    attention,
    context,
    kv_cache,
    masking,
    model_info,
    position,
)
from modelcard.inspect.facts import Facts
from modelcard.inspect.registry import INSPECTORS
from modelcard.inspect.view import ModelView
from modelcard.load import LoadedModel


def inspect_loaded(loaded: LoadedModel) -> Facts:
    """Run every registered inspector in order; each may read what the earlier ones found."""
    view = ModelView(model=loaded.model, config=loaded.config, loaded=loaded)
    facts = Facts()
    for run in INSPECTORS.values():
        run(view, facts)
    return facts
