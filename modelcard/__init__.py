"""modelcard: document a transformer model from the model itself."""

__version__ = "0.1.0"
