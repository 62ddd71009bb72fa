"""Load: a model spec (folder, config, Hub id, `module:factory`, nothing for the demo) and load options in,
a `LoadedModel` out: the model (on `meta` when there are no weights), its config as written and as
transformers reads it, the checks on its weights, and where its weights were placed."""

from modelcard.load.loader import LoadedModel, LoadOptions, check_options, load_model

__all__ = ["LoadOptions", "LoadedModel", "check_options", "load_model"]
